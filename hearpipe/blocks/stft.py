"""STFT analysis and inverse STFT with weighted overlap-add (WOLA).

Frame j of a stream covers the input samples [(j+1)*hop - window_length, (j+1)*hop) (zeros before the
start), multiplied by the analysis window and placed in an `n_fft` buffer at offset
(n_fft - window_length) // 2 (zero padding split around it, as openMHA does). The inverse transforms,
applies the synthesis window (the dual of the analysis window over the `window_length` part, so an
unmodified STFT reconstructs exactly) and overlap-adds; each frame completes `hop` output samples.
Delay of the pair: (n_fft + window_length) / 2 - hop samples (openMHA's formula), reported by `istft`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.dsp.windows import WindowName, analysis_window, dual_window
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register


class StftParams(BlockParams):
    window: WindowName = Field("sqrt_hann", description="analysis window (periodic)")
    window_length: int = Field(128, ge=2, le=65536, description="window length in samples")
    hop: int = Field(64, ge=1, description="frame advance in samples")
    n_fft: int | None = Field(
        None, description="FFT length in samples (>= window_length); default window_length"
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
    """Operations of a real FFT of n_fft points computed as an n_fft/2 complex FFT plus a split stage.

    Counted as radix-2 butterflies: (n/4) * log2(n/2) for the complex part and n/4 for the split.
    Non-power-of-two lengths are priced as the next power of two.
    """
    n = 1 << max(2, int(np.ceil(np.log2(n_fft))))
    return add_ops(Counter(), butterfly=(n // 4) * int(np.log2(n // 2)) + n // 4)


def word_bytes(ctx: Context) -> int:
    """Bytes of one stored data word on the target (float32 on float devices and when no device)."""
    if ctx.device is None or not ctx.device.fixed:
        return 4
    return 2 if ctx.device.word_bits <= 16 else 4


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
        return SignalFormat(
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

    def reset(self) -> None:
        p = self.params
        self.history = np.zeros((self.channels, p.window_length - p.hop))

    def process(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        s = np.concatenate([self.history, x], axis=1)
        self.history = s[:, s.shape[1] - (p.window_length - p.hop) :].copy()
        buf = np.zeros((s.shape[0], x.shape[1] // p.hop, p.fft_length))
        frame_signal(s, self.window, p.hop, p.pad_before, buf)
        return np.fft.rfft(buf, axis=-1).transpose(0, 2, 1)  # (channels, bins, frames)

    def cost(self) -> Cost:
        p, c, wb = self.params, self.channels, word_bytes(self.ctx)
        ops = add_ops(Counter(), mul=p.window_length * c, move=(p.window_length - p.hop) * c)
        for k, v in rfft_ops(p.fft_length).items():
            ops[k] += v * c
        return Cost(
            ops=ops,
            frame_rate_hz=self.ctx.sample_rate_hz / p.hop,
            ram_persistent=(p.window_length - p.hop) * c * wb,
            ram_scratch=(p.fft_length + 2) * wb,
            rom=(p.window_length + p.fft_length) * wb,  # window + twiddle table
        )


@njit(cache=True)
def frame_signal(s, window, hop, offset, buf):
    """Cut windowed frames: buf[c, j, offset + i] = s[c, j*hop + i] * window[i] (buf zero elsewhere)."""
    n_ch, n_frames, _ = buf.shape
    length = window.shape[0]
    for c in range(n_ch):
        for j in range(n_frames):
            for i in range(length):
                buf[c, j, offset + i] = s[c, j * hop + i] * window[i]


@njit(cache=True)
def overlap_add(frames, carry, hop, out):
    """Add frames (C, k, F) into the running sum `carry` (C, F); emit `hop` finished samples per frame.

    Each output sample is summed oldest frame first, whatever the batch size: bit-identical streaming.
    """
    n_ch, n_frames, n = frames.shape
    for c in range(n_ch):
        for j in range(n_frames):
            for i in range(n):
                carry[c, i] += frames[c, j, i]
            for i in range(hop):
                out[c, j * hop + i] = carry[c, i]
            for i in range(n - hop):
                carry[c, i] = carry[c, i + hop]
            for i in range(n - hop, n):
                carry[c, i] = 0.0


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
        self.ctx = ctx
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
        return SignalFormat("time", fmt.channels, fmt.sample_rate_hz, 1)

    @property
    def latency_samples(self) -> int:
        return self.pad_before + self.length - self.hop

    def reset(self) -> None:
        self.carry = np.zeros((self.channels, self.n_fft))

    def process(self, X: np.ndarray) -> np.ndarray:
        frames = np.fft.irfft(X.transpose(0, 2, 1), n=self.n_fft, axis=-1) * self.synthesis
        out = np.empty((self.channels, frames.shape[1] * self.hop))
        overlap_add(np.ascontiguousarray(frames), self.carry, self.hop, out)
        return out

    def cost(self) -> Cost:
        c, wb = self.channels, word_bytes(self.ctx)
        ops = add_ops(Counter(), mul=self.length * c, add=self.n_fft * c, move=(self.n_fft - self.hop) * c)
        for k, v in rfft_ops(self.n_fft).items():
            ops[k] += v * c
        return Cost(
            ops=ops,
            frame_rate_hz=self.ctx.sample_rate_hz / self.hop,
            ram_persistent=self.n_fft * c * wb,
            ram_scratch=(self.n_fft + 2) * wb,
            rom=(self.length + self.n_fft) * wb,
        )
