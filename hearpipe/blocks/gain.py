"""Hearing-aid gain blocks: prescription (STFT and FIR), multiband WDRC, openMHA-style gain table, limiter.

Levels in every parameter are dB SPL through the graph's calibration (`full_scale_db_spl`). Spectral
blocks take complex STFT frames (channels, bins, frames) as made by `stft` (unnormalised rfft of the
windowed frame) and need its analysis window to turn bin powers into levels (taken from the signal
format, as `istft` does). Numerics live in `hearpipe.dsp.prescription` and `hearpipe.dsp.wdrc`.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.blocks.basic import scale_ops
from hearpipe.blocks.stft import word_bytes
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.dsp import wdrc
from hearpipe.dsp.audiogram import Audiogram, Ear, load_audiogram
from hearpipe.dsp.prescription import Rule, fir_from_gains, prescribe, stft_gain_curve
from hearpipe.dsp.spectral import interpolate_gain_db
from hearpipe.dsp.wdrc_fixed import fixed_ops, limiter_fixed_ops, prepare_fixed, prepare_limiter_fixed
from hearpipe.dsp.windows import WindowName, analysis_window
from hearpipe.errors import InvalidInput
from hearpipe.fixed.conv import push_history
from hearpipe.fixed.ops import new_ops, sat16
from hearpipe.fixed.qformat import float_to_fixed
from hearpipe.fixed.tables import EXP2_TABLE, LOG2_TABLE
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register

PerBand = float | list[float]


# -- fitting from an audiogram ------------------------------------------------------------------------
class FittingParams(BlockParams):
    audiogram: str | None = Field(None, description="audiogram file (YAML/JSON), relative to the graph file")
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


def fitted_gains(
    p: FittingParams, ctx: Context, channels: int, block: Block
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frequencies_hz, gain_db) of the rule for each channel; audiogram problems name the block."""
    try:
        ag = load_audiogram(ctx.resolve(p.audiogram))
        return [prescribe(ag, p.rule, e) for e in channel_ears(ag, p.ear, channels)]
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
            if len(self.frequencies_hz) != len(self.gains_db) or not self.gains_db:
                raise ValueError(
                    f"frequencies_hz ({len(self.frequencies_hz)} values) and gains_db ({len(self.gains_db)} "
                    "values) must be non-empty and of the same length"
                )
            if any(b <= a for a, b in zip(self.frequencies_hz, self.frequencies_hz[1:])):
                raise ValueError("frequencies_hz must be strictly increasing")
            if any(not -60 <= g <= 80 for g in self.gains_db):
                raise ValueError("gains_db must lie within -60..80 dB")
        return self

    def gain_points(self, ctx: Context, channels: int, block: Block) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.audiogram is not None:
            return fitted_gains(self, ctx, channels, block)
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
            if fmt.numeric not in ("int16", "int32") or not fmt.complex:
                raise self.fail(
                    f"fixed-point spectra must be int16 or int32 [re, im] pairs, receives {fmt.describe()}"
                )
            # gains in Q16.16 (up to +90 dB); each value: saturate(round(x g / 2**16)) at its storage width
            self.gain_q16 = np.round(self.factor * 65536.0).astype(np.int64)[:, :, None, None]
            bits = 16 if fmt.numeric == "int16" else 32
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
            rom=f.channels * f.features * (4 if self.fixed else word_bytes(self.ctx)),
        )


# -- prescription as a linear-phase FIR -------------------------------------------------------------------
@njit(cache=True)
def fir_stream(x, taps, history, out):
    """Direct-form FIR, x (C, N), history (C, order) = the last `order` inputs, out (C, N).

    Each output is the same ordered sum whatever the chunking (bit-identical streaming).
    """
    n_ch, n = x.shape
    order = taps.shape[1] - 1
    for c in range(n_ch):
        for i in range(n):
            acc = taps[c, 0] * x[c, i]
            for k in range(1, order + 1):
                j = i - k
                v = x[c, j] if j >= 0 else history[c, order + j]
                acc += taps[c, k] * v
            out[c, i] = acc
    push_history(x, history)


@njit(cache=True)
def fir_q15_postshift(x, taps, history, post_shift, out):
    """q15 FIR with taps stored as q15 * 2**-post_shift (gains above 1), as CMSIS's biquad postShift:
    exact int64 accumulation (2.30 products), then ``sat16(acc >> (15 - post_shift))`` (truncating).

    x (C, N) int16, taps (C, order + 1) int16, history (C, order) int16 (the last inputs), out (C, N) int16.
    """
    n_ch, n = x.shape
    order = taps.shape[1] - 1
    sh = 15 - post_shift
    for c in range(n_ch):
        for i in range(n):
            acc = np.int64(0)
            for k in range(order + 1):
                j = i - k
                v = x[c, j] if j >= 0 else history[c, order + j]
                acc += np.int64(taps[c, k]) * np.int64(v)
            out[c, i] = sat16(acc >> sh)
    push_history(x, history)


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
            if fmt.numeric != "q15" or fmt.frac_bits != 15:
                raise self.fail(f"fixed-point input must be q15 audio, receives {fmt.describe()}")
            # taps scaled by 2**-shift so they fit q15 (gains > 1); the accumulator is shifted back
            peak = float(np.max(np.abs(self.taps)))
            self.shift = max(0, int(np.ceil(np.log2(peak / (1 - 2.0**-15))))) if peak > 0 else 0
            if self.shift > 15:  # the kernel shifts the accumulator right by 15 - shift
                raise self.fail(f"FIR taps up to {peak:g} exceed the q15 FIR's range (at most 2**15)")
            self.taps_q15 = float_to_fixed(self.taps * 2.0**-self.shift, 15, 16, rounding="nearest")
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
        fir_q15_postshift(x, self.taps_q15, self.history, self.shift, y)
        return y

    def cost(self) -> Cost:
        c, n = self.fmt.channels, self.params.order + 1
        wb = word_bytes(self.ctx)
        if self.fixed:  # per sample: n mac16, shift, saturate (2 bounds); the delay line moves once a block
            b = max(1, int(self.ctx.block_size))
            ops = add_ops(Counter(), mac16=n * c, add=c, cmp=2 * c, move=c * (n - 1) / b)
        else:
            ops = add_ops(Counter(), mac_f32=n * c, move=c)
        return Cost(
            ops=ops, frame_rate_hz=self.fmt.frame_rate_hz, ram_persistent=(n - 1) * c * wb, rom=n * c * wb
        )


# -- level-dependent band gains (WDRC, gain table, limiter) ------------------------------------------------
def per_band(value: PerBand, n_bands: int, name: str, block: Block) -> np.ndarray:
    v = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if v.size == 1:
        return np.full(n_bands, float(v[0]))
    if v.size != n_bands:
        raise block.fail(
            f"{name} has {v.size} values but there are {n_bands} bands (one value or one per band)"
        )
    return v


class DynamicsParams(BlockParams):
    window: WindowName | None = Field(
        None, description="analysis window used to calibrate levels; default: the one of the feeding stft"
    )


class BandDynamics(Block):
    """Shared engine: per-band level (dB SPL) -> dB-domain attack/release follower -> gain table -> gain.

    Subclasses set in `configure`: crossovers_hz, table (C, B, L) on the grid (table_min, table_step),
    attack_ms and release_ms (B,).
    """

    crossovers_hz: np.ndarray
    table: np.ndarray
    table_min: float = wdrc.TABLE_MIN_DB_SPL
    table_step: float = wdrc.TABLE_STEP_DB
    attack_ms: np.ndarray
    release_ms: np.ndarray
    detector_ratios: np.ndarray | None = None  # set: time constants from the ANSI definition at these CRs

    def configure(self, fmt: SignalFormat, ctx: Context) -> None:
        raise NotImplementedError

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="spectrum")
        if not fmt.complex or fmt.n_fft <= 0:
            raise self.fail(f"needs complex STFT frames, receives {fmt.describe()}")
        self.fixed = fmt.numeric != "float"
        if self.fixed and fmt.numeric not in ("int16", "int32"):
            raise self.fail(
                f"fixed-point spectra must be int16 or int32 [re, im] pairs, receives {fmt.describe()}"
            )
        self.ctx, self.fmt = ctx, fmt
        self.configure(fmt, ctx)
        cross = np.asarray(self.crossovers_hz, dtype=np.float64)
        nyq = fmt.sample_rate_hz / 2
        if cross.size and (np.any(np.diff(cross) <= 0) or cross[0] <= 0 or cross[-1] >= nyq):
            raise self.fail(
                f"crossovers_hz must increase strictly within 0..{nyq:g} Hz, got {cross.tolist()}"
            )
        self.band = wdrc.band_of_bins(cross, fmt.n_fft, fmt.sample_rate_hz)
        self.n_bands = cross.size + 1
        empty = sorted(set(range(self.n_bands)) - set(self.band.tolist()))
        if empty:
            raise self.fail(
                f"bands {empty} contain no STFT bin (bin spacing {fmt.sample_rate_hz / fmt.n_fft:g} Hz); "
                "move the crossovers apart or use a longer n_fft"
            )
        name = self.params.window or getattr(fmt, "window", "") or "sqrt_hann"
        window = analysis_window(name, fmt.frame)
        self.weight = wdrc.bin_power_weights(window, fmt.n_fft)
        ratios = self.detector_ratios if self.detector_ratios is not None else [None] * self.n_bands
        alpha, beta = zip(
            *(
                wdrc.ansi_coefficients(a, r, fmt.sample_rate_hz, cr)
                for a, r, cr in zip(self.attack_ms, self.release_ms, ratios)
            )
        )
        self.alpha = np.array([wdrc.frame_coefficient(a, fmt.hop) for a in alpha])
        self.beta = np.array([wdrc.frame_coefficient(b, fmt.hop) for b in beta])
        self.table = np.ascontiguousarray(self.table, dtype=np.float64)
        if self.table.shape[:2] != (fmt.channels, self.n_bands):
            raise self.fail(
                f"gain table has shape {self.table.shape[:2]}, expected ({fmt.channels}, {self.n_bands})"
            )
        if self.fixed:  # the bit-true twin (hearpipe.dsp.wdrc_fixed); the stft windows with a Q15 window
            w_q15 = np.minimum(np.round(window * 32768.0), 32767) / 32768.0
            bits = 16 if fmt.numeric == "int16" else 32
            self.fx = prepare_fixed(
                self.band,
                w_q15,
                fmt.n_fft,
                fmt.frac_bits,
                bits,
                float(ctx.full_scale_db_spl),
                self.alpha,
                self.beta,
                self.table,
                self.table_min,
                self.table_step,
                wdrc.LEVEL_FLOOR_DB_SPL,
            )
            self.ops = new_ops()
        return fmt

    def reset(self) -> None:
        if self.fixed:
            self.state = self.fx.new_state(self.fmt.channels, wdrc.LEVEL_FLOOR_DB_SPL)
        else:
            self.state = np.full((self.fmt.channels, self.n_bands), wdrc.LEVEL_FLOOR_DB_SPL)
        self.last_levels = np.zeros((self.fmt.channels, self.n_bands, 0))

    def process(self, X: np.ndarray) -> np.ndarray:
        if self.fixed:
            return self.fx.run(X, self.state, self.ops)
        X = np.ascontiguousarray(X, dtype=np.complex128)
        out = np.empty_like(X)
        levels = np.empty((X.shape[0], self.n_bands, X.shape[2]))
        wdrc.band_gain_frames(
            X,
            self.band,
            self.weight,
            self.n_bands,
            float(self.ctx.full_scale_db_spl),
            wdrc.LEVEL_FLOOR_DB_SPL,
            self.alpha,
            self.beta,
            self.state,
            self.table,
            float(self.table_min),
            float(self.table_step),
            out,
            levels,
        )
        self.last_levels = levels
        return out

    def cost(self) -> Cost:
        f, b, wb = self.fmt, self.n_bands, word_bytes(self.ctx)
        c, n = f.channels, f.features
        if self.fixed:
            bits = 16 if f.numeric == "int16" else 32
            return Cost(
                ops=fixed_ops(c, n, b, bits),
                frame_rate_hz=f.frame_rate_hz,
                ram_persistent=b * c * 4,  # Q16 dB detector levels
                ram_scratch=2 * b * 8,
                rom=self.table.size * 4 + n * 2 + 2 * b * 4 + (LOG2_TABLE.size + EXP2_TABLE.size) * 4,
            )
        ops = Counter()
        # per bin: |X|^2 (1 mul + 1 mac), weighted accumulate (1 mac), apply real gain to re and im (2 mul)
        add_ops(ops, mul=3 * n * c, mac_f32=2 * n * c)
        # per band: level (log + scale, floor), follower (compare, add, mac), table index (add, mul, 2 clamps),
        # interpolation (add, mac), dB -> linear (mul + exp); log/exp are table look-ups on fixed devices
        add_ops(ops, cmp=4 * b * c, add=3 * b * c, mul=2 * b * c, mac_f32=3 * b * c)
        if self.ctx.fixed:
            add_ops(ops, lut=2 * b * c)
        else:
            add_ops(ops, transcendental=2 * b * c)
        return Cost(
            ops=ops,
            frame_rate_hz=f.frame_rate_hz,
            ram_persistent=b * c * wb,
            ram_scratch=2 * b * wb,
            rom=self.table.size * wb
            + n * (wb + 1)
            + 2 * b * wb,  # table, bin weights + band index, coefficients
        )


class WdrcParams(DynamicsParams, FittingParams):
    audiogram: str | None = Field(
        None, description="audiogram file: fill gain_db per band from `rule` (gain_db then adds to it)"
    )
    crossovers_hz: list[float] = Field(
        [500.0, 1000.0, 2000.0, 4000.0], description="band edges between 0 Hz and Nyquist (bands = len + 1)"
    )
    expansion_knee_db_spl: PerBand = Field(0.0, description="input level below which expansion acts")
    expansion_ratio: PerBand = Field(1.0, description="expansion ratio (<= 1; 1 = no expansion)")
    threshold_db_spl: PerBand = Field(50.0, description="compression threshold (knee), input dB SPL")
    ratio: PerBand = Field(2.0, description="compression ratio above the threshold (>= 1)")
    gain_db: PerBand = Field(
        0.0, description="linear gain below the threshold in dB (added to a rule's gain)"
    )
    limit_db_spl: PerBand | None = Field(
        None, description="per-band output limit (MPO, 10:1 above); none if unset"
    )
    attack_ms: PerBand = Field(5.0, description="ANSI S3.22 attack time in ms")
    release_ms: PerBand = Field(50.0, description="ANSI S3.22 release time in ms")
    time_constants: Literal["ansi", "btnrh"] = Field(
        "ansi",
        description="ansi: detector divisors from the ANSI S3.22 definition at each band's ratio, so "
        "measured times match the configured ones; btnrh: the BTNRH/Tympan divisors 2.425 and 1.782",
    )
    fit_level_db_spl: float = Field(
        65.0,
        ge=0,
        le=120,
        description="with a rule: each band's gain for a steady input at this level equals "
        "the prescription (NAL-R targets 65 dB SPL speech); gain_db is added on top",
    )


@register
class Wdrc(BandDynamics):
    type_name = "wdrc"
    Params = WdrcParams
    summary = "multiband wide dynamic range compressor on STFT frames (expansion, compression, MPO)"

    def configure(self, fmt: SignalFormat, ctx: Context) -> None:
        p = self.params
        self.crossovers_hz = np.asarray(p.crossovers_hz, dtype=np.float64)
        nb = len(p.crossovers_hz) + 1
        v = {
            k: per_band(getattr(p, k), nb, k, self)
            for k in (
                "expansion_knee_db_spl",
                "expansion_ratio",
                "threshold_db_spl",
                "ratio",
                "gain_db",
                "attack_ms",
                "release_ms",
            )
        }
        limit = per_band(p.limit_db_spl, nb, "limit_db_spl", self) if p.limit_db_spl is not None else None
        for i in range(nb):
            if not 0.05 <= v["expansion_ratio"][i] <= 1.0:
                raise self.fail(f"expansion_ratio[{i}] = {v['expansion_ratio'][i]:g} must lie within 0.05..1")
            if not 1.0 <= v["ratio"][i] <= 100.0:
                raise self.fail(f"ratio[{i}] = {v['ratio'][i]:g} must lie within 1..100")
            if v["expansion_knee_db_spl"][i] > v["threshold_db_spl"][i]:
                raise self.fail(
                    f"expansion_knee_db_spl[{i}] ({v['expansion_knee_db_spl'][i]:g}) must not exceed "
                    f"threshold_db_spl[{i}] ({v['threshold_db_spl'][i]:g})"
                )
            for k in ("attack_ms", "release_ms"):
                if not 0.0 < v[k][i] <= 10000.0:
                    raise self.fail(f"{k}[{i}] = {v[k][i]:g} must lie within 0..10000 ms")
            if not -120.0 <= v["gain_db"][i] <= 120.0:
                raise self.fail(f"gain_db[{i}] = {v['gain_db'][i]:g} dB must lie within -120..120 dB")
        self.attack_ms, self.release_ms = v["attack_ms"], v["release_ms"]
        self.detector_ratios = v["ratio"] if p.time_constants == "ansi" else None
        self.band_centers_hz = wdrc.band_centers_hz(self.crossovers_hz, fmt.sample_rate_hz)

        def curve(i: int, gain: float) -> wdrc.BandCurve:
            return wdrc.BandCurve(
                threshold_db_spl=v["threshold_db_spl"][i],
                ratio=v["ratio"][i],
                gain_db=gain,
                expansion_knee_db_spl=v["expansion_knee_db_spl"][i],
                expansion_ratio=v["expansion_ratio"][i],
                limit_db_spl=None if limit is None else limit[i],
            )

        gains = np.tile(v["gain_db"], (fmt.channels, 1))
        if p.audiogram is not None:
            for c, (f, g) in enumerate(fitted_gains(p, ctx, fmt.channels, self)):
                target = interpolate_gain_db(f, g, self.band_centers_hz)
                # the curve's gain at the fitting level with gain_db = 0 (compression lowers it above TK)
                at_fit = np.array([float(curve(i, 0.0).gain_at(p.fit_level_db_spl)) for i in range(nb)])
                gains[c] += target - at_fit
        self.prescribed_gains_db = gains
        self.curves = [[curve(i, gains[c, i]) for i in range(nb)] for c in range(fmt.channels)]
        grid = wdrc.table_grid()
        self.table = np.stack([wdrc.gain_table(cc, grid) for cc in self.curves])


class GainTableParams(DynamicsParams):
    crossovers_hz: list[float] = Field(description="band edges between 0 Hz and Nyquist (bands = len + 1)")
    level_min_db_spl: float = Field(
        0.0, ge=-100, le=200, description="input level of the first table column in dB SPL (openMHA gtmin)"
    )
    level_step_db: float = Field(
        1.0, ge=0.01, le=100, description="level step between columns in dB (openMHA gtstep)"
    )
    gains_db: list[list[float]] = Field(
        description="gain in dB, one row per band, one column per input level; held beyond the ends"
    )
    attack_ms: PerBand = Field(5.0, description="ANSI S3.22 attack time in ms")
    release_ms: PerBand = Field(50.0, description="ANSI S3.22 release time in ms")

    @model_validator(mode="after")
    def _rows(self):
        lens = {len(r) for r in self.gains_db}
        if len(lens) != 1 or min(lens) < 2:
            raise ValueError(f"gains_db rows must all have the same length >= 2, got lengths {sorted(lens)}")
        if len(self.gains_db) != len(self.crossovers_hz) + 1:
            raise ValueError(
                f"gains_db has {len(self.gains_db)} rows but crossovers_hz makes {len(self.crossovers_hz) + 1} bands"
            )
        for i, row in enumerate(self.gains_db):
            for j, g in enumerate(row):
                if not -120 <= g <= 120:
                    raise ValueError(f"gains_db[{i}][{j}] = {g:g} dB must lie within -120..120 dB")
        return self


@register
class GainTable(BandDynamics):
    type_name = "gain_table"
    Params = GainTableParams
    summary = "openMHA dc-style compressor: gain table (bands x input levels), interpolated"

    def configure(self, fmt: SignalFormat, ctx: Context) -> None:
        p = self.params
        self.crossovers_hz = np.asarray(p.crossovers_hz, dtype=np.float64)
        nb = len(p.crossovers_hz) + 1
        self.attack_ms = per_band(p.attack_ms, nb, "attack_ms", self)
        self.release_ms = per_band(p.release_ms, nb, "release_ms", self)
        self.table_min, self.table_step = p.level_min_db_spl, p.level_step_db
        self.table = np.tile(np.asarray(p.gains_db, dtype=np.float64)[None], (fmt.channels, 1, 1))


class LimiterParams(DynamicsParams):
    limit_db_spl: float = Field(110.0, ge=40, le=160, description="broadband output limit (MPO) in dB SPL")
    ratio: float = Field(wdrc.LIMIT_RATIO, ge=1, le=100, description="compression ratio above the limit")
    attack_ms: float = Field(1.0, gt=0, le=1000, description="ANSI S3.22 attack time in ms")
    release_ms: float = Field(50.0, gt=0, le=10000, description="ANSI S3.22 release time in ms")


@register
class Limiter(BandDynamics):
    type_name = "limiter"
    Params = LimiterParams
    summary = (
        "broadband output limiter (MPO), ratio:1 above limit_db_spl; on STFT frames or time-domain audio"
    )

    def configure(self, fmt: SignalFormat, ctx: Context) -> None:
        p = self.params
        self.crossovers_hz = np.zeros(0)
        self.attack_ms, self.release_ms = np.array([p.attack_ms]), np.array([p.release_ms])
        self.curve = wdrc.limiter_curve(p.limit_db_spl, p.ratio)
        self.table = np.tile(wdrc.gain_table([self.curve], wdrc.table_grid())[None], (fmt.channels, 1, 1))

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.time_domain = fmt.domain == "time"
        if not self.time_domain:
            return super().prepare(inputs, ctx)
        # time domain: a per-sample BTNRH peak follower on |x| (the dB-domain follower needs a smooth level)
        self.ctx, self.fmt = ctx, fmt
        self.configure(fmt, ctx)
        self.n_bands = 1
        self.alpha, self.beta = wdrc.ansi_coefficients(
            self.params.attack_ms, self.params.release_ms, fmt.sample_rate_hz
        )
        self.table2 = np.ascontiguousarray(self.table[:, 0, :])
        self.fixed = fmt.numeric != "float"
        if self.fixed:
            if fmt.numeric != "q15" or fmt.frac_bits != 15:
                raise self.fail(f"fixed-point input must be q15 audio, receives {fmt.describe()}")
            self.fx = prepare_limiter_fixed(
                self.alpha,
                self.beta,
                float(ctx.full_scale_db_spl),
                self.table2,
                self.table_min,
                self.table_step,
            )
            self.ops = new_ops()
        return fmt

    def reset(self) -> None:
        if not self.time_domain:
            return super().reset()
        self.peak = self.fx.new_state(self.fmt.channels) if self.fixed else np.zeros(self.fmt.channels)

    def process(self, x: np.ndarray) -> np.ndarray:
        if not self.time_domain:
            return super().process(x)
        if self.fixed:
            return self.fx.run(x, self.peak, self.ops)
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty_like(x)
        wdrc.peak_limiter_samples(
            x,
            self.alpha,
            self.beta,
            self.peak,
            float(self.ctx.full_scale_db_spl),
            self.table2,
            float(self.table_min),
            float(self.table_step),
            out,
        )
        return out

    def cost(self) -> Cost:
        if not self.time_domain:
            return super().cost()
        c, wb = self.fmt.channels, word_bytes(self.ctx)
        if self.fixed:
            return Cost(
                ops=limiter_fixed_ops(c),
                frame_rate_hz=self.fmt.frame_rate_hz,
                ram_persistent=c * 4,
                rom=self.table2.size * 4 + 3 * 4 + (LOG2_TABLE.size + EXP2_TABLE.size) * 4,
            )
        # per sample: |x|, compare, follower (mac), level (log + mac), index (add, mul, 2 clamps),
        # interpolation (add, mac), dB -> linear (mul + exp), apply (mul)
        ops = add_ops(Counter(), cmp=4 * c, mac_f32=3 * c, add=2 * c, mul=3 * c)
        add_ops(ops, **({"lut": 2 * c} if self.ctx.fixed else {"transcendental": 2 * c}))
        return Cost(
            ops=ops,
            frame_rate_hz=self.fmt.frame_rate_hz,
            ram_persistent=c * wb,
            rom=self.table.size * wb + 2 * wb,
        )
