"""Dot products, matrix-vector products and dense layers on integer data (CMSIS-DSP / CMSIS-NN s16).

Weights are int8 or int16 (one compiled version each, at first use), data int16. Accumulators:
- int64 (`*_acc64`, `dense_s16`, `matvec_q15`, `dot_q15`): exact for any size (CMSIS q63 accumulator,
  CMSIS-NN s16 kernels); never wraps for K < 2**33.
- int32 (`matvec_acc32`): the fast path, exact only when every row satisfies
  sum|w| * 32768 <= 2**31 - 1; `acc32_is_safe(w)` checks that once (int8 weights: K <= 511 always
  suffices), so the kernel can never wrap when callers follow it.
Every kernel adds its operation counts to `ops` (see `hearpipe.fixed.count`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed._opidx import ADD, CMP, MAC8, MAC16, MUL
from hearpipe.fixed.ops import check_act_range, new_ops, reduce_multiplier, requantize_s64, sat16


@njit(cache=True)
def dot_q15(a, b, ops):
    """CMSIS `arm_dot_prod_q15`: sum of a*b in 64 bits, returned unshifted (34.30 for q15 inputs)."""
    acc = np.int64(0)
    for i in range(a.shape[0]):
        acc += np.int64(a[i]) * np.int64(b[i])
    ops[MAC16] += a.shape[0]
    return acc


@njit(cache=True)
def dot_s8_s16(a, b, ops):
    """Sum of int8 * int16 products in 64 bits."""
    acc = np.int64(0)
    for i in range(a.shape[0]):
        acc += np.int64(a[i]) * np.int64(b[i])
    ops[MAC8] += a.shape[0]
    return acc


@njit(cache=True)
def matvec_acc64(w, x, acc, ops):
    """acc[m] = sum_k w[m, k] * x[k], exact in int64. w (M, K) int8/int16, x (K,) int16, acc (M,)."""
    m_n, k_n = w.shape
    for m in range(m_n):
        s = np.int64(0)
        for k in range(k_n):
            s += np.int64(w[m, k]) * np.int64(x[k])
        acc[m] = s
    ops[MAC8 if w.itemsize == 1 else MAC16] += m_n * k_n


@njit(cache=True)
def matvec_acc32(w, x, acc, ops):
    """As `matvec_acc64` with int32 accumulation (what SMLAD/vpmaddwd do). Exact only when
    `acc32_is_safe(w)`; the partial sums are then bounded by the final bound, so nothing wraps."""
    m_n, k_n = w.shape
    for m in range(m_n):
        s = np.int32(0)
        for k in range(k_n):  # kept in int32 each step, so LLVM vectorises 32-bit lanes
            s = np.int32(s + np.int32(w[m, k]) * np.int32(x[k]))
        acc[m] = s
    ops[MAC8 if w.itemsize == 1 else MAC16] += m_n * k_n


@njit(cache=True)
def matvec_q15(w, x, out, ops):
    """CMSIS `arm_mat_vec_mult_q15`: q63 accumulation, then >> 15 (truncating) and saturation to q15."""
    m_n, k_n = w.shape
    for m in range(m_n):
        s = np.int64(0)
        for k in range(k_n):
            s += np.int64(w[m, k]) * np.int64(x[k])
        out[m] = sat16(s >> 15)
    ops[MAC16] += m_n * k_n
    ops[ADD] += 2 * m_n


@njit(cache=True)
def dense_s16(w, x, bias, multiplier, shift, act_min, act_max, out, ops):
    """Fully connected layer, CMSIS-NN `arm_fully_connected_s16` arithmetic, per-channel scales.

    w (M, K) int8/int16 weights; x (B, K) int16 inputs (B frames or groups, each independent);
    bias (M,) int64 in the accumulator's scale; multiplier/shift (M,) Q31 + shift (reduced to Q15
    inside as CMSIS does); out (B, M) int16 = clamp(requantize_s64(w @ x_b + bias), act_min, act_max).
    Zero points are 0 (symmetric int16, as CMSIS-NN s16).
    """
    m_n, k_n = w.shape
    b_n = x.shape[0]
    for b in range(b_n):
        for m in range(m_n):
            s = bias[m]
            for k in range(k_n):
                s += np.int64(w[m, k]) * np.int64(x[b, k])
            v = requantize_s64(s, reduce_multiplier(np.int64(multiplier[m])), np.int64(shift[m]))
            out[b, m] = min(max(v, act_min), act_max)
    ops[MAC8 if w.itemsize == 1 else MAC16] += b_n * m_n * k_n
    ops[ADD] += b_n * m_n * 3  # bias add, shift, rounding
    ops[MUL] += b_n * m_n
    ops[CMP] += b_n * m_n * 2


# --- Python layer -------------------------------------------------------------------------------
def acc32_is_safe(w: np.ndarray) -> bool:
    """True when int32 accumulation of w @ x cannot overflow for any int16 x (exact bound, per row)."""
    w = np.asarray(w)
    if w.ndim != 2:
        raise InvalidInput(f"weights must be 2-D (outputs, inputs), got shape {w.shape}")
    worst = int(np.abs(w.astype(np.int64)).sum(axis=1).max(initial=0)) * 32768
    return worst <= (1 << 31) - 1


def _check_w(w) -> np.ndarray:
    w = np.ascontiguousarray(w)
    if w.ndim != 2 or w.dtype not in (np.int8, np.int16):
        raise InvalidInput(f"weights must be a 2-D int8 or int16 array, got {w.ndim}-D {w.dtype}")
    return w


def matvec(w, x, acc_bits: int = 64, ops: np.ndarray | None = None) -> np.ndarray:
    """w @ x into int64 (acc_bits=64) or int32 (acc_bits=32, refused unless `acc32_is_safe(w)`)."""
    w = _check_w(w)
    x = np.ascontiguousarray(x)
    if x.dtype != np.int16 or x.shape != (w.shape[1],):
        raise InvalidInput(f"x must be int16 of shape ({w.shape[1]},), got {x.dtype} {x.shape}")
    ops = new_ops() if ops is None else ops
    if acc_bits == 64:
        acc = np.empty(w.shape[0], np.int64)
        matvec_acc64(w, x, acc, ops)
    elif acc_bits == 32:
        if not acc32_is_safe(w):
            raise InvalidInput("acc_bits=32 could overflow for these weights (row L1 norm * 32768 >= 2**31)")
        acc = np.empty(w.shape[0], np.int32)
        matvec_acc32(w, x, acc, ops)
    else:
        raise InvalidInput(f"acc_bits ({acc_bits}) must be 32 or 64")
    return acc


def dense(w, x, bias, multiplier, shift, act_min=-32768, act_max=32767, ops: np.ndarray | None = None):
    """Validated `dense_s16`; x may be (K,) or (B, K); multiplier/shift scalar (per tensor) or (M,)."""
    w = _check_w(w)
    m_n, k_n = w.shape
    x = np.ascontiguousarray(x)
    squeeze = x.ndim == 1
    x2 = x[None, :] if squeeze else x
    if x2.dtype != np.int16 or x2.ndim != 2 or x2.shape[1] != k_n:
        raise InvalidInput(f"x must be int16 (B, {k_n}) or ({k_n},), got {x.dtype} {x.shape}")
    b = np.array(np.broadcast_to(np.asarray(bias, dtype=np.int64), (m_n,)))
    m = np.array(np.broadcast_to(np.asarray(multiplier, dtype=np.int32), (m_n,)))
    s = np.array(np.broadcast_to(np.asarray(shift, dtype=np.int32), (m_n,)))
    if s.min(initial=0) < -31 or s.max(initial=0) > 7:
        raise InvalidInput(f"shift must be in [-31, 7] (arm_nn_requantize_s64), got {s.min()}..{s.max()}")
    act_min, act_max = check_act_range(act_min, act_max)
    out = np.empty((x2.shape[0], m_n), np.int16)
    dense_s16(w, x2, b, m, s, act_min, act_max, out, new_ops() if ops is None else ops)
    return out[0] if squeeze else out
