"""Simple blocks: broadband gain, per-band spectral gain, delay, mix and channel split."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np
from pydantic import Field, model_validator

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.dsp.spectral import bin_frequencies_hz, db_to_amplitude, interpolate_gain_db
from hearpipe.errors import FormatMismatch
from hearpipe.fixed.ops import gain_to_fixed, scale_fixed
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register


def check_gain_points(
    frequencies_hz: list[float], gains_db: list[float], min_db: float, max_db: float
) -> None:
    """Refuse gain points that make no curve (ValueError, for parameter validators): lengths that differ
    or are zero, frequencies (Hz) not strictly increasing, gains outside min_db..max_db (dB)."""
    if len(frequencies_hz) != len(gains_db) or not gains_db:
        raise ValueError(
            f"frequencies_hz ({len(frequencies_hz)} values) and gains_db ({len(gains_db)} values) "
            "must be non-empty and of the same length"
        )
    if any(b <= a for a, b in pairwise(frequencies_hz)):
        raise ValueError("frequencies_hz must be strictly increasing")
    if any(not min_db <= g <= max_db for g in gains_db):
        raise ValueError(f"gains_db must lie within {min_db:g}..{max_db:g} dB")


def _values_per_frame(fmt: SignalFormat) -> int:
    """Real multiplies needed to scale one frame: complex bins count twice."""
    return fmt.channels * fmt.features * (2 if fmt.complex else 1)


def scale_ops(fmt: SignalFormat, inputs: int = 1) -> Counter:
    """Scaling every value of a frame: a multiply per value and input; in fixed point also the rounding
    shift and the saturation."""
    n = _values_per_frame(fmt)
    if fmt.numeric == "float":
        return add_ops(Counter(), mul=n * inputs, add=n * (inputs - 1))
    return add_ops(Counter(), mul=n * inputs, add=n * (inputs - 1) + 2 * n, cmp=2 * n)


class _Scaler:
    """A linear gain (scalar or per bin) applied in float or in fixed point, as the edge format says."""

    def __init__(self, gain, fmt: SignalFormat, shape: tuple[int, ...]):
        self.fixed = fmt.numeric != "float"
        g = np.asarray(gain, dtype=np.float64)
        if self.fixed:
            q, self.frac = gain_to_fixed(g)
            self.gain = q.reshape(shape) if q.ndim else q
        else:
            self.gain = g.reshape(shape) if g.ndim else float(g)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return scale_fixed(x, self.gain, self.frac) if self.fixed else x * self.gain


def _bin_shape(fmt: SignalFormat) -> tuple[int, ...]:
    """Broadcast shape of a per-bin vector against (channels, bins, frames[, 2])."""
    return (1, fmt.features, 1, 1) if fmt.numeric != "float" and fmt.complex else (1, fmt.features, 1)


class GainParams(BlockParams):
    gain_db: float = Field(0.0, ge=-120, le=60, description="broadband gain in dB")


@register
class Gain(Block):
    type_name = "gain"
    Params = GainParams
    summary = "broadband gain in dB, in the time or spectral domain"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.ctx, self.fmt = ctx, fmt
        self.scale = _Scaler(db_to_amplitude(self.params.gain_db), fmt, ())
        return fmt

    def process(self, x: np.ndarray) -> np.ndarray:
        return self.scale(x)

    def cost(self) -> Cost:
        return Cost(ops=scale_ops(self.fmt), frame_rate_hz=self.fmt.frame_rate_hz, rom=self.ctx.word_bytes)


class BandGainParams(BlockParams):
    frequencies_hz: list[float] = Field(min_length=1, description="frequencies of the gain points in Hz")
    gains_db: list[float] = Field(min_length=1, description="gain at each frequency in dB")

    @model_validator(mode="after")
    def _shape(self):
        check_gain_points(self.frequencies_hz, self.gains_db, -120, 60)
        return self


@register
class BandGain(Block):
    type_name = "band_gain"
    Params = BandGainParams
    summary = "per-bin gain on STFT frames, interpolated in dB from gain points (edges held)"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="spectrum")
        self.ctx, self.fmt = ctx, fmt
        freqs = bin_frequencies_hz(fmt.n_fft, fmt.sample_rate_hz)
        self.gain_db = interpolate_gain_db(self.params.frequencies_hz, self.params.gains_db, freqs)
        self.scale = _Scaler(db_to_amplitude(self.gain_db), fmt, _bin_shape(fmt))
        return fmt

    def process(self, X: np.ndarray) -> np.ndarray:
        return self.scale(X)

    def cost(self) -> Cost:
        return Cost(
            ops=scale_ops(self.fmt),
            frame_rate_hz=self.fmt.frame_rate_hz,
            rom=self.fmt.features * self.ctx.word_bytes,
        )


class DelayParams(BlockParams):
    samples: int = Field(ge=0, le=1 << 20, description="delay in samples (0..1048576, time domain)")


@register
class Delay(Block):
    type_name = "delay"
    Params = DelayParams
    summary = "pure delay in samples, e.g. to align a dry path with a processed one before a mix"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="time")
        self.ctx, self.fmt = ctx, fmt
        return fmt

    @property
    def latency_samples(self) -> int:
        return self.params.samples

    def reset(self) -> None:
        self.line = np.zeros((self.fmt.channels, self.params.samples))

    def process(self, x: np.ndarray) -> np.ndarray:
        s = np.concatenate([self.line.astype(x.dtype), x], axis=1)
        self.line = s[:, x.shape[1] :].copy()
        return s[:, : x.shape[1]]

    def cost(self) -> Cost:
        c = self.fmt.channels
        return Cost(
            ops=add_ops(Counter(), move=2 * c),
            frame_rate_hz=self.fmt.frame_rate_hz,
            ram_persistent=self.params.samples * c * self.ctx.word_bytes,
        )


MAX_MIX_WEIGHT = 1000.0  # +60 dB, the largest gain `gain` accepts


class MixParams(BlockParams):
    weights: list[float] | None = Field(
        None, description=f"linear weight of each input (|w| <= {MAX_MIX_WEIGHT:g}); default all 1"
    )

    @model_validator(mode="after")
    def _range(self):
        for i, w in enumerate(self.weights or ()):
            if abs(w) > MAX_MIX_WEIGHT:
                raise ValueError(
                    f"weights[{i}] = {w:g} must lie within -{MAX_MIX_WEIGHT:g}..{MAX_MIX_WEIGHT:g}"
                )
        return self


@register
class Mix(Block):
    type_name = "mix"
    Params = MixParams
    n_inputs = None
    summary = "weighted sum of several inputs of the same format (their delays must match)"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        first = inputs[0]
        for i, f in enumerate(inputs[1:], start=1):
            if f != first:
                raise FormatMismatch(
                    f"{self.label()}: input {i} is {f.describe()} but input 0 is {first.describe()}"
                )
        w = [1.0] * len(inputs) if self.params.weights is None else self.params.weights
        if len(w) != len(inputs):
            raise self.fail(f"weights has {len(w)} values for {len(inputs)} inputs")
        self.ctx, self.fmt, self.weights = ctx, first, [float(v) for v in w]
        self.fixed = first.numeric != "float"
        if self.fixed:
            self.weights_q, self.frac = gain_to_fixed(self.weights)
        return first

    def process(self, *xs: np.ndarray) -> np.ndarray:
        if self.fixed:  # accumulate in 64 bits, one rounding and saturation at the end
            acc = xs[0].astype(np.int64) * self.weights_q[0]
            for w, x in zip(self.weights_q[1:], xs[1:]):
                acc += x.astype(np.int64) * w
            info = np.iinfo(xs[0].dtype)
            return np.clip((acc + (1 << (self.frac - 1))) >> self.frac, info.min, info.max).astype(
                xs[0].dtype
            )
        y = xs[0] * self.weights[0]
        for w, x in zip(self.weights[1:], xs[1:]):
            y = y + w * x
        return y

    def cost(self) -> Cost:
        return Cost(
            ops=scale_ops(self.fmt, len(self.weights)),
            frame_rate_hz=self.fmt.frame_rate_hz,
            rom=len(self.weights) * self.ctx.word_bytes,
        )


class SplitParams(BlockParams):
    channels: list[int] = Field(min_length=1, description="indices of the input channels to keep, in order")


@register
class Split(Block):
    type_name = "split"
    Params = SplitParams
    summary = "select channels (e.g. one ear of a stereo input); fan-out to several nodes needs no block"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        bad = [c for c in self.params.channels if not 0 <= c < fmt.channels]
        if bad:
            raise self.fail(f"channels {bad} do not exist (input has {fmt.channels} channel(s))")
        self.ctx, self.fmt = ctx, fmt
        self.index = np.array(self.params.channels)
        return fmt.with_(channels=len(self.index))

    def process(self, x: np.ndarray) -> np.ndarray:
        return x[self.index]

    def cost(self) -> Cost:
        return Cost(frame_rate_hz=self.fmt.frame_rate_hz)
