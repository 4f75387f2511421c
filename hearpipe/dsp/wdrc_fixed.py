"""Bit-true fixed-point twin of `hearpipe.dsp.wdrc.band_gain_frames` (WDRC, gain table, limiter).

Integer-only, with the look-up tables of `hearpipe.fixed.tables` (log2, exp2) and the rounding helpers
of `hearpipe.fixed.ops`. Every level is Q16.16 dB (int64 in the kernel, int32 when stored):

1. band power ``P = sum_k c_k (re^2 + im^2)`` exact in int64 (c_k = 2 except DC/Nyquist: a shift);
2. level ``L = offset + 10 log10(2) * log2(P)``: log2 by table (Q16), the dB scaling a Q24 constant,
   the calibration (window energy, n_fft, full scale in dB SPL, the bins' binary point) one Q16 offset;
3. detector ``s += (1 - k) (L - s)`` with (1 - k) in Q30, rounded; k = alpha or beta per frame;
4. gain table (Q16 dB) indexed by ``(s - min) / step`` as a Q24 reciprocal multiply, interpolated;
5. dB -> linear: ``2 ** (g / 20 log10 2)`` by table, as Q16.16; each bin ``sat((x g) >> 16)``, rounded.

Bins come as the fixed `stft` makes them: (channels, bins, frames, 2) [re, im], int32 with
frac_bits = 30 - log2(n_fft) (its q31 FFT) or int16 with 15 - log2(n_fft) (CMSIS `arm_rfft_q15`); the
value of a bin is ``int * 2**-frac_bits``. int32 squares are shifted right by 8 before summing so a band's
power cannot overflow int64.
The float kernel computes the same quantities in float64; tests bound the gain difference (<= 0.1 dB).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from numba import njit

from hearpipe.fixed._opidx import ADD, CMP, LUT, MAC16, MUL
from hearpipe.fixed.ops import rshift_round, sat16
from hearpipe.fixed.tables import (
    C_DB_AMP,
    C_DB_POW,
    C_LOG2_AMP,
    EXP2_TABLE,
    LOG2_TABLE,
    exp2_q16,
    log2_q16,
    mul_const_q24,
)

Q16 = 1 << 16
Q30 = 1 << 30


def table_to_q16(table) -> np.ndarray:
    """Gain table in dB -> Q16.16 int32, saturated (a wrap would turn a huge gain into a cut)."""
    q = np.round(np.asarray(table, dtype=np.float64) * Q16)
    return np.clip(q, -(1 << 31), (1 << 31) - 1).astype(np.int32)


@dataclass
class FixedBandGain:
    """Integer constants and tables of one prepared band-gain stage (built once, in `prepare`)."""

    band: np.ndarray  # (F,) int64 band of each bin
    doubled: np.ndarray  # (F,) int64 1 where the bin counts twice (all but DC and Nyquist)
    n_bands: int
    frac_bits: int  # binary point of the bins
    power_shift: int  # squares are shifted right by this before summing (int32 bins: 8)
    out_bits: int  # storage width of the bins (16 or 32): the output saturates there
    offset_q16: int  # dB SPL of P = 1 (in real units), Q16
    floor_q16: int  # silence reads as this level, Q16 dB SPL
    att_q30: np.ndarray  # (B,) int64 round((1 - alpha) 2**30)
    rel_q30: np.ndarray  # (B,) int64 round((1 - beta) 2**30)
    table_q16: np.ndarray  # (C, B, L) int32 gains in Q16 dB
    table_min_q16: int
    inv_step_q24: int  # round(2**24 / step_db)

    def new_state(self, channels: int, level_db_spl: float) -> np.ndarray:
        return np.full((channels, self.n_bands), round(level_db_spl * Q16), dtype=np.int64)

    def run(self, X: np.ndarray, state: np.ndarray, ops: np.ndarray) -> np.ndarray:
        """X (C, F, K, 2) int16/int32 [re, im] -> the same layout and type, gains applied."""
        X = np.ascontiguousarray(X)
        out = np.empty_like(X)
        lo, hi = -(1 << (self.out_bits - 1)), (1 << (self.out_bits - 1)) - 1
        band_gain_frames_fixed(
            X,
            self.band,
            self.doubled,
            self.n_bands,
            self.frac_bits,
            self.power_shift,
            self.offset_q16,
            self.floor_q16,
            self.att_q30,
            self.rel_q30,
            state,
            self.table_q16,
            self.table_min_q16,
            self.inv_step_q24,
            C_DB_POW,
            C_LOG2_AMP,
            lo,
            hi,
            out,
            LOG2_TABLE,
            EXP2_TABLE,
            ops,
        )
        return out


def prepare_fixed(
    band,
    window,
    n_fft: int,
    frac_bits: int,
    storage_bits: int,
    full_scale_db_spl: float,
    alpha,
    beta,
    table,
    table_min: float,
    table_step: float,
    floor_db_spl: float = -20.0,
) -> FixedBandGain:
    """Quantise the float stage's parameters (same arguments as `band_gain_frames` uses) for bins stored in
    `storage_bits` (16 or 32) with `frac_bits` fraction bits (the fixed `stft`'s output format)."""
    if storage_bits not in (16, 32):
        raise ValueError(f"bins must be int16 or int32, got {storage_bits} bits")
    n_bins = n_fft // 2 + 1
    doubled = np.ones(n_bins, dtype=np.int64)
    doubled[0] = 0
    if n_fft % 2 == 0:
        doubled[-1] = 0
    # level = FS + 10 log10(2 / (n_fft sum w^2)) + 10 log10(sum c_k |X|^2), X in real units
    offset = full_scale_db_spl + 10.0 * math.log10(2.0 / (n_fft * float(np.sum(np.square(window)))))
    return FixedBandGain(
        band=np.asarray(band, dtype=np.int64),
        doubled=doubled,
        n_bands=int(np.max(band)) + 1,
        frac_bits=int(frac_bits),
        power_shift=0 if storage_bits == 16 else 8,  # int32 squares < 2**62: 2**54 each keeps sums < 2**63
        out_bits=storage_bits,
        offset_q16=round(offset * Q16),
        floor_q16=round(floor_db_spl * Q16),
        att_q30=np.round((1.0 - np.asarray(alpha, dtype=np.float64)) * Q30).astype(np.int64),
        rel_q30=np.round((1.0 - np.asarray(beta, dtype=np.float64)) * Q30).astype(np.int64),
        table_q16=table_to_q16(table),
        table_min_q16=round(table_min * Q16),
        inv_step_q24=round((1 << 24) / table_step),
    )


@njit(inline="always", cache=True)
def table_gain_q16(row, level_q16, table_min_q16, inv_step_q24):
    """Gain (Q16 dB) of one table row (L,) int32 at a Q16 dB level: index by a Q24 reciprocal multiply
    of the grid step, interpolate with a 16-bit fraction; levels off the grid hold the edge value."""
    n_l = row.shape[0]
    pos = ((level_q16 - table_min_q16) * inv_step_q24) >> 24
    if pos < 0:
        pos = 0
    if pos > (n_l - 1) << 16:
        pos = (n_l - 1) << 16
    i0 = pos >> 16
    fr = pos & 0xFFFF
    if i0 >= n_l - 1:
        i0 = n_l - 2
        fr = 1 << 16
    g0 = np.int64(row[i0])
    return g0 + rshift_round((np.int64(row[i0 + 1]) - g0) * fr, 16)


@njit(cache=True)
def band_gain_frames_fixed(
    X,
    band,
    doubled,
    n_bands,
    frac_bits,
    power_shift,
    offset_q16,
    floor_q16,
    att_q30,
    rel_q30,
    state,
    table,
    table_min_q16,
    inv_step_q24,
    c_db_pow,
    c_log2_amp,
    lo,
    hi,
    out,
    log2_table,
    exp2_table,
    ops,
):
    """X, out (C, F, K, 2) integer [re, im] bins with `frac_bits` fraction bits; floor_q16: levels below it
    read as it (as the float kernel's floor_db_spl); state (C, B) int64 Q16 dB
    (in place); table (C, B, L) int32 Q16 dB; c_db_pow, c_log2_amp: the Q24 scalings of
    `hearpipe.fixed.tables` (arguments: numba freezes globals); lo, hi: output saturation bounds; ops:
    operation counter (see `fixed_ops`). Frame by frame, in order: chunking does not change results."""
    n_ch, n_f, n_k, _ = X.shape
    power = np.zeros(n_bands, dtype=np.int64)
    gain = np.zeros(n_bands, dtype=np.int64)
    for c in range(n_ch):
        for j in range(n_k):
            for b in range(n_bands):
                power[b] = 0
            for f in range(n_f):
                a = np.int64(X[c, f, j, 0])
                q = np.int64(X[c, f, j, 1])
                power[band[f]] += (((a * a) >> power_shift) + ((q * q) >> power_shift)) << doubled[f]
            for b in range(n_bands):
                lg = log2_q16(power[b], 2 * frac_bits - power_shift, log2_table)
                lev = offset_q16 + mul_const_q24(lg, c_db_pow)
                if lev < floor_q16:
                    lev = floor_q16
                s = state[c, b]
                k = att_q30[b] if lev >= s else rel_q30[b]
                s += rshift_round((lev - s) * k, 30)
                state[c, b] = s
                g_db = table_gain_q16(table[c, b], s, table_min_q16, inv_step_q24)
                gain[b] = exp2_q16(mul_const_q24(g_db, c_log2_amp), 16, exp2_table)
            for f in range(n_f):
                g = gain[band[f]]
                for r in range(2):
                    v = rshift_round(np.int64(X[c, f, j, r]) * g, 16)
                    out[c, f, j, r] = min(max(v, lo), hi)
    frames = n_ch * n_k
    shifts = 2 if power_shift > 0 else 0
    ops[MAC16] += frames * 2 * n_f
    ops[ADD] += frames * ((5 + shifts) * n_f + 9 * n_bands)
    ops[MUL] += frames * (2 * n_f + 5 * n_bands)
    ops[CMP] += frames * (4 * n_f + 5 * n_bands)
    ops[LUT] += frames * 2 * n_bands


def fixed_ops(channels: int, bins: int, bands: int, storage_bits: int = 16) -> Counter:
    """Operations of `band_gain_frames_fixed` per frame (what its `ops` counter adds for one frame).

    Per bin: 2 mac16 (power; "mac16" also for int32 bins, whose squares are pre-shifted: + 2 add) and
    1 add (the doubling shift); applying the gain to re and im: 2 mul, 4 add (rounding add and shift
    each) and 4 cmp (saturation bounds). Per band: 2 lut (log2, exp2), 5 mul (dB scaling, detector,
    table index, interpolation, log2 scaling), 9 add, 5 cmp (floor, attack or release, three clamps).
    """
    shifts = 2 if storage_bits == 32 else 0
    return Counter(
        {
            "mac16": channels * 2 * bins,
            "add": channels * ((5 + shifts) * bins + 9 * bands),
            "mul": channels * (2 * bins + 5 * bands),
            "cmp": channels * (4 * bins + 5 * bands),
            "lut": channels * 2 * bands,
        }
    )


# -- time-domain peak limiter -------------------------------------------------------------------------------
@njit(cache=True)
def peak_limiter_q15(
    x,
    att_q30,
    beta_q30,
    state,
    fs_q16,
    table,
    table_min_q16,
    inv_step_q24,
    c_db_amp,
    c_log2_amp,
    out,
    log2_table,
    exp2_table,
    ops,
):
    """Fixed twin of `wdrc.peak_limiter_samples` on q15 audio.

    x, out (C, N) int16; state (C,) int64 peak amplitude in Q30 (|x| << 15); att_q30 = round((1 - alpha)
    2**30), beta_q30 = round(beta 2**30); fs_q16: full_scale_db_spl in Q16; table (C, L) int32 Q16 dB;
    c_db_amp, c_log2_amp: Q24 scalings (`hearpipe.fixed.tables`). Level = FS + 20 log10(2) log2(peak).
    """
    n_ch, n = x.shape
    for c in range(n_ch):
        e = state[c]
        for i in range(n):
            v = abs(np.int64(x[c, i])) << 15
            if v >= e:
                e += rshift_round((v - e) * att_q30, 30)
            else:
                e = rshift_round(e * beta_q30, 30)
            lev = fs_q16 + mul_const_q24(log2_q16(e, 30, log2_table), c_db_amp)
            g_db = table_gain_q16(table[c], lev, table_min_q16, inv_step_q24)
            g = exp2_q16(mul_const_q24(g_db, c_log2_amp), 16, exp2_table)
            out[c, i] = sat16(rshift_round(np.int64(x[c, i]) * g, 16))
        state[c] = e
    samples = n_ch * n
    ops[ADD] += samples * 9
    ops[MUL] += samples * 5
    ops[CMP] += samples * 6
    ops[LUT] += samples * 2


def limiter_fixed_ops(channels: int) -> Counter:
    """Per-sample operations of `peak_limiter_q15`: |x| and shift, follower (compare, add, mul, round),
    level (log2 lut, dB scaling), table index and interpolation, exp2 lut, apply (mul, round, saturate)."""
    return Counter({"add": 9 * channels, "mul": 5 * channels, "cmp": 6 * channels, "lut": 2 * channels})


@dataclass
class FixedLimiter:
    att_q30: int
    beta_q30: int
    fs_q16: int
    table_q16: np.ndarray  # (C, L) int32
    table_min_q16: int
    inv_step_q24: int

    def new_state(self, channels: int) -> np.ndarray:
        return np.zeros(channels, dtype=np.int64)

    def run(self, x: np.ndarray, state: np.ndarray, ops: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.int16)
        out = np.empty_like(x)
        peak_limiter_q15(
            x,
            self.att_q30,
            self.beta_q30,
            state,
            self.fs_q16,
            self.table_q16,
            self.table_min_q16,
            self.inv_step_q24,
            C_DB_AMP,
            C_LOG2_AMP,
            out,
            LOG2_TABLE,
            EXP2_TABLE,
            ops,
        )
        return out


def prepare_limiter_fixed(
    alpha: float, beta: float, full_scale_db_spl: float, table, table_min: float, table_step: float
) -> FixedLimiter:
    return FixedLimiter(
        att_q30=round((1.0 - alpha) * Q30),
        beta_q30=round(beta * Q30),
        fs_q16=round(full_scale_db_spl * Q16),
        table_q16=table_to_q16(table),
        table_min_q16=round(table_min * Q16),
        inv_step_q24=round((1 << 24) / table_step),
    )
