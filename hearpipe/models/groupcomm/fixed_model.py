"""GroupComm mask estimator in bit-true fixed point: the quantised model and its packed kernel arrays.

The third implementation of `hearpipe.models.groupcomm.reference` (numpy float reference) and
`hearpipe.train.model` (PyTorch): the same function in the integer arithmetic of the
`hearpipe.fixed` kernels (CMSIS-NN s16 conventions: int8 or int16 weights with one scale per output
row, int16 activations, int64/exact accumulators, `arm_nn_requantize_s64`, table sigmoid/tanh).

Formats, frame by frame (Qm.n: m integer bits including the sign, n fraction bits; "F_x" = n):

| stage | tensor | format |
| --- | --- | --- |
| input, STFT front end | spectrum X (bins, frames, 2) [re, im] | int32, `frac_bits` given by the caller |
| input, conv front end | encoder output e (N, frames) | int16, `frac_bits` given by the caller |
| power | re^2 + im^2 or e^2, shifted to p_frac = max(2 frac_bits, e_eps + 8), + eps | int64, p_frac |
| log | log2(p) by table (`log2_q16`), times feat_scale (Q24 constant) | int32 Q16.16 |
| features f | rounded from Q16 | int16, F_feat (calibrated) |
| input projection, residual stream x | every x_g of every block, TAC/GRNN/out branch outputs before the add | int16, F_res (calibrated), adds saturate |
| TAC z = PReLU(W1 x_g + b1), mean, m | pre- and post-PReLU | int16, F_tac[block] (calibrated) |
| PReLU slopes | per channel | int16, F_alpha = largest n with max|a| 2**n < 2**15 |
| RNN gate pre-activations | W x + b, W h + b, each requantised then added | int16 Q4.12 (saturating, +-8) |
| RNN hidden state h, GRNN states, TCN outputs | sigmoid/tanh outputs | int16 Q1.15 |
| TCN pre-activations (`rnn: tcn`) | W [x_t; x_{t-d}; ...] + b, tanh table input | int16 Q4.12 (saturating) |
| LSTM cell state c | | int16 Q4.12 (saturating) |
| mask logits | W_m x_g + b_m | int16 Q4.12 (sigmoid input; saturate at +-8) |
| masks | sigmoid table | int16 Q1.15 in [0, 32767] |
| deep-filter logits, terms (`df_taps`) | W_df x_g + b_df, tanh table | int16 Q4.12, Q1.15 |
| output | X * mask (STFT, int32) or e * mask (conv, int16), rounded | the input's format |
| deep-filter output | sum over taps of complex products in int64, rounded (`deep_filter_q15`) | the input's format |

Weights: per output row w[m] = w_int[m] * s[m], s[m] = max|w[m]| / 127 (int8) or / 32767 (int16),
rounded to nearest (`hearpipe.fixed.qformat.quantize_rows`); biases int64 in the accumulator's scale
s[m] 2**-F_in; one Q31 multiplier and shift per row for s[m] 2**(F_out - F_in) (`quantize_multiplier`;
CMSIS reduces it to Q15 for s16).

Formats come from calibration (`hearpipe.models.groupcomm.calibrate`) or are pinned in the weight file
(`training.fixed_formats`, written by `pin_formats`). Streaming inference: `fixed_stream`; the same
network as a chain of library kernels (the tests' oracle): `fixed_oracle`; operation counts: `cost`.

Memory (`FixedGroupComm.weight_bytes`, `state_bytes`, `scratch_bytes`): weights at their stored width,
int64 bias + int32 multiplier + int32 shift per output row, int16 PReLU slopes, int32 tables; int16
recurrent state per channel; the live buffers of one frame.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.fixed.count import to_array
from hearpipe.fixed.linalg import acc32_is_safe
from hearpipe.fixed.ops import quantize_multipliers, reduce_multiplier
from hearpipe.fixed.qformat import quantize_rows
from hearpipe.fixed.tables import LOG2_TABLE, SIGMOID_TABLE, TANH_TABLE
from hearpipe.models.groupcomm import groupcomm_kernels as kr
from hearpipe.models.groupcomm.calibrate import (
    DEFAULT_HEADROOM,
    GATE_FRAC,
    H_FRAC,
    Formats,
    calibrate,
    calibration_power,
    calibration_signals,
    frac_for,
)
from hearpipe.models.groupcomm.cost import features_ops, fixed_ops_per_frame, past_values, state_values
from hearpipe.models.groupcomm.hparams import GroupCommHParams
from hearpipe.models.groupcomm.reference import GroupCommWeights, read_weights
from hearpipe.models.weights import PackedLayer, resolve_weights, save_weights


@dataclass
class QDense:
    """One quantised matrix: y = requantize(w_int x + bias) from F_in to F_out (dense_s16 arguments).
    A layer of a compressed file keeps only its stored form (`packed`; `w` is None): the kernels unpack
    it row by row (`groupcomm_kernels._dense`, mode 3)."""

    name: str
    w: np.ndarray | None  # (M, K) int8/int16; None for a packed layer
    scale: np.ndarray  # (M,) float: w ~= w_int * scale
    bias: np.ndarray  # (M,) int64, accumulator scale
    mult: np.ndarray  # (M,) int32 Q31
    shift: np.ndarray  # (M,) int32
    in_frac: int
    out_frac: int
    packed: PackedLayer | None = None

    @property
    def rows(self) -> int:
        return self.packed.rows if self.packed is not None else self.w.shape[0]

    @property
    def cols(self) -> int:
        return self.packed.cols if self.packed is not None else self.w.shape[1]

    def ints(self) -> np.ndarray:
        """The integer weights (M, K) (a packed layer unpacked: for oracles and tests, not the kernels)."""
        return self.packed.ints() if self.packed is not None else self.w


def quantize_dense(
    name: str, w: np.ndarray, b: np.ndarray | None, in_frac: int, out_frac: int, bits: int
) -> QDense:
    """Per-row symmetric quantisation of w (M, K) and its bias for inputs in F_in and outputs in F_out."""
    wq, scale = quantize_rows(w, bits)
    return integer_dense(name, wq, scale, b, in_frac, out_frac)


def integer_dense(
    name: str,
    wq: np.ndarray | PackedLayer,
    scale: np.ndarray,
    b: np.ndarray | None,
    in_frac: int,
    out_frac: int,
) -> QDense:
    """The layer of integer weights wq (M, K) (or a packed layer) with row scales, its bias and multipliers."""
    packed = wq if isinstance(wq, PackedLayer) else None
    scale = np.where(scale > 0, scale, 1.0)  # an all-zero row: the bias alone, in the input's scale
    acc_scale = scale * 2.0**-in_frac
    rows = scale.shape[0]
    bq = np.zeros(rows, np.int64) if b is None else np.floor(np.asarray(b) / acc_scale + 0.5).astype(np.int64)
    mult, shift = s64_multipliers(name, scale * 2.0 ** (out_frac - in_frac))
    if packed is None:
        worst = np.abs(wq.astype(np.int64)).sum(axis=1) * 32768 + np.abs(bq)
    else:  # from the stored width alone: no unpacked copy
        worst = packed.cols * (1 << (packed.bits - 1)) * 32768 + np.abs(bq)
    if worst.max(initial=0) >= 2**47:
        raise InvalidInput(f"{name}: accumulator could exceed 2**47 (arm_nn_requantize_s64 limit)")
    return QDense(name, None if packed else wq, scale, bq, mult, shift, in_frac, out_frac, packed)


def s64_multipliers(name: str, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row Q31 multipliers and shifts (int32) for `arm_nn_requantize_s64`, whose shift is at most 7."""
    mult, shift = quantize_multipliers(real)
    if (shift > 7).any():
        row = int(np.argmax(shift > 7))
        raise InvalidInput(f"{name}: row {row} needs a requantisation scale beyond 2**7 (weights too large)")
    return mult, shift


def reduced(mult: np.ndarray) -> np.ndarray:
    """Q31 multipliers reduced to Q15 (CMSIS-NN REDUCE_MULTIPLIER) once at load time, as int64."""
    return np.array([reduce_multiplier(int(m)) for m in mult], dtype=np.int64)


def dense_layout(ws: list[np.ndarray | PackedLayer]) -> tuple[np.ndarray, np.ndarray]:
    """The fused kernels' layer table and weights (`groupcomm_kernels._dense`) for matrices ws (rows,
    cols), in execution order: per layer the transposed weights and, for the dot-product loop order
    (cols >= 32, acc32-safe), a row-major copy; held as int16 (int8 values widened, identical results).
    A packed layer (compressed file) is held as stored: its byte stream, codebook and row mask, one byte
    per int16 element and a padding byte after each stream; layers sharing one stored matrix share it.
    Table rows: (offset, rows, cols, first bias row, offset of the row-major copy, loop mode, bits,
    codebook offset, row-mask offset) (the last three: packed layers (mode 3) only, else 0, -1, -1)."""
    offs, wt, rows, woff = [], [], 0, 0
    seen: dict[int, tuple[int, int, int]] = {}
    for w in ws:
        if isinstance(w, PackedLayer):
            if w.cols * (1 << (w.bits - 1)) * 32768 > (1 << 31) - 1:
                raise InvalidInput(f"{w.name}: {w.cols} inputs are too many for int32 accumulation")
            if id(w) not in seen:
                parts = [w.packed, w.codebook, w.row_mask]
                at = []
                for a in parts:
                    at.append(-1 if a is None else woff)
                    if a is not None:
                        v = np.concatenate([a.astype(np.int16), np.zeros(1, np.int16)])  # + padding byte
                        wt.append(v)
                        woff += v.size
                seen[id(w)] = tuple(at)
            off, cb, mo = seen[id(w)]
            offs.append((off, w.rows, w.cols, rows, -1, 3, w.bits, cb, mo))
            rows += w.rows
            continue
        mode = (1 if w.shape[1] >= 32 else 2) if acc32_is_safe(w) else 0
        t = np.ascontiguousarray(w.T).ravel().astype(np.int16)
        r = np.ascontiguousarray(w).ravel().astype(np.int16) if mode == 1 else np.zeros(0, np.int16)
        offs.append((woff, w.shape[0], w.shape[1], rows, woff + t.size, mode, 0, -1, -1))
        wt += [t, r]
        woff += t.size + r.size
        rows += w.shape[0]
    return np.array(offs, dtype=np.int64), np.concatenate(wt)


@dataclass
class FixedGroupComm:
    """A quantised GroupComm model: layers in execution order, formats and the packed kernel arrays."""

    hp: GroupCommHParams
    weight_bits: int
    formats: Formats
    layers: list[QDense]
    alpha: np.ndarray  # int16 PReLU slopes, per block [a1 (HI), a2 (HI), a3 (D)]

    def __post_init__(self):
        hp = self.hp
        self.by_name = {q.name: q for q in self.layers}
        self.acc32 = all(q.packed is not None or acc32_is_safe(q.w) for q in self.layers)
        self.lay, self.wt = dense_layout([q.w if q.packed is None else q.packed for q in self.layers])
        self.bias = np.concatenate([q.bias for q in self.layers])
        self.mq = reduced(np.concatenate([q.mult for q in self.layers]))
        self.sh = np.concatenate([q.shift for q in self.layers]).astype(np.int64)
        g = 4 if hp.rnn == "lstm" else 3
        self.dims = np.array(
            [hp.groups, hp.group_dim, hp.hidden, hp.inter_hidden, hp.n_outputs, hp.mask_per_group, hp.features,
             hp.n_blocks, hp.rnn_layers, {"none": 0, "tac": 1, "rnn": 2}[hp.inter],
             {"gru": kr.RNN_GRU, "lstm": kr.RNN_LSTM, "tcn": kr.RNN_TCN}[hp.rnn],
             int(self.acc32), hp.feat_ema_shift, hp.df_taps, hp.tcn_kernel],
            dtype=np.int64,
        )  # fmt: skip
        f = self.formats
        self.fmts = np.array([f.feat, f.res, f.alpha, *f.tac], dtype=np.int64)
        self.width = max(q.rows for q in self.layers)
        self.width = max(self.width, 2 * hp.inter_hidden, hp.group_dim, hp.hidden, g * hp.hidden)
        if hp.rnn == "tcn":  # the taps a TCN layer reads
            self.width = max(self.width, hp.tcn_kernel * max(hp.seq_inputs(i) for i in range(hp.rnn_layers)))
        self.ops_network = fixed_ops_per_frame(self, parts=("network",))
        self.ops_network_arr = to_array(self.ops_network)
        self.ops_features_arr = to_array(features_ops(hp))
        self.ops_mask_arr = to_array(fixed_ops_per_frame(self, parts=("mask",)))
        self.ops_frame_arr = self.ops_features_arr + self.ops_network_arr + self.ops_mask_arr
        self.c24 = round(hp.feat_scale * 2**24)  # feat_scale as a Q24 constant

    # -- memory, bytes ------------------------------------------------------------------------------
    def weight_bytes(self) -> dict[str, int]:
        """Stored sizes: weights at their width, int64 biases + int32 multipliers and shifts per row,
        PReLU slopes, and the sigmoid/tanh/log2 tables (int32)."""
        rows = sum(q.rows for q in self.layers)
        stored = {id(q.packed): q.packed for q in self.layers if q.packed is not None}  # shared: once
        return {
            "weights": sum(q.w.size for q in self.layers if q.packed is None) * (self.weight_bits // 8)
            + sum(packed_rom_bytes(p) for p in stored.values()),
            "requant": rows * (8 + 4 + 4),
            "prelu": self.alpha.size * 2,
            "tables": (SIGMOID_TABLE.size + TANH_TABLE.size + LOG2_TABLE.size) * 4,
        }

    def state_bytes(self, channels: int = 1) -> int:
        """State kept between frames: int16 h (and c for LSTM) or the TCN's earlier inputs; with
        feat_ema_shift, int32 running means and a started flag (one word); with df_taps L, the L-1 previous
        input frames (conv: int16, STFT: int32 values)."""
        hp = self.hp
        means = hp.features if hp.feat_ema_shift else 0
        past = past_values(hp) * (4 if hp.frontend == "stft" else 2)
        rnn = (state_values(hp) - means - past_values(hp)) * 2
        return (rnn + (means * 4 + 4 if means else 0) + past) * channels

    def scratch_bytes(self) -> int:
        """Live buffers while one frame runs (per channel, reusable between channels): power (int64) and
        features of one frame, residual stream, branch buffers, gate pre-activations, accumulators, masks."""
        hp = self.hp
        k, d, hi = hp.groups, hp.group_dim, hp.inter_hidden
        g = 4 if hp.rnn == "lstm" else 3
        inter = {"tac": k * hi + hi + 2 * hi + d, "rnn": 2 * k * hi + 2 * hi + d, "none": 0}[hp.inter]
        seq = 2 * g * hp.hidden + hp.hidden  # one group: gate pre-activations and the new state
        if hp.rnn == "tcn":  # one group: the taps read, pre-activations, outputs
            seq = hp.tcn_kernel * max(d, hp.hidden) + 2 * hp.hidden
        int16 = (
            hp.n_in + hp.n_model + max(inter, seq, d) + hp.n_outputs * hp.features
            + hp.n_outputs * 2 * hp.df_taps * hp.features  # deep-filter terms
        )  # fmt: skip
        return 8 * hp.features + 2 * int16 + 4 * self.width


def packed_rom_bytes(p: PackedLayer) -> int:
    """ROM of a packed matrix: its stored value stream, codebook and row mask, byte for byte as in the
    file (the row scales become the per-row multipliers counted under "requant")."""
    return sum(a.nbytes for a in (p.packed, p.codebook, p.row_mask) if a is not None)


def quantize_model(
    weights: GroupCommWeights | dict[str, np.ndarray],
    hparams: GroupCommHParams | None = None,
    calibration_frames: list[np.ndarray] | None = None,
    weight_bits: int = 8,
    headroom: float = DEFAULT_HEADROOM,
    formats: Formats | dict | None = None,
    packed: dict[str, PackedLayer] | None = None,
) -> FixedGroupComm:
    """Quantise a float GroupComm model.

    weights: checked float weights (or a dict of arrays with `hparams`); calibration_frames: list of
    float power arrays (features, J) - per-bin |X|^2 (STFT), e^2 (conv encoder) or band powers
    (enc_complex) of calibration audio, e.g. from `calibration_power`; weight_bits 8 or 16; headroom:
    factor over the calibrated maxima;
    formats: fixed formats (`Formats` or its `to_dict()`) instead of calibrating - the same device
    arithmetic whatever calibration data is at hand (calibration_frames may then be None);
    packed: the packed matrices of a compressed file by weight name (`WeightFile.packed_layers`), run as
    stored (their integers and row scales) instead of quantising the float weights.
    """
    if weight_bits not in (8, 16):
        raise InvalidInput(f"weight_bits ({weight_bits}) must be 8 or 16")
    if not isinstance(weights, GroupCommWeights):
        if hparams is None:
            raise InvalidInput("quantize_model: hparams are needed with a plain dict of arrays")
        weights = GroupCommWeights.from_arrays(hparams, weights)
    hp = weights.hp
    if hparams is not None and hparams != hp:
        raise InvalidInput("quantize_model: hparams differ from the weights' hyper-parameters")
    if formats is None:
        if not calibration_frames:
            raise InvalidInput(
                "quantize_model: calibration_frames must hold at least one (features, J) array"
            )
        for i, p in enumerate(calibration_frames):
            if np.ndim(p) != 2 or np.shape(p)[0] != hp.features:
                raise InvalidInput(f"calibration_frames[{i}] must be ({hp.features}, J), got {np.shape(p)}")
    mx = calibrate(weights, calibration_frames) if formats is None else {}
    w = weights
    alphas = (
        [w[f"blocks.{r}.tac.a{i}"] for r in range(hp.n_blocks) for i in (1, 2, 3)]
        if hp.inter == "tac"
        else []
    )
    amax = max((float(np.abs(a).max()) for a in alphas), default=0.0)
    f_alpha = 15 if amax == 0 else int(min(15, max(0, math.floor(math.log2(32767.0 / amax)))))
    if formats is None:
        n_tac = hp.n_blocks if hp.inter == "tac" else 0
        tac = tuple(frac_for(mx.get(f"tac{r}", 0.0), headroom) for r in range(n_tac))
        fm = Formats(frac_for(mx["features"], headroom), frac_for(mx["res"], headroom), tac, f_alpha, mx)
    else:
        fm = formats if isinstance(formats, Formats) else Formats.from_dict(formats)
        if len(fm.tac) != (hp.n_blocks if hp.inter == "tac" else 0):
            raise InvalidInput(f"fixed-point formats: tac needs one entry per TAC block, got {list(fm.tac)}")
        if fm.alpha != f_alpha:
            raise InvalidInput(
                f"fixed-point formats: alpha ({fm.alpha}) must be {f_alpha} for these PReLU slopes"
            )
    packed = packed or {}
    if packed and weight_bits != 8:
        raise InvalidInput(
            f"a compressed model runs its stored weights (int8 MACs): weight_bits must be 8, not {weight_bits}"
        )

    def qd(name: str, wn: str, bn: str, fi: int, fo: int) -> QDense:
        """Layer `name` of weights w[wn], bias w[bn]: as stored when packed, else quantised here."""
        if wn in packed:
            return integer_dense(name, packed[wn], packed[wn].scale.astype(np.float64), w[bn], fi, fo)
        return quantize_dense(name, w[wn], w[bn], fi, fo, weight_bits)

    L: list[QDense] = [qd("in", "in.weight", "in.bias", fm.feat, fm.res)]
    for r in range(hp.n_blocks):
        p = f"blocks.{r}."
        if hp.inter == "tac":
            ft = fm.tac[r]
            L.append(qd(p + "tac.w1", p + "tac.w1", p + "tac.b1", fm.res, ft))
            L.append(qd(p + "tac.w2", p + "tac.w2", p + "tac.b2", ft, ft))
            L.append(qd(p + "tac.w3", p + "tac.w3", p + "tac.b3", ft, fm.res))
        elif hp.inter == "rnn":
            for tag in ("fwd", "bwd"):
                q = f"{p}grnn.{tag}."
                L.append(qd(q + "ih", q + "weight_ih", q + "bias_ih", fm.res, GATE_FRAC))
                L.append(qd(q + "hh", q + "weight_hh", q + "bias_hh", H_FRAC, GATE_FRAC))
            L.append(qd(p + "grnn.proj", p + "grnn.proj.weight", p + "grnn.proj.bias", H_FRAC, fm.res))
        for layer in range(hp.rnn_layers):
            f_in = fm.res if layer == 0 else H_FRAC
            if hp.rnn == "tcn":
                t = f"{p}tcn.{layer}"
                L.append(qd(t, t + ".weight", t + ".bias", f_in, GATE_FRAC))
                continue
            q = f"{p}rnn.{layer}."
            L.append(qd(q + "ih", q + "weight_ih", q + "bias_ih", f_in, GATE_FRAC))
            L.append(qd(q + "hh", q + "weight_hh", q + "bias_hh", H_FRAC, GATE_FRAC))
        L.append(qd(p + "out", p + "out.weight", p + "out.bias", H_FRAC, fm.res))
    L.append(qd("mask", "mask.weight", "mask.bias", fm.res, GATE_FRAC))
    if hp.df_taps:
        L.append(qd("df", "df.weight", "df.bias", fm.res, GATE_FRAC))
    if alphas:
        alpha = np.floor(np.concatenate(alphas) * 2.0**f_alpha + 0.5).astype(np.int64)
        alpha = np.clip(alpha, -32768, 32767).astype(np.int16)
    else:
        alpha = np.zeros(1, np.int16)
    return FixedGroupComm(hp, weight_bits, fm, L, alpha)


@functools.lru_cache(maxsize=8)
def _quantize_file(path: str, mtime: float, weight_bits: int, data_dir: str | None) -> tuple:
    wf, w = read_weights(path)
    pinned = wf.training.get("fixed_formats") if isinstance(wf.training, dict) else None
    packed = wf.packed_layers()
    if packed and not pinned:
        raise InvalidInput(
            f"{path}: a compressed weight file must hold its fixed-point formats (fixed_formats)"
        )
    if pinned:  # a compressed file's packed layers run as stored
        return w, quantize_model(w, weight_bits=weight_bits, formats=pinned, packed=packed)
    cal = calibration_power(w, calibration_signals(data_dir))
    return w, quantize_model(w, calibration_frames=cal, weight_bits=weight_bits)


def quantize_weight_file(ref, base_dir=None, weight_bits: int = 8, data_dir=None):
    """(float weights, FixedGroupComm) for a weight file or builtin:NAME, cached per file version: the
    blocks' entry point. Formats come from the file's metadata `training.fixed_formats` when present
    (pinned), else from calibration on `data_dir` (train/ mixtures; synthetic without data)."""
    p = Path(resolve_weights(ref, base_dir))
    if not p.is_file():
        raise InvalidInput(f"{p}: weight file not found")
    return _quantize_file(
        str(p), p.stat().st_mtime, int(weight_bits), None if data_dir is None else str(data_dir)
    )


def pin_formats(ref, data_dir=None, weight_bits: int = 8) -> tuple[Path, Formats]:
    """Calibrate a weight file on `data_dir` (train/ mixtures) and store the formats in its metadata
    (`training.fixed_formats`), so devices get the same arithmetic with or without the data folder.
    Returns the file written and the formats."""
    path = resolve_weights(ref)
    wf, w = read_weights(path)
    cal = calibration_power(w, calibration_signals(data_dir))
    model = quantize_model(w, calibration_frames=cal, weight_bits=weight_bits)
    training = {**wf.training, "fixed_formats": model.formats.to_dict()}
    return save_weights(path, wf.arrays, wf.architecture, wf.hparams, training), model.formats
