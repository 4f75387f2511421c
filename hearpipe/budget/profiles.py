"""Finding and loading device profiles by name or path."""

from __future__ import annotations

import difflib
from pathlib import Path

from hearpipe.budget.device import DeviceProfile, list_devices
from hearpipe.config import load_model
from hearpipe.errors import InvalidInput


def load_device(name_or_path: str | Path) -> DeviceProfile:
    """A path to a YAML file, or the name of a shipped profile (`hearing-aid-dsp`)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        return load_model(DeviceProfile, p)
    shipped = {d.stem: d for d in list_devices()}
    if str(name_or_path) in shipped:
        return load_model(DeviceProfile, shipped[str(name_or_path)])
    near = difflib.get_close_matches(str(name_or_path), shipped, n=3, cutoff=0.4)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    raise InvalidInput(f"unknown device {str(name_or_path)!r}{hint} (shipped: {', '.join(shipped)})")
