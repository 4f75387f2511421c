"""The `.npz` weight-file format shared by training, the float reference and the fixed-point inference.

A file holds named arrays plus one entry `__meta__`: a 0-d unicode array with a JSON document
```
{"format_version": 1, "architecture": "groupcomm", "hparams": {...}, "training": {...},
 "sha256": "<hex digest over all arrays>"}
```
The checksum covers every array's name, dtype, shape and bytes (in sorted name order), so a file
whose arrays were altered or truncated is refused. Files load with `allow_pickle=False`.

Version 2 (compressed models, `hearpipe compress`) adds `"compression": {"layers": {NAME: {"kind":
"int" | "cluster", "bits": b, "shape": [M, K]} | {"same_as": OTHER}, ...}, "recipe": {...}}`: the matrix
NAME is stored as it runs on the device, not as float32 (`PackedLayer`):
- `NAME.packed` uint8: the kept rows' values, b bits each, row after row (`hearpipe.fixed.packing`):
  two's-complement integers (kind "int", levels -(2**(b-1)-1)..2**(b-1)-1) or codebook indices ("cluster");
- `NAME.scale` float32 (M,): w[m] = value * scale[m] (one scale per row; a clustered layer's are equal);
- `NAME.codebook` int8 (2**b,) ("cluster" only): the centroids as integers of that scale;
- `NAME.rows` uint8 (pruned layers only): 1 bit per row, 1 = kept; pruned rows hold no values;
- `same_as`: the matrix shares another's stored values and scales (parameter sharing).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.fixed.packing import packed_bytes, unpack_bits

FORMAT_VERSION = 1
PACKED_VERSION = 2  # files with packed (compressed) layers
META_KEY = "__meta__"
BUILTIN_PREFIX = "builtin:"
BUILTIN_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class WeightFile:
    """Arrays by name, the architecture name, its hyper-parameters and free-form training info."""

    arrays: dict[str, np.ndarray]
    architecture: str
    hparams: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"
    compression: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise InvalidInput(f"{self.source}: weight array {name!r} is missing")
        return self.arrays[name]

    def packed_layers(self) -> dict[str, PackedLayer]:
        """The packed matrices by name (shared ones resolved to the layer they share), checked."""
        specs = self.compression.get("layers", {})
        out: dict[str, PackedLayer] = {}
        for name, spec in specs.items():
            if "same_as" not in spec:
                out[name] = PackedLayer.from_arrays(name, spec, self.arrays, self.source)
        for name, spec in specs.items():
            if "same_as" in spec:
                if spec["same_as"] not in out:
                    raise InvalidInput(
                        f"{self.source}: {name!r} shares {spec['same_as']!r}, which is not stored"
                    )
                out[name] = out[spec["same_as"]]
        return out

    def float_arrays(self) -> dict[str, np.ndarray]:
        """Every weight as a float array: stored ones as they are, packed matrices dequantised."""
        packed = self.packed_layers()
        stored = {n for name in packed for n in PackedLayer.array_names(name)}
        out = {k: v for k, v in self.arrays.items() if k not in stored}
        out.update({name: layer.dense() for name, layer in packed.items()})
        return out


@dataclass
class PackedLayer:
    """One matrix as stored in a version-2 file (module docstring): packed values, row scales, the
    codebook of a clustered layer and the mask of kept rows."""

    name: str
    kind: str  # "int" | "cluster"
    bits: int
    rows: int
    cols: int
    packed: np.ndarray  # uint8
    scale: np.ndarray  # float32 (rows,)
    codebook: np.ndarray | None = None  # int8 (2**bits,)
    row_mask: np.ndarray | None = None  # uint8, 1 bit per row

    SUFFIXES = (".packed", ".scale", ".codebook", ".rows")

    @staticmethod
    def array_names(name: str) -> list[str]:
        return [name + s for s in PackedLayer.SUFFIXES]

    @property
    def kept(self) -> np.ndarray:
        """bool (rows,): rows that hold values (False: pruned)."""
        if self.row_mask is None:
            return np.ones(self.rows, bool)
        return unpack_bits(self.row_mask, 1, self.rows, signed=False).astype(bool)

    def values(self) -> np.ndarray:
        """The stored values of the kept rows, (kept, cols) int64 (indices for a clustered layer)."""
        n = int(self.kept.sum())
        v = unpack_bits(self.packed, self.bits, n * self.cols, signed=self.kind == "int")
        return v.reshape(n, self.cols)

    def ints(self) -> np.ndarray:
        """The integer weights (rows, cols) int8: codebook values looked up, pruned rows zero."""
        v = self.values()
        if self.kind == "cluster":
            v = self.codebook.astype(np.int64)[v]
        out = np.zeros((self.rows, self.cols), np.int8)
        out[self.kept] = v
        return out

    def dense(self) -> np.ndarray:
        return self.ints().astype(np.float64) * self.scale.astype(np.float64)[:, None]

    def stored_arrays(self) -> dict[str, np.ndarray]:
        a = {self.name + ".packed": self.packed, self.name + ".scale": self.scale}
        if self.codebook is not None:
            a[self.name + ".codebook"] = self.codebook
        if self.row_mask is not None:
            a[self.name + ".rows"] = self.row_mask
        return a

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "bits": self.bits, "shape": [self.rows, self.cols]}

    @classmethod
    def from_arrays(cls, name: str, spec: dict, arrays: dict[str, np.ndarray], source: str) -> PackedLayer:
        def need(suffix: str, dtype) -> np.ndarray:
            a = arrays.get(name + suffix)
            if a is None or a.dtype != dtype or a.ndim != 1:
                raise InvalidInput(
                    f"{source}: packed layer {name!r} needs a 1-D {np.dtype(dtype).name} {suffix!r} array"
                )
            return a

        try:
            kind, bits, (rows, cols) = spec["kind"], int(spec["bits"]), (int(v) for v in spec["shape"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                f"{source}: packed layer {name!r} has a malformed description {spec!r}"
            ) from None
        if kind not in ("int", "cluster") or not 1 <= bits <= 8:
            raise InvalidInput(
                f"{source}: packed layer {name!r}: kind {kind!r} with {bits} bits is not supported"
            )
        layer = cls(
            name, kind, bits, rows, cols, need(".packed", np.uint8), need(".scale", np.float32),
            need(".codebook", np.int8) if kind == "cluster" else None,
            need(".rows", np.uint8) if name + ".rows" in arrays else None,
        )  # fmt: skip
        n = (
            int(layer.kept.sum())
            if layer.row_mask is None or layer.row_mask.size == packed_bytes(rows, 1)
            else -1
        )
        bad = (
            n < 0 or layer.scale.size != rows or layer.packed.size != packed_bytes(n * cols, bits)
            or (layer.codebook is not None and layer.codebook.size != 1 << bits)
        )  # fmt: skip
        if bad:
            raise InvalidInput(f"{source}: packed layer {name!r} has arrays of the wrong size for {spec!r}")
        return layer


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' names, dtypes, shapes and little-endian bytes, in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        h.update(f"{name}|{a.dtype.str}|{a.shape}\n".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_weights(
    path: str | Path,
    arrays: dict[str, np.ndarray],
    architecture: str,
    hparams: dict[str, Any],
    training: dict[str, Any] | None = None,
    compression: dict[str, Any] | None = None,
) -> Path:
    """Write arrays and metadata atomically (temp file, then rename); returns the path. `compression`
    (the packed layers' description, module docstring) makes it a version-2 file."""
    path = Path(path)
    if META_KEY in arrays:
        raise ValueError(f"array name {META_KEY!r} is reserved")
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {
        "format_version": PACKED_VERSION if compression else FORMAT_VERSION,
        "architecture": architecture,
        "hparams": hparams,
        "training": training or {},
        "sha256": checksum(arrays),
    }
    if compression:
        meta["compression"] = compression
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays, **{META_KEY: np.array(json.dumps(meta, sort_keys=True))})
    tmp.replace(path)
    return path


def load_weights(path: str | Path, architecture: str | None = None) -> WeightFile:
    """Read and verify a weight file; raise InvalidInput naming the file for every problem."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"{p}: weight file not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            names = list(z.files)
            if META_KEY not in names:
                raise InvalidInput(f"{p}: not a hearpipe weight file (no {META_KEY} entry)")
            meta = json.loads(str(z[META_KEY][()]))
            arrays = {k: z[k] for k in names if k != META_KEY}
    except InvalidInput:
        raise
    except (
        OSError,
        ValueError,
        zipfile.BadZipFile,
        EOFError,
        json.JSONDecodeError,
        io.UnsupportedOperation,
    ) as e:
        raise InvalidInput(f"{p}: corrupt or unreadable weight file ({type(e).__name__}: {e})") from None
    version = meta.get("format_version")
    if version not in (FORMAT_VERSION, PACKED_VERSION):
        raise InvalidInput(
            f"{p}: format_version {version!r} is not supported (expected {FORMAT_VERSION} or {PACKED_VERSION})"
        )
    digest = checksum(arrays)
    if digest != meta.get("sha256"):
        raise InvalidInput(
            f"{p}: checksum mismatch (stored {str(meta.get('sha256'))[:12]}..., computed {digest[:12]}...): "
            "the file is corrupt or was edited"
        )
    arch = meta.get("architecture")
    if architecture is not None and arch != architecture:
        raise InvalidInput(f"{p}: architecture is {arch!r}, expected {architecture!r}")
    wf = WeightFile(
        arrays, arch, dict(meta.get("hparams", {})), dict(meta.get("training", {})), str(p),
        dict(meta.get("compression", {})),
    )  # fmt: skip
    wf.packed_layers()  # a packed layer's arrays are checked on load
    return wf


def builtin_names() -> list[str]:
    return sorted(q.stem for q in BUILTIN_DIR.glob("*.npz"))


def resolve_weights(ref: str | Path, base_dir: str | Path | None = None) -> Path:
    """`builtin:NAME` -> the shipped file hearpipe/models/weights/NAME.npz; else a path (relative to base_dir)."""
    s = str(ref)
    if s.startswith(BUILTIN_PREFIX):
        name = s[len(BUILTIN_PREFIX) :]
        p = BUILTIN_DIR / f"{name}.npz"
        if not p.is_file():
            known = ", ".join(builtin_names()) or "none"
            raise InvalidInput(f"weights: no builtin model {name!r} (builtin models: {known})")
        return p
    p = Path(s)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p
