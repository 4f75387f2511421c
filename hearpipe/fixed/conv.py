"""Causal 1-D convolutions over time with delay-line state (q15 FIR, dilated, depthwise, pointwise).

Layout: x (channels, T) int16; the state of a kernel of K taps at dilation d holds the last (K-1)*d
input samples of every input channel, oldest first, int16, caller-allocated and updated in place, so
any split of a signal into calls gives identical outputs. Accumulation is exact in int64 (CMSIS q63 /
CMSIS-NN s16); outputs are requantised per output channel with `arm_nn_requantize_s64` (Q31 multiplier
reduced to Q15, shift in [-31, 7]) and clamped to [act_min, act_max] (a fused ReLU: act_min = 0).
Weights are int8 or int16 (one compiled version each, at first use); biases int64 in the accumulator's scale.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed._opidx import ADD, CMP, MAC8, MAC16, MOVE, MUL
from hearpipe.fixed.ops import check_act_range, new_ops, reduce_multiplier, requantize_s64, sat16


@njit(inline="always", cache=True)
def _tap(x, state, c, idx):
    """Input sample idx of channel c of this call; negative idx reaches into the delay line."""
    if idx >= 0:
        return np.int64(x[c, idx])
    return np.int64(state[c, state.shape[1] + idx])


@njit(inline="always", cache=True)
def push_history(x, state):
    """Delay line <- the last state.shape[1] samples of [state, x], per row (any dtypes, in place)."""
    s_n = state.shape[1]
    t_n = x.shape[1]
    for c in range(state.shape[0]):
        if t_n >= s_n:
            for i in range(s_n):
                state[c, i] = x[c, t_n - s_n + i]
        else:
            for i in range(s_n - t_n):
                state[c, i] = state[c, i + t_n]
            for i in range(t_n):
                state[c, s_n - t_n + i] = x[c, i]


@njit(cache=True)
def fir_q15_shifted(x, taps, state, post_shift, y, ops):
    """q15 FIR with one row of taps per channel (or one row for all) stored as q15 * 2**-post_shift, so
    gains above 1 fit, as CMSIS's biquad postShift: y[n] = sat16((sum_k b[k] x[n-k]) >> (15 - post_shift)),
    q63 accumulator, truncating shift. taps (C or 1, L) in natural order; state (C, L-1)."""
    c_n, t_n = x.shape
    l_n = taps.shape[1]
    sh = 15 - post_shift
    for c in range(c_n):
        row = c if taps.shape[0] > 1 else 0
        for t in range(t_n):
            acc = np.int64(0)
            if t >= l_n - 1:  # all taps inside this call: no branch per tap (about 40x faster)
                for k in range(l_n):
                    acc += np.int64(taps[row, k]) * np.int64(x[c, t - k])
            else:
                for k in range(l_n):
                    acc += np.int64(taps[row, k]) * _tap(x, state, c, t - k)
            y[c, t] = sat16(acc >> sh)
    push_history(x, state)
    ops[MAC16] += c_n * t_n * l_n
    ops[ADD] += 2 * c_n * t_n
    ops[MOVE] += c_n * state.shape[1]


@njit(cache=True)
def fir_q15(x, coeffs, state, y, ops):
    """CMSIS `arm_fir_q15` per channel: y[n] = sat16((sum_k b[k] x[n-k]) >> 15), q63 accumulator,
    truncating shift. coeffs b in natural order (CMSIS stores them reversed); state (C, L-1)."""
    fir_q15_shifted(x, coeffs.reshape((1, coeffs.shape[0])), state, 0, y, ops)


@njit(cache=True)
def conv1d_s16(x, state, w, bias, multiplier, shift, act_min, act_max, dilation, y, ops):
    """Causal dilated convolution: y[o, t] = sum_{i,k} w[o, i, k] x[i, t - (K-1-k) d] (PyTorch Conv1d
    weight layout with (K-1) d zeros of left padding at the stream start). x (C_in, T), state
    (C_in, (K-1) d), w (C_out, C_in, K), y (C_out, T)."""
    o_n, i_n, k_n = w.shape
    t_n = x.shape[1]
    for o in range(o_n):
        m = reduce_multiplier(np.int64(multiplier[o]))
        s = np.int64(shift[o])
        for t in range(t_n):
            acc = bias[o]
            for i in range(i_n):
                for k in range(k_n):
                    acc += np.int64(w[o, i, k]) * _tap(x, state, i, t - (k_n - 1 - k) * dilation)
            y[o, t] = min(max(requantize_s64(acc, m, s), act_min), act_max)
    push_history(x, state)
    n_out = o_n * t_n
    ops[MAC8 if w.itemsize == 1 else MAC16] += n_out * i_n * k_n
    ops[MUL] += n_out
    ops[ADD] += 3 * n_out
    ops[CMP] += 2 * n_out
    ops[MOVE] += i_n * state.shape[1]


@njit(cache=True)
def dwconv1d_s16(x, state, w, bias, multiplier, shift, act_min, act_max, dilation, y, ops):
    """Causal depthwise convolution: y[c, t] = sum_k w[c, k] x[c, t - (K-1-k) d]; w (C, K)."""
    c_n, k_n = w.shape
    t_n = x.shape[1]
    for c in range(c_n):
        m = reduce_multiplier(np.int64(multiplier[c]))
        s = np.int64(shift[c])
        for t in range(t_n):
            acc = bias[c]
            for k in range(k_n):
                acc += np.int64(w[c, k]) * _tap(x, state, c, t - (k_n - 1 - k) * dilation)
            y[c, t] = min(max(requantize_s64(acc, m, s), act_min), act_max)
    push_history(x, state)
    n_out = c_n * t_n
    ops[MAC8 if w.itemsize == 1 else MAC16] += n_out * k_n
    ops[MUL] += n_out
    ops[ADD] += 3 * n_out
    ops[CMP] += 2 * n_out
    ops[MOVE] += c_n * state.shape[1]


@njit(cache=True)
def pwconv1d_s16(x, w, bias, multiplier, shift, act_min, act_max, y, ops):
    """Pointwise (1x1) convolution over channels, frame by frame: y[o, t] = w[o] . x[:, t] + bias[o],
    requantised; x (C_in, T), w (C_out, C_in), y (C_out, T). Stateless."""
    o_n, i_n = w.shape
    t_n = x.shape[1]
    for o in range(o_n):
        m = reduce_multiplier(np.int64(multiplier[o]))
        s = np.int64(shift[o])
        for t in range(t_n):
            acc = bias[o]
            for i in range(i_n):
                acc += np.int64(w[o, i]) * np.int64(x[i, t])
            y[o, t] = min(max(requantize_s64(acc, m, s), act_min), act_max)
    n_out = o_n * t_n
    ops[MAC8 if w.itemsize == 1 else MAC16] += n_out * i_n
    ops[MUL] += n_out
    ops[ADD] += 3 * n_out
    ops[CMP] += 2 * n_out


# --- Python layer -------------------------------------------------------------------------------
def _layer_args(x, w, bias, multiplier, shift, out_rows, in_rows):
    x = np.asarray(x)
    if x.dtype != np.int16 or x.ndim != 2 or not x.flags.c_contiguous:
        raise InvalidInput(f"x must be a C-contiguous int16 (channels, T) array, got {x.dtype} {x.shape}")
    if x.shape[0] != in_rows:  # the kernels index rows without bounds checks
        raise InvalidInput(f"x has {x.shape[0]} channels but the weights expect {in_rows}")
    w = np.ascontiguousarray(w)
    if w.dtype not in (np.int8, np.int16):
        raise InvalidInput(f"weights must be int8 or int16, got {w.dtype}")
    b = np.array(np.broadcast_to(np.asarray(bias, dtype=np.int64), (out_rows,)))
    m = np.array(np.broadcast_to(np.asarray(multiplier, dtype=np.int32), (out_rows,)))
    s = np.array(np.broadcast_to(np.asarray(shift, dtype=np.int32), (out_rows,)))
    if s.min() < -31 or s.max() > 7:
        raise InvalidInput(f"shift must be in [-31, 7] (arm_nn_requantize_s64), got {s.min()}..{s.max()}")
    return x, w, b, m, s


def _shape(w, ndim: int, layout: str) -> tuple[int, ...]:
    shape = np.shape(w)
    if len(shape) != ndim:
        raise InvalidInput(f"weights must be {ndim}-D {layout}, got shape {shape}")
    return shape


def _check_state(state, rows, length):
    if (
        not isinstance(state, np.ndarray)
        or state.dtype != np.int16
        or state.shape != (rows, length)
        or not state.flags.c_contiguous
    ):
        got = f"{state.dtype} {state.shape}" if isinstance(state, np.ndarray) else type(state).__name__
        raise InvalidInput(f"state must be a C-contiguous int16 array of shape ({rows}, {length}), got {got}")


def conv1d(x, state, w, bias, multiplier, shift, dilation=1, act_min=-32768, act_max=32767, ops=None):
    """Validated `conv1d_s16`; `state` (C_in, (K-1)*dilation) int16 is updated in place; returns y."""
    o_n, i_n, k_n = _shape(w, 3, "(C_out, C_in, K)")
    x, w, b, m, s = _layer_args(x, w, bias, multiplier, shift, o_n, i_n)
    act_min, act_max = check_act_range(act_min, act_max)
    _check_state(state, i_n, (k_n - 1) * dilation)
    y = np.empty((o_n, x.shape[1]), np.int16)
    conv1d_s16(x, state, w, b, m, s, act_min, act_max, dilation, y, new_ops() if ops is None else ops)
    return y


def dwconv1d(x, state, w, bias, multiplier, shift, dilation=1, act_min=-32768, act_max=32767, ops=None):
    """Validated `dwconv1d_s16`; w (C, K); state (C, (K-1)*dilation) updated in place."""
    c_n, k_n = _shape(w, 2, "(C, K)")
    x, w, b, m, s = _layer_args(x, w, bias, multiplier, shift, c_n, c_n)
    act_min, act_max = check_act_range(act_min, act_max)
    _check_state(state, c_n, (k_n - 1) * dilation)
    y = np.empty((c_n, x.shape[1]), np.int16)
    dwconv1d_s16(x, state, w, b, m, s, act_min, act_max, dilation, y, new_ops() if ops is None else ops)
    return y


def pwconv1d(x, w, bias, multiplier, shift, act_min=-32768, act_max=32767, ops=None):
    """Validated `pwconv1d_s16`; w (C_out, C_in)."""
    o_n, i_n = _shape(w, 2, "(C_out, C_in)")
    x, w, b, m, s = _layer_args(x, w, bias, multiplier, shift, o_n, i_n)
    act_min, act_max = check_act_range(act_min, act_max)
    y = np.empty((o_n, x.shape[1]), np.int16)
    pwconv1d_s16(x, w, b, m, s, act_min, act_max, y, new_ops() if ops is None else ops)
    return y


def fir(x, coeffs, state, ops=None):
    """Validated `fir_q15`: x (C, T) int16, coeffs (L,) int16 q15 natural order, state (C, L-1) in place."""
    coeffs = np.ascontiguousarray(coeffs)
    if coeffs.dtype != np.int16 or coeffs.ndim != 1 or coeffs.size < 1:
        raise InvalidInput(f"coeffs must be a non-empty 1-D int16 array, got {coeffs.dtype} {coeffs.shape}")
    x = np.asarray(x)
    if x.dtype != np.int16 or x.ndim != 2 or not x.flags.c_contiguous:
        raise InvalidInput(f"x must be a C-contiguous int16 (channels, T) array, got {x.dtype} {x.shape}")
    _check_state(state, x.shape[0], coeffs.size - 1)
    y = np.empty(x.shape, np.int16)
    fir_q15(x, coeffs, state, y, new_ops() if ops is None else ops)
    return y
