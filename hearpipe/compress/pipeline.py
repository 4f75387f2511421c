"""A compression recipe applied to a GroupComm weight file: prune -> cluster or quantise -> share, written
as a version-2 weight file whose packed layers the fixed-point runtime executes as stored.

Recipe (flags of `hearpipe compress` or a YAML file with the same keys):
  bits: 8          # quantised layers: 2..8 bits, per-row scales (ignored when clustering)
  prune: [0.25, 0.5]  # staged row pruning: share of each matrix's rows pruned after each stage
  cluster: 0       # > 0: k-means clustering with this many centroids per sign (+ zero) instead of `bits`
  share: false     # the repeated blocks share block 0's matrices (mean of the blocks' weights)
Only the mask estimator's matrices are compressed; the learned encoder/decoder (the front end, the same
as the default graph's) stay as they are, run as int8 by their blocks. The source file's pinned
fixed-point formats are kept: the compressed file runs on devices with the same arithmetic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hearpipe.compress.methods import cluster_layer, prune_rows, quantize_layer, share_blocks
from hearpipe.errors import InvalidInput
from hearpipe.models.groupcomm.hparams import ARCHITECTURE, GroupCommHParams, expected_shapes
from hearpipe.models.weights import (
    PackedLayer,
    WeightFile,
    checksum,
    load_weights,
    resolve_weights,
    save_weights,
)

CODEC = ("enc.weight", "dec.weight")


@dataclass(frozen=True)
class Recipe:
    bits: int = 8
    prune: tuple[float, ...] = field(default_factory=tuple)
    cluster: int = 0
    share: bool = False

    def __post_init__(self):
        if not 2 <= self.bits <= 8:
            raise InvalidInput(f"compress: bits ({self.bits}) must lie in 2..8")
        if not 0 <= self.cluster <= 127:
            raise InvalidInput(
                f"compress: cluster ({self.cluster}) must be 0 (off) or 1..127 centroids per sign"
            )
        shares = list(self.prune)
        if any(not 0 <= s < 1 for s in shares) or shares != sorted(shares):
            raise InvalidInput(f"compress: prune stages {shares} must rise within [0, 1)")

    @classmethod
    def from_dict(cls, d: dict, source: str = "recipe") -> Recipe:
        extra = sorted(set(d) - set(cls.__dataclass_fields__))
        if extra:
            raise InvalidInput(f"{source}: unknown compression setting(s) {', '.join(extra)}")
        d = dict(d)
        if "prune" in d:
            p = d["prune"]
            d["prune"] = tuple(float(s) for s in (p if isinstance(p, list | tuple) else [p]))
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path) -> Recipe:
        p = Path(path)
        try:
            d = yaml.safe_load(p.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise InvalidInput(f"{p}: cannot read the compression recipe ({type(e).__name__})") from None
        if not isinstance(d, dict):
            raise InvalidInput(f"{p}: a compression recipe is a mapping (bits, prune, cluster, share)")
        return cls.from_dict(d, str(p))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["prune"] = list(self.prune)
        return d


def matrices(hp: GroupCommHParams) -> list[str]:
    """The mask estimator's weight matrices (what compression stores packed), in layout order."""
    return [n for n, s in expected_shapes(hp).items() if len(s) == 2 and n not in CODEC]


def compress_arrays(
    arrays: dict[str, np.ndarray],
    hp: GroupCommHParams,
    recipe: Recipe,
    given: dict[str, PackedLayer] | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Float arrays -> (the arrays a version-2 file stores, its `compression` description). `given`:
    layers already compressed (by compression-aware training), stored as they are."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    names = matrices(hp)
    same = share_blocks(w, names, hp.n_blocks) if recipe.share else {}
    out = {k: v.astype(np.float32) for k, v in w.items() if k not in names}
    layers: dict[str, dict] = {}
    for name in names:
        if name in same:
            layers[name] = {"same_as": same[name]}
            continue
        if given and name in given:
            out.update(given[name].stored_arrays())
            layers[name] = given[name].spec()
            continue
        kept = None
        for share in recipe.prune:
            kept = prune_rows(w[name], share, kept)
        if recipe.cluster:
            layer: PackedLayer = cluster_layer(name, w[name], recipe.cluster, kept)
        else:
            layer = quantize_layer(name, w[name], recipe.bits, kept)
        out.update(layer.stored_arrays())
        layers[name] = layer.spec()
    return out, {"layers": layers, "recipe": recipe.to_dict()}


def source_file(ref) -> WeightFile:
    wf = load_weights(resolve_weights(ref), ARCHITECTURE)
    if wf.compression:
        raise InvalidInput(f"{wf.source}: already compressed; compress the float model it came from")
    if not wf.training.get("fixed_formats"):
        raise InvalidInput(
            f"{wf.source}: no pinned fixed-point formats; pin them first (`hearpipe evaluate {ref} --pin`)"
        )
    return wf


def compress_file(ref, out: str | Path, recipe: Recipe) -> Path:
    """Compress a float weight file (or builtin:NAME) with `recipe` into `out` (a version-2 file)."""
    wf = source_file(ref)
    hp = GroupCommHParams.from_dict(wf.hparams, wf.source)
    arrays, comp = compress_arrays(wf.float_arrays(), hp, recipe)
    training = {
        "fixed_formats": wf.training["fixed_formats"],
        "compressed_from": {"source": str(ref), "sha256": checksum(wf.arrays)},
        "compression": recipe.to_dict(),
    }
    return save_weights(out, arrays, ARCHITECTURE, wf.hparams, training, comp)


def estimator_bytes(wf: WeightFile) -> int:
    """Bytes the mask estimator's weights occupy as stored in the file (the codec excluded)."""
    return sum(a.nbytes for k, a in wf.arrays.items() if k not in CODEC)
