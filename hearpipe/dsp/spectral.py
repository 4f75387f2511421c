"""Gain curves over frequency."""

from __future__ import annotations

import numpy as np


def bin_frequencies_hz(n_fft: int, sample_rate_hz: float) -> np.ndarray:
    return np.arange(n_fft // 2 + 1) * sample_rate_hz / n_fft


def interpolate_gain_db(frequencies_hz, gains_db, at_hz) -> np.ndarray:
    """Gains in dB at `at_hz`: linear in dB over linear frequency, edge values held (as pyclarity's NAL-R)."""
    return np.interp(np.asarray(at_hz, float), np.asarray(frequencies_hz, float), np.asarray(gains_db, float))


def db_to_amplitude(db) -> np.ndarray:
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 20.0)
