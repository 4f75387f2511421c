"""Gain curves over frequency."""

from __future__ import annotations

import numpy as np


def bin_frequencies_hz(n_fft: int, sample_rate_hz: float) -> np.ndarray:
    """Centre frequencies in Hz of the n_fft // 2 + 1 bins of an rfft of length n_fft."""
    return np.arange(n_fft // 2 + 1) * sample_rate_hz / n_fft


def interpolate_gain_db(frequencies_hz, gains_db, at_hz) -> np.ndarray:
    """Gains in dB at `at_hz`: linear in dB over linear frequency, edge values held (to 0 Hz and to
    Nyquist), as pyclarity's NAL-R filter design does. The one gain-curve interpolation of hearpipe."""
    return np.interp(np.asarray(at_hz, float), np.asarray(frequencies_hz, float), np.asarray(gains_db, float))


def db_to_amplitude(db) -> np.ndarray:
    """Amplitude (linear) factor of a gain in dB: 10 ** (dB / 20)."""
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 20.0)
