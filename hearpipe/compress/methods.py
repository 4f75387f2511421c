"""Post-training compression of weight matrices, each stage a function of float arrays (Wu et al. 2019,
TinyWASE; docs/compression.md): row pruning, k-means clustering, low-bit quantisation, sharing.

Stages compose in this order: `prune_rows` picks the rows to keep, then a kept matrix is stored either
clustered (`cluster_layer`: indices + a codebook) or quantised (`quantize_layer`: b-bit integers with
per-row scales, the one quantiser `hearpipe.fixed.qformat.quantize_rows`); `share_blocks` makes the
repeated GroupComm blocks use block 0's matrices. Each returns what `hearpipe.models.weights.PackedLayer`
stores, so what is evaluated is what the device runs.
"""

from __future__ import annotations

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.fixed.packing import pack_bits
from hearpipe.fixed.qformat import quantize_rows
from hearpipe.models.weights import PackedLayer

CLIP_GRID = np.linspace(0.5, 1.0, 11)  # clipping of each row's range tried by the low-bit quantiser


def row_scores(w: np.ndarray) -> np.ndarray:
    """Wu et al.'s kernel criterion per row: the share of its weights below the layer's mean |w| (a row is
    a weak kernel when most of its weights are), ties broken by the row's own mean |w| (smaller first)."""
    a = np.abs(np.asarray(w, dtype=np.float64))
    below = (a < a.mean()).mean(axis=1)
    return below - 1e-9 * a.mean(axis=1)


def prune_rows(w: np.ndarray, share: float, kept: np.ndarray | None = None) -> np.ndarray:
    """Rows of w (M, K) to keep (bool (M,)) after pruning `share` of all rows by `row_scores` (highest
    first); rows already pruned (`kept` False, an earlier stage) stay pruned. At least one row stays."""
    if not 0.0 <= share < 1.0:
        raise InvalidInput(f"prune share ({share}) must lie in [0, 1)")
    m = w.shape[0]
    kept = np.ones(m, bool) if kept is None else kept.copy()
    n_drop = min(round(share * m), m - 1) - int((~kept).sum())
    if n_drop > 0:
        order = np.argsort(-np.where(kept, row_scores(w), -np.inf), kind="stable")
        kept[order[:n_drop]] = False
    return kept


def _pack(name, kind, bits, values, scale, kept, codebook=None) -> PackedLayer:
    m, k = kept.shape[0], values.shape[1]
    mask = None if kept.all() else pack_bits(kept.astype(np.int64), 1, signed=False)
    return PackedLayer(
        name, kind, bits, m, k, pack_bits(values[kept], bits, signed=kind == "int"),
        scale.astype(np.float32), codebook, mask,
    )  # fmt: skip


def quantize_layer(name: str, w: np.ndarray, bits: int, kept: np.ndarray | None = None) -> PackedLayer:
    """w (M, K) as b-bit integers (levels -(2**(b-1)-1)..2**(b-1)-1) with one scale per row: for b < 8 each
    row's clipping is chosen from `CLIP_GRID` x max|w[m]| to minimise its squared error (the rounding
    and saturation of `quantize_rows`); 8 bits: max|w[m]| (CMSIS-NN per-channel)."""
    w = np.asarray(w, dtype=np.float64)
    kept = np.ones(w.shape[0], bool) if kept is None else kept
    amax = np.abs(w).max(axis=1)
    best_q, best_s = quantize_rows(w, bits)
    if bits < 8:
        best_err = ((best_q * best_s[:, None] - w) ** 2).sum(axis=1)
        for c in CLIP_GRID[:-1]:
            q, s = quantize_rows(w, bits, clip=c * amax)
            err = ((q * s[:, None] - w) ** 2).sum(axis=1)
            better = err < best_err
            best_q[better], best_s[better], best_err[better] = q[better], s[better], err[better]
    return int_layer(name, best_q, best_s, bits, kept)


def int_layer(
    name: str, q: np.ndarray, scale: np.ndarray, bits: int, kept: np.ndarray | None = None
) -> PackedLayer:
    """Integers q (M, K) in -(2**(b-1)-1)..2**(b-1)-1 with row scales, as stored (pruned rows drop their
    values): what `quantize_layer` picks, or what quantisation-aware training learned."""
    qmax = (1 << (bits - 1)) - 1
    q = np.asarray(q, dtype=np.int64)
    if np.abs(q).max(initial=0) > qmax:
        raise InvalidInput(f"{name}: integer weights exceed the {bits}-bit range -{qmax}..{qmax}")
    kept = np.ones(q.shape[0], bool) if kept is None else kept
    if (kept & (np.asarray(scale) <= 0) & (np.abs(q).max(axis=1) > 0)).any():
        raise InvalidInput(f"{name}: a row with non-zero integer weights has a step <= 0")
    return _pack(name, "int", bits, np.where(kept[:, None], q, 0), np.asarray(scale), kept)


def kmeans_1d(x: np.ndarray, k: int, iters: int = 30) -> np.ndarray:
    """k centroids of the values x (1-D Lloyd's algorithm started at quantiles; deterministic)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    k = min(k, len(np.unique(x)))
    if k == 0:
        return np.zeros(0)
    c = np.quantile(x, (np.arange(k) + 0.5) / k)
    for _ in range(iters):
        idx = np.abs(x[:, None] - c[None, :]).argmin(axis=1)
        new = np.array([x[idx == j].mean() if (idx == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return np.unique(c)


def cluster_layer(
    name: str, w: np.ndarray, per_sign: int = 15, kept: np.ndarray | None = None, zero_below: float = 0.0
) -> PackedLayer:
    """Per-layer k-means weight clustering (Wu et al.): positive and negative weights clustered apart,
    `per_sign` centroids each, plus an exact zero (weights with |w| <= zero_below, and pruned rows);
    stored as b-bit indices (b = ceil(log2(2 per_sign + 1))) and an int8 codebook of one layer scale."""
    w = np.asarray(w, dtype=np.float64)
    kept = np.ones(w.shape[0], bool) if kept is None else kept
    bits = int(np.ceil(np.log2(2 * per_sign + 1)))
    if bits > 8:
        raise InvalidInput(f"clustering: {per_sign} centroids per sign need {bits} > 8 index bits")
    live = w[kept]
    pos = kmeans_1d(live[live > zero_below], per_sign)
    neg = kmeans_1d(live[live < -zero_below], per_sign)
    centres = np.concatenate([[0.0], pos, neg])
    q, s = quantize_rows(centres[None, :], 8)  # the codebook as int8 of one scale
    codebook = np.zeros(1 << bits, np.int8)
    codebook[: centres.size] = q[0]
    idx = np.abs(w[:, :, None] - (q[0] * s[0])[None, None, :]).argmin(axis=2)
    idx[np.abs(w) <= zero_below] = 0
    idx[~kept] = 0
    return _pack(name, "cluster", bits, idx, np.full(w.shape[0], s[0]), kept, codebook)


def shareable(names: list[str], n_blocks: int) -> dict[str, str]:
    """{matrix of block r > 0: the same matrix of block 0} for the repeated GroupComm blocks' matrices
    (TAC w1-w3, the sequence module's, the block output): the architecture's repeated part. The input
    projection, mask and deep-filter heads occur once; biases and PReLU slopes stay per block, and so does
    every block's recurrent state (sharing weights, not state)."""
    out = {}
    for n in names:
        if n.startswith("blocks.") and not n.startswith("blocks.0."):
            r, rest = n.split(".", 2)[1:]
            if int(r) < n_blocks and f"blocks.0.{rest}" in names:
                out[n] = f"blocks.0.{rest}"
    return out


def share_blocks(arrays: dict[str, np.ndarray], names: list[str], n_blocks: int) -> dict[str, str]:
    """In place: block 0's matrix of every shared group becomes the mean over the blocks (the shared
    weights before any fine-tuning); returns `shareable`'s map."""
    same = shareable(names, n_blocks)
    for base in sorted(set(same.values())):
        group = [base] + [n for n, b in same.items() if b == base]
        arrays[base] = np.mean([arrays[n] for n in group], axis=0)
    return same
