"""The files hearpipe ships beside its code: graphs, device profiles and the audiograms the graphs use.

Their source of truth is the repository's top-level `graphs/`, `devices/` and `examples/audiograms/`. A wheel
carries them as `hearpipe/_share/...` (setup.py maps the folders there, keeping their relative layout, so a
shipped graph's `../examples/audiograms/x.yaml` resolves in both places); a source checkout or an editable
install reads them where they are.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from hearpipe.errors import InvalidInput

_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def shipped_dir(kind: str) -> Path:
    """The folder of shipped `kind` ('graphs' or 'devices')."""
    installed = resources.files("hearpipe").joinpath("_share", kind)
    return Path(str(installed)) if installed.is_dir() else _SOURCE_ROOT / kind


def shipped_files(kind: str) -> list[Path]:
    """The shipped YAML files of `kind`, sorted by name."""
    return sorted(shipped_dir(kind).glob("*.yaml"))


def find_shipped(kind: str, name: str) -> Path:
    """The shipped file of `kind` named `name` (its stem), or InvalidInput naming the near misses."""
    files = {p.stem: p for p in shipped_files(kind)}
    if name in files:
        return files[name]
    near = difflib.get_close_matches(name, files, n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    raise InvalidInput(f"unknown {kind.removesuffix('s')} {name!r}{hint} (shipped: {', '.join(files)})")
