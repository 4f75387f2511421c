"""Level-dependent band gains on STFT frames: the multiband WDRC (`wdrc`) and the openMHA-style gain table
(`gain_table`), both on `BandDynamics` (per-band level -> attack/release follower -> gain table).

Levels in every parameter are dB SPL through the graph's calibration (`full_scale_db_spl`). The blocks
take complex STFT frames (channels, bins, frames) as made by `stft` (unnormalised rfft of the windowed
frame) and need its analysis window to turn bin powers into levels (taken from the signal format, as
`istft` does). Numerics live in `hearpipe.dsp.wdrc` and its bit-true twin `hearpipe.dsp.wdrc_fixed`.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.blocks.prescription import FittingParams, fitted_gains
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.dsp import wdrc
from hearpipe.dsp.fitting import Fit, detected_speech, solve_band_gains, speech_gain_db, stft_band_responses
from hearpipe.dsp.wdrc_fixed import fixed_ops, prepare_fixed
from hearpipe.dsp.windows import WindowName, analysis_window, window_q15
from hearpipe.fixed.ops import new_ops
from hearpipe.fixed.tables import EXP2_TABLE, LOG2_TABLE
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register

PerBand = float | list[float]


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

    Subclasses set in `configure`: crossovers_hz, attack_ms and release_ms (B,) through `set_bands` (which
    also checks the bands and maps the bins to them), and table (C, B, L) on the grid (table_min, table_step).
    `prepare` sets the analysis window (`self.window`) before `configure`.
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

    def set_bands(self, crossovers_hz, attack_ms: PerBand, release_ms: PerBand) -> int:
        """Band edges (Hz) and per-band attack and release times (ms, one value or one per band) from the
        parameters; returns the number of bands."""
        fmt = self.fmt
        cross = self.crossovers_hz = np.asarray(crossovers_hz, dtype=np.float64)
        nyq = fmt.sample_rate_hz / 2
        if cross.size and (np.any(np.diff(cross) <= 0) or cross[0] <= 0 or cross[-1] >= nyq):
            raise self.fail(
                f"crossovers_hz must increase strictly within 0..{nyq:g} Hz, got {cross.tolist()}"
            )
        self.band = wdrc.band_of_bins(cross, fmt.n_fft, fmt.sample_rate_hz)
        nb = self.n_bands = cross.size + 1
        empty = sorted(set(range(nb)) - set(self.band.tolist()))
        if empty:
            raise self.fail(
                f"bands {empty} contain no STFT bin (bin spacing {fmt.sample_rate_hz / fmt.n_fft:g} Hz); "
                "move the crossovers apart or use a longer n_fft"
            )
        self.attack_ms = per_band(attack_ms, nb, "attack_ms", self)
        self.release_ms = per_band(release_ms, nb, "release_ms", self)
        return nb

    def frame_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame attack and release coefficients (B,) of the level detector."""
        fmt = self.fmt
        ratios = self.detector_ratios if self.detector_ratios is not None else [None] * self.n_bands
        alpha, beta = zip(
            *(
                wdrc.ansi_coefficients(a, r, fmt.sample_rate_hz, cr)
                for a, r, cr in zip(self.attack_ms, self.release_ms, ratios)
            )
        )
        return (
            np.array([wdrc.frame_coefficient(a, fmt.hop) for a in alpha]),
            np.array([wdrc.frame_coefficient(b, fmt.hop) for b in beta]),
        )

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="spectrum")
        if not fmt.complex or fmt.n_fft <= 0:
            raise self.fail(f"needs complex STFT frames, receives {fmt.describe()}")
        self.fixed = fmt.numeric != "float"
        if self.fixed:
            self.bits = self.fixed_spectrum_bits(fmt)
        self.ctx, self.fmt = ctx, fmt
        name = self.params.window or getattr(fmt, "window", "") or "sqrt_hann"
        self.window = window = analysis_window(name, fmt.frame)
        self.configure(fmt, ctx)
        self.weight = wdrc.bin_power_weights(window, fmt.n_fft)
        self.alpha, self.beta = self.frame_coefficients()
        self.table = np.ascontiguousarray(self.table, dtype=np.float64)
        if self.table.shape[:2] != (fmt.channels, self.n_bands):
            raise self.fail(
                f"gain table has shape {self.table.shape[:2]}, expected ({fmt.channels}, {self.n_bands})"
            )
        if self.fixed:  # the bit-true twin (hearpipe.dsp.wdrc_fixed); the stft windows with a Q15 window
            self.fx = prepare_fixed(
                self.band,
                window_q15(window) / 32768.0,
                fmt.n_fft,
                fmt.frac_bits,
                self.bits,
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
        f, b, wb = self.fmt, self.n_bands, self.ctx.word_bytes
        c, n = f.channels, f.features
        if self.fixed:
            return Cost(
                ops=fixed_ops(c, n, b, self.bits),
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
    audiogram: str | dict | None = Field(
        None,
        description="audiogram file (relative to the graph file) or the audiogram inline: band gains solved "
        "so speech at fit_level_db_spl gets the `rule`'s insertion gain (gain_db then adds to it)",
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
        description="with a rule: overall level of the speech (ANSI S3.5 spectrum) for which the band "
        "gains are solved to give the prescribed insertion gain (NAL-R: 65 dB SPL); gain_db adds on top",
    )


@register
class Wdrc(BandDynamics):
    type_name = "wdrc"
    Params = WdrcParams
    summary = "multiband wide dynamic range compressor on STFT frames (expansion, compression, MPO)"

    def configure(self, fmt: SignalFormat, ctx: Context) -> None:
        p = self.params
        nb = self.set_bands(p.crossovers_hz, p.attack_ms, p.release_ms)
        v = {
            k: per_band(getattr(p, k), nb, k, self)
            for k in ("expansion_knee_db_spl", "expansion_ratio", "threshold_db_spl", "ratio", "gain_db")
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
            for k, t in (("attack_ms", self.attack_ms), ("release_ms", self.release_ms)):
                if not 0.0 < t[i] <= 10000.0:
                    raise self.fail(f"{k}[{i}] = {t[i]:g} must lie within 0..10000 ms")
            if not -120.0 <= v["gain_db"][i] <= 120.0:
                raise self.fail(f"gain_db[{i}] = {v['gain_db'][i]:g} dB must lie within -120..120 dB")
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
        self.fits: list[Fit] = []
        if p.audiogram is not None:
            freqs, response = stft_band_responses(
                self.window, fmt.hop, fmt.n_fft, self.band, nb, fmt.sample_rate_hz
            )
            power, detected = detected_speech(
                self.window, fmt.hop, fmt.n_fft, self.band, nb, *self.frame_coefficients(),
                fmt.sample_rate_hz, float(ctx.full_scale_db_spl), p.fit_level_db_spl,
            )  # fmt: skip
            self.speech_levels_db_spl = float(ctx.full_scale_db_spl) + 10 * np.log10(power.mean(axis=1))
            # each curve's long-term gain for speech with gain_db = 0 (compression lowers it)
            at_speech = speech_gain_db(
                np.stack([curve(i, 0.0).gain_at(detected[i]) for i in range(nb)]), power
            )
            for c, (ear, f, g) in enumerate(fitted_gains(p, ctx, fmt.channels, self)):
                band_db, achieved = solve_band_gains(freqs, response, f, g, self.band_centers_hz)
                gains[c] += band_db - at_speech
                self.fits.append(Fit(ear, f, g, achieved))
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
        self.set_bands(p.crossovers_hz, p.attack_ms, p.release_ms)
        self.table_min, self.table_step = p.level_min_db_spl, p.level_step_db
        self.table = np.tile(np.asarray(p.gains_db, dtype=np.float64)[None], (fmt.channels, 1, 1))
