"""Real FFT and its inverse in fixed point, CMSIS `arm_rfft_q15` scaling (one halving per stage).

Layout: an N-point real frame `x` (B, N) gives `X` (B, N + 2) = [re0, im0, re1, im1, ..., re_{N/2}, im_{N/2}]
(the non-redundant half; CMSIS returns the whole 2N spectrum, the first N + 2 values are these).

Scaling: every radix-2 stage halves (with rounding), so the forward transform returns
`X_int = DFT(x_int) / N` and the inverse returns `x_int = IDFT(X_int)` with numpy's 1/N. In Q terms the
forward output of a q15 input is in format Q(1+L).(15-L) with L = log2(N) (N = 256: 9.7) and the
inverse keeps its input's format, exactly as CMSIS documents for q15. Nothing can overflow: a halving
butterfly's output magnitude never exceeds its inputs', so outputs are saturated only at the +1 rail.

Two widths share one kernel:
- q15: int16 data, Q15 twiddles (cos 0 stored as 32767 as in CMSIS) - the device's q15 FFT;
- q31: int32 data, Q30 twiddles, int64 products - inputs must satisfy |x| <= 2**30 (a q15 signal
  shifted left by 14 is the recommended use). SNR of an STFT passthrough > 90 dB (tests).
Each butterfly rounds once (products and the halving are combined before one rounding shift), where
CMSIS truncates at several points; results differ from CMSIS by a few LSB (tests state the bound).

Complex FFT of N/2 points (radix-2 DIT, bit-reversed input) plus the usual split step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed._opidx import ADD, BUTTERFLY, MOVE, MUL
from hearpipe.fixed.ops import new_ops, sat_bits


@njit(inline="always", cache=True)
def _stages(z, tw, nc, f, inverse, bits):
    """In-place radix-2 DIT complex FFT of nc points on interleaved z (bit-reversed order), halving each
    stage. tw holds W_N^k = exp(-2j pi k / N) for k < nc (N = 2 nc) in Q`f`, interleaved."""
    h = 1
    while h < nc:
        step = nc // h  # W_{2h}^j = W_N^{j * N / 2h} = tw[j * step]
        for start in range(0, nc, 2 * h):
            for j in range(h):
                wr = np.int64(tw[2 * j * step])
                wi = np.int64(tw[2 * j * step + 1])
                if inverse:
                    wi = -wi
                p = 2 * (start + j)
                q = p + 2 * h
                ar = np.int64(z[p])
                ai = np.int64(z[p + 1])
                br = np.int64(z[q])
                bi = np.int64(z[q + 1])
                tr = br * wr - bi * wi
                ti = br * wi + bi * wr
                rnd = np.int64(1) << f  # rounding for the shift by f + 1 (twiddle scale and halving)
                z[p] = sat_bits(((ar << f) + tr + rnd) >> (f + 1), bits)
                z[p + 1] = sat_bits(((ai << f) + ti + rnd) >> (f + 1), bits)
                z[q] = sat_bits(((ar << f) - tr + rnd) >> (f + 1), bits)
                z[q + 1] = sat_bits(((ai << f) - ti + rnd) >> (f + 1), bits)
        h *= 2


@njit(inline="always", cache=True)
def _stage_count(nc):
    """Radix-2 stages of an nc-point complex FFT: log2(nc)."""
    stages = 0
    h = 1
    while h < nc:
        stages += 1
        h *= 2
    return stages


@njit(cache=True)
def rfft_fixed(x, out, tw, bitrev, tw_frac, ops):
    """Forward real FFT of each row of x (B, N) into out (B, N + 2); see the module docstring.
    tw: (N,) int32 = interleaved W_N^k, k < N/2, in Q`tw_frac`; bitrev: (N/2,) int32 bit reversal."""
    b_n, n = x.shape
    nc = n // 2
    bits = out.itemsize * 8
    f = tw_frac
    rnd2 = np.int64(1) << (f + 1)  # rounding for the split step's shift by f + 2
    for b in range(b_n):
        z = out[b]
        for i in range(nc):  # z[i] = x[2i] + j x[2i+1], bit-reversed
            r = bitrev[i]
            z[2 * r] = x[b, 2 * i]
            z[2 * r + 1] = x[b, 2 * i + 1]
        _stages(z, tw, nc, f, False, bits)
        # split: X[k] = (A + W^k (-j B)) / 4, A = Z[k] + conj Z[nc-k], B = Z[k] - conj Z[nc-k]
        zr0 = np.int64(z[0])
        zi0 = np.int64(z[1])
        z[0] = sat_bits((zr0 + zi0 + 1) >> 1, bits)
        z[1] = 0
        z[2 * nc] = sat_bits((zr0 - zi0 + 1) >> 1, bits)
        z[2 * nc + 1] = 0
        for k in range(1, nc // 2 + 1):
            k2 = nc - k
            ur = np.int64(z[2 * k])
            ui = np.int64(z[2 * k + 1])
            vr = np.int64(z[2 * k2])
            vi = np.int64(z[2 * k2 + 1])
            # bin k: A = u + conj v, B = u - conj v; -jB = (Bi, -Br)
            ar = ur + vr
            ai = ui - vi
            cr = ui + vi  # Re(-jB) = Im B
            ci = vr - ur  # Im(-jB) = -Re B
            wr = np.int64(tw[2 * k])
            wi = np.int64(tw[2 * k + 1])
            xr = ((ar << f) + cr * wr - ci * wi + rnd2) >> (f + 2)
            xi = ((ai << f) + cr * wi + ci * wr + rnd2) >> (f + 2)
            # bin nc-k: A' = conj A and B' = -conj B, so -jB' = (Im B, Re B) = (cr, -ci)
            dr = cr
            di = -ci
            wr2 = np.int64(tw[2 * k2])
            wi2 = np.int64(tw[2 * k2 + 1])
            yr = ((ar << f) + dr * wr2 - di * wi2 + rnd2) >> (f + 2)
            yi = ((-ai << f) + dr * wi2 + di * wr2 + rnd2) >> (f + 2)
            z[2 * k] = sat_bits(xr, bits)
            z[2 * k + 1] = sat_bits(xi, bits)
            z[2 * k2] = sat_bits(yr, bits)
            z[2 * k2 + 1] = sat_bits(yi, bits)
    ops[MOVE] += b_n * n
    ops[BUTTERFLY] += b_n * (nc // 2) * _stage_count(nc)
    ops[MUL] += b_n * 8 * (nc // 2)
    ops[ADD] += b_n * (4 + 24 * (nc // 2))


@njit(cache=True)
def irfft_fixed(xf, out, tw, bitrev, tw_frac, ops):
    """Inverse of `rfft_fixed`: xf (B, N + 2) half spectrum -> out (B, N) = numpy.fft.irfft (1/N) of xf."""
    b_n, n = out.shape
    nc = n // 2
    bits = out.itemsize * 8
    f = tw_frac
    rnd = np.int64(1) << f
    for b in range(b_n):
        z = out[b]
        # Z[k] = E + jO, E = (X[k] + conj X[nc-k]) / 2, O = conj(W^k) (X[k] - conj X[nc-k]) / 2
        for k in range(nc):
            k2 = nc - k
            ur = np.int64(xf[b, 2 * k])
            ui = np.int64(xf[b, 2 * k + 1])
            vr = np.int64(xf[b, 2 * k2])
            vi = np.int64(xf[b, 2 * k2 + 1])
            ar = ur + vr
            ai = ui - vi
            br = ur - vr
            bi = ui + vi
            wr = np.int64(tw[2 * k])
            wi = -np.int64(tw[2 * k + 1])  # conj
            orr = br * wr - bi * wi  # O * 2 in Q(f)
            oi = br * wi + bi * wr
            r = bitrev[k]
            z[2 * r] = sat_bits(((ar << f) - oi + rnd) >> (f + 1), bits)  # Re(E + jO) = Re E - Im O
            z[2 * r + 1] = sat_bits(((ai << f) + orr + rnd) >> (f + 1), bits)
        _stages(z, tw, nc, f, True, bits)
    ops[MOVE] += b_n * n
    ops[BUTTERFLY] += b_n * (nc // 2) * _stage_count(nc)
    ops[MUL] += b_n * 4 * nc
    ops[ADD] += b_n * 10 * nc


# --- plans ---------------------------------------------------------------------------------------
def _bitrev(m: int) -> np.ndarray:
    bits = m.bit_length() - 1
    idx = np.arange(m)
    rev = np.zeros(m, dtype=np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev.astype(np.int32)


class FixedRfft:
    """Tables and validation for an N-point fixed-point real FFT pair.

    `FixedRfft(256, "q15")` or `FixedRfft(256, "q31")`; `.forward(x)` with x (N,) or (B, N) int16/int32
    returns (…, N + 2); `.inverse(X)` the reverse. Pass `out=` to reuse a buffer and `ops=` to count.
    `.forward_frac(in_frac)` gives the fraction bits of the forward output (in_frac - log2 N).
    """

    def __init__(self, n: int, width: str = "q15"):
        if n < 4 or n & (n - 1):
            raise InvalidInput(f"FFT length ({n}) must be a power of two >= 4")
        if width not in ("q15", "q31"):
            raise InvalidInput(f"FFT width {width!r} must be 'q15' or 'q31'")
        self.n = n
        self.width = width
        self.dtype = np.int16 if width == "q15" else np.int32
        self.tw_frac = 15 if width == "q15" else 30
        k = np.arange(n // 2)
        w = np.exp(-2j * np.pi * k / n)
        scale = float(1 << self.tw_frac)
        top = (1 << self.tw_frac) - 1 if width == "q15" else 1 << self.tw_frac  # q15: +1 -> 32767
        tw = np.empty(n, dtype=np.int64)
        tw[0::2] = np.clip(np.round(w.real * scale), -top, top)
        tw[1::2] = np.clip(np.round(w.imag * scale), -top, top)
        self.tw = tw.astype(np.int32)
        self.bitrev = _bitrev(n // 2)
        self.log2n = n.bit_length() - 1

    def forward_frac(self, in_frac: int) -> int:
        return in_frac - self.log2n

    def _arr(self, a, last: int, name: str) -> tuple[np.ndarray, bool]:
        a = np.asarray(a)
        if a.dtype != self.dtype:
            raise InvalidInput(
                f"{name} must be {np.dtype(self.dtype).name} for a {self.width} FFT, got {a.dtype}"
            )
        squeeze = a.ndim == 1
        a2 = np.ascontiguousarray(a[None, :] if squeeze else a)
        if a2.ndim != 2 or a2.shape[1] != last:
            raise InvalidInput(f"{name} must have shape (..., {last}) for N = {self.n}, got {a.shape}")
        if self.width == "q31" and a2.size and (a2.max() > (1 << 30) or a2.min() < -(1 << 30)):
            raise InvalidInput(f"{name}: the q31 FFT needs |values| <= 2**30 (one bit of headroom)")
        return a2, squeeze

    def _out(self, out, rows: int, last: int) -> np.ndarray:
        if out is None:
            return np.empty((rows, last), self.dtype)
        if out.dtype != self.dtype or out.size != rows * last or not out.flags.c_contiguous:
            raise InvalidInput(
                f"out must be a C-contiguous {np.dtype(self.dtype).name} array of {rows} x {last} values, "
                f"got {out.dtype} {out.shape}"
            )
        return out.reshape(rows, last)

    def forward(self, x, out=None, ops=None) -> np.ndarray:
        """x (N,) or (B, N) -> (N + 2,) or (B, N + 2): DFT / N, interleaved; see the module docstring.
        Hot loops may call `rfft_fixed(x, out, plan.tw, plan.bitrev, plan.tw_frac, ops)` directly."""
        x2, sq = self._arr(x, self.n, "x")
        o = self._out(out, x2.shape[0], self.n + 2)
        rfft_fixed(x2, o, self.tw, self.bitrev, self.tw_frac, new_ops() if ops is None else ops)
        return o[0] if sq else o

    def inverse(self, xf, out=None, ops=None) -> np.ndarray:
        """X (N + 2,) or (B, N + 2) -> (N,) or (B, N): numpy.fft.irfft of the integers (1/N included)."""
        x2, sq = self._arr(xf, self.n + 2, "X")
        o = self._out(out, x2.shape[0], self.n)
        irfft_fixed(x2, o, self.tw, self.bitrev, self.tw_frac, new_ops() if ops is None else ops)
        return o[0] if sq else o


def to_complex(xf: np.ndarray, frac_bits: int = 0) -> np.ndarray:
    """Interleaved (…, N + 2) integers -> complex (…, N/2 + 1) values scaled by 2**-frac_bits."""
    a = np.asarray(xf, dtype=np.float64)
    return (a[..., 0::2] + 1j * a[..., 1::2]) * 2.0**-frac_bits
