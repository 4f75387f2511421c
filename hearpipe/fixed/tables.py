"""Look-up tables with linear interpolation: sigmoid/tanh (gates), log2/exp2/dB (compressors), rsqrt.

Tables are built here in float64 and rounded once; kernels receive them as arguments (numba freezes
globals into its cache). Scalar functions (`sigmoid_q15`, `log2_q16`, ...) inline into other numba
kernels, e.g. `hearpipe.fixed.rnn` or a compressor; the `*_array` kernels map them over arrays.

| function     | input                  | output               | table                          | max error (tests)  |
| ------------ | ---------------------- | -------------------- | ------------------------------ | ------------------ |
| sigmoid_q15  | int16 Q4.12 (+-8)      | int16 Q1.15 [0, 1]   | 257 x int32, step 1/32 on [0,8]| 1.25 LSB q15 (*)   |
| tanh_q15     | int16 Q4.12 (+-8)      | int16 Q1.15 [-1, 1]  | 513 x int32, step 1/64 on [0,8]| 1.53 LSB q15       |
| log2_q16     | int64 > 0, frac_in     | int32 Q16.16         | 257 x int32 Q16 on [1, 2]      | 1.01 LSB Q16       |
| exp2_q16     | int32 Q16.16           | int32 with frac_out  | 257 x int64 Q30 on [0, 1]      | <= 2e-6 relative   |
| rsqrt        | int64 > 0, frac_in     | int32 with frac_out  | 2 x 257 x int32 Q30 on [1, 2]  | <= 2e-6 relative   |
(*) of the exact function at the quantised input; an input saturated at +-8 gives sigmoid(8) =
1 - 3.4e-4 instead of ~1, a property of the Q4.12 gate format, not of the table.
Relative errors are of the output before its final rounding; the final rounding adds 0.5 LSB.
Non-positive inputs of log2/rsqrt are treated as 1 LSB (log2: the floor -frac_in; rsqrt: saturates).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed._opidx import ADD, CMP, LUT, MUL
from hearpipe.fixed.ops import new_ops, rshift_round, sat16, sat32

GATE_FRAC = 12  # sigmoid/tanh inputs are Q4.12
LOG_FRAC = 16  # log2 and dB values are Q16.16 (int32)
SIG_SHIFT = 7  # sigmoid table step 2**-5 = 2**(SIG_SHIFT - GATE_FRAC)
TANH_SHIFT = 6  # tanh table step 2**-6
DB_PER_LOG2_AMP = 20.0 * np.log10(2.0)  # 6.0206 dB per doubling of amplitude
_C_SHIFT = 24  # constants for the dB <-> log2 scaling are Q24


def _round_int(v) -> np.ndarray:
    return np.floor(np.asarray(v, dtype=np.float64) + 0.5).astype(np.int64)


SIGMOID_TABLE = np.minimum(_round_int(32768.0 / (1.0 + np.exp(-np.arange(257) / 32.0))), 32767).astype(
    np.int32
)
TANH_TABLE = np.minimum(_round_int(32768.0 * np.tanh(np.arange(513) / 64.0)), 32767).astype(np.int32)
LOG2_TABLE = _round_int(np.log2(1.0 + np.arange(257) / 256.0) * 65536.0).astype(np.int32)
EXP2_TABLE = _round_int(np.exp2(np.arange(257) / 256.0) * 2.0**30)  # int64: the last entry is 2**31
RSQRT_TABLE = np.stack(
    [
        _round_int(2.0**30 / np.sqrt(1.0 + np.arange(257) / 256.0)),
        _round_int(2.0**30 / np.sqrt(2.0 * (1.0 + np.arange(257) / 256.0))),
    ]
).astype(np.int32)  # row 0 for even exponents, row 1 for odd
C_DB_AMP = round(DB_PER_LOG2_AMP * 2**_C_SHIFT)  # log2 -> dB (amplitude)
C_DB_POW = round(DB_PER_LOG2_AMP / 2 * 2**_C_SHIFT)  # log2 -> dB (power)
C_LOG2_AMP = round(1.0 / DB_PER_LOG2_AMP * 2**_C_SHIFT)  # dB -> log2 (amplitude)
C_LOG2_POW = round(2.0 / DB_PER_LOG2_AMP * 2**_C_SHIFT)  # dB -> log2 (power)


# --- scalar functions (inline into kernels) ------------------------------------------------------
@njit(inline="always", cache=True)
def _interp(table, a, shift):
    """table[a >> shift] linearly interpolated with the low `shift` bits of a (a >= 0), rounded."""
    i = a >> shift
    if i >= table.shape[0] - 1:
        return np.int64(table[table.shape[0] - 1])
    t = a & ((1 << shift) - 1)
    lo = np.int64(table[i])
    return lo + rshift_round((np.int64(table[i + 1]) - lo) * t, shift)


@njit(inline="always", cache=True)
def sigmoid_q15(x, table):
    """sigmoid of a Q4.12 value -> Q1.15 (0..32767), SIGMOID_TABLE; symmetric: s(-x) = 1 - s(x)."""
    v = _interp(table, abs(np.int64(x)), 7)
    return sat16(v if x >= 0 else 32768 - v)


@njit(inline="always", cache=True)
def tanh_q15(x, table):
    """tanh of a Q4.12 value -> Q1.15 (-32767..32767), TANH_TABLE; odd function."""
    v = _interp(table, abs(np.int64(x)), 6)
    return sat16(v if x >= 0 else -v)


@njit(inline="always", cache=True)
def msb(x):
    """Index of the most significant set bit of x > 0 (a CLZ instruction on a DSP)."""
    e = 0
    s = 32
    while s > 0:
        if x >> (e + s) != 0:
            e += s
        s >>= 1
    return e


@njit(inline="always", cache=True)
def log2_q16(x, frac_in, table):
    """log2(x * 2**-frac_in) in Q16 for x > 0 (x <= 0 treated as 1). LOG2_TABLE."""
    if x <= 0:
        x = 1
    e = msb(x)
    m = x << (30 - e) if e <= 30 else x >> (e - 30)  # mantissa in [2**30, 2**31)
    return ((e - frac_in) << 16) + _interp(table, m - (1 << 30), 22)


@njit(inline="always", cache=True)
def exp2_q16(v, frac_out, table):
    """2**(v * 2**-16) * 2**frac_out, rounded and saturated to int32. EXP2_TABLE."""
    n = v >> 16
    m = _interp(table, v & 0xFFFF, 8)  # Q30 mantissa in [2**30, 2**31]
    s = n + frac_out - 30
    if s >= 0:
        if s > 31:
            return np.int64(2147483647)
        return sat32(m << s)
    if s < -62:
        return np.int64(0)
    return sat32(rshift_round(m, -s))


@njit(inline="always", cache=True)
def rsqrt_fixed(x, frac_in, frac_out, table):
    """1 / sqrt(x * 2**-frac_in) * 2**frac_out, rounded, saturated to int32 (x <= 0 saturates). RSQRT_TABLE."""
    if x <= 0:
        return np.int64(2147483647)
    e = msb(x)
    m = x << (30 - e) if e <= 30 else x >> (e - 30)
    p = e - frac_in  # value = M * 2**p with M = m / 2**30 in [1, 2)
    row = p & 1  # odd exponent: use 1/sqrt(2M) and an even exponent p - 1
    p -= row
    r = _interp(table[row], m - (1 << 30), 22)  # Q30
    s = frac_out - (p >> 1) - 30
    if s >= 0:
        if s > 31:
            return np.int64(2147483647)
        return sat32(r << s)
    if s < -62:
        return np.int64(0)
    return sat32(rshift_round(r, -s))


@njit(inline="always", cache=True)
def mul_const_q24(v, c):
    """Round(v * c / 2**24): the dB <-> log2 scalings."""
    return rshift_round(np.int64(v) * c, 24)


# --- array kernels -------------------------------------------------------------------------------
@njit(cache=True)
def sigmoid_array(x, table, out, ops):
    for i in range(x.shape[0]):
        out[i] = sigmoid_q15(x[i], table)
    ops[LUT] += x.shape[0]
    ops[MUL] += x.shape[0]
    ops[ADD] += 4 * x.shape[0]
    ops[CMP] += 2 * x.shape[0]


@njit(cache=True)
def tanh_array(x, table, out, ops):
    for i in range(x.shape[0]):
        out[i] = tanh_q15(x[i], table)
    ops[LUT] += x.shape[0]
    ops[MUL] += x.shape[0]
    ops[ADD] += 4 * x.shape[0]
    ops[CMP] += 2 * x.shape[0]


@njit(cache=True)
def log2_db_array(x, frac_in, c_q24, table, out, ops):
    """out = log2(x * 2**-frac_in) in Q16 scaled by c_q24 / 2**24 (2**24: plain log2; C_DB_AMP: dB of
    an amplitude; C_DB_POW: dB of a power), int32 Q16."""
    for i in range(x.shape[0]):
        v = log2_q16(x[i], frac_in, table)
        out[i] = sat32(mul_const_q24(v, c_q24))
    ops[LUT] += x.shape[0]
    ops[MUL] += 2 * x.shape[0]
    ops[ADD] += 6 * x.shape[0]
    ops[CMP] += x.shape[0]


@njit(cache=True)
def exp2_db_array(v, c_q24, frac_out, table, out, ops):
    """out = 2**(v * c_q24 / 2**24 / 2**16) * 2**frac_out: exp2 of Q16 (c_q24 = 2**24), amplitude of a
    Q16 dB value (C_LOG2_AMP) or power of a dB value (C_LOG2_POW); int32, rounded, saturated."""
    for i in range(v.shape[0]):
        out[i] = exp2_q16(mul_const_q24(v[i], c_q24), frac_out, table)
    ops[LUT] += v.shape[0]
    ops[MUL] += 2 * v.shape[0]
    ops[ADD] += 5 * v.shape[0]
    ops[CMP] += 2 * v.shape[0]


@njit(cache=True)
def rsqrt_array(x, frac_in, frac_out, table, out, ops):
    for i in range(x.shape[0]):
        out[i] = rsqrt_fixed(x[i], frac_in, frac_out, table)
    ops[LUT] += x.shape[0]
    ops[MUL] += x.shape[0]
    ops[ADD] += 6 * x.shape[0]
    ops[CMP] += 3 * x.shape[0]


# --- Python layer -------------------------------------------------------------------------------
def _i64(x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise InvalidInput(f"expected an integer array, got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64).ravel()


def sigmoid(x_q3_12, ops=None) -> np.ndarray:
    """Sigmoid of int16 Q4.12 values -> int16 Q1.15."""
    x = np.ascontiguousarray(x_q3_12)
    if x.dtype != np.int16:
        raise InvalidInput(f"sigmoid input must be int16 Q4.12, got {x.dtype}")
    out = np.empty(x.size, np.int16)
    sigmoid_array(x.ravel(), SIGMOID_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(x.shape)


def tanh(x_q3_12, ops=None) -> np.ndarray:
    """tanh of int16 Q4.12 values -> int16 Q1.15."""
    x = np.ascontiguousarray(x_q3_12)
    if x.dtype != np.int16:
        raise InvalidInput(f"tanh input must be int16 Q4.12, got {x.dtype}")
    out = np.empty(x.size, np.int16)
    tanh_array(x.ravel(), TANH_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(x.shape)


def log2(x, frac_in: int, ops=None) -> np.ndarray:
    """log2 of fixed-point values (frac_in fraction bits) -> int32 Q16."""
    a = _i64(x)
    out = np.empty(a.size, np.int32)
    log2_db_array(a, int(frac_in), 1 << _C_SHIFT, LOG2_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(np.shape(x))


def amp_to_db(x, frac_in: int, ops=None) -> np.ndarray:
    """20 log10 of fixed-point amplitudes -> int32 Q16 dB (re digital full scale 1.0)."""
    a = _i64(x)
    out = np.empty(a.size, np.int32)
    log2_db_array(a, int(frac_in), C_DB_AMP, LOG2_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(np.shape(x))


def power_to_db(x, frac_in: int, ops=None) -> np.ndarray:
    """10 log10 of fixed-point powers -> int32 Q16 dB."""
    a = _i64(x)
    out = np.empty(a.size, np.int32)
    log2_db_array(a, int(frac_in), C_DB_POW, LOG2_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(np.shape(x))


def _exp(v, c, frac_out, ops):
    a = np.asarray(v)
    if a.dtype.kind not in "iu":
        raise InvalidInput(f"expected an integer array, got {a.dtype}")
    a32 = np.ascontiguousarray(np.clip(a, -(1 << 31), (1 << 31) - 1), dtype=np.int32).ravel()
    out = np.empty(a32.size, np.int32)
    exp2_db_array(a32, c, int(frac_out), EXP2_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(a.shape)


def exp2(v_q16, frac_out: int, ops=None) -> np.ndarray:
    """2**(Q16 value) -> int32 with frac_out fraction bits."""
    return _exp(v_q16, 1 << _C_SHIFT, frac_out, ops)


def db_to_amp(db_q16, frac_out: int, ops=None) -> np.ndarray:
    """10**(dB / 20) of Q16 dB values -> int32 amplitude with frac_out fraction bits (a gain table)."""
    return _exp(db_q16, C_LOG2_AMP, frac_out, ops)


def db_to_power(db_q16, frac_out: int, ops=None) -> np.ndarray:
    """10**(dB / 10) of Q16 dB values -> int32 with frac_out fraction bits."""
    return _exp(db_q16, C_LOG2_POW, frac_out, ops)


def rsqrt(x, frac_in: int, frac_out: int, ops=None) -> np.ndarray:
    """1/sqrt of fixed-point values -> int32 with frac_out fraction bits (x <= 0 saturates)."""
    a = _i64(x)
    out = np.empty(a.size, np.int32)
    rsqrt_array(a, int(frac_in), int(frac_out), RSQRT_TABLE, out, new_ops() if ops is None else ops)
    return out.reshape(np.shape(x))
