"""Learned analysis/synthesis (TasNet family): `conv_encoder` and `conv_decoder`.

`conv_encoder`: Conv1d(1, N, W_a, stride S) without bias; frame j covers the input samples
[(j+1)S - W_a, (j+1)S) (zeros before the start), so every input block of k*S samples gives k frames
(latent `(channels, N, frames)`), no delay of its own. The analysis length W_a (`enc_window`) may
exceed the synthesis window W: more frequency resolution from past samples, no extra delay.
`conv_decoder`: ConvTranspose1d(N, 1, W, stride S) + overlap-add; each frame completes S output
samples, so the pair delays by W - S samples (reported by the decoder).
Weights (`enc.weight` (N, W_a) and `dec.weight` (N, W)) come from a `.npz` weight file: the groupcomm
model's own file (`builtin:enhance_conv`) or any file holding those arrays; W, W_a and S come from its
metadata (`window`, `enc_window` (0 or absent: W_a = W), `hop`).
On fixed-point devices both run `hearpipe.models.groupcomm.codec` (int8 weights, int16 latents in the
worst-case format of the encoder, so no q15 input can saturate it; q15 audio out).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import Field

from hearpipe.blocks.base import Block, BlockParams, Context
from hearpipe.budget.cost import Cost, add_ops
from hearpipe.errors import InvalidInput
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import register
from hearpipe.models.groupcomm.codec import FixedConvDecoder, FixedConvEncoder
from hearpipe.models.groupcomm.frontend import decode_frames, encode_frames
from hearpipe.models.weights import WeightFile, load_weights, resolve_weights


def load_codec_weights(ref: str, ctx: Context, array: str) -> tuple[WeightFile, np.ndarray, int, int, int]:
    """Open a weight file and return (file, array (N, W) as float64, its length W, hop S, frame): `frame`
    is the synthesis window (metadata `window`) that the latent frames carry; the encoder may be longer
    (metadata `enc_window`: a longer analysis window, finer frequency resolution at the same delay)."""
    wf = load_weights(resolve_weights(ref, ctx.base_dir))
    a = np.asarray(wf.get(array), dtype=np.float64)
    if a.ndim != 2:
        raise InvalidInput(f"{wf.source}: {array!r} must be 2-D (channels, window), has shape {a.shape}")
    frame = int(wf.hparams.get("window", a.shape[1]))
    W = int(wf.hparams.get("enc_window") or frame) if array == "enc.weight" else frame
    S = wf.hparams.get("hop")
    if S is None:
        raise InvalidInput(f"{wf.source}: metadata has no 'hop' (stride) for the learned encoder/decoder")
    if W != a.shape[1] or not 1 <= int(S) <= frame:
        raise InvalidInput(f"{wf.source}: window {W} / hop {S} do not fit {array!r} of shape {a.shape}")
    return wf, np.ascontiguousarray(a), W, int(S), frame


def _fixed_cost(codec, frame_rate_hz: float) -> Cost:
    """Cost of a fixed-point encoder/decoder: its kernels' exact per-frame counts, for all channels."""
    per_channel = codec.ops_per_frame()
    mem = codec.memory()
    return Cost(
        ops=Counter({k: v * codec.channels for k, v in per_channel.items()}),
        kernels=[call.times(codec.channels) for call in codec.kernel_calls()],
        frame_rate_hz=frame_rate_hz,
        ram_persistent=mem["state"],
        ram_scratch=mem["scratch"],
        rom=mem["rom"],
    )


class ConvEncoderParams(BlockParams):
    weights: str = Field(
        "builtin:enhance_conv",
        description="weight file (.npz path or builtin:NAME) holding 'enc.weight' (N, W)",
    )


@register
class ConvEncoder(Block):
    type_name = "conv_encoder"
    Params = ConvEncoderParams
    summary = "learned Conv1d(1, N, W, stride S) analysis: time -> latent frames"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="time")
        try:
            self.wf, self.enc, self.W, self.S, frame = load_codec_weights(
                self.params.weights, ctx, "enc.weight"
            )
        except InvalidInput as e:
            raise self.fail(f"weights: {e}") from None
        sr = self.wf.hparams.get("sample_rate_hz", fmt.sample_rate_hz)
        if abs(float(sr) - fmt.sample_rate_hz) > 1e-6:
            raise self.fail(f"weights were trained at {sr:g} Hz, the graph runs at {fmt.sample_rate_hz:g} Hz")
        self.ctx = ctx
        self.channels = fmt.channels
        self.N = self.enc.shape[0]
        out = SignalFormat("latent", fmt.channels, fmt.sample_rate_hz, self.S, features=self.N, frame=frame)
        self.fixed = fmt.numeric != "float"
        if not self.fixed:
            return out
        self.fixed_enc = FixedConvEncoder(self.enc, self.S, channels=self.channels)
        return out.with_(numeric="int16", frac_bits=self.fixed_enc.out_frac)

    def reset(self) -> None:
        if self.fixed:
            self.fixed_enc.reset()
        else:
            self.history = np.zeros((self.channels, self.W - self.S))

    def process(self, x: np.ndarray) -> np.ndarray:
        if self.fixed:
            return self.fixed_enc.process(x)
        s = np.concatenate([self.history, x], axis=1)
        self.history = s[:, s.shape[1] - (self.W - self.S) :].copy()
        out = np.empty((self.channels, self.N, x.shape[1] // self.S))
        encode_frames(np.ascontiguousarray(s), self.enc, self.S, out)
        return out

    def cost(self) -> Cost:
        if self.fixed:
            return _fixed_cost(self.fixed_enc, self.ctx.sample_rate_hz / self.S)
        c, wb = self.channels, self.ctx.word_bytes
        fixed = self.ctx.fixed
        ops = add_ops(Counter(), move=(self.W - self.S) * c)
        add_ops(ops, **{"mac8" if fixed else "mac_f32": self.N * self.W * c})
        return Cost(
            ops=ops,
            frame_rate_hz=self.ctx.sample_rate_hz / self.S,
            ram_persistent=(self.W - self.S) * c * wb,
            ram_scratch=self.W * wb,
            rom=self.N * self.W * (1 if fixed else 4),
        )


class ConvDecoderParams(BlockParams):
    weights: str = Field(
        "builtin:enhance_conv",
        description="weight file (.npz path or builtin:NAME) holding 'dec.weight' (N, W)",
    )


@register
class ConvDecoder(Block):
    type_name = "conv_decoder"
    Params = ConvDecoderParams
    summary = "learned ConvTranspose1d(N, 1, W, stride S) synthesis + overlap-add: latent -> time"

    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        (fmt,) = inputs
        self.expect(fmt, domain="latent")
        try:
            self.wf, self.dec, self.W, self.S, _ = load_codec_weights(self.params.weights, ctx, "dec.weight")
        except InvalidInput as e:
            raise self.fail(f"weights: {e}") from None
        N = self.dec.shape[0]
        if (fmt.features, fmt.hop, fmt.frame) != (N, self.S, self.W):
            raise self.fail(
                f"weights {self.wf.source} expect latent frames of {N} features, hop {self.S}, window {self.W}; "
                f"the input is {fmt.describe()}"
            )
        self.ctx = ctx
        self.channels = fmt.channels
        self.N = N
        out = SignalFormat("time", fmt.channels, fmt.sample_rate_hz, 1)
        self.fixed = fmt.numeric != "float"
        if not self.fixed:
            return out
        if fmt.numeric != "int16":
            raise self.fail(
                f"fixed-point latents must be int16 (from conv_encoder), receives {fmt.describe()}"
            )
        self.fixed_dec = FixedConvDecoder(self.dec, self.S, in_frac=fmt.frac_bits, channels=self.channels)
        return out.with_(numeric="q15", frac_bits=15)

    @property
    def latency_samples(self) -> int:
        return self.W - self.S

    def reset(self) -> None:
        if self.fixed:
            self.fixed_dec.reset()
        else:
            self.carry = np.zeros((self.channels, self.W))

    def process(self, e: np.ndarray) -> np.ndarray:
        if self.fixed:
            return self.fixed_dec.process(e)
        out = np.empty((self.channels, e.shape[2] * self.S))
        decode_frames(np.ascontiguousarray(e, dtype=np.float64), self.dec, self.carry, self.S, out)
        return out

    def cost(self) -> Cost:
        if self.fixed:
            return _fixed_cost(self.fixed_dec, self.ctx.sample_rate_hz / self.S)
        c, wb = self.channels, self.ctx.word_bytes
        fixed = self.ctx.fixed
        ops = add_ops(Counter(), add=self.W * c, move=(self.W - self.S) * c)
        add_ops(ops, **{"mac8" if fixed else "mac_f32": self.N * self.W * c})
        return Cost(
            ops=ops,
            frame_rate_hz=self.ctx.sample_rate_hz / self.S,
            ram_persistent=self.W * c * wb,
            ram_scratch=self.W * wb,
            rom=self.N * self.W * (1 if fixed else 4),
        )
