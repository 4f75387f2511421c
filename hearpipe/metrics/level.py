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


# ITU-T P.56 method B: a two-stage envelope of |x| (time constant 0.03 s), a sample is active at a
# threshold while the envelope is at or above it or was within the last 0.2 s (hangover); the active level
# is the active power at the threshold lying 15.9 dB below it.
ENVELOPE_S, HANGOVER_S, MARGIN_DB = 0.03, 0.2, 15.9
_BIN_DB = 0.1  # threshold grid: P.56's powers of two (6 dB apart) interpolated far more coarsely
_FLOOR_DB = -150.0


class ActiveLevel:
    """P.56 active speech level accumulated over blocks (channels, samples) of a stream: the same figure
    as one call on the whole signal. The channels' envelopes and powers are averaged (one talker)."""

    def __init__(self, sample_rate_hz: float):
        from scipy.signal import lfilter  # scipy's import time only for a caller that measures

        self._lfilter = lfilter
        self._g = math.exp(-1.0 / (ENVELOPE_S * sample_rate_hz))
        self._zi = np.zeros((2, 1))  # the two smoothing stages' states
        self._hang = round(HANGOVER_S * sample_rate_hz)
        self._tail = np.zeros(self._hang)  # the envelope's last samples: the hangover across blocks
        self._counts = np.zeros(round(-_FLOOR_DB / _BIN_DB) + 1, dtype=np.int64)
        self.sum_squares = 0.0
        self.samples = 0

    def update(self, x: np.ndarray) -> None:
        from scipy.ndimage import maximum_filter1d

        x = np.atleast_2d(x)
        if not x.shape[1]:
            return
        self.sum_squares += float(np.mean(np.square(x), axis=0).sum())
        self.samples += x.shape[1]
        g = self._g
        p, self._zi[0] = self._lfilter([1 - g], [1, -g], np.mean(np.abs(x), axis=0), zi=self._zi[0])
        q, self._zi[1] = self._lfilter([1 - g], [1, -g], p, zi=self._zi[1])
        # active at threshold c while max(envelope over the last hangover+1 samples) >= c
        held = maximum_filter1d(np.concatenate([self._tail, q]), self._hang + 1, origin=self._hang // 2)
        self._tail = np.concatenate([self._tail, q])[-self._hang :] if self._hang else self._tail
        db = 20 * np.log10(np.maximum(held[-len(q) :], 1e-300))
        idx = np.clip(np.floor((db - _FLOOR_DB) / _BIN_DB), -1, len(self._counts) - 1).astype(np.int64)
        self._counts += np.bincount(idx[idx >= 0], minlength=len(self._counts))

    def mean_square(self) -> float:
        """The active speech's mean square (0 for silence)."""
        if not self.samples or self.sum_squares <= 0:
            return 0.0
        active = np.cumsum(self._counts[::-1])[::-1]  # samples active at each threshold of the grid
        thr_db = _FLOOR_DB + _BIN_DB * np.arange(len(self._counts))
        with np.errstate(divide="ignore"):
            excess = 10 * np.log10(self.sum_squares / active) - thr_db  # active power over the threshold
        j = int(np.argmax(excess <= MARGIN_DB))  # excess falls as the threshold rises
        if excess[j] > MARGIN_DB or j == 0:
            return self.sum_squares / max(active[j], 1)
        # between the grid's thresholds j-1 and j: the threshold where the excess is the margin
        f = (excess[j - 1] - MARGIN_DB) / (excess[j - 1] - excess[j])
        return 10 ** ((thr_db[j - 1] + f * _BIN_DB + MARGIN_DB) / 10)


def active_level_db_spl(x: np.ndarray, sample_rate_hz: float, full_scale_db_spl: float) -> float:
    """ITU-T P.56 (method B) active speech level of `x` (samples, or channels x samples) in dB SPL."""
    acc = ActiveLevel(sample_rate_hz)
    acc.update(x)
    return mean_square_db_spl(acc.mean_square(), full_scale_db_spl)
