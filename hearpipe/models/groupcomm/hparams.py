"""GroupComm hyper-parameters and the weight layout they imply (names and shapes of every array)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from hearpipe.errors import InvalidInput

ARCHITECTURE = "groupcomm"


@dataclass(frozen=True)
class GroupCommHParams:
    """Hyper-parameters (stored in the weight file's metadata)."""

    frontend: Literal["stft", "conv"] = "stft"
    window: int = 128  # STFT length L = n_fft, or conv encoder window W (samples)
    hop: int = 64  # STFT hop or encoder stride S (samples)
    enc_channels: int = 0  # conv encoder channels N_enc (conv only)
    enc_window: int = 0  # conv encoder (analysis) length; 0: `window`. Longer than the decoder's `window`
    # it resolves low frequencies better at no cost in latency (the delay is set by the synthesis window)
    enc_complex: bool = False  # conv only: channels n and n + N/2 are the real and imaginary parts of one
    # band (features: N/2 band powers; one mask value per band): an STFT-shaped learned filterbank, which
    # an STFT model's weights initialise exactly (`hearpipe.train.model.grow`)
    n_model: int = 64  # width after the input projection (K groups of D)
    groups: int = 4  # K (1 = no grouping: the non-grouped baseline)
    n_blocks: int = 2  # inter-group + sequence blocks
    rnn: Literal["gru", "lstm", "tcn"] = "gru"  # the per-group sequence module
    rnn_layers: int = 1  # stacked recurrent (or TCN) layers per block
    hidden: int = 64  # recurrent hidden size per group
    inter: Literal["tac", "rnn", "none"] = "tac"
    inter_hidden: int = 32  # TAC hidden width, or the across-group GRU's hidden size
    n_outputs: int = 1  # C masks (1: enhancement; 2+: separation)
    feat_ema_shift: int = 0  # k > 0: the model also reads each feature minus its running mean, an
    # exponential average mean += 2**-k (f - mean) (time constant 2**k frames) started at the first frame:
    # a per-band noise-floor reference no statistics window has to wait for (causal)
    df_taps: int = 0  # L > 0 (complex bands only): a deep filter instead of a real mask - each output band
    # is sum_l c_l X_{t-l} over this and the L-1 previous frames, complex coefficients c_l = tanh(head)
    # (+ the sigmoid mask on c_0): phase-aware, and it resolves harmonics finer than the 8 ms frames' bins
    tcn_kernel: int = 3  # rnn "tcn": taps per causal conv layer (layer l spans (k-1) 2**l + 1 frames)
    log_eps: float = 2.0**-27
    feat_scale: float = 0.125
    sample_rate_hz: float = 16000.0

    def __post_init__(self):
        def bad(field_: str, msg: str):
            raise InvalidInput(f"groupcomm hyper-parameters: {field_} ({getattr(self, field_)!r}) {msg}")

        if self.frontend not in ("stft", "conv"):
            bad("frontend", "must be 'stft' or 'conv'")
        if self.rnn not in ("gru", "lstm", "tcn"):
            bad("rnn", "must be 'gru', 'lstm' or 'tcn'")
        if not 2 <= self.tcn_kernel <= 8:
            bad("tcn_kernel", "must lie in 2..8")
        if self.rnn == "tcn" and self.rnn_layers > 8:
            bad("rnn_layers", "must be <= 8 for a TCN (its state doubles with every layer)")
        if self.inter not in ("tac", "rnn", "none"):
            bad("inter", "must be 'tac', 'rnn' or 'none'")
        for name in ("window", "hop", "n_model", "groups", "n_blocks", "rnn_layers", "hidden", "n_outputs"):
            if int(getattr(self, name)) < 1:
                bad(name, "must be >= 1")
        if self.hop > self.window:
            bad("hop", f"must not exceed window ({self.window})")
        if self.n_model % self.groups:
            bad("n_model", f"must be divisible by groups ({self.groups})")
        if self.frontend == "conv" and self.enc_channels < 1:
            bad("enc_channels", "must be >= 1 for the conv front end")
        if self.enc_window and (self.frontend != "conv" or self.enc_window < self.window):
            bad("enc_window", f"must be 0 or, for the conv front end, at least window ({self.window})")
        if not 0 <= self.feat_ema_shift <= 15:
            bad("feat_ema_shift", "must be 0 (off) or 1..15")
        if self.enc_complex and (self.frontend != "conv" or self.enc_channels % 2):
            bad("enc_complex", "needs the conv front end with an even number of enc_channels")
        if self.frontend == "stft" and self.window % 2:
            bad("window", "must be even for the STFT front end")
        if not 0 <= self.df_taps <= 8:
            bad("df_taps", "must be 0 (a real mask) or 1..8 taps")
        if self.df_taps and not self.complex_bands:
            bad("df_taps", "needs complex bands (the STFT front end, or the conv front end with enc_complex)")

    @property
    def features(self) -> int:
        if self.frontend == "stft":
            return self.window // 2 + 1
        return self.enc_channels // 2 if self.enc_complex else self.enc_channels

    @property
    def n_in(self) -> int:
        """Inputs of the projection: the features, and their deviations from the running mean."""
        return self.features * (2 if self.feat_ema_shift else 1)

    @property
    def complex_bands(self) -> bool:
        """Each feature is the power of two front-end values (a complex bin or band), masked together."""
        return self.frontend == "stft" or self.enc_complex

    @property
    def analysis_window(self) -> int:
        """Samples each encoder frame reads (the conv encoder's length; the STFT window)."""
        return self.enc_window or self.window

    @property
    def df_per_group(self) -> int:
        """Deep-filter head outputs per group: C outputs x L taps x (re, im) x P bands."""
        return self.n_outputs * self.df_taps * 2 * self.mask_per_group

    def seq_inputs(self, layer: int) -> int:
        """Inputs per group of sequence layer `layer`: the group's D values, then the layer below's H."""
        return self.group_dim if layer == 0 else self.hidden

    def tcn_past(self, layer: int) -> int:
        """Earlier frames TCN layer `layer` reads (its state): (tcn_kernel - 1) * dilation 2**layer."""
        return (self.tcn_kernel - 1) * 2**layer if self.rnn == "tcn" else 0

    @property
    def group_dim(self) -> int:
        return self.n_model // self.groups

    @property
    def mask_per_group(self) -> int:
        return -(-self.features // self.groups)

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "weights") -> GroupCommHParams:
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(d) - known)
        if extra:
            raise InvalidInput(f"{source}: unknown groupcomm hyper-parameter(s) {', '.join(extra)}")
        return cls(**d)


def expected_shapes(hp: GroupCommHParams) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every weight array of a model with these hyper-parameters."""
    d, h, hi = hp.group_dim, hp.hidden, hp.inter_hidden
    g = 3 if hp.rnn == "gru" else 4
    s: dict[str, tuple[int, ...]] = {}
    if hp.frontend == "conv":
        s["enc.weight"] = (hp.enc_channels, hp.analysis_window)
        s["dec.weight"] = (hp.enc_channels, hp.window)
    s["in.weight"] = (hp.n_model, hp.n_in)
    s["in.bias"] = (hp.n_model,)
    for r in range(hp.n_blocks):
        p = f"blocks.{r}."
        if hp.inter == "tac":
            s.update({
                f"{p}tac.w1": (hi, d), f"{p}tac.b1": (hi,), f"{p}tac.a1": (hi,),
                f"{p}tac.w2": (hi, hi), f"{p}tac.b2": (hi,), f"{p}tac.a2": (hi,),
                f"{p}tac.w3": (d, 2 * hi), f"{p}tac.b3": (d,), f"{p}tac.a3": (d,),
            })  # fmt: skip
        elif hp.inter == "rnn":
            for tag in ("fwd", "bwd"):
                s.update({
                    f"{p}grnn.{tag}.weight_ih": (3 * hi, d), f"{p}grnn.{tag}.weight_hh": (3 * hi, hi),
                    f"{p}grnn.{tag}.bias_ih": (3 * hi,), f"{p}grnn.{tag}.bias_hh": (3 * hi,),
                })  # fmt: skip
            s[f"{p}grnn.proj.weight"] = (d, 2 * hi)
            s[f"{p}grnn.proj.bias"] = (d,)
        for layer in range(hp.rnn_layers):
            n_in = hp.seq_inputs(layer)
            if hp.rnn == "tcn":
                s[f"{p}tcn.{layer}.weight"] = (h, hp.tcn_kernel * n_in)
                s[f"{p}tcn.{layer}.bias"] = (h,)
                continue
            s[f"{p}rnn.{layer}.weight_ih"] = (g * h, n_in)
            s[f"{p}rnn.{layer}.weight_hh"] = (g * h, h)
            s[f"{p}rnn.{layer}.bias_ih"] = (g * h,)
            s[f"{p}rnn.{layer}.bias_hh"] = (g * h,)
        s[f"{p}out.weight"] = (d, h)
        s[f"{p}out.bias"] = (d,)
    s["mask.weight"] = (hp.n_outputs * hp.mask_per_group, d)
    s["mask.bias"] = (hp.n_outputs * hp.mask_per_group,)
    if hp.df_taps:
        s["df.weight"] = (hp.df_per_group, d)
        s["df.bias"] = (hp.df_per_group,)
    return s


def n_params(hp: GroupCommHParams) -> int:
    return sum(math.prod(v) for v in expected_shapes(hp).values())
