"""Broadband output limiter (MPO): on STFT frames through `BandDynamics` with one band, or on
time-domain audio with a per-sample peak follower (`hearpipe.dsp.wdrc.peak_limiter_samples` and its
bit-true twin in `hearpipe.dsp.wdrc_fixed`). Levels are dB SPL through the graph's calibration.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import Field

from hearpipe.blocks.base import Context
from hearpipe.blocks.dynamics import BandDynamics, DynamicsParams
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.dsp import wdrc
from hearpipe.dsp.wdrc_fixed import limiter_fixed_ops, prepare_limiter_fixed
from hearpipe.fixed.ops import new_ops
from hearpipe.fixed.tables import EXP2_TABLE, LOG2_TABLE
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register


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
        self.set_bands([], p.attack_ms, p.release_ms)
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
            self.expect_q15_audio(fmt)
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
        c, wb = self.fmt.channels, self.ctx.word_bytes
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
