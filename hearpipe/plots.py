"""Shared matplotlib helpers for PNG plots (`pyplot`, `plot_dir`, `save`), used by the test box's plots
(`hearpipe.testbox.plots`) and the enhancement plots. Needs matplotlib (the `plot` extra), imported
only when plotting."""

from __future__ import annotations

import os
from pathlib import Path

from hearpipe.errors import InvalidInput


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the installation
        raise InvalidInput("plotting needs matplotlib: pip install 'hearpipe[plot]'") from None
    return plt


def plot_dir(out_dir: str | Path) -> Path:
    """Create (if needed) and check the folder plots go to; callers may check it before measuring."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # an existing file of that name, no permission, ...
        raise InvalidInput(f"--plot {out}: cannot create the plot folder ({e.strerror})") from None
    if not os.access(out, os.W_OK):
        raise InvalidInput(f"--plot {out}: the plot folder is not writable")
    return out


def save(fig, path: Path, dpi: int = 120, tight: bool = True) -> Path:
    """Write one figure and free it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
