"""Fitting to target: band gains solved so the insertion gain for average speech matches a prescription.

A prescription such as NAL-R gives insertion gain at a few audiometric frequencies for a given input
(NAL-R: speech at 65 dB SPL overall). A multiband compressor applies one gain per band, through bands that
overlap near their crossovers, and its gain depends on each band's level. So the band gains are solved,
not sampled: least squares over the prescription's frequencies of (achieved - target) insertion gain,
where the achieved gain comes from the filter bank's actual band responses (`stft_band_responses`, the
time-invariant part of the weighted overlap-add with per-bin gains) and each band's gain is what the
compressor's static curve gives speech in that band: the curve applied, frame by frame, to the level its
own detector reads from speech-shaped noise (`detected_speech`), weighted by the band's power
(`speech_gain_db`). Evaluating the curve at the band's long-term level instead overestimates the gain by
0.5-1 dB above the compression threshold: a fast-attack, slow-release detector reads the peaks of a
fluctuating band level.

The speech spectrum is the standard speech spectrum of ANSI S3.5-1997 (Speech Intelligibility Index),
Table 3, normal vocal effort: spectrum levels (dB SPL per Hz) in 18 one-third-octave bands 160-8000 Hz
(62.35 dB SPL overall), scaled to the overall level asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hearpipe.dsp.spectral import interpolate_gain_db
from hearpipe.dsp.wdrc import LEVEL_FLOOR_DB_SPL, bin_power_weights, level_follower_db
from hearpipe.dsp.windows import dual_window
from hearpipe.dsp.wola import stft

# ANSI S3.5-1997 Table 3: one-third-octave centre frequencies and the standard speech spectrum level at
# normal vocal effort (dB SPL in a 1 Hz band).
LTASS_CENTERS_HZ = np.array(
    [160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000],
    dtype=np.float64,
)
LTASS_SPECTRUM_LEVEL_DB = np.array(
    [32.41, 34.48, 34.75, 33.98, 34.59, 34.27, 32.06, 28.30, 25.01, 23.00, 20.15, 17.32, 13.18, 11.55, 9.33,
     5.31, 2.59, 1.13]
)  # fmt: skip
THIRD_OCTAVE_BANDWIDTH = 2 ** (1 / 6) - 2 ** (-1 / 6)  # bandwidth / centre frequency (0.2316)
SPEECH_LEVEL_DB_SPL = 65.0  # NAL-R's input: average conversational speech
GRID_POINTS = 8192  # frequency grid of the band responses over 0..sample rate (16 kHz: 1.95 Hz spacing)


def ltass_psd(frequencies_hz, overall_db_spl: float = SPEECH_LEVEL_DB_SPL) -> np.ndarray:
    """Power spectral density of the LTASS at `frequencies_hz` (linear SPL power per Hz, 10**(dB/10)): the
    spectrum level interpolated over log frequency within the 18 bands' outer edges (141-8913 Hz), zero
    outside, scaled so that it integrates to `overall_db_spl`."""
    lo, hi = LTASS_CENTERS_HZ[0] * 2 ** (-1 / 6), LTASS_CENTERS_HZ[-1] * 2 ** (1 / 6)

    def shape(f):
        level = np.interp(np.log(np.maximum(f, 1.0)), np.log(LTASS_CENTERS_HZ), LTASS_SPECTRUM_LEVEL_DB)
        return np.where((f >= lo) & (f < hi), 10 ** (level / 10), 0.0)

    fine = np.geomspace(lo, hi, 4096)
    total = np.trapezoid(shape(fine), fine)
    return shape(np.asarray(frequencies_hz, dtype=np.float64)) * 10 ** (overall_db_spl / 10) / total


def stft_bin_responses(
    window: np.ndarray, synthesis: np.ndarray, n_fft: int, sample_rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """How each rfft bin of a weighted overlap-add reaches each frequency: (frequencies_hz (G,) over
    0..Nyquist, response (F, G) complex), F = n_fft // 2 + 1.

    With real gains g_k per bin (the same on a bin's negative-frequency twin), the time-invariant part of
    STFT -> gains -> inverse STFT is H(f) = sum_k g_k response[k, f]: for a sine at f, frame bin k holds
    conj(A(f - f_k)) and the synthesis window brings it back with S(f - f_k), A and S being the windows'
    DTFTs; normalised here so that unit gains give H = 1.
    """
    m = n_fft * -(-GRID_POINTS // n_fft)  # a multiple of n_fft: bin centres fall on the grid
    kernel = np.conj(np.fft.fft(window, m)) * np.fft.fft(synthesis, m)
    g = np.arange(m // 2 + 1)
    step = m // n_fft
    resp = np.empty((n_fft // 2 + 1, g.size), dtype=np.complex128)
    for k in range(resp.shape[0]):
        twin = 0 < k < n_fft - k  # bins with a distinct negative-frequency twin, N - k
        resp[k] = kernel[(g - k * step) % m] + (kernel[(g + k * step) % m] if twin else 0)
    resp /= resp.sum(axis=0)
    return g * sample_rate_hz / m, resp


def achieved_gain_db(response_at, gains_db) -> np.ndarray:
    """Insertion gain (dB) at the frequencies of `response_at` (B, T) for per-row gains (B,) in dB."""
    h = np.asarray(10 ** (np.asarray(gains_db) / 20)) @ response_at
    return 20 * np.log10(np.maximum(np.abs(h), 1e-12))


def solve_band_gains(
    frequencies_hz, response, target_hz, target_db, centers_hz, smoothing: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Band gains (B,) in dB whose achieved insertion gain best matches the target, and that achieved gain
    at the target frequencies (T,).

    Least squares over the target frequencies below the grid's top (Nyquist) of achieved - target, the
    achieved gain being `achieved_gain_db` through `response` (B, G) sampled there; a weak pull
    (`smoothing` per dB) of each band's gain towards the target interpolated at its centre keeps bands that
    no target frequency pins (more bands than targets) at sensible gains.
    """
    from scipy.optimize import least_squares  # imported here: scipy costs memory only fitting needs

    f = np.asarray(frequencies_hz, dtype=np.float64)
    t_hz, t_db = np.asarray(target_hz, dtype=np.float64), np.asarray(target_db, dtype=np.float64)
    keep = t_hz < f[-1]
    at = np.stack(
        [np.interp(t_hz[keep], f, r.real) + 1j * np.interp(t_hz[keep], f, r.imag) for r in response]
    )
    start = interpolate_gain_db(t_hz, t_db, centers_hz)

    def residual(g):
        return np.concatenate([achieved_gain_db(at, g) - t_db[keep], smoothing * (g - start)])

    g = least_squares(residual, start, bounds=(-60.0, 120.0)).x
    achieved = np.full(t_hz.size, np.nan)
    achieved[keep] = achieved_gain_db(at, g)
    return g, achieved


def stft_band_responses(
    window: np.ndarray, hop: int, n_fft: int, band: np.ndarray, n_bands: int, sample_rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """`stft_bin_responses` summed over the bins of each band (`band`: the band of every rfft bin) for an
    STFT whose inverse applies the dual of `window` (as `istft` does): (frequencies_hz, response (B, G))."""
    synthesis, _ = dual_window(window, hop)
    f, resp = stft_bin_responses(window, synthesis, n_fft, sample_rate_hz)
    return f, (np.arange(n_bands)[:, None] == np.asarray(band)[None, :]) @ resp


def detected_speech(
    window: np.ndarray,
    hop: int,
    n_fft: int,
    band: np.ndarray,
    n_bands: int,
    alpha: np.ndarray,
    beta: np.ndarray,
    sample_rate_hz: float,
    full_scale_db_spl: float,
    overall_db_spl: float = SPEECH_LEVEL_DB_SPL,
    seconds: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """What a WDRC's level detector does with speech: LTASS noise at `overall_db_spl` (seeded) through the
    STFT (window zero-padded to n_fft as the `stft` block pads it), band powers as `wdrc.band_gain_frames`
    weighs them, and the dB-domain attack/release follower with per-frame coefficients alpha, beta (B,).
    Returns (band power (B, K) re full scale, detected level (B, K) in dB SPL), after 0.25 s of settling."""
    x = speech_shaped_noise(
        round(seconds * sample_rate_hz), sample_rate_hz, full_scale_db_spl, overall_db_spl
    )
    padded = np.zeros(n_fft)
    start = (n_fft - window.size) // 2
    padded[start : start + window.size] = window
    bins = np.abs(stft(x, padded, hop)) ** 2 * bin_power_weights(window, n_fft)[:, None]
    power = (np.arange(n_bands)[:, None] == np.asarray(band)[None, :]) @ bins
    levels = np.maximum(full_scale_db_spl + 10 * np.log10(np.maximum(power, 1e-30)), LEVEL_FLOOR_DB_SPL)
    detected = np.empty_like(levels)
    level_follower_db(levels[None], alpha, beta, levels[None, :, 0].copy(), detected[None])
    skip = round(0.25 * sample_rate_hz / hop)
    return power[:, skip:], detected[:, skip:]


def speech_gain_db(gain_db: np.ndarray, power: np.ndarray) -> np.ndarray:
    """Long-term gain (B,) in dB of per-frame gains (B, K) in dB applied to per-frame band powers (B, K):
    output power over input power, the quantity a long-term spectrum measures."""
    return 10 * np.log10(np.sum(10 ** (gain_db / 10) * power, axis=1) / np.sum(power, axis=1))


@dataclass(frozen=True)
class Fit:
    """One ear's fitting: the rule's target and the insertion gain the solved bank achieves for speech, in
    dB at the target's frequencies (NaN at and above Nyquist)."""

    ear: str
    frequencies_hz: np.ndarray
    target_db: np.ndarray
    achieved_db: np.ndarray

    def to_dict(self) -> dict:
        return {
            "ear": self.ear,
            "frequencies_hz": [float(v) for v in self.frequencies_hz],
            "target_db": [round(float(v), 2) for v in self.target_db],
            "achieved_db": [None if np.isnan(v) else round(float(v), 2) for v in self.achieved_db],
        }


def speech_shaped_noise(
    n: int, sample_rate_hz: float, full_scale_db_spl: float, level_db_spl: float = SPEECH_LEVEL_DB_SPL, seed=0
) -> np.ndarray:
    """Gaussian noise (n,) with the LTASS spectrum, `level_db_spl` overall through the calibration (a
    full-scale sine is `full_scale_db_spl`)."""
    x = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    x = np.fft.irfft(x * np.sqrt(ltass_psd(np.fft.rfftfreq(n, 1 / sample_rate_hz))), n)
    return scale_to_level(x, full_scale_db_spl, level_db_spl)


def scale_to_level(x: np.ndarray, full_scale_db_spl: float, level_db_spl: float) -> np.ndarray:
    """`x` scaled so its mean square reads `level_db_spl` (mean square 1/2 = full_scale_db_spl)."""
    ms = 0.5 * 10 ** ((level_db_spl - full_scale_db_spl) / 10)
    return x * np.sqrt(ms / np.mean(np.square(x)))
