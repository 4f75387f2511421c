"""Wide dynamic range compression: time constants, level detection, static curves, gain tables.

Pure functions and numba kernels (domain.md section 4); the blocks in `hearpipe.blocks.dynamics` and
`hearpipe.blocks.limiter` wrap them.
All levels are in dB SPL through a calibration: `full_scale_db_spl` is the level of a full-scale sine
(rms 1/sqrt(2)), so a signal of mean square `ms` has level `full_scale_db_spl + 10 log10(2 ms)`.

Design for the fixed-point twin: every level-dependent step works on levels in the log domain (dB here,
log2 of power in the fixed kernels: 1 log2 unit = 10 log10(2) dB), so the detector is a first-order
filter on a log level, the static curve is a piecewise-linear function sampled into a gain table with a
uniform level grid (index = (level - min) / step, linear interpolation), and only the final gain goes
back to linear (exp2 table).

Time constants: ANSI S3.22-style attack/release times become per-sample coefficients as in BTNRH/Tympan,
`a = t_att fs / 2.425, alpha = a / (1 + a)`, `r = t_rel fs / 1.782, beta = r / (1 + r)`. A detector updated
once per frame of `hop` samples uses `alpha**hop` and `beta**hop`: a first-order recursion run `hop` times
on a constant input is one step with the coefficient to the power `hop`.

Which measured ANSI times these give depends on the detector and the compression ratio. Here the detector
smooths the *level in dB* (openMHA `dc` style): after a 35 dB step the level moves exponentially with time
constant tau, and the output is within 3 dB of its steady state after ``tau ln(35 (1 - 1/CR) / 3)``. With the
BTNRH divisors that is 0.80-0.89 x the attack time and 1.09-1.22 x the release time for CR 2.5-4. So
`ansi_coefficients(..., ratio=CR)` can instead derive both divisors from that definition,
``ln(35 (1 - 1/CR) / 3)``, making the ideal detector's ANSI times equal the configured ones at any ratio
(the `wdrc` block's default, `time_constants: ansi`). On STFT frames the level of a window is dominated by
its loud part, so the detector reacts a little early: measured attack times come out 10-20% short
(graphs/wdrc.yaml: 4.25 ms for 5, 9.0 for 10, 1.6 for 2 ms at a 0.25 ms hop); release times match within
1%. `hearpipe.testbox.measure` measures them on any graph.

Silence reads as LEVEL_FLOOR_DB_SPL in both the float and the fixed kernels, so the release into silence
(and into any level below the floor) behaves the same in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from hearpipe.dsp.spectral import bin_frequencies_hz

ATTACK_DIVISOR = 2.425  # ANSI attack time -> detector time constant (BTNRH)
RELEASE_DIVISOR = 1.782  # ANSI release time -> detector time constant (BTNRH)
ANSI_STEP_DB = 35.0  # ANSI S3.22 attack/release test: 55 <-> 90 dB SPL
ANSI_TOLERANCE_DB = 3.0  # settled = output within 3 dB of its steady state
LIMIT_RATIO = 10.0  # slope of the MPO limiter above its output limit ("bolt", Tympan)
DB_PER_LOG2 = 10.0 * math.log10(2.0)  # dB of power per log2 unit (3.0103)

# Default gain-table grid: 0..130 dB SPL in 1 dB steps covers every level a 100-120 dB SPL calibration
# can produce; interpolation error near a knee is at most (slope change) x step / 4.
TABLE_MIN_DB_SPL = 0.0
TABLE_STEP_DB = 1.0
TABLE_SIZE = 131
LEVEL_FLOOR_DB_SPL = -20.0  # detector start value, and the level silence reads as (float and fixed alike)


# -- time constants ---------------------------------------------------------------------------------
def ansi_coefficients(
    attack_ms: float, release_ms: float, sample_rate_hz: float, ratio: float | None = None
) -> tuple[float, float]:
    """Per-sample attack and release coefficients (alpha, beta) from ANSI attack/release times in ms.

    Default: the BTNRH/Tympan divisors 2.425 and 1.782. With `ratio` (the band's compression ratio) the
    divisors are instead derived from the ANSI definition for this package's dB-domain detector,
    ln(35 (1 - 1/CR) / 3), so the measured ANSI times equal the configured ones at any ratio (see the
    module docstring); bands that cannot swing more than 3 dB keep the BTNRH divisors.
    """
    att_div, rel_div = ATTACK_DIVISOR, RELEASE_DIVISOR
    if ratio is not None:
        swing = ANSI_STEP_DB * (1.0 - 1.0 / ratio)
        if swing > 2.0 * ANSI_TOLERANCE_DB:
            att_div = rel_div = math.log(swing / ANSI_TOLERANCE_DB)
    a = attack_ms * 1e-3 * sample_rate_hz / att_div
    r = release_ms * 1e-3 * sample_rate_hz / rel_div
    return a / (1.0 + a), r / (1.0 + r)


def frame_coefficient(per_sample: float, hop: int) -> float:
    """Coefficient of the same first-order smoother updated once every `hop` samples."""
    return float(per_sample) ** int(hop)


def ansi_settling_time_ms(
    time_ms: float,
    divisor: float,
    ratio: float,
    step_db: float = ANSI_STEP_DB,
    tolerance_db: float = ANSI_TOLERANCE_DB,
) -> float:
    """Predicted ANSI time of this package's dB-domain detector (ideal, ignoring frame effects)."""
    tau = time_ms / divisor
    swing = step_db * (1.0 - 1.0 / ratio)
    return tau * math.log(swing / tolerance_db) if swing > tolerance_db else 0.0


# -- level detectors --------------------------------------------------------------------------------
@njit(inline="always", cache=True)
def peak_step(e, v, alpha, beta):
    """One sample of the BTNRH peak follower: attack towards v = |x| while v >= e, else pure decay."""
    return alpha * e + (1.0 - alpha) * v if v >= e else beta * e


@njit(cache=True)
def peak_follower(x, alpha, beta, state, out):
    """BTNRH/Tympan per-sample peak follower on |x| (linear amplitude): reference for time-domain use.

    x (C, N) float; state (C,) carried between calls; out (C, N). Attack: e = alpha e + (1 - alpha)|x|
    while |x| >= e; release: e = beta e (pure decay), as in CHAPRO's smooth_env.
    """
    n_ch, n = x.shape
    for c in range(n_ch):
        e = state[c]
        for i in range(n):
            e = peak_step(e, abs(x[c, i]), alpha, beta)
            out[c, i] = e
        state[c] = e


@njit(cache=True)
def level_follower_db(levels, alpha, beta, state, out):
    """Attack/release first-order follower on levels in dB (per frame or per sample).

    levels (C, B, K) dB; alpha, beta (B,) per-update coefficients; state (C, B) dB, carried between calls;
    out (C, B, K). Rising input uses alpha, falling input beta: s = c s + (1 - c) L.
    """
    n_ch, n_b, n_k = levels.shape
    for c in range(n_ch):
        for b in range(n_b):
            s = state[c, b]
            for j in range(n_k):
                v = levels[c, b, j]
                k = alpha[b] if v >= s else beta[b]
                s = k * s + (1.0 - k) * v
                out[c, b, j] = s
            state[c, b] = s


@njit(inline="always", cache=True)
def table_gain_db(row, level_db_spl, table_min, table_step):
    """Gain in dB of one table row (L,) at a level: linear interpolation on the grid table_min +
    table_step * i, levels off the grid holding the edge value (the kernels' form of `table_lookup`)."""
    n_l = row.shape[0]
    pos = (level_db_spl - table_min) / table_step
    if pos < 0.0:
        pos = 0.0
    if pos > n_l - 1.0:
        pos = n_l - 1.0
    i0 = int(pos)
    if i0 > n_l - 2:
        i0 = n_l - 2
    fr = pos - i0
    return row[i0] + fr * (row[i0 + 1] - row[i0])


@njit(cache=True)
def peak_limiter_samples(x, alpha, beta, state, full_scale_db_spl, table, table_min, table_step, out):
    """Time-domain broadband gain: BTNRH peak follower on |x| per sample -> level -> gain table.

    x (C, N) float; state (C,) peak amplitude carried between calls; table (C, L) gains in dB on the grid
    table_min + table_step * i; out (C, N). A sine's peak amplitude A reads full_scale_db_spl + 20 log10 A
    (its level). Per sample and in order, so chunking does not change the result.
    """
    n_ch, n = x.shape
    for c in range(n_ch):
        e = state[c]
        for i in range(n):
            e = peak_step(e, abs(x[c, i]), alpha, beta)
            lev = full_scale_db_spl + 20.0 * np.log10(e if e > 1e-15 else 1e-15)
            g_db = table_gain_db(table[c], lev, table_min, table_step)
            out[c, i] = x[c, i] * 10.0 ** (g_db / 20.0)
        state[c] = e


# -- static curves --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BandCurve:
    """Static input/output curve of one band, levels in dB SPL (input unless named output).

    Below `expansion_knee_db_spl` the output falls `1/expansion_ratio` dB per input dB (ratio <= 1;
    1 = no expansion); between the knee and `threshold_db_spl` the gain is `gain_db`; above the
    threshold the output rises `1/ratio` dB per input dB; an output above `limit_db_spl` (if set) is
    compressed 10:1.
    """

    threshold_db_spl: float = 50.0
    ratio: float = 2.0
    gain_db: float = 0.0
    expansion_knee_db_spl: float = 0.0
    expansion_ratio: float = 1.0
    limit_db_spl: float | None = None
    limit_ratio: float = LIMIT_RATIO

    def output_db(self, input_db_spl) -> np.ndarray:
        """Output level in dB SPL for input levels in dB SPL (vectorised)."""
        x = np.asarray(input_db_spl, dtype=np.float64)
        tk, ek = self.threshold_db_spl, self.expansion_knee_db_spl
        y = x + self.gain_db
        y = np.where(x > tk, tk + self.gain_db + (x - tk) / self.ratio, y)
        y = np.where(x < ek, ek + self.gain_db + (x - ek) / self.expansion_ratio, y)
        if self.limit_db_spl is not None:
            m = self.limit_db_spl
            y = np.where(y > m, m + (y - m) / self.limit_ratio, y)
        return y

    def gain_at(self, input_db_spl) -> np.ndarray:
        x = np.asarray(input_db_spl, dtype=np.float64)
        return self.output_db(x) - x


def limiter_curve(limit_db_spl: float, ratio: float = LIMIT_RATIO) -> BandCurve:
    """Broadband MPO: unity gain below the limit, `ratio`:1 above it."""
    return BandCurve(threshold_db_spl=limit_db_spl, ratio=ratio, gain_db=0.0)


def table_grid(
    min_db_spl: float = TABLE_MIN_DB_SPL, step_db: float = TABLE_STEP_DB, size: int = TABLE_SIZE
) -> np.ndarray:
    return min_db_spl + step_db * np.arange(size)


def gain_table(curves: list[BandCurve], levels_db_spl: np.ndarray) -> np.ndarray:
    """Gain in dB for each band (rows) at each grid level (columns): openMHA `dc`'s gtdata."""
    return np.stack([c.gain_at(levels_db_spl) for c in curves])


def table_lookup(table, level_db_spl, min_db_spl: float, step_db: float) -> np.ndarray:
    """Linear interpolation in a uniform-grid gain table; levels off the grid hold the edge value.

    table (B, L); level_db_spl (..., B) -> gains (..., B) in dB. The numba kernels use the same formula.
    """
    t = np.asarray(table, dtype=np.float64)
    pos = (np.asarray(level_db_spl, dtype=np.float64) - min_db_spl) / step_db
    pos = np.clip(pos, 0.0, t.shape[1] - 1.0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), t.shape[1] - 2)
    frac = pos - i0
    rows = np.arange(t.shape[0])
    return t[rows, i0] + frac * (t[rows, i0 + 1] - t[rows, i0])


# -- spectral band levels -------------------------------------------------------------------------------
def band_of_bins(crossovers_hz, n_fft: int, sample_rate_hz: float) -> np.ndarray:
    """Band index (int64) of every rfft bin: band b holds bins with edge[b] <= f < edge[b + 1]. A time-domain
    signal (n_fft 0) is one broadband bin."""
    if n_fft == 0:
        return np.zeros(1, np.int64)
    f = bin_frequencies_hz(n_fft, sample_rate_hz)
    return np.searchsorted(np.asarray(crossovers_hz, dtype=np.float64), f, side="right").astype(np.int64)


def band_edges_hz(crossovers_hz, sample_rate_hz: float) -> np.ndarray:
    return np.concatenate([[0.0], np.asarray(crossovers_hz, dtype=np.float64), [sample_rate_hz / 2.0]])


def band_centers_hz(crossovers_hz, sample_rate_hz: float, lowest_hz: float = 125.0) -> np.ndarray:
    """Geometric band centres (the lowest band's lower edge taken as `lowest_hz`, not 0 Hz)."""
    e = band_edges_hz(crossovers_hz, sample_rate_hz)
    lo = np.maximum(e[:-1], min(lowest_hz, e[1] / 2.0))
    return np.sqrt(lo * e[1:])


def bin_power_weights(window: np.ndarray, n_fft: int) -> np.ndarray:
    """Weights w_k so that sum_k w_k |X_k|^2 over all rfft bins is 2 x the mean square of the input.

    Parseval on the windowed, zero-padded frame: sum over the full spectrum of |X|^2 = n_fft sum (w x)^2
    ~ n_fft sum(w^2) ms; the rfft holds each bin but DC and Nyquist twice. The factor 2 makes a
    full-scale sine 1 (0 dB re full scale), so level = full_scale_db_spl + 10 log10(sum w_k |X_k|^2).
    """
    wk = np.full(n_fft // 2 + 1, 2.0)
    wk[0] = 1.0
    if n_fft % 2 == 0:
        wk[-1] = 1.0
    return wk * 2.0 / (n_fft * float(np.sum(np.asarray(window, dtype=np.float64) ** 2)))


@njit(cache=True)
def band_gain_frames(
    X,
    band,
    weight,
    n_bands,
    full_scale_db_spl,
    floor_db_spl,
    alpha,
    beta,
    state,
    table,
    table_min,
    table_step,
    out,
    level_out,
):
    """The WDRC / gain-table / limiter kernel on STFT frames.

    X (C, F, K) complex bins; band (F,) band of each bin; weight (F,) calibration weights
    (see `bin_power_weights`); floor_db_spl: levels below it read as it (silence); alpha, beta (B,) per-frame coefficients; state (C, B) detector levels in
    dB SPL; table (C, B, L) gains in dB on the grid table_min + table_step * i; out (C, F, K) complex;
    level_out (C, B, K) detector levels (for inspection). Every frame is processed alone, in order, so
    results do not depend on how many frames arrive per call.
    """
    n_ch, n_f, n_k = X.shape
    power = np.empty(n_bands)
    gain = np.empty(n_bands)
    for c in range(n_ch):
        for j in range(n_k):
            for b in range(n_bands):
                power[b] = 0.0
            for f in range(n_f):
                v = X[c, f, j]
                power[band[f]] += weight[f] * (v.real * v.real + v.imag * v.imag)
            for b in range(n_bands):
                p = power[b] if power[b] > 1e-30 else 1e-30
                lev = full_scale_db_spl + 10.0 * np.log10(p)
                if lev < floor_db_spl:
                    lev = floor_db_spl
                s = state[c, b]
                k = alpha[b] if lev >= s else beta[b]
                s = k * s + (1.0 - k) * lev
                state[c, b] = s
                level_out[c, b, j] = s
                g_db = table_gain_db(table[c, b], s, table_min, table_step)
                gain[b] = 10.0 ** (g_db / 20.0)
            for f in range(n_f):
                out[c, f, j] = X[c, f, j] * gain[band[f]]
