"""LSTM and GRU layers in 16-bit fixed point (CMSIS-NN s16 style), state carried in and out.

Formats (the binary point at every stage):
- input x (B, T, I) int16, any format: its scale lives in the input requantisation multipliers;
- weights int8 or int16 (both matrices the same type), gate rows in PyTorch order
  (LSTM: i, f, g, o; GRU: r, z, n); biases int64 in their accumulator's scale;
- W_ih x + b_ih and W_hh h + b_hh accumulate exactly in int64 and are each requantised per row
  (`arm_nn_requantize_s64`, multiplier/shift per gate row) to int16 Q4.12, then added with saturation;
- gates: sigmoid/tanh by table (`hearpipe.fixed.tables`) -> int16 Q1.15;
- LSTM cell state c: int16 Q4.12 (|c| < 8, saturating), c' = round((8 f c + i g) / 2**18);
- hidden state / output h: int16 Q1.15 = round(o * tanh(c') / 2**15) (LSTM) or
  round(n + z (h - n) / 2**15) (GRU, = (1 - z) n + z h).
B independent sequences (e.g. the groups of GroupComm, sharing weights) are processed together; the
result for each does not depend on B or on how T is split across calls (state in/out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed._opidx import ADD, CMP, LUT, MAC8, MAC16, MUL
from hearpipe.fixed.ops import new_ops, reduce_multiplier, requantize_s64, rshift_round, sat16
from hearpipe.fixed.tables import SIGMOID_TABLE, TANH_TABLE, sigmoid_q15, tanh_q15


@njit(inline="always", cache=True)
def _preacts(w, v, bias, mult, shift, out):
    """out[r] = sat16(requantize_s64(w[r] . v + bias[r])) for every row r (Q4.12 gate inputs)."""
    for r in range(w.shape[0]):
        s = bias[r]
        for k in range(w.shape[1]):
            s += np.int64(w[r, k]) * np.int64(v[k])
        out[r] = sat16(requantize_s64(s, reduce_multiplier(np.int64(mult[r])), np.int64(shift[r])))


@njit(cache=True)
def lstm_s16(x, h, c, w_ih, w_hh, b_ih, b_hh, m_ih, s_ih, m_hh, s_hh, sig_t, tanh_t, scratch, y, ops):
    """LSTM over x (B, T, I); h (B, H) Q1.15 and c (B, H) Q4.12 are read and updated in place;
    y (B, T, H) receives every h_t. Weights (4H, I) and (4H, H); m_*/s_* (4H,) Q31 multipliers and
    shifts to Q4.12; scratch (2, 4H) int16."""
    b_n, t_n, i_n = x.shape
    hd = h.shape[1]
    gx = scratch[0]
    gh = scratch[1]
    for b in range(b_n):
        for t in range(t_n):
            _preacts(w_ih, x[b, t], b_ih, m_ih, s_ih, gx)
            _preacts(w_hh, h[b], b_hh, m_hh, s_hh, gh)
            for j in range(hd):
                ig = sigmoid_q15(sat16(np.int64(gx[j]) + gh[j]), sig_t)
                fg = sigmoid_q15(sat16(np.int64(gx[hd + j]) + gh[hd + j]), sig_t)
                gg = tanh_q15(sat16(np.int64(gx[2 * hd + j]) + gh[2 * hd + j]), tanh_t)
                og = sigmoid_q15(sat16(np.int64(gx[3 * hd + j]) + gh[3 * hd + j]), sig_t)
                cn = sat16(rshift_round(8 * fg * np.int64(c[b, j]) + ig * gg, 18))  # Q27 + Q30 -> Q12
                c[b, j] = cn
                hn = sat16(rshift_round(og * tanh_q15(cn, tanh_t), 15))
                h[b, j] = hn
                y[b, t, j] = hn
    steps = b_n * t_n
    g = 4 * hd
    ops[MAC8 if w_ih.itemsize == 1 else MAC16] += steps * g * (i_n + hd)
    ops[MUL] += steps * (2 * g + 3 * hd)  # requantisations + f*c, i*g, o*tanh
    ops[ADD] += steps * (2 * 4 * g + g + 4 * hd)  # bias/round/shift x2, gate sums, cell add + 3 round shifts
    ops[CMP] += steps * (2 * g + 2 * g + 2 * hd)  # saturations
    ops[LUT] += steps * 5 * hd


@njit(cache=True)
def gru_s16(x, h, w_ih, w_hh, b_ih, b_hh, m_ih, s_ih, m_hh, s_hh, sig_t, tanh_t, scratch, y, ops):
    """GRU (PyTorch equations) over x (B, T, I); h (B, H) Q1.15 read and updated in place;
    y (B, T, H) every h_t. Weights (3H, I) and (3H, H); m_*/s_* (3H,); scratch (2, 3H) int16.
    n = tanh(Wx_n + r * (Wh_n h + b_hn)) with r * (.) = round(r Q15 * Q4.12 / 2**15)."""
    b_n, t_n, i_n = x.shape
    hd = h.shape[1]
    gx = scratch[0]
    gh = scratch[1]
    for b in range(b_n):
        for t in range(t_n):
            _preacts(w_ih, x[b, t], b_ih, m_ih, s_ih, gx)
            _preacts(w_hh, h[b], b_hh, m_hh, s_hh, gh)
            for j in range(hd):
                r = sigmoid_q15(sat16(np.int64(gx[j]) + gh[j]), sig_t)
                z = sigmoid_q15(sat16(np.int64(gx[hd + j]) + gh[hd + j]), sig_t)
                npre = sat16(np.int64(gx[2 * hd + j]) + rshift_round(r * np.int64(gh[2 * hd + j]), 15))
                n = tanh_q15(npre, tanh_t)
                hn = sat16(n + rshift_round(z * (np.int64(h[b, j]) - n), 15))
                h[b, j] = hn
                y[b, t, j] = hn
    steps = b_n * t_n
    g = 3 * hd
    ops[MAC8 if w_ih.itemsize == 1 else MAC16] += steps * g * (i_n + hd)
    ops[MUL] += steps * (2 * g + 2 * hd)
    ops[ADD] += steps * (2 * 4 * g + 2 * hd + 5 * hd)
    ops[CMP] += steps * (2 * g + 2 * hd + 2 * hd + 2 * hd)
    ops[LUT] += steps * 3 * hd


# --- Python layer -------------------------------------------------------------------------------
@dataclass
class RnnQ:
    """Quantised weights of one LSTM or GRU layer and a validated runner.

    kind "lstm" (4 gates) or "gru" (3 gates). `run(x, h, c=None)` processes x (B, T, I) int16 and
    updates the int16 state arrays in place (h (B, H) Q1.15; c (B, H) Q4.12 for LSTM); returns y.
    """

    kind: str
    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    m_ih: np.ndarray
    s_ih: np.ndarray
    m_hh: np.ndarray
    s_hh: np.ndarray

    def __post_init__(self):
        if self.kind not in ("lstm", "gru"):
            raise InvalidInput(f"kind {self.kind!r} must be 'lstm' or 'gru'")
        g = 4 if self.kind == "lstm" else 3
        self.w_ih = np.ascontiguousarray(self.w_ih)
        self.w_hh = np.ascontiguousarray(self.w_hh)
        if self.w_ih.dtype not in (np.int8, np.int16) or self.w_hh.dtype != self.w_ih.dtype:
            raise InvalidInput(
                f"w_ih/w_hh must both be int8 or int16, got {self.w_ih.dtype}/{self.w_hh.dtype}"
            )
        gh, hd = self.w_hh.shape
        if gh != g * hd or self.w_ih.shape[0] != gh:
            raise InvalidInput(
                f"{self.kind}: w_hh must be ({g}H, H) and w_ih ({g}H, I); got {self.w_hh.shape}, {self.w_ih.shape}"
            )
        self.hidden = hd
        self.inputs = self.w_ih.shape[1]
        for name, dt in (
            ("b_ih", np.int64),
            ("b_hh", np.int64),
            ("m_ih", np.int32),
            ("s_ih", np.int32),
            ("m_hh", np.int32),
            ("s_hh", np.int32),
        ):
            a = np.array(np.broadcast_to(np.asarray(getattr(self, name)), (gh,)), dtype=dt)
            setattr(self, name, a)
        for s in (self.s_ih, self.s_hh):
            if s.min() < -31 or s.max() > 7:
                raise InvalidInput(f"{self.kind}: shifts must lie in [-31, 7], got {s.min()}..{s.max()}")
        self._scratch = np.empty((2, gh), np.int16)

    def new_state(self, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
        h = np.zeros((batch, self.hidden), np.int16)
        return h, (np.zeros((batch, self.hidden), np.int16) if self.kind == "lstm" else None)

    def run(self, x, h, c=None, y=None, ops=None) -> np.ndarray:
        x = np.ascontiguousarray(x)
        if x.dtype != np.int16 or x.ndim != 3 or x.shape[2] != self.inputs:
            raise InvalidInput(f"x must be int16 (B, T, {self.inputs}), got {x.dtype} {x.shape}")
        b_n = x.shape[0]
        for name, s in (("h", h), ("c", c)) if self.kind == "lstm" else (("h", h),):
            if s is None or s.dtype != np.int16 or s.shape != (b_n, self.hidden) or not s.flags.c_contiguous:
                raise InvalidInput(f"{name} must be a C-contiguous int16 ({b_n}, {self.hidden}) state array")
        y_shape = (b_n, x.shape[1], self.hidden)
        if y is None:
            y = np.empty(y_shape, np.int16)
        elif y.dtype != np.int16 or y.shape != y_shape or not y.flags.c_contiguous:
            # the kernels write without bounds checks: a wrong buffer would corrupt memory
            raise InvalidInput(f"y must be a C-contiguous int16 {y_shape} array, got {y.dtype} {y.shape}")
        ops = new_ops() if ops is None else ops
        if self.kind == "lstm":
            lstm_s16(
                x,
                h,
                c,
                self.w_ih,
                self.w_hh,
                self.b_ih,
                self.b_hh,
                self.m_ih,
                self.s_ih,
                self.m_hh,
                self.s_hh,
                SIGMOID_TABLE,
                TANH_TABLE,
                self._scratch,
                y,
                ops,
            )
        else:
            gru_s16(
                x,
                h,
                self.w_ih,
                self.w_hh,
                self.b_ih,
                self.b_hh,
                self.m_ih,
                self.s_ih,
                self.m_hh,
                self.s_hh,
                SIGMOID_TABLE,
                TANH_TABLE,
                self._scratch,
                y,
                ops,
            )
        return y
