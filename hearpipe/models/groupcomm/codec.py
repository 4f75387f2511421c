"""Learned conv encoder / decoder (TasNet family) of the GroupComm model in bit-true fixed point, streaming.

Float twins: `hearpipe.models.groupcomm.frontend` (`encode_frames`, `decode_frames`, the blocks' kernels,
and the whole-signal `conv_encode` / `conv_decode`); same framing: frame j of the encoder covers
input samples [(j+1)S - W, (j+1)S) (zeros before the stream start); the decoder completes S output
samples per frame, so the pair delays by W - S samples.

Formats:
| stage | format |
| --- | --- |
| audio in | int16 q15 (Q1.15) |
| encoder weights | int8 (default) or int16, one scale per filter (row n); per frame `dense_s16` arithmetic, bias 0 |
| encoder output e (N, frames) | int16 with `out_frac` fraction bits; default from the worst case max_n sum_i abs(w[n, i]): no q15 input can saturate it (shipped conv model: Q8.8) |
| decoder weights | int8 (default) or int16, stored (W, N): one scale per output position i |
| decoder frame y_i = sum_n dec[n, i] e[n] | exact integer sum, requantised per position (`arm_nn_requantize_s64`) to int32 with `acc_frac` bits |
| overlap-add carry (W,) | int32 with `acc_frac` bits, chosen from the worst case so the saturating adds never saturate |
| audio out | int16 q15 = sat16(round(carry / 2**(acc_frac - 15))) |

`FixedConvChain` runs encoder, GroupComm mask estimator and decoder in one numba call (the same
integers as the three stages in sequence): a hearing aid's per-hop loop, where three calls per hop would
cost more in call overhead than the codec's work.

All run in `groupcomm_kernels` (`encode_stream`, `decode_ola`) with the GroupComm dense kernel,
int32 accumulators when `acc32_is_safe` (int8 weights, W or N <= 511), else int64 - exact either way.
Operation counts per frame: `ops_per_frame()` (the encoder's equals the library `dense_s16` count plus
the delay-line moves; tests check the counters); memory: `memory()` in bytes.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.fixed import count
from hearpipe.fixed.count import to_array
from hearpipe.fixed.ops import new_ops
from hearpipe.fixed.qformat import quantize_rows
from hearpipe.models.groupcomm.fixed_model import dense_layout, reduced, s64_multipliers
from hearpipe.models.groupcomm.fixed_stream import FixedGroupCommState, power_format
from hearpipe.models.groupcomm.groupcomm_kernels import decode_ola, encode_stream, run_conv_chain


def encoder_out_frac(enc: np.ndarray, weight_bits: int = 8) -> int:
    """The default encoder output format (fraction bits) for these weights: what `FixedConvEncoder`
    chooses and what the groupcomm and decoder blocks must be told (`frac_bits`, `in_frac`)."""
    return FixedConvEncoder(enc, 1, weight_bits=weight_bits).out_frac


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
        self.w, scale = quantize_rows(enc, weight_bits)
        if out_frac is None:  # worst case over all q15 inputs (quantised weights, so exact)
            bound = float((np.abs(self.w.astype(np.float64)) * scale[:, None]).sum(axis=1).max())
            out_frac = int(min(15, max(0, math.floor(math.log2(32767 / bound))))) if bound > 0 else 15
        self.out_frac = int(out_frac)
        self.mult, self.shift = s64_multipliers("conv encoder", scale * 2.0 ** (self.out_frac - 15))
        self.bias = np.zeros(self.N, np.int64)
        # kernel layout (groupcomm_kernels._dense): transposed weights, reduced multipliers
        self._lay, self._wt = dense_layout([self.w])
        self._mq, self._sh = reduced(self.mult), self.shift.astype(np.int64)
        self._acc = (np.zeros((1, self.N), np.int64), np.zeros((1, self.N), np.int32))
        self._frame = np.zeros((1, self.W), np.int16)
        self._ops_frame = to_array(self.ops_per_frame())
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
            encode_stream(
                np.ascontiguousarray(x[c]), self.history[c], self._wt, self._lay, self.bias, self._mq, self._sh,
                self._acc, self._frame, self.S, out[c], self.ops, self._ops_frame,
            )  # fmt: skip
        return out

    def ops_per_frame(self) -> Counter:
        return count.dense(self.N, self.W, 1, self.weight_bits) + Counter(move=self.W - self.S)

    def kernel_calls(self) -> list[count.KernelCall]:
        """The dense layer (N outputs of a W-sample frame) behind most of `ops_per_frame`."""
        return [count.dense_call(self.N, self.W, 1, self.weight_bits)]

    def memory(self) -> dict[str, int]:
        """Bytes: state (delay line), scratch (one frame in, one out), rom (weights + requantisation)."""
        return {
            "state": 2 * (self.W - self.S) * self.channels,
            "scratch": 2 * self.W + 2 * self.N + 4 * self.N,  # frame, output, accumulators
            "rom": self.w.size * self.weight_bits // 8 + self.N * (8 + 4 + 4),
        }


class FixedConvDecoder:
    """ConvTranspose1d(N, 1, W, stride S) + overlap-add: `process(e)` with e int16 (channels, N, k) in
    `in_frac` returns q15 audio int16 (channels, k*S)."""

    def __init__(self, dec: np.ndarray, hop: int, in_frac: int, channels: int = 1, weight_bits: int = 8):
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
        self.w, scale = quantize_rows(dec.T, weight_bits)  # (W, N): one scale per output position
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
        self.mult, self.shift = s64_multipliers("conv decoder", scale * 2.0 ** (self.acc_frac - self.in_frac))
        self._mq, self._sh = reduced(self.mult), self.shift.astype(np.int64)
        self._lay, self._wt = dense_layout([self.w])
        self._acc = (np.zeros((1, self.W), np.int64), np.zeros((1, self.W), np.int32))
        self._bias = np.zeros(self.W, np.int64)
        self._ops_frame = to_array(self.ops_per_frame())
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
                np.ascontiguousarray(e[c]), self._wt, self._lay, self._mq, self._sh, self._acc, self._bias,
                self.carry[c], self.S, self.acc_frac - 15, out[c], self.ops, self._ops_frame,
            )  # fmt: skip
        return out

    def ops_per_frame(self) -> Counter:
        w, s = self.W, self.S
        # requantised positions (count.dense), saturating carry adds, rounded q15 outputs, carry shift
        return count.dense(w, self.N, 1, self.weight_bits) + Counter(add=w + 2 * s, cmp=2 * w + 2 * s, move=w)

    def kernel_calls(self) -> list[count.KernelCall]:
        """The dense layer (W positions from N channels) behind most of `ops_per_frame`."""
        return [count.dense_call(self.W, self.N, 1, self.weight_bits)]

    def memory(self) -> dict[str, int]:
        return {
            "state": 4 * self.W * self.channels,
            "scratch": 2 * self.N + 4 * self.W + 4 * self.W,  # input, positions, accumulators
            "rom": self.w.size * self.weight_bits // 8 + self.W * (4 + 4),
        }


class FixedConvChain:
    """`FixedConvEncoder` -> `FixedGroupCommState` (conv front end) -> `FixedConvDecoder` as one stage:
    `process(x)` with x int16 (channels, k*S) q15 audio returns int16 (channels, k*S) q15, bit-identical
    to the three `process` calls in sequence, for any k (1 = hop by hop). The chain carries the three
    stages' state; reset it with `reset()` (not the stages'). `ops` counts all three stages."""

    def __init__(self, enc: FixedConvEncoder, net: FixedGroupCommState, dec: FixedConvDecoder):
        hp = net.model.hp
        if hp.frontend != "conv" or net.engine != "fused":
            raise InvalidInput("FixedConvChain needs a conv-front-end model on the fused engine")
        if not enc.N == dec.N == hp.enc_channels or enc.S != hp.hop or dec.S != hp.hop:
            raise InvalidInput(
                f"encoder ({enc.N} channels, hop {enc.S}), model ({hp.enc_channels}, hop {hp.hop}) and decoder "
                f"({dec.N}, hop {dec.S}) do not fit together"
            )
        if dec.in_frac != enc.out_frac or not enc.channels == net.channels == dec.channels:
            raise InvalidInput(
                f"decoder input format Q.{dec.in_frac} and channels must match the encoder's "
                f"(Q.{enc.out_frac}, {enc.channels} channels; model {net.channels}, decoder {dec.channels})"
            )
        self.enc, self.net, self.dec = enc, net, dec
        self.channels, self.S = enc.channels, enc.S
        self.ops = new_ops()
        self._ops_frame = enc._ops_frame + net.model.ops_frame_arr + dec._ops_frame
        self._masks = np.zeros((hp.n_outputs, hp.features), np.int16)
        self.reset()

    @property
    def latency_samples(self) -> int:
        return self.dec.latency_samples

    def reset(self) -> None:
        enc, net, dec = self.enc, self.net, self.dec
        enc.reset(), net.reset(), dec.reset()
        p_frac, p_shift, eps = power_format(net.model.hp.log_eps, enc.out_frac)
        self._args = [  # per channel, built once: a hop-by-hop call should cost little besides its work
            ((enc.history[c], enc._wt, enc._lay, enc.bias, enc._mq, enc._sh, enc._acc, enc._frame,
              p_shift, eps, p_frac) + net._args[c]
             + (self._masks, dec._wt, dec._lay, dec._mq, dec._sh, dec._acc, dec._bias, dec.carry[c],
                dec.acc_frac - 15))
            for c in range(self.channels)
        ]  # fmt: skip

    def process(self, x: np.ndarray) -> np.ndarray:
        if not (isinstance(x, np.ndarray) and x.dtype == np.int16 and x.ndim == 2) or (
            x.shape[0] != self.channels or x.shape[1] % self.S
        ):
            raise InvalidInput(
                f"conv chain input must be int16 ({self.channels}, k*{self.S}) q15 audio, got "
                f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}"
            )
        out = np.empty(x.shape, np.int16)
        for c in range(self.channels):
            run_conv_chain(x[c], *self._args[c], out[c], self.ops, self._ops_frame)
        return out
