"""Analysis windows and their synthesis (dual) windows for weighted overlap-add."""

from __future__ import annotations

from typing import Literal

import numpy as np

WindowName = Literal["sqrt_hann", "hann", "hamming", "blackman", "rect"]


def analysis_window(name: WindowName, length: int) -> np.ndarray:
    """Periodic (DFT-even) windows: the choice that makes overlap-add sums exactly constant."""
    n = np.arange(length)
    phase = 2 * np.pi * n / length
    if name == "rect":
        return np.ones(length)
    if name == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if name == "sqrt_hann":
        return np.sqrt(0.5 - 0.5 * np.cos(phase))
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2 * phase)
    raise ValueError(f"unknown window {name!r}")


def window_q15(w: np.ndarray) -> np.ndarray:
    """A window in [0, 1] as the fixed-point STFT applies it: Q15 integers (int64), rounded half to even,
    1.0 saturated to 32767. Level detectors that calibrate on the window use the same values."""
    return np.minimum(np.round(w * 32768.0), 32767).astype(np.int64)


def overlap_sum(w: np.ndarray, hop: int) -> np.ndarray:
    """sum_k w[n + k*hop] for n in [0, hop): what overlap-add of `w` at this hop adds up to."""
    padded = np.zeros(-(-len(w) // hop) * hop)
    padded[: len(w)] = w
    return padded.reshape(-1, hop).sum(axis=0)


def dual_window(w: np.ndarray, hop: int) -> tuple[np.ndarray, float]:
    """Synthesis window s = w / sum_k w^2(n - k*hop): exact reconstruction of an unmodified STFT.

    Returns the window and the smallest value of the squared-window sum, relative to its largest:
    reconstruction is impossible (or ill-conditioned) where that sum vanishes.
    """
    denom = overlap_sum(w * w, hop)
    worst = float(denom.min() / denom.max()) if denom.max() > 0 else 0.0
    if worst < 1e-6:
        return np.zeros_like(w), worst
    return w / np.resize(denom, len(w)), worst
