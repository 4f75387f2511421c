"""Learned conv encoder / decoder (TasNet family) in bit-true fixed point, streaming.

Float twins: `hearpipe.blocks.learned` (`encode_frames`, `decode_frames`) and
`hearpipe.models.groupcomm.conv_encode` / `conv_decode`; same framing: frame j of the encoder covers
input samples [(j+1)S - W, (j+1)S) (zeros before the stream start); the decoder completes S output
samples per frame, so the pair delays by W - S samples.

Formats:
| stage | format |
| --- | --- |
| audio in | int16 q15 (Q1.15) |
| encoder weights | int8 or int16, one scale per filter (row n), `dense_s16` per frame, bias 0 |
| encoder output e (N, frames) | int16, `out_frac` fraction bits; default from the worst case max_n sum_i |w[n, i]| (a q15 input can never saturate it) |
| decoder weights | int8 or int16 transposed (W, N): one scale per output position i |
| decoder frame y_i = sum_n dec[n, i] e[n] | int64 exact, requantised per position (`arm_nn_requantize_s64`) to int32 with `acc_frac` bits |
| overlap-add carry | int32, `acc_frac` (saturating adds; acc_frac from the worst case so they cannot saturate) |
| audio out | int16 q15 = sat16(round(carry / 2**(acc_frac - 15))) |
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from numba import njit

from hearpipe.errors import InvalidInput
from hearpipe.fixed import count
from hearpipe.fixed._opidx import ADD, CMP, MAC8, MAC16, MOVE, MUL
from hearpipe.fixed.linalg import dense_s16
from hearpipe.fixed.ops import new_ops, quantize_multiplier, requantize_s64, rshift_round, sat16, sat32
from hearpipe.models.groupcomm_fixed import _reduce


def _quant_rows(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    qmax = 127 if bits == 8 else 32767
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / qmax, 1.0)
    wq = np.clip(np.floor(w / scale[:, None] + 0.5), -qmax, qmax).astype(np.int8 if bits == 8 else np.int16)
    return wq, scale


def _multipliers(real: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.empty(real.size, np.int32)
    s = np.empty(real.size, np.int32)
    for i, r in enumerate(real):
        mm, ss = quantize_multiplier(float(r))
        if ss > 7:
            raise InvalidInput(f"{name}: requantisation scale {r:g} too large for arm_nn_requantize_s64")
        if ss < -31:
            mm, ss = 0, 0
        m[i], s[i] = mm, ss
    return m, s


class FixedConvEncoder:
    """Conv1d(1, N, W, stride S) on q15 audio: `process(x)` with x int16 (channels, k*S) returns
    int16 (channels, N, k) with `out_frac` fraction bits; the last W - S samples are kept between calls."""

    def __init__(
        self, enc: np.ndarray, hop: int, channels: int = 1, weight_bits: int = 8, out_frac: int | None = None
    ):
        enc = np.asarray(enc, dtype=np.float64)
        if enc.ndim != 2 or not 1 <= hop <= enc.shape[1]:
            raise InvalidInput(
                f"encoder weights must be (N, W) with 1 <= hop <= W, got {enc.shape}, hop {hop}"
            )
        if weight_bits not in (8, 16):
            raise InvalidInput(f"weight_bits ({weight_bits}) must be 8 or 16")
        self.N, self.W = enc.shape
        self.S, self.channels, self.weight_bits = int(hop), int(channels), weight_bits
        self.w, scale = _quant_rows(enc, weight_bits)
        if out_frac is None:  # worst case over all q15 inputs (quantised weights, so exact)
            bound = float((np.abs(self.w.astype(np.float64)) * scale[:, None]).sum(axis=1).max())
            out_frac = int(min(15, max(0, math.floor(math.log2(32767 / bound))))) if bound > 0 else 15
        self.out_frac = int(out_frac)
        self.mult, self.shift = _multipliers(scale * 2.0 ** (self.out_frac - 15), "conv encoder")
        self.bias = np.zeros(self.N, np.int64)
        self.ops = new_ops()
        self.reset()

    def reset(self) -> None:
        self.history = np.zeros((self.channels, self.W - self.S), np.int16)

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.int16 or x.ndim != 2 or x.shape[0] != self.channels or x.shape[1] % self.S:
            raise InvalidInput(
                f"conv encoder input must be int16 ({self.channels}, k*{self.S}) q15 audio, got {x.dtype} {x.shape}"
            )
        k = x.shape[1] // self.S
        out = np.empty((self.channels, self.N, k), np.int16)
        for c in range(self.channels):
            s = np.concatenate([self.history[c], x[c]])
            frames = np.lib.stride_tricks.sliding_window_view(s, self.W)[:: self.S][:k]
            y = np.empty((k, self.N), np.int16)
            dense_s16(
                self.w,
                np.ascontiguousarray(frames),
                self.bias,
                self.mult,
                self.shift,
                -32768,
                32767,
                y,
                self.ops,
            )
            out[c] = y.T
            self.history[c] = s[s.size - (self.W - self.S) :]
        self.ops[MOVE] += self.channels * (self.W - self.S) * k  # delay line update per frame
        return out

    def ops_per_frame(self) -> Counter:
        return count.dense(self.N, self.W, 1, self.weight_bits) + Counter(move=self.W - self.S)

    def memory(self) -> dict[str, int]:
        """Bytes: state (delay line), scratch (one frame in, one out), rom (weights + requantisation)."""
        return {
            "state": 2 * (self.W - self.S) * self.channels,
            "scratch": 2 * self.W + 2 * self.N + 8,
            "rom": self.w.size * self.weight_bits // 8 + self.N * (8 + 4 + 4),
        }


@njit(cache=True)
def decode_ola(e, wt, mq, sh, carry, hop, out_shift, out, ops):
    """Transposed conv + overlap-add for one channel: e (N, J) int16, wt (W, N) int8/int16, mq/sh (W,)
    reduced multipliers and shifts; carry (W,) int32 acc_frac, updated; out (J * hop,) int16 q15."""
    n_n, j_n = e.shape
    w_n = wt.shape[0]
    for j in range(j_n):
        for i in range(w_n):
            acc = np.int64(0)
            for n in range(n_n):
                acc += np.int64(wt[i, n]) * np.int64(e[n, j])
            carry[i] = sat32(np.int64(carry[i]) + requantize_s64(acc, mq[i], sh[i]))
        for i in range(hop):
            out[j * hop + i] = sat16(rshift_round(np.int64(carry[i]), out_shift))
        for i in range(w_n - hop):
            carry[i] = carry[i + hop]
        for i in range(w_n - hop, w_n):
            carry[i] = 0
    ops[MAC8 if wt.itemsize == 1 else MAC16] += j_n * w_n * n_n
    ops[MUL] += j_n * w_n
    ops[ADD] += j_n * (w_n * 4 + hop * 2)  # requantise (shift, round x2), OLA add; output round + shift
    ops[CMP] += j_n * (w_n * 2 + hop * 2)  # saturations
    ops[MOVE] += j_n * w_n  # carry shift and clear


class FixedConvDecoder:
    """ConvTranspose1d(N, 1, W, stride S) + overlap-add: `process(e)` with e int16 (channels, N, k) in
    `in_frac` returns q15 audio int16 (channels, k*S)."""

    def __init__(self, dec: np.ndarray, hop: int, in_frac: int, channels: int = 1, weight_bits: int = 16):
        dec = np.asarray(dec, dtype=np.float64)
        if dec.ndim != 2 or not 1 <= hop <= dec.shape[1]:
            raise InvalidInput(
                f"decoder weights must be (N, W) with 1 <= hop <= W, got {dec.shape}, hop {hop}"
            )
        if weight_bits not in (8, 16):
            raise InvalidInput(f"weight_bits ({weight_bits}) must be 8 or 16")
        self.N, self.W = dec.shape
        self.S, self.channels, self.weight_bits, self.in_frac = (
            int(hop),
            int(channels),
            weight_bits,
            int(in_frac),
        )
        self.w, scale = _quant_rows(dec.T, weight_bits)  # (W, N): one scale per output position
        # worst case of one position's sum over overlapping frames, for any int16 input
        per_frame = (
            (np.abs(self.w.astype(np.float64)) * scale[:, None]).sum(axis=1).max()
            * 32768
            * 2.0**-self.in_frac
        )
        bound = per_frame * math.ceil(self.W / self.S)
        self.acc_frac = int(min(30, math.floor(math.log2((2**31 - 1) / bound)))) if bound > 0 else 30
        if self.acc_frac < 15:
            raise InvalidInput(
                f"conv decoder: worst-case output {bound:.3g} leaves fewer than 15 fraction bits"
            )
        self.mult, self.shift = _multipliers(scale * 2.0 ** (self.acc_frac - self.in_frac), "conv decoder")
        self.mq = _reduce(self.mult)
        self.sh = self.shift.astype(np.int64)
        self.ops = new_ops()
        self.reset()

    @property
    def latency_samples(self) -> int:
        return self.W - self.S

    def reset(self) -> None:
        self.carry = np.zeros((self.channels, self.W), np.int32)

    def process(self, e: np.ndarray) -> np.ndarray:
        e = np.asarray(e)
        if e.dtype != np.int16 or e.ndim != 3 or e.shape[:2] != (self.channels, self.N):
            raise InvalidInput(
                f"conv decoder input must be int16 ({self.channels}, {self.N}, frames), got {e.dtype} {e.shape}"
            )
        k = e.shape[2]
        out = np.empty((self.channels, k * self.S), np.int16)
        for c in range(self.channels):
            decode_ola(
                np.ascontiguousarray(e[c]),
                self.w,
                self.mq,
                self.sh,
                self.carry[c],
                self.S,
                self.acc_frac - 15,
                out[c],
                self.ops,
            )
        return out

    def ops_per_frame(self) -> Counter:
        w, s = self.W, self.S
        mac = "mac8" if self.weight_bits == 8 else "mac16"
        return Counter({mac: w * self.N, "mul": w, "add": 4 * w + 2 * s, "cmp": 2 * w + 2 * s, "move": w})

    def memory(self) -> dict[str, int]:
        return {
            "state": 4 * self.W * self.channels,
            "scratch": 8,
            "rom": self.w.size * self.weight_bits // 8 + self.W * (4 + 4),
        }
