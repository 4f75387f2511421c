"""Plots: the shared matplotlib helpers (`pyplot`, `plot_dir`, `save`) and the one spectrogram level
(`spectrogram_db`), used by the render's before/after picture (`plots.render`), the test box's plots
(`hearpipe.testbox.plots`), the enhancement plots and the report's figures. Needs matplotlib (the `plot`
extra), imported only when plotting."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hearpipe.dsp import wola
from hearpipe.dsp.windows import analysis_window
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


def save(fig, path, dpi: int = 120, tight: bool = True):
    """Write one figure as PNG to `path` (a file name or a binary buffer) and free it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, format="png", dpi=dpi)
    pyplot().close(fig)
    return path


def spectrogram_db(x: np.ndarray, window_length: int, hop: int) -> np.ndarray:
    """Level per cell of a Hann STFT (frequency x time) in dB re full scale, as the amplitude of a sine
    in that bin (|X| / sum(window)); floored at -240 dB so silence has a level."""
    window = analysis_window("hann", window_length)
    mag = np.abs(wola.stft(np.asarray(x, dtype=np.float64), window, hop)) / window.sum()
    return 20 * np.log10(np.maximum(mag, 1e-12))
