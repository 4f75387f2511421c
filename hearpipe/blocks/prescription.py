"""Prescription blocks: the insertion gain of a fitting rule (NAL-R, NAL-RP, half-gain) or explicit gain
points, applied per STFT bin (`prescription`) or as a linear-phase FIR (`prescription_fir`).

Numerics live in `hearpipe.dsp.prescription`; the FIR kernels in `hearpipe.dsp.fir` (float) and
`hearpipe.fixed.conv` (q15). `FittingParams` and `fitted_gains` also serve the WDRC's fitting.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.blocks.basic import check_gain_points, scale_ops
from hearpipe.budget.cost import Cost, KernelCall, add_ops
from hearpipe.config import validate
from hearpipe.dsp.audiogram import Audiogram, Ear, load_audiogram
from hearpipe.dsp.fir import fir_stream
from hearpipe.dsp.prescription import Rule, fir_from_gains, prescribe, stft_gain_curve
from hearpipe.errors import InvalidInput
from hearpipe.fixed.conv import fir_q15_shifted
from hearpipe.fixed.ops import new_ops
from hearpipe.fixed.qformat import float_to_fixed
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register


# -- fitting from an audiogram -------------------------------------------------------------------------
class FittingParams(BlockParams):
    audiogram: str | dict | None = Field(
        None,
        description="audiogram: a file (YAML/JSON, relative to the graph file) or the audiogram itself "
        "inline (frequencies_hz, left_db_hl and/or right_db_hl), so a graph is complete in one file",
    )
    ear: Literal["left", "right"] | None = Field(
        None,
        description="ear to fit; default: left for channel 0 and right for channel 1 of a stereo graph "
        "when both ears exist, otherwise the audiogram's first ear for every channel",
    )
    rule: Rule = Field("nal-r", description="prescription rule: nal-r, nal-rp or half-gain")


def channel_ears(audiogram: Audiogram, ear: Ear | None, channels: int) -> list[Ear]:
    if ear is not None:
        return [audiogram.pick_ear(ear)] * channels
    if channels == 2 and len(audiogram.ears) == 2:
        return ["left", "right"]
    return [audiogram.pick_ear(None)] * channels


def block_audiogram(p: FittingParams, ctx: Context) -> Audiogram:
    """The audiogram of a block's parameters: inline, or read from its file."""
    if isinstance(p.audiogram, dict):
        return validate(Audiogram, p.audiogram, "inline audiogram")
    return load_audiogram(ctx.resolve(p.audiogram))


def fitted_gains(
    p: FittingParams, ctx: Context, channels: int, block: Block
) -> list[tuple[Ear, np.ndarray, np.ndarray]]:
    """(ear, frequencies_hz, gain_db) of the rule for each channel; audiogram problems name the block."""
    try:
        ag = block_audiogram(p, ctx)
        return [(e, *prescribe(ag, p.rule, e)) for e in channel_ears(ag, p.ear, channels)]
    except InvalidInput as e:
        raise block.fail(f"audiogram: {e}") from None


# -- prescription on STFT frames --------------------------------------------------------------------------
class PrescriptionParams(FittingParams):
    frequencies_hz: list[float] | None = Field(
        None, description="explicit gain points (instead of an audiogram)"
    )
    gains_db: list[float] | None = Field(None, description="insertion gain in dB at frequencies_hz")

    @model_validator(mode="after")
    def _source(self):
        explicit = self.frequencies_hz is not None or self.gains_db is not None
        if explicit and self.audiogram is not None:
            raise ValueError("give either audiogram (+ rule) or frequencies_hz + gains_db, not both")
        if not explicit and self.audiogram is None:
            raise ValueError("needs an audiogram (+ rule) or explicit frequencies_hz + gains_db")
        if explicit:
            if self.frequencies_hz is None or self.gains_db is None:
                raise ValueError("frequencies_hz and gains_db go together")
            check_gain_points(self.frequencies_hz, self.gains_db, -60, 80)
        return self

    def gain_points(self, ctx: Context, channels: int, block: Block) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.audiogram is not None:
            return [(f, g) for _, f, g in fitted_gains(self, ctx, channels, block)]
        pts = (np.asarray(self.frequencies_hz, float), np.asarray(self.gains_db, float))
        return [pts] * channels


@register
class Prescription(Block):
    type_name = "prescription"
    Params = PrescriptionParams
    summary = "prescribed insertion gain (NAL-R, NAL-RP, half-gain or explicit) per STFT bin"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="spectrum")
        self.ctx, self.fmt = ctx, fmt
        self.points = self.params.gain_points(ctx, fmt.channels, self)
        self.factor = np.stack([stft_gain_curve(f, g, fmt.n_fft, fmt.sample_rate_hz) for f, g in self.points])
        self.factor3 = self.factor[:, :, None]
        self.fixed = fmt.numeric != "float"
        if self.fixed:
            bits = self.fixed_spectrum_bits(fmt)
            # gains in Q16.16 (up to +90 dB); each value: saturate(round(x g / 2**16)) at its storage width
            self.gain_q16 = np.round(self.factor * 65536.0).astype(np.int64)[:, :, None, None]
            self.bounds = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        return fmt

    def process(self, X: np.ndarray) -> np.ndarray:
        if self.fixed:
            y = (X.astype(np.int64) * self.gain_q16 + (1 << 15)) >> 16
            return np.clip(y, *self.bounds).astype(X.dtype)
        return X * self.factor3

    def cost(self) -> Cost:
        f = self.fmt
        return Cost(
            ops=scale_ops(f),  # a multiply per value; fixed: rounding add + shift, two saturation bounds
            frame_rate_hz=f.frame_rate_hz,
            rom=f.channels * f.features * (4 if self.fixed else self.ctx.word_bytes),
        )


# -- prescription as a linear-phase FIR -------------------------------------------------------------------
class PrescriptionFirParams(PrescriptionParams):
    order: int = Field(64, ge=2, le=4096, description="FIR order (even); delay = order / 2 samples")

    @model_validator(mode="after")
    def _even(self):
        if self.order % 2:
            raise ValueError(f"order must be even (a linear-phase type I FIR), got {self.order}")
        return self


@register
class PrescriptionFir(Block):
    type_name = "prescription_fir"
    Params = PrescriptionFirParams
    summary = "prescribed insertion gain as a linear-phase FIR in the time domain (delay order/2)"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="time")
        self.ctx, self.fmt = ctx, fmt
        self.points = self.params.gain_points(ctx, fmt.channels, self)
        self.taps = np.stack(
            [fir_from_gains(f, g, self.params.order, fmt.sample_rate_hz) for f, g in self.points]
        )
        self.fixed = fmt.numeric != "float"
        if self.fixed:
            self.expect_q15_audio(fmt)
            # taps scaled by 2**-shift so they fit q15 (gains > 1); the accumulator is shifted back
            peak = float(np.max(np.abs(self.taps)))
            self.shift = max(0, int(np.ceil(np.log2(peak / (1 - 2.0**-15))))) if peak > 0 else 0
            if self.shift > 15:  # the kernel shifts the accumulator right by 15 - shift
                raise self.fail(f"FIR taps up to {peak:g} exceed the q15 FIR's range (at most 2**15)")
            self.taps_q15 = float_to_fixed(self.taps * 2.0**-self.shift, 15, 16, rounding="nearest")
            self.ops = new_ops()
        return fmt

    @property
    def latency_samples(self) -> int:
        return self.params.order // 2

    def reset(self) -> None:
        dtype = np.int16 if self.fixed else np.float64
        self.history = np.zeros((self.fmt.channels, self.params.order), dtype=dtype)

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.fixed:
            return self._process_q15(x)
        out = np.empty_like(x, dtype=np.float64)
        fir_stream(np.ascontiguousarray(x, dtype=np.float64), self.taps, self.history, out)
        return out

    def _process_q15(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.int16)
        y = np.empty_like(x)
        fir_q15_shifted(x, self.taps_q15, self.history, self.shift, y, self.ops)
        return y

    def cost(self) -> Cost:
        c, n = self.fmt.channels, self.params.order + 1
        wb = self.ctx.word_bytes
        b = max(1, int(self.ctx.block_size))
        if self.fixed:  # per sample: n mac16, shift, saturate (2 bounds); the delay line moves once a block
            ops = add_ops(Counter(), mac16=n * c, add=c, cmp=2 * c, move=c * (n - 1) / b)
        else:
            ops = add_ops(Counter(), mac_f32=n * c, move=c)
        # one FIR call per channel and block of b samples: per frame (one sample) c/b calls, c outputs
        fir = KernelCall("fir_q15" if self.fixed else "fir_f32", c / b, c, n * c, ops)
        return Cost(
            ops=ops,
            kernels=[fir],
            frame_rate_hz=self.fmt.frame_rate_hz,
            ram_persistent=(n - 1) * c * wb,
            rom=n * c * wb,
        )
