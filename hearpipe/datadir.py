"""Where the recorded speech and noise live: not shipped with the package, found by environment or place."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """$HEARPIPE_DATA, else ../shared/data beside the repository (a checkout) or the working folder (an
    installed wheel, which has no repository to be beside)."""
    env = os.environ.get("HEARPIPE_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    base = repo if (repo / "pyproject.toml").is_file() else Path.cwd()
    return base.parent / "shared" / "data"
