"""STFT analysis and inverse STFT with weighted overlap-add (WOLA).

Frame j of a stream covers the input samples [(j+1)*hop - window_length, (j+1)*hop) (zeros before the
start), multiplied by the analysis window and placed in an `n_fft` buffer at offset
(n_fft - window_length) // 2 (zero padding split around it, as openMHA does). The inverse transforms,
applies the synthesis window (the dual of the analysis window over the `window_length` part, so an
unmodified STFT reconstructs exactly) and overlap-adds; each frame completes `hop` output samples.
Delay of the pair: (n_fft + window_length) / 2 - hop samples (openMHA's formula), reported by `istft`.

Fixed point (device arithmetic `fixed`): q15 audio in, window in Q15, so a windowed frame is Q30 in int32
(|x w| < 2**30, the headroom the q31 FFT needs); the q31 real FFT halves at each of its log2(N) stages,
so the spectrum is the true DFT in Q(30 - log2 N) int32 (N = 128: Q23), laid out (channels, bins,
frames, 2) as [re, im]. The inverse keeps that format; the synthesis window (Q15, or fewer fraction
bits where the dual window exceeds 1) is applied with a rounding shift, frames are overlap-added in
64-bit and the sum is rounded and saturated back to q15. `fixed_fft: q15` instead reproduces CMSIS
`arm_rfft_q15`: the frame is rounded to q15 first and the spectrum is int16 in Q(15 - log2 N).
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.budget.cost import Cost, add_ops, repeat_ops
from hearpipe.dsp.windows import WindowName, analysis_window, dual_window, window_q15
from hearpipe.dsp.wola import frame_signal, overlap_add, to_q15, window_round
from hearpipe.fixed import count
from hearpipe.fixed.fft import FixedRfft, irfft_fixed, rfft_fixed
from hearpipe.fixed.ops import new_ops
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register

MAX_FFT = 65536  # samples: 4 s at 16 kHz, far beyond any hearing-aid frame; bounds the FFT tables


class StftParams(BlockParams):
    window: WindowName = Field("sqrt_hann", description="analysis window (periodic)")
    window_length: int = Field(128, ge=2, le=MAX_FFT, description=f"window length in samples (2..{MAX_FFT})")
    hop: int = Field(64, ge=1, le=65536, description="frame advance in samples (1..65536, <= window_length)")
    n_fft: int | None = Field(
        None,
        ge=2,
        le=MAX_FFT,
        description=f"FFT length in samples (window_length..{MAX_FFT}); default window_length",
    )
    fixed_fft: Literal["q31", "q15"] = Field(
        "q31", description="fixed-point devices: 32-bit FFT (> 90 dB SNR) or CMSIS-style q15 FFT"
    )

    @model_validator(mode="after")
    def _sizes(self):
        if self.n_fft is not None and self.n_fft < self.window_length:
            raise ValueError(f"n_fft ({self.n_fft}) must be at least window_length ({self.window_length})")
        if self.hop > self.window_length:
            raise ValueError(
                f"hop ({self.hop}) must not exceed window_length ({self.window_length}): samples between "
                "frames would be lost"
            )
        return self

    @property
    def fft_length(self) -> int:
        return self.n_fft or self.window_length

    @property
    def pad_before(self) -> int:
        return (self.fft_length - self.window_length) // 2


def rfft_ops(n_fft: int) -> Counter:
    """Operations of a float real FFT of n_fft points: an n_fft/2 complex FFT plus a split stage.

    Counted as radix-2 butterflies: (n/4) * log2(n/2) for the complex part and n/4 for the split.
    Non-power-of-two lengths are priced as the next power of two.
    """
    n = 1 << max(2, int(np.ceil(np.log2(n_fft))))
    return add_ops(Counter(), butterfly=(n // 4) * int(np.log2(n // 2)) + n // 4)


def fft_call(width: str, n_fft: int, ops: Counter) -> count.KernelCall:
    """One real FFT (forward or inverse) of `ops` per frame, priced as the kernel family rfft_<width>;
    a float FFT of a length that is no power of two is priced at the next power of two, like `rfft_ops`."""
    return count.rfft_call(width, 1 << max(2, int(np.ceil(np.log2(n_fft)))), 1, ops)


def _fixed_plan(block: Block, n_fft: int, width: str) -> FixedRfft:
    if n_fft < 4 or n_fft & (n_fft - 1):
        raise block.fail(f"the fixed-point FFT needs a power-of-two length >= 4, n_fft is {n_fft}")
    return FixedRfft(n_fft, width)


@register
class Stft(Block):
    type_name = "stft"
    Params = StftParams
    summary = "STFT analysis: time -> complex spectrum frames (windowed, zero-padded rfft)"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="time")
        p = self.params
        self.ctx = ctx
        self.window = analysis_window(p.window, p.window_length)
        _, worst = dual_window(self.window, p.hop)
        if worst < 1e-6:
            raise self.fail(
                f"window '{p.window}' of length {p.window_length} with hop {p.hop} cannot reconstruct: the "
                "overlap-added squared window vanishes somewhere (use a smaller hop or another window)"
            )
        self.channels = fmt.channels
        out = SignalFormat(
            "spectrum",
            fmt.channels,
            fmt.sample_rate_hz,
            p.hop,
            features=p.fft_length // 2 + 1,
            frame=p.window_length,
            n_fft=p.fft_length,
            complex=True,
            window=p.window,
        )
        self.fixed = fmt.numeric != "float"
        self.out_fmt = out
        if not self.fixed:
            return out
        self.expect_q15_audio(fmt)
        self.plan = _fixed_plan(self, p.fft_length, p.fixed_fft)
        self.window_q15 = window_q15(self.window)
        frame_frac = 30 if p.fixed_fft == "q31" else 15
        self.ops = new_ops()
        self.frame_ops_array = count.to_array(self._frame_ops())  # counted per frame in process
        self.out_fmt = out.with_(
            numeric="int32" if p.fixed_fft == "q31" else "int16", frac_bits=self.plan.forward_frac(frame_frac)
        )
        return self.out_fmt

    def reset(self) -> None:
        p = self.params
        dtype = np.int16 if self.fixed else np.float64
        self.history = np.zeros((self.channels, p.window_length - p.hop), dtype)

    def process(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        s = np.concatenate([self.history, x], axis=1)
        self.history = s[:, s.shape[1] - (p.window_length - p.hop) :].copy()
        k = x.shape[1] // p.hop
        if not self.fixed:
            buf = np.zeros((self.channels, k, p.fft_length))
            frame_signal(s, self.window, p.hop, p.pad_before, buf)
            return np.fft.rfft(buf, axis=-1).transpose(0, 2, 1)  # (channels, bins, frames)
        buf = np.zeros((self.channels * k, p.fft_length), np.int32)
        frames = buf.reshape(self.channels, k, p.fft_length)
        if p.fixed_fft == "q31":
            frame_signal(s, self.window_q15, p.hop, p.pad_before, frames)  # Q30, exact
        else:
            wide = np.zeros(frames.shape, np.int64)
            frame_signal(s, self.window_q15, p.hop, p.pad_before, wide)
            buf = ((wide.reshape(buf.shape) + (1 << 14)) >> 15).astype(np.int16)  # round to q15
        spec = np.empty((buf.shape[0], p.fft_length + 2), buf.dtype)
        rfft_fixed(buf, spec, self.plan.tw, self.plan.bitrev, self.plan.tw_frac, self.ops)
        self.ops += self.frame_ops_array * (k * self.channels)
        return spec.reshape(self.channels, k, -1, 2).transpose(0, 2, 1, 3).copy()  # (ch, bins, frames, 2)

    def _frame_ops(self) -> Counter:
        """Per channel and frame, beside the FFT: windowing multiplies and the history shift (and, for
        the q15 FFT, rounding the Q30 products to q15: a rounding add and a shift each)."""
        p = self.params
        ops = add_ops(Counter(), mul=p.window_length, move=p.window_length - p.hop)
        if self.fixed and p.fixed_fft == "q15":
            add_ops(ops, add=2 * p.window_length)
        return ops

    def cost(self) -> Cost:
        p, c, wb = self.params, self.channels, self.ctx.word_bytes
        vb = self.ctx.value_bytes(self.out_fmt)  # FFT buffer and twiddles at the FFT's width
        fft = fft_call(
            p.fixed_fft if self.fixed else "f32",
            p.fft_length,
            count.rfft(p.fft_length) if self.fixed else rfft_ops(p.fft_length),
        )
        return Cost(
            ops=repeat_ops(self._frame_ops() + fft.ops, c),
            kernels=[fft.times(c)],
            frame_rate_hz=self.ctx.sample_rate_hz / p.hop,
            ram_persistent=(p.window_length - p.hop) * c * wb,
            ram_scratch=(p.fft_length + 2) * vb,
            rom=p.window_length * wb + p.fft_length * vb,  # window + twiddle table
        )


class IstftParams(BlockParams):
    window: WindowName | None = Field(
        None, description="analysis window to invert; default: the one of the feeding stft"
    )


@register
class Istft(Block):
    type_name = "istft"
    Params = IstftParams
    summary = "inverse STFT: complex spectrum frames -> time, synthesis window + overlap-add"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="spectrum")
        if not fmt.complex or fmt.n_fft <= 0:
            raise self.fail(f"needs complex STFT frames, receives {fmt.describe()}")
        self.ctx, self.in_fmt = ctx, fmt
        self.n_fft, self.hop, self.length = fmt.n_fft, fmt.hop, fmt.frame
        name = self.params.window or fmt.window or "sqrt_hann"
        w = analysis_window(name, self.length)
        dual, worst = dual_window(w, self.hop)
        if worst < 1e-6:
            raise self.fail(f"window '{name}' of length {self.length} with hop {self.hop} cannot reconstruct")
        self.pad_before = (self.n_fft - self.length) // 2
        self.synthesis = np.zeros(self.n_fft)
        self.synthesis[self.pad_before : self.pad_before + self.length] = dual
        self.channels = fmt.channels
        out = SignalFormat("time", fmt.channels, fmt.sample_rate_hz, 1)
        self.fixed = fmt.numeric != "float"
        if not self.fixed:
            return out
        bits = self.fixed_spectrum_bits(fmt)
        self.plan = _fixed_plan(self, self.n_fft, "q31" if bits == 32 else "q15")
        self.frac = fmt.frac_bits
        # synthesis window in Q15, or fewer fraction bits where the dual window exceeds 1
        self.synth_frac = 15 - max(0, int(np.ceil(np.log2(max(dual.max(), 1.0)))))
        self.synth_int = np.round(self.synthesis * (1 << self.synth_frac)).astype(np.int64)
        self.ops = new_ops()
        self.frame_ops_array = count.to_array(self._frame_ops())  # counted per frame in process
        return out.with_(numeric="q15", frac_bits=15)

    @property
    def latency_samples(self) -> int:
        return self.pad_before + self.length - self.hop

    def reset(self) -> None:
        self.carry = np.zeros((self.channels, self.n_fft), np.int64 if self.fixed else np.float64)

    def process(self, X: np.ndarray) -> np.ndarray:
        k = X.shape[2]
        if not self.fixed:
            frames = np.fft.irfft(X.transpose(0, 2, 1), n=self.n_fft, axis=-1) * self.synthesis
            out = np.empty((self.channels, k * self.hop))
            overlap_add(np.ascontiguousarray(frames), self.carry, self.hop, out)
            return out
        spec = X.transpose(0, 2, 1, 3).reshape(self.channels * k, self.n_fft + 2)
        spec = np.ascontiguousarray(spec)
        frames = np.empty((spec.shape[0], self.n_fft), spec.dtype)
        irfft_fixed(spec, frames, self.plan.tw, self.plan.bitrev, self.plan.tw_frac, self.ops)
        windowed = np.empty(frames.shape, np.int64)
        window_round(frames.astype(np.int64), self.synth_int, self.synth_frac, windowed)
        summed = np.empty((self.channels, k * self.hop), np.int64)
        overlap_add(windowed.reshape(self.channels, k, self.n_fft), self.carry, self.hop, summed)
        out = np.empty(summed.shape, np.int16)
        to_q15(summed, self.frac - 15, out)
        self.ops += self.frame_ops_array * (k * self.channels)
        return out

    def _frame_ops(self) -> Counter:
        """Per channel and frame, beside the inverse FFT: window, overlap-add, shift, rounding to q15."""
        ops = add_ops(Counter(), mul=self.length, add=self.n_fft, move=self.n_fft - self.hop)
        if self.fixed:
            add_ops(ops, add=self.length + 2 * self.hop, cmp=2 * self.hop)  # rounding shifts, saturation
        return ops

    def cost(self) -> Cost:
        c, wb = self.channels, self.ctx.word_bytes
        vb = self.ctx.value_bytes(self.in_fmt)  # overlap-add sums, FFT buffer, twiddles: the FFT's width
        width = ("q31" if self.in_fmt.numeric == "int32" else "q15") if self.fixed else "f32"
        fft = fft_call(width, self.n_fft, count.irfft(self.n_fft) if self.fixed else rfft_ops(self.n_fft))
        return Cost(
            ops=repeat_ops(self._frame_ops() + fft.ops, c),
            kernels=[fft.times(c)],
            frame_rate_hz=self.ctx.sample_rate_hz / self.hop,
            ram_persistent=self.n_fft * c * vb,
            ram_scratch=(self.n_fft + 2) * vb,
            rom=self.length * wb + self.n_fft * vb,
        )
