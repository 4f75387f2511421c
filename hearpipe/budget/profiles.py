"""Finding and loading device profiles by name or path."""

from __future__ import annotations

import sys
from pathlib import Path

from hearpipe.budget.device import DeviceProfile
from hearpipe.config import load_model
from hearpipe.errors import InvalidInput
from hearpipe.shipped import find_shipped, shipped_files


def list_devices() -> list[Path]:
    """The shipped device profiles (`devices/*.yaml`)."""
    return shipped_files("devices")


def load_device(name_or_path: str | Path) -> DeviceProfile:
    """A path to a YAML file, or the name of a shipped profile (`hearing-aid-dsp`). A profile without
    `sources` loads with a one-line note on stderr that its numbers are uncited."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        dev = load_model(DeviceProfile, p)
    else:
        try:
            p = find_shipped("devices", str(name_or_path))
        except InvalidInput as e:
            raise InvalidInput(f"{e}; a profile file's path (YAML/JSON) works too") from None
        dev = load_model(DeviceProfile, p)
    if not dev.sources:
        print(f"note: device profile {p} has no sources: its numbers are uncited", file=sys.stderr)
    return dev
