"""`groupcomm`: GroupComm mask estimation and masking on STFT bins or learned-encoder latents.

Input and output have the same format: complex spectrum frames from `stft` (mask real, per bin) or
latent frames from `conv_encoder` (mask per channel, or per band of two channels for a model with
`enc_complex`, multiplying the un-normalised encoder output).
The model's hyper-parameters come from the weight file's metadata and are checked against the
incoming frames (front end kind, number of features, hop, window). The recurrent state of every
audio channel is carried across `process` calls; frames are processed one by one, so the output
does not depend on how the stream is chunked. Causal and frame-wise: no delay of its own.

On fixed-point devices the bit-true inference of `hearpipe.models.groupcomm.fixed_stream` runs (int8 weights,
int16 activations in calibrated formats, table log2/sigmoid/tanh); it takes the fixed `stft` block's
int32 spectrum or the fixed `conv_encoder`'s int16 latents and returns them masked, same format.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import numpy as np
from pydantic import Field

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.datadir import default_data_dir
from hearpipe.errors import FormatMismatch, InvalidInput
from hearpipe.fixed.count import OP_KINDS
from hearpipe.fixed.ops import rshift_round
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register
from hearpipe.models.groupcomm import cost as gcost
from hearpipe.models.groupcomm import reference as gc
from hearpipe.models.groupcomm.fixed_model import quantize_weight_file
from hearpipe.models.groupcomm.fixed_stream import FixedGroupCommState
from hearpipe.models.groupcomm.hparams import n_params


class GroupCommParams(BlockParams):
    weights: str = Field(
        "builtin:enhance_conv",
        description="weight file: a .npz path or builtin:NAME (see hearpipe/models/weights)",
    )
    output: int = Field(
        0, ge=0, description="which of the model's C outputs (sources) to pass on (0 = speech)"
    )
    weight_bits: Literal[8, 16] = Field(
        8, description="fixed-point devices: width of the mask estimator's weights (int8 or int16)"
    )
    max_attenuation_db: float | None = Field(
        None,
        gt=0,
        description="most the mask may attenuate a bin or band, in dB: a floor 10**(-dB/20) on the mask (q15 on "
        "fixed-point devices), as hearing-aid noise reduction limits its depth; mask models only (df_taps 0)",
    )


def load_model(ref: str, ctx: Context) -> gc.GroupCommWeights:
    """Weight file -> checked float64 weights of a GroupComm model."""
    return gc.read_weights(ref, ctx.base_dir)[1]


@register
class GroupComm(Block):
    type_name = "groupcomm"
    Params = GroupCommParams
    summary = "GroupComm neural mask estimator (causal, streaming) on STFT bins or learned latents"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain=("spectrum", "latent"))
        try:
            w = load_model(self.params.weights, ctx)
        except InvalidInput as e:
            raise self.fail(f"weights: {e}") from None
        hp = w.hp
        src = f"weights {self.params.weights!r}"
        if hp.frontend == "stft":
            want = (
                f"complex STFT frames of {hp.features} bins (n_fft {hp.window}, window {hp.window}, hop {hp.hop}, "
                "sqrt_hann)"
            )
            ok = (
                fmt.domain == "spectrum" and fmt.complex and fmt.n_fft == hp.window and fmt.frame == hp.window
                and fmt.hop == hp.hop and fmt.window in ("", "sqrt_hann")
            )  # fmt: skip
        else:
            want = (
                f"latent frames of {hp.enc_channels} features (conv encoder window {hp.window}, hop {hp.hop})"
            )
            ok = (
                fmt.domain == "latent" and fmt.features == hp.enc_channels and fmt.hop == hp.hop
                and fmt.frame == hp.window
            )  # fmt: skip
        if not ok:
            raise FormatMismatch(f"{self.label()}: {src} expect {want}, but the input is {fmt.describe()}")
        if abs(hp.sample_rate_hz - fmt.sample_rate_hz) > 1e-6:
            raise FormatMismatch(
                f"{self.label()}: {src} were trained at {hp.sample_rate_hz:g} Hz, the input runs at "
                f"{fmt.sample_rate_hz:g} Hz"
            )
        if self.params.output >= hp.n_outputs:
            raise self.fail(
                f"output ({self.params.output}) must be below the model's n_outputs ({hp.n_outputs})"
            )
        if self.params.max_attenuation_db is not None and hp.df_taps:
            raise self.fail(
                f"max_attenuation_db needs a mask model, but {src} hold a {hp.df_taps}-tap deep filter "
                "(limit its depth with a dry `mix` instead)"
            )
        self.w, self.hp, self.ctx, self.fmt = w, hp, ctx, fmt
        db = self.params.max_attenuation_db
        self.floor = 0.0 if db is None else 10 ** (-db / 20)  # the mask's floor (0: no limit)
        self.floor_q15 = round(self.floor * 32768)
        self.channels = fmt.channels
        self.fixed = fmt.numeric != "float"
        if self.fixed:
            _, self.model = quantize_weight_file(
                self.params.weights,
                ctx.base_dir,
                weight_bits=self.params.weight_bits,
                data_dir=default_data_dir(),
            )
        return fmt

    def reset(self) -> None:
        if self.fixed:
            self.fixed_state = FixedGroupCommState(self.model, self.channels, self.params.output)
            self.ops = self.fixed_state.ops
        else:
            self.states = [gc.GroupCommState(self.w) for _ in range(self.channels)]
            n_past = max(self.hp.df_taps - 1, 0)  # the deep filter's earlier frames, per channel
            self.past = [np.zeros((2 * self.hp.features, n_past)) for _ in range(self.channels)]

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.fixed:
            if self.floor:
                return self._floored_fixed(x)
            return self.fixed_state.process(x, self.fmt.frac_bits)
        hp, stft, nb = self.hp, np.iscomplexobj(x), self.hp.features
        y = np.empty_like(x)
        o = self.params.output
        for c in range(self.channels):
            e = np.concatenate([x[c].real, x[c].imag]) if stft else x[c]  # (R, J), STFT as [re; im]
            est = self.states[c].process(gc.band_power(hp, e))[o : o + 1]
            if hp.df_taps:
                yc = gc.deep_filter(hp, e, est, self.past[c])[0]
                self.past[c] = np.concatenate([self.past[c], e], axis=1)[:, e.shape[1] :]
            else:
                yc = gc.apply_estimate(hp, e, np.maximum(est, self.floor))[0]
            y[c] = yc[:nb] + 1j * yc[nb:] if stft else yc
        return y

    def _floored_fixed(self, x: np.ndarray) -> np.ndarray:
        """The fixed model's q15 masks raised to the floor (one compare per mask value), then applied as the
        kernel applies them: round(x * mask / 2**15), saturated to the input's width."""
        st, stft = self.fixed_state, self.hp.frontend == "stft"
        m = np.maximum(st.masks(x, self.fmt.frac_bits)[:, self.params.output], self.floor_q15)
        st.ops[OP_KINDS.index("cmp")] += m.size
        a = np.asarray(x).astype(np.int64)
        if stft:
            y = rshift_round(a * m[..., None].astype(np.int64), 15)
        else:  # a complex band's mask on both its channels
            y = rshift_round(a * m[:, np.arange(a.shape[1]) % m.shape[1]].astype(np.int64), 15)
        lim = np.iinfo(np.asarray(x).dtype)
        return np.clip(y, lim.min, lim.max).astype(lim.dtype)

    def _floor_ops(self) -> int:
        """Compares per frame of the mask floor: one per feature and channel."""
        return self.hp.features * self.channels if self.floor else 0

    def cost(self) -> Cost:
        hp, c = self.hp, self.channels
        if self.fixed:  # exactly what the fixed-point kernels execute
            s = gcost.cost_summary(self.model, c)
            if self._floor_ops():
                add_ops(s["ops"], cmp=self._floor_ops())
            return Cost(
                ops=s["ops"],
                kernels=s["kernels"],
                frame_rate_hz=s["frame_rate_hz"],
                ram_persistent=s["ram_persistent"],
                ram_scratch=s["ram_scratch"],
                rom=s["rom"],
            )
        fixed = self.ctx.fixed
        wb = self.ctx.word_bytes
        o = gcost.ops_per_frame(hp)
        ops = add_ops(Counter(), **{"mac8" if fixed else "mac_f32": (o["mac"] + gcost.filter_macs(hp)) * c})
        add_ops(ops, add=o["add"] * c, cmp=o["cmp"] * c + self._floor_ops(), lut=o["lut"] * c)
        add_ops(ops, mul=(o["mul"] + gcost.filter_macs(hp)) * c)  # + applying the mask
        if not fixed:  # float devices compute log2, sigmoid and tanh instead of table look-ups
            ops["transcendental"] += ops.pop("lut")
        codec = hp.enc_channels * (hp.analysis_window + hp.window) if hp.frontend == "conv" else 0
        n_weights = n_params(hp) - codec
        return Cost(
            ops=ops,
            frame_rate_hz=hp.frame_rate_hz,
            ram_persistent=gcost.state_values(hp) * c * wb,
            ram_scratch=gcost.scratch_values(hp) * wb,
            rom=n_weights * (1 if fixed else 4),  # int8 weights on fixed devices, float32 otherwise
        )
