"""Calibrated levels: dB SPL through a graph's `full_scale_db_spl` (the level of a full-scale sine, whose
mean square is 1/2), so a signal of mean square `ms` has level `full_scale_db_spl + 10 log10(2 ms)`."""

from __future__ import annotations

import math

import numpy as np

SILENT_DB_SPL = -150.0  # the level reported for digital silence


def mean_square_db_spl(ms: float, full_scale_db_spl: float) -> float:
    """Level in dB SPL of a signal whose mean square is `ms` (summed in blocks when streaming)."""
    return full_scale_db_spl + 10.0 * math.log10(2.0 * ms) if ms > 0 else SILENT_DB_SPL


def level_db_spl(x: np.ndarray, full_scale_db_spl: float) -> float:
    """Level of a signal in dB SPL from its mean square (full-scale sine: mean square 1/2)."""
    return mean_square_db_spl(float(np.mean(np.square(x))), full_scale_db_spl)
