"""Linear prescriptions: insertion gain in dB per frequency from an audiogram (domain.md section 3).

- `nal-r` (Byrne & Dillon 1986, in the form pyclarity uses): at 250, 500, 1000, 2000, 4000, 6000 Hz,
  ``S = HL500 + HL1k + HL2k``; ``X = 0.05 S`` (S <= 180) else ``9 + 0.116 (S - 180)``;
  ``G = X + 0.31 HL + k`` with ``k = -17, -8, +1, -1, -2, -2`` dB; negative gains clipped to 0.
- `nal-rp` (Byrne, Parkinson & Newall 1990): NAL-R evaluated also at 750, 1500 and 3000 Hz (k = -3,
  +1, -2 dB) plus, when HL(2 kHz) >= 95 dB HL, the profound-loss correction of the table below
  (row chosen by HL(2 kHz) rounded down to 5 dB, capped at 120). The table values are from the
  textbook summary of the procedure (unconfirmed against the primary paper).
- `half-gain`: G = HL / 2 at the audiogram's own frequencies (the classic half-gain rule).

Thresholds are taken from the audiogram by log-frequency interpolation (edge values held).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from hearpipe.dsp.audiogram import Audiogram, Ear, interpolate_log_frequency, load_audiogram
from hearpipe.dsp.spectral import bin_frequencies_hz, db_to_amplitude, interpolate_gain_db
from hearpipe.errors import InvalidInput

Rule = Literal["nal-r", "nal-rp", "half-gain"]
RULES: tuple[Rule, ...] = ("nal-r", "nal-rp", "half-gain")

NALR_FREQUENCIES_HZ = np.array([250.0, 500.0, 1000.0, 2000.0, 4000.0, 6000.0])
NALR_K_DB = np.array([-17.0, -8.0, 1.0, -1.0, -2.0, -2.0])

NALRP_FREQUENCIES_HZ = np.array([250.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0])
NALRP_K_DB = np.array([-17.0, -8.0, -3.0, 1.0, 1.0, -1.0, -2.0, -2.0, -2.0])
# Profound-loss correction (dB) by HL at 2 kHz, columns at NALRP_FREQUENCIES_HZ (unconfirmed, see above).
NALRP_PROFOUND_DB = {
    95: [4, 3, 1, 0, -1, -2, -2, -2, -2],
    100: [6, 4, 2, 0, -2, -3, -3, -3, -3],
    105: [8, 5, 2, 0, -3, -5, -5, -5, -5],
    110: [11, 7, 3, 0, -3, -6, -6, -6, -6],
    115: [13, 8, 4, 0, -4, -8, -8, -8, -8],
    120: [15, 9, 4, 0, -5, -9, -9, -9, -9],
}


def nal_x(hl_500: float, hl_1000: float, hl_2000: float) -> float:
    """The overall-gain term X of NAL-R from the three-frequency sum S (with the S > 180 slope)."""
    s = hl_500 + hl_1000 + hl_2000
    return 0.05 * s if s <= 180.0 else 9.0 + 0.116 * (s - 180.0)


def nal_r(frequencies_hz, thresholds_db_hl) -> tuple[np.ndarray, np.ndarray]:
    """NAL-R insertion gain: (frequencies (6,), gains (6,) in dB) for thresholds at `frequencies_hz`."""
    hl = interpolate_log_frequency(frequencies_hz, thresholds_db_hl, NALR_FREQUENCIES_HZ)
    x = nal_x(hl[1], hl[2], hl[3])
    return NALR_FREQUENCIES_HZ.copy(), np.maximum(x + 0.31 * hl + NALR_K_DB, 0.0)


def nal_rp(frequencies_hz, thresholds_db_hl) -> tuple[np.ndarray, np.ndarray]:
    """NAL-RP insertion gain at 250..6000 Hz (9 points) in dB."""
    hl = interpolate_log_frequency(frequencies_hz, thresholds_db_hl, NALRP_FREQUENCIES_HZ)
    x = nal_x(hl[1], hl[3], hl[5])
    g = x + 0.31 * hl + NALRP_K_DB
    hl_2k = hl[5]
    if hl_2k >= 95.0:
        row = min(120, int(np.floor(hl_2k / 5.0)) * 5)
        g = g + np.asarray(NALRP_PROFOUND_DB[row], dtype=np.float64)
    return NALRP_FREQUENCIES_HZ.copy(), np.maximum(g, 0.0)


def half_gain(frequencies_hz, thresholds_db_hl) -> tuple[np.ndarray, np.ndarray]:
    """Half-gain rule at the audiogram's frequencies (negative thresholds give 0 dB)."""
    f = np.asarray(frequencies_hz, dtype=np.float64)
    return f.copy(), np.maximum(0.5 * np.asarray(thresholds_db_hl, dtype=np.float64), 0.0)


_RULE_FUNCS = {"nal-r": nal_r, "nal-rp": nal_rp, "half-gain": half_gain}


def prescribe(
    audiogram: Audiogram, rule: str = "nal-r", ear: Ear | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Insertion gain (frequencies_hz, gain_db) for one ear of an audiogram by a named rule."""
    if rule not in _RULE_FUNCS:
        raise InvalidInput(f"unknown prescription rule {rule!r} (known: {', '.join(RULES)})")
    ear = audiogram.pick_ear(ear)
    return _RULE_FUNCS[rule](audiogram.frequencies_hz, audiogram.thresholds(ear))


def fit_table(audiogram_path: str | Path, rule: str = "nal-r", ear: Ear | None = None) -> dict[str, Any]:
    """Insertion gain prescribed for one ear of an audiogram file, JSON-able: {'audiogram', 'rule', 'ear',
    'frequencies_hz' (Hz), 'gain_db' (dB, rounded to 1e-4)}; the default ear is the file's first."""
    ag = load_audiogram(audiogram_path)
    e = ag.pick_ear(ear)
    f, g = prescribe(ag, rule, e)
    return {
        "audiogram": str(audiogram_path),
        "rule": rule,
        "ear": e,
        "frequencies_hz": [float(v) for v in f],
        "gain_db": [round(float(v), 4) for v in g],
    }


def stft_gain_curve(frequencies_hz, gains_db, n_fft: int, sample_rate_hz: float) -> np.ndarray:
    """Per-bin linear (amplitude) gains, shape (n_fft // 2 + 1,), for an rfft of length n_fft: the gain
    points interpolated in dB over linear frequency, edge values held to 0 Hz and Nyquist."""
    return db_to_amplitude(
        interpolate_gain_db(frequencies_hz, gains_db, bin_frequencies_hz(n_fft, sample_rate_hz))
    )


def fir_from_gains(frequencies_hz, gains_db, order: int, sample_rate_hz: float) -> np.ndarray:
    """Linear-phase FIR (order + 1 taps, delay order/2 samples) approximating the gain curve.

    `order` must be even (type I filter: symmetric, any gain at Nyquist). Frequency points are the
    prescription's, extended with held edge values to 0 Hz and Nyquist (firwin2's grid needs both).
    """
    if order < 2 or order % 2:
        raise InvalidInput(f"FIR order must be an even number >= 2, got {order}")
    nyq = sample_rate_hz / 2.0
    f = np.asarray(frequencies_hz, dtype=np.float64)
    g = np.asarray(gains_db, dtype=np.float64)
    keep = f < nyq
    keep[0] = True  # all points at or above Nyquist: the lowest one's gain holds everywhere
    f, g = f[keep], g[keep]
    # A dense grid keeps firwin2's linear-in-amplitude interpolation close to linear-in-dB.
    grid = np.linspace(0.0, nyq, 257)
    amp = db_to_amplitude(interpolate_gain_db(f, g, grid))
    from scipy.signal import firwin2  # imported here: scipy.signal costs ~80 MB of resident memory

    return firwin2(order + 1, grid / nyq, amp, window="hamming")
