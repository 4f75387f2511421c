"""Saturating arithmetic, rounding shifts and requantisation (CMSIS-DSP / CMSIS-NN semantics).

Scalar helpers (`sat16`, `rshift_round`, `requantize`, ...) are numba functions inlined into the
kernels of this package. Vector kernels take caller-allocated outputs and an `ops` counter array
(int64, length `_opidx.N_KINDS`) they add their operation counts to; the Python wrappers at the end
validate and allocate for callers outside hot loops.

Integers inside kernels are int64 (numba's default), so intermediate products never overflow; values
are saturated (never wrapped) before they are stored at their storage width. The one exception is
where CMSIS itself wraps (documented at `requantize`).

numba caches a kernel keyed on its own file: after editing a helper here, clear the cached kernels of
the modules that inline it (docs/fixed_point.md section 10).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed._opidx import ADD, CMP, MUL, N_KINDS

Q31_MIN = -(1 << 31)
Q31_MAX = (1 << 31) - 1


# --- scalar helpers (inlined) --------------------------------------------------------------------
@njit(inline="always", cache=True)
def sat8(v):
    return min(max(v, -128), 127)


@njit(inline="always", cache=True)
def sat16(v):
    return min(max(v, -32768), 32767)


@njit(inline="always", cache=True)
def sat32(v):
    return min(max(v, -2147483648), 2147483647)


@njit(inline="always", cache=True)
def sat_bits(v, bits):
    """Saturate to a signed `bits`-bit range (bits <= 63)."""
    hi = (1 << (bits - 1)) - 1
    return min(max(v, -hi - 1), hi)


@njit(inline="always", cache=True)
def wrap32(v):
    """Two's-complement wrap to int32 (what a C cast of a wider value does on Arm)."""
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(inline="always", cache=True)
def rshift_round(v, s):
    """Right shift by s >= 0 rounding half up (Arm VRSHR/SRSHR): (v + 2**(s-1)) >> s."""
    if s <= 0:
        return v
    return (v + (1 << (s - 1))) >> s


@njit(inline="always", cache=True)
def doubling_high_mult_no_sat(m1, m2):
    """CMSIS-NN `arm_nn_doubling_high_mult_no_sat`: (m1*m2 + 2**30) >> 31, cast to int32 (wraps only
    for m1 = m2 = -2**31)."""
    return wrap32((m1 * m2 + (1 << 30)) >> 31)


@njit(inline="always", cache=True)
def doubling_high_mult(m1, m2):
    """CMSIS-NN `arm_nn_doubling_high_mult` (= Arm VQRDMULH): saturates the single overflow case."""
    if m1 == m2 and m1 == -2147483648:
        return 2147483647
    return wrap32((m1 * m2 + (1 << 30)) >> 31)


@njit(inline="always", cache=True)
def divide_by_power_of_two(dividend, exponent):
    """CMSIS-NN `arm_nn_divide_by_power_of_two`: rounding right shift, midpoint away from zero."""
    mask = (1 << exponent) - 1
    remainder = mask & dividend
    result = dividend >> exponent
    threshold = mask >> 1
    if result < 0:
        threshold += 1
    if remainder > threshold:
        result += 1
    return result


@njit(inline="always", cache=True)
def requantize(val, multiplier, shift):
    """CMSIS-NN `arm_nn_requantize` (default double-rounding branch): val * multiplier * 2**(shift-31).

    val int32, multiplier Q31 in [-2**31+1, 2**31-1], shift in [-31, 30]. As in CMSIS, a positive shift
    is applied to `val` first in 32-bit arithmetic: it wraps if val * 2**shift leaves int32 (C's
    behaviour on Arm). Callers keep val * 2**shift in range (scales <= 1 always do: shift <= 0).
    """
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return divide_by_power_of_two(doubling_high_mult_no_sat(wrap32(val << left), multiplier), right)


@njit(inline="always", cache=True)
def requantize_single_round(val, multiplier, shift):
    """CMSIS-NN `arm_nn_requantize` built with CMSIS_NN_USE_SINGLE_ROUNDING."""
    total_shift = 31 - shift
    result = wrap32((val * multiplier) >> (total_shift - 1))
    return wrap32(result + 1) >> 1


@njit(inline="always", cache=True)
def reduce_multiplier(multiplier):
    """CMSIS-NN `REDUCE_MULTIPLIER`: Q31 multiplier -> Q15 for the 64-bit requantisation."""
    return (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF


@njit(inline="always", cache=True)
def requantize_s64(val, reduced_multiplier, shift):
    """CMSIS-NN `arm_nn_requantize_s64`: int64 accumulator (|val| < 2**47), Q15 reduced multiplier,
    shift in [-31, 7]: ((val * m) >> (14 - shift) as int32 + 1) >> 1."""
    result = wrap32((val * reduced_multiplier) >> (14 - shift))
    return wrap32(result + 1) >> 1


# --- vector kernels ------------------------------------------------------------------------------


@njit(cache=True)
def add_q15(a, b, out, ops):
    """CMSIS `arm_add_q15`: saturating add."""
    for i in range(a.shape[0]):
        out[i] = sat16(np.int64(a[i]) + b[i])
    ops[ADD] += 2 * a.shape[0]  # add + saturate


@njit(cache=True)
def sub_q15(a, b, out, ops):
    """CMSIS `arm_sub_q15`: saturating subtract."""
    for i in range(a.shape[0]):
        out[i] = sat16(np.int64(a[i]) - b[i])
    ops[ADD] += 2 * a.shape[0]


@njit(cache=True)
def mult_q15(a, b, out, ops):
    """CMSIS `arm_mult_q15`: (a*b) >> 15 (truncating), saturated (only -1 * -1 saturates)."""
    for i in range(a.shape[0]):
        out[i] = sat16((np.int64(a[i]) * b[i]) >> 15)
    ops[MUL] += a.shape[0]
    ops[ADD] += 2 * a.shape[0]  # shift + saturate


@njit(cache=True)
def scale_q15(a, scale_fract, shift, out, ops):
    """CMSIS `arm_scale_q15`: (a * scale_fract) >> (15 - shift), saturated; scale_fract q15, shift may be
    negative (extra right shift)."""
    s = 15 - shift
    for i in range(a.shape[0]):
        p = np.int64(a[i]) * scale_fract
        out[i] = sat16(p >> s if s >= 0 else p << -s)
    ops[MUL] += a.shape[0]
    ops[ADD] += 2 * a.shape[0]


@njit(cache=True)
def add_q7(a, b, out, ops):
    for i in range(a.shape[0]):
        out[i] = sat8(np.int64(a[i]) + b[i])
    ops[ADD] += 2 * a.shape[0]


@njit(cache=True)
def mult_q7(a, b, out, ops):
    """CMSIS `arm_mult_q7`: (a*b) >> 7, saturated."""
    for i in range(a.shape[0]):
        out[i] = sat8((np.int64(a[i]) * b[i]) >> 7)
    ops[MUL] += a.shape[0]
    ops[ADD] += 2 * a.shape[0]


@njit(cache=True)
def add_q31(a, b, out, ops):
    for i in range(a.shape[0]):
        out[i] = sat32(np.int64(a[i]) + b[i])
    ops[ADD] += 2 * a.shape[0]


@njit(cache=True)
def mult_q31(a, b, out, ops):
    """CMSIS `arm_mult_q31`: ((a*b) >> 32) saturated to 31 bits, then << 1."""
    for i in range(a.shape[0]):
        out[i] = sat_bits((np.int64(a[i]) * b[i]) >> 32, 31) << 1
    ops[MUL] += a.shape[0]
    ops[ADD] += 3 * a.shape[0]


@njit(cache=True)
def requantize_channels(acc, multiplier, shift, out_offset, act_min, act_max, out, ops):
    """Per-channel CMSIS-NN requantisation of int32 accumulators `acc` (channels, n):
    out = clamp(requantize(acc, multiplier[c], shift[c]) + out_offset, act_min, act_max).
    Per tensor: pass multiplier/shift arrays with one value repeated."""
    c_n, n = acc.shape
    for c in range(c_n):
        m = np.int64(multiplier[c])
        s = np.int64(shift[c])
        for i in range(n):
            v = requantize(np.int64(acc[c, i]), m, s) + out_offset
            out[c, i] = min(max(v, act_min), act_max)
    ops[MUL] += c_n * n
    ops[ADD] += 4 * c_n * n  # shift, round, compare-adjust, offset
    ops[CMP] += 2 * c_n * n  # activation clamp


@njit(cache=True)
def requantize_s64_channels(acc, multiplier, shift, out_offset, act_min, act_max, out, ops):
    """As `requantize_channels` for int64 accumulators, with CMSIS-NN `arm_nn_requantize_s64` (the s16
    kernels' path): multiplier is the Q31 value, reduced to Q15 here as CMSIS does."""
    c_n, n = acc.shape
    for c in range(c_n):
        m = reduce_multiplier(np.int64(multiplier[c]))
        s = np.int64(shift[c])
        for i in range(n):
            v = requantize_s64(acc[c, i], m, s) + out_offset
            out[c, i] = min(max(v, act_min), act_max)
    ops[MUL] += c_n * n
    ops[ADD] += 3 * c_n * n
    ops[CMP] += 2 * c_n * n


# --- Python helpers (validation, multipliers) ----------------------------------------------------
def check_act_range(act_min: int, act_max: int, bits: int = 16) -> tuple[int, int]:
    """Validate an activation clamp for outputs stored in `bits` bits (a wider clamp would let stores wrap)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not lo <= int(act_min) <= int(act_max) <= hi:
        raise InvalidInput(
            f"activation range [{act_min}, {act_max}] must lie within [{lo}, {hi}] and be ordered"
        )
    return int(act_min), int(act_max)


def new_ops() -> np.ndarray:
    """A zeroed operation counter for the kernels' `ops` argument (see `hearpipe.fixed.count`)."""
    return np.zeros(N_KINDS, dtype=np.int64)


def quantize_multiplier(real_scale: float) -> tuple[int, int]:
    """(multiplier, shift) with real_scale ~= multiplier * 2**(shift - 31), multiplier a Q31 in
    [2**30, 2**31) (TFLite `QuantizeMultiplier`, what CMSIS-NN expects). Scales below 2**-32 give (0, 0);
    shifts above 30 are refused (CMSIS range)."""
    if not math.isfinite(real_scale) or real_scale < 0:
        raise InvalidInput(f"requantisation scale ({real_scale}) must be finite and >= 0")
    if real_scale == 0:
        return 0, 0
    q, shift = math.frexp(real_scale)  # real = q * 2**shift, q in [0.5, 1)
    q_fixed = round(q * (1 << 31))  # Python round is half-even; TFLite uses std::round (half away)
    if q * (1 << 31) - math.floor(q * (1 << 31)) == 0.5:
        q_fixed = math.floor(q * (1 << 31)) + 1
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        raise InvalidInput(f"requantisation scale ({real_scale}) is too large (shift {shift} > 30)")
    return int(q_fixed), int(shift)


def quantize_multipliers(real_scales) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel `quantize_multiplier`: int32 arrays (multiplier, shift)."""
    pairs = [quantize_multiplier(float(s)) for s in np.ravel(real_scales)]
    m = np.array([p[0] for p in pairs], dtype=np.int32)
    s = np.array([p[1] for p in pairs], dtype=np.int32)
    return m, s


def _vec(x, dtype, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != dtype:
        raise InvalidInput(f"{name} must be {np.dtype(dtype).name}, got {a.dtype}")
    return np.ascontiguousarray(a).ravel()


def q15_binary(kernel, a, b, ops: np.ndarray | None = None) -> np.ndarray:
    """Validate two int16 vectors of equal length and run `kernel` (add_q15, sub_q15, mult_q15)."""
    a, b = _vec(a, np.int16, "a"), _vec(b, np.int16, "b")
    if a.shape != b.shape:
        raise InvalidInput(f"operands must have equal length, got {a.shape[0]} and {b.shape[0]}")
    out = np.empty_like(a)
    kernel(a, b, out, new_ops() if ops is None else ops)
    return out


def requantize_array(acc, multiplier, shift, out_offset=0, act_min=-32768, act_max=32767, out_dtype=np.int16):
    """Requantise int32 or int64 accumulators (channels, n) per channel (or per tensor with scalar
    multiplier/shift). int32 input uses `arm_nn_requantize`, int64 input `arm_nn_requantize_s64`.
    The clamp [act_min, act_max] is narrowed to out_dtype's range."""
    acc = np.ascontiguousarray(acc)
    if acc.ndim == 1:
        acc = acc[None, :]
    if acc.ndim != 2 or acc.dtype not in (np.int32, np.int64):
        raise InvalidInput(f"acc must be a 1-D or 2-D int32/int64 array, got {acc.ndim}-D {acc.dtype}")
    c = acc.shape[0]
    m = np.broadcast_to(np.asarray(multiplier, dtype=np.int32), (c,)).copy()
    s = np.broadcast_to(np.asarray(shift, dtype=np.int32), (c,)).copy()
    if np.any(s < -31) or np.any(s > (30 if acc.dtype == np.int32 else 7)):
        raise InvalidInput(f"shift out of the CMSIS-NN range: {s.min()}..{s.max()}")
    info = np.iinfo(out_dtype)
    act_min, act_max = max(int(act_min), int(info.min)), min(int(act_max), int(info.max))  # stores never wrap
    if act_min > act_max:
        raise InvalidInput(f"act_min ({act_min}) must not exceed act_max ({act_max})")
    out = np.empty(acc.shape, dtype=out_dtype)
    fn = requantize_channels if acc.dtype == np.int32 else requantize_s64_channels
    fn(acc, m, s, int(out_offset), int(act_min), int(act_max), out, new_ops())
    return out


def gain_to_fixed(gain, max_frac: int = 30) -> tuple[np.ndarray, int]:
    """Linear gains as int64 multipliers with the most fraction bits that keep them below 2**31."""
    g = np.asarray(gain, dtype=np.float64)
    top = float(np.max(np.abs(g))) if g.size else 1.0
    if not np.isfinite(top):
        raise InvalidInput(f"gain ({top}) must be finite")
    frac = max_frac - max(0, int(np.ceil(np.log2(max(top, 1.0)))) + 1)
    if frac < 1:  # `scale_fixed` rounds with 2**(frac - 1)
        raise InvalidInput(
            f"gain {top:g} is too large for a fixed-point multiplier (at most 2**{max_frac - 2})"
        )
    return np.round(g * (1 << frac)).astype(np.int64), frac


def scale_fixed(x: np.ndarray, gain_q: np.ndarray, frac: int) -> np.ndarray:
    """x * gain_q / 2**frac, rounded half up and saturated to x's integer type (vectorised, exact).

    x is any integer array; gain_q broadcasts against it. Products are formed in int64 (|x| < 2**31 and
    |gain_q| < 2**31 cannot overflow)."""
    info = np.iinfo(x.dtype)
    y = (x.astype(np.int64) * gain_q + (1 << (frac - 1))) >> frac
    return np.clip(y, info.min, info.max).astype(x.dtype)
