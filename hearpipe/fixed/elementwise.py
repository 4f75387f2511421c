"""Element-wise fixed-point kernels: ReLU/PReLU, mean over groups, mask multiply, complex multiply,
the deep filter (a complex FIR across frames per band).

All int16 in and out, saturating; products rounded half up (`rshift_round`) unless a CMSIS function is
reproduced (then its truncation). 2-D arrays are (rows, features); callers reshape.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.fixed._opidx import ADD, CMP, DIV, MAC16, MAC32, MUL
from hearpipe.fixed.ops import rshift_round, sat16


@njit(cache=True)
def relu_s16(x, out, ops):
    r_n, f_n = x.shape
    for r in range(r_n):
        for f in range(f_n):
            out[r, f] = max(x[r, f], 0)
    ops[CMP] += r_n * f_n


@njit(cache=True)
def prelu_s16(x, alpha, alpha_frac, out, ops):
    """PReLU with one slope per row: x if x >= 0 else round(alpha[r] * x / 2**alpha_frac), saturated.
    x (R, F) int16, alpha (R,) int16 with alpha_frac fraction bits (PyTorch PReLU(num_parameters=R) on
    (R, F) rows; a single shared slope: pass alpha repeated)."""
    r_n, f_n = x.shape
    for r in range(r_n):
        a = np.int64(alpha[r])
        for f in range(f_n):
            v = np.int64(x[r, f])
            out[r, f] = v if v >= 0 else sat16(rshift_round(a * v, alpha_frac))
    ops[CMP] += 2 * r_n * f_n  # sign test + saturation
    ops[MUL] += r_n * f_n
    ops[ADD] += r_n * f_n


@njit(cache=True)
def mean_groups_s16(x, out, ops):
    """Mean over the K rows of x (K, F) -> out (F,): sum in int64, then division rounding half away
    from zero as CMSIS-NN `arm_avgpool_s16` does ((sum +- K/2) / K, C truncating division)."""
    k_n, f_n = x.shape
    half = k_n // 2
    for f in range(f_n):
        s = np.int64(0)
        for k in range(k_n):
            s += x[k, f]
        s = s + half if s > 0 else s - half
        q = abs(s) // k_n
        out[f] = sat16(q if s >= 0 else -q)
    ops[ADD] += f_n * (k_n - 1) + f_n
    ops[DIV] += f_n
    ops[CMP] += f_n


@njit(cache=True)
def mask_mul_s16(x, mask, mask_frac, out, ops):
    """out = sat16(round(x * mask / 2**mask_frac)); x, mask, out (R, F). A mask with headroom (e.g. an
    unbounded ReLU mask in Q4.12: mask_frac = 12) multiplies q15 features."""
    r_n, f_n = x.shape
    for r in range(r_n):
        for f in range(f_n):
            out[r, f] = sat16(rshift_round(np.int64(x[r, f]) * mask[r, f], mask_frac))
    ops[MUL] += r_n * f_n
    ops[ADD] += 2 * r_n * f_n


@njit(cache=True)
def mask_mul_complex_s16(xc, mask, mask_frac, out, ops):
    """Real mask on an interleaved complex spectrum: xc (R, 2F) [re, im, ...], mask (R, F), out (R, 2F)."""
    r_n, f_n = mask.shape
    for r in range(r_n):
        for f in range(f_n):
            m = np.int64(mask[r, f])
            out[r, 2 * f] = sat16(rshift_round(np.int64(xc[r, 2 * f]) * m, mask_frac))
            out[r, 2 * f + 1] = sat16(rshift_round(np.int64(xc[r, 2 * f + 1]) * m, mask_frac))
    ops[MUL] += 2 * r_n * f_n
    ops[ADD] += 4 * r_n * f_n


@njit(cache=True)
def cmplx_mult_q15(a, b, out, ops):
    """CMSIS `arm_cmplx_mult_cmplx_q15` on interleaved vectors: output in 3.13,
    re = (ar br >> 17) - (ai bi >> 17), im = (ar bi >> 17) + (ai br >> 17) (truncating, cannot overflow)."""
    n = a.shape[0] // 2
    for i in range(n):
        ar = np.int64(a[2 * i])
        ai = np.int64(a[2 * i + 1])
        br = np.int64(b[2 * i])
        bi = np.int64(b[2 * i + 1])
        out[2 * i] = ((ar * br) >> 17) - ((ai * bi) >> 17)
        out[2 * i + 1] = ((ar * bi) >> 17) + ((ai * br) >> 17)
    ops[MUL] += 4 * n
    ops[ADD] += 6 * n


@njit(cache=True)
def cmplx_mult_s16(a, b, shift, out, ops):
    """General complex multiply of interleaved rows a, b (R, 2F): out = sat16(round(a * b / 2**shift))
    with one rounding per component (shift 15 for q15 x q15 -> q15, e.g. a complex spectral gain)."""
    r_n, n2 = a.shape
    for r in range(r_n):
        for i in range(n2 // 2):
            ar = np.int64(a[r, 2 * i])
            ai = np.int64(a[r, 2 * i + 1])
            br = np.int64(b[r, 2 * i])
            bi = np.int64(b[r, 2 * i + 1])
            out[r, 2 * i] = sat16(rshift_round(ar * br - ai * bi, shift))
            out[r, 2 * i + 1] = sat16(rshift_round(ar * bi + ai * br, shift))
    n = r_n * (n2 // 2)
    ops[MUL] += 4 * n
    ops[ADD] += 6 * n


@njit(inline="always", cache=True)
def deep_filter_frame(xr, xi, mask, tr, ti, lo, hi, yr, yi):
    """One frame of a deep filter (a complex FIR across frames, per band): xr, xi (L, F) the bands'
    (re, im) of this frame (row 0) and the L-1 before it, int16 or int32; mask (F,) Q15; tr, ti (L, F)
    Q15 tanh terms. Coefficients c_0 = mask + tr[0] + j ti[0], c_l = tr[l] + j ti[l];
    yr + j yi = clamp(round(sum_l c_l (xr_l + j xi_l) / 2**15), lo, hi), sums exact in int64."""
    taps, f_n = xr.shape
    for f in range(f_n):
        a = np.int64(mask[f]) + tr[0, f]
        b = np.int64(ti[0, f])
        sr = a * xr[0, f] - b * xi[0, f]
        si = a * xi[0, f] + b * xr[0, f]
        for lag in range(1, taps):
            a = np.int64(tr[lag, f])
            b = np.int64(ti[lag, f])
            sr += a * xr[lag, f] - b * xi[lag, f]
            si += a * xi[lag, f] + b * xr[lag, f]
        yr[f] = min(max(rshift_round(sr, 15), lo), hi)
        yi[f] = min(max(rshift_round(si, 15), lo), hi)


@njit(cache=True)
def deep_filter_q15(xr, xi, mask, tr, ti, lo, hi, yr, yi, ops):
    """`deep_filter_frame` as a library kernel (int16 or int32 band values: mac16 or mac32 counted, as
    `count.deep_filter`)."""
    deep_filter_frame(xr, xi, mask, tr, ti, lo, hi, yr, yi)
    taps, f_n = xr.shape
    ops[MAC16 if xr.itemsize == 2 else MAC32] += 4 * taps * f_n
    ops[ADD] += 5 * f_n  # mask + tanh term; two rounding shifts (2 each)
    ops[CMP] += 4 * f_n  # two saturations
