"""Finding and loading device profiles by name or path."""

from __future__ import annotations

from pathlib import Path

from hearpipe.budget.device import DeviceProfile
from hearpipe.config import load_model
from hearpipe.shipped import find_shipped, shipped_files


def list_devices() -> list[Path]:
    """The shipped device profiles (`devices/*.yaml`)."""
    return shipped_files("devices")


def load_device(name_or_path: str | Path) -> DeviceProfile:
    """A path to a YAML file, or the name of a shipped profile (`hearing-aid-dsp`)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        return load_model(DeviceProfile, p)
    return load_model(DeviceProfile, find_shipped("devices", str(name_or_path)))
