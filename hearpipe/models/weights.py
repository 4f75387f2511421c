"""The `.npz` weight-file format shared by training, the float reference and the fixed-point inference.

A file holds named arrays plus one entry `__meta__`: a 0-d unicode array with a JSON document
```
{"format_version": 1, "architecture": "groupcomm", "hparams": {...}, "training": {...},
 "sha256": "<hex digest over all arrays>"}
```
The checksum covers every array's name, dtype, shape and bytes (in sorted name order), so a file
whose arrays were altered or truncated is refused. Files load with `allow_pickle=False`.
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

FORMAT_VERSION = 1
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

    def get(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise InvalidInput(f"{self.source}: weight array {name!r} is missing")
        return self.arrays[name]


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
) -> Path:
    """Write arrays and metadata atomically (temp file, then rename); returns the path."""
    path = Path(path)
    if META_KEY in arrays:
        raise ValueError(f"array name {META_KEY!r} is reserved")
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    meta = {
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "hparams": hparams,
        "training": training or {},
        "sha256": checksum(arrays),
    }
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
    if version != FORMAT_VERSION:
        raise InvalidInput(f"{p}: format_version {version!r} is not supported (expected {FORMAT_VERSION})")
    digest = checksum(arrays)
    if digest != meta.get("sha256"):
        raise InvalidInput(
            f"{p}: checksum mismatch (stored {str(meta.get('sha256'))[:12]}..., computed {digest[:12]}...): "
            "the file is corrupt or was edited"
        )
    arch = meta.get("architecture")
    if architecture is not None and arch != architecture:
        raise InvalidInput(f"{p}: architecture is {arch!r}, expected {architecture!r}")
    return WeightFile(arrays, arch, dict(meta.get("hparams", {})), dict(meta.get("training", {})), str(p))


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
