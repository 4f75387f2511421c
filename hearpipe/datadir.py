"""Where the recorded speech and noise live: not shipped with the package, found by environment or place."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """$HEARPIPE_DATA, else ../shared/data relative to the repository root."""
    env = os.environ.get("HEARPIPE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"
