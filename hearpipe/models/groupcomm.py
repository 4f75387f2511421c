"""GroupComm mask estimator: numpy float reference (streaming and whole-sequence).

The model (causal; Luo et al. 2021 / GC3 adapted for a hearing aid), per frame j:

1. features   f = feat_scale * log2(p + log_eps), p = per-bin power |X_k|^2 (STFT), e_n^2 (conv encoder)
   or, with `enc_complex`, e_n^2 + e_{n+F}^2 (the encoder's channels read as F complex bands)
2. projection x = W_in f + b_in, split into K contiguous groups x_g of D = n_model / K values
3. n_blocks times:
   a. inter-group module, per frame (residual):
      TAC:  z_g = PReLU(W1 x_g + b1); m = PReLU(W2 mean_g z_g + b2); x_g += PReLU(W3 [z_g; m] + b3)
      rnn:  bidirectional GRU across g = 0..K-1 (within the frame), x_g += P [h_fwd_g; h_bwd_g] + p
   b. sequence module, weights shared by all groups, state kept per group: a unidirectional GRU/LSTM
      stack over frames, or (`rnn: tcn`) a causal dilated convolution stack, layer l with dilation
      2**l and k = `tcn_kernel` taps: h_t = tanh(W [s_t; s_{t-2**l}; ...; s_{t-(k-1) 2**l}] + b)
      (a TCN: bounded like a GRU state, no recurrence); then x_g += W_out h_g + b_out
4. masks      m_g = sigmoid(W_m x_g + b_m) -> C x P values per group; concatenated over groups, the
   first `features` values are the mask of each output (bounded to (0, 1)).
5. the mask multiplies the complex STFT bins or the un-normalised encoder output (`enc_complex`: the
   same mask value multiplies both channels of a band); or, with `df_taps` L (complex bands only), a deep
   filter: d_g = tanh(W_df x_g + b_df) gives per band L complex coefficients c_l (c_0 also adds the mask to
   its real part) and the output band is sum_l c_l X_{t-l} over this frame and the L-1 before it
   (`deep_filter`; the caller keeps the earlier frames).

Only operations a fixed-point kernel set has: matrix-vector with bias, PReLU, sigmoid/tanh (tables),
mean over groups, elementwise multiply/add, log2 (table). No statistics over time: strictly causal.
Value ranges (for the fixed-point formats): features lie in [-3.4, 2.5] (log2 of powers between
the floor 2^-27 and 2^20, times 1/8); GRU states and tanh/sigmoid outputs in (-1, 1); masks in (0, 1);
PReLU and residual activations are unbounded in principle: `activation_ranges` measures them on real
mixtures for a trained model (calibration of the int16 formats). LSTM cell states are not clamped.

The per-frame step (`GroupCommState.step`) is a plain sequence of matrix-vector products on one
frame: the template for the fixed-point inference. Matrix products run per frame (over the K
groups of that frame only), so results are bit-identical for any number of frames per call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

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


def sqrt_hann(n: int) -> np.ndarray:
    """Periodic sqrt-Hann window: sqrt(0.5 - 0.5 cos(2 pi i / n)) = sin(pi i / n)."""
    return np.sin(np.pi * np.arange(n) / n)


def fourier_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Windowed cos and sin rows (n/2+1, n): rfft(w x)[k] = cos[k] @ x - 1j * sin[k] @ x."""
    w = sqrt_hann(n)
    k = np.arange(n // 2 + 1)[:, None]
    ang = 2 * np.pi * k * np.arange(n)[None, :] / n
    return w * np.cos(ang), w * np.sin(ang)


def stft_codec(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sqrt-Hann STFT / inverse STFT of `stft_frames` / `istft_frames` as conv encoder and decoder
    weights, each (2 (n/2+1), n): rows k and k + n/2+1 give (decoder: take) Re and Im of bin k."""
    cos, sin = fourier_basis(n)
    ck = np.full(n // 2 + 1, 2.0)
    ck[0] = ck[-1] = 1.0  # DC and Nyquist appear once in the inverse real FFT
    return np.concatenate([cos, -sin]), np.concatenate([cos * ck[:, None], -sin * ck[:, None]]) / n


def band_power(hp: GroupCommHParams, e: np.ndarray) -> np.ndarray:
    """Encoder output e (N, ...) (STFT: [re; im]) -> the mask estimator's power input (features, ...)."""
    if hp.complex_bands:
        f = hp.features
        return e[:f] ** 2 + e[f:] ** 2
    return e**2


# -- elementary operations (each maps to one fixed-point kernel) ------------------------------------
def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def prelu(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, a * x)


def matvec(w: np.ndarray, b: np.ndarray | None, x: np.ndarray) -> np.ndarray:
    """Rows of x (one frame's groups, (K, in)) times w.T (out, in) plus b: (K, out)."""
    y = x @ w.T
    return y + b if b is not None else y


def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    """torch.nn.GRU step (gates r, z, n) for rows x (K, in), h (K, H)."""
    gi = matvec(w_ih, b_ih, x)
    gh = matvec(w_hh, b_hh, h)
    H = h.shape[-1]
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1.0 - z) * n + z * h


def lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """torch.nn.LSTM step (gates i, f, g, o)."""
    g = matvec(w_ih, b_ih, x) + matvec(w_hh, b_hh, h)
    H = h.shape[-1]
    i = sigmoid(g[:, :H])
    f = sigmoid(g[:, H : 2 * H])
    gg = np.tanh(g[:, 2 * H : 3 * H])
    o = sigmoid(g[:, 3 * H :])
    c = f * c + i * gg
    return o * np.tanh(c), c


@dataclass
class GroupCommWeights:
    """Weights as float64 arrays, checked against the hyper-parameters."""

    hp: GroupCommHParams
    arrays: dict[str, np.ndarray]

    @classmethod
    def from_arrays(cls, hp: GroupCommHParams, arrays: dict[str, np.ndarray], source: str = "weights"):
        need = expected_shapes(hp)
        out = {}
        for name, shape in need.items():
            if name not in arrays:
                raise InvalidInput(
                    f"{source}: weight array {name!r} is missing (needed by {hp.frontend} model)"
                )
            a = np.asarray(arrays[name], dtype=np.float64)
            if a.shape != shape:
                raise InvalidInput(f"{source}: weight array {name!r} has shape {a.shape}, expected {shape}")
            out[name] = a
        return cls(hp, out)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


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


@dataclass
class GroupCommState:
    """Streaming mask estimator: recurrent state per group carried from frame to frame."""

    w: GroupCommWeights
    h: list[np.ndarray] = field(default_factory=list)  # per (block, layer): (K, hidden)
    c: list[np.ndarray] = field(default_factory=list)  # LSTM cell states
    past: list[np.ndarray] = field(default_factory=list)  # TCN: per (block, layer) earlier inputs
    # (tcn_past, K, inputs), oldest first
    mean: np.ndarray | None = None  # running mean of the features (feat_ema_shift); None before frame 0

    def __post_init__(self):
        self.reset()

    def reset(self) -> None:
        hp = self.w.hp
        n = hp.n_blocks * hp.rnn_layers
        self.h = [np.zeros((hp.groups, hp.hidden)) for _ in range(n)]
        self.c = [np.zeros((hp.groups, hp.hidden)) for _ in range(n)] if hp.rnn == "lstm" else []
        self.past = [
            np.zeros((hp.tcn_past(layer), hp.groups, hp.seq_inputs(layer)))
            for _ in range(hp.n_blocks)
            for layer in range(hp.rnn_layers)
        ]
        self.mean = None

    def inputs(self, f: np.ndarray) -> np.ndarray:
        """The projection's input for features f: f itself or, with feat_ema_shift, [f; f - mean] after
        the running mean's update (the first frame sets it)."""
        k = self.w.hp.feat_ema_shift
        if not k:
            return f
        self.mean = f.copy() if self.mean is None else self.mean + 2.0**-k * (f - self.mean)
        return np.concatenate([f, f - self.mean])

    def step(self, power: np.ndarray, probe: dict | None = None) -> np.ndarray:
        """One frame: per-feature power (features,) -> masks (C, features), or with `df_taps` L the deep
        filter's coefficients (C, L, 2, features): (re, im) per tap, the mask included in tap 0's re.

        `probe`, if given, collects (min, max) of every intermediate (see `activation_ranges`).
        """
        hp, w = self.w.hp, self.w
        rec = _recorder(probe)
        f = rec("features", hp.feat_scale * np.log2(power + hp.log_eps))
        f = self.inputs(f)
        if hp.feat_ema_shift:
            rec("features.dev", f[hp.features :])
        x = matvec(w["in.weight"], w["in.bias"], f[None, :]).reshape(hp.groups, hp.group_dim)
        rec("in", x)
        for r in range(hp.n_blocks):
            p = f"blocks.{r}."
            if hp.inter == "tac":
                z = rec(p + "tac.z", prelu(matvec(w[p + "tac.w1"], w[p + "tac.b1"], x), w[p + "tac.a1"]))
                zbar = rec(p + "tac.mean", z.mean(axis=0, keepdims=True))
                m = rec(p + "tac.m", prelu(matvec(w[p + "tac.w2"], w[p + "tac.b2"], zbar), w[p + "tac.a2"]))
                zm = np.concatenate([z, np.broadcast_to(m, z.shape)], axis=1)
                x = x + rec(p + "tac.y", prelu(matvec(w[p + "tac.w3"], w[p + "tac.b3"], zm), w[p + "tac.a3"]))
            elif hp.inter == "rnn":
                x = x + rec(p + "grnn.y", _group_birnn(x, w, p, hp.inter_hidden))
            s = rec(p + "inter.out", x)
            for layer in range(hp.rnn_layers):
                s = self.seq_layer(r, layer, s, rec)
            x = x + rec(p + "out", matvec(w[p + "out.weight"], w[p + "out.bias"], s))
            rec(p + "x", x)
        return heads(w, x, rec)

    def seq_layer(self, r: int, layer: int, s: np.ndarray, rec=lambda name, a: a) -> np.ndarray:
        """Sequence layer `layer` of block r on this frame's rows s (K, inputs) -> its output (K, H), also
        kept in self.h; updates its state. `rec` sees the output, the LSTM cell and the TCN pre-activation."""
        hp, w = self.w.hp, self.w
        i = r * hp.rnn_layers + layer
        if hp.rnn == "tcn":
            q = f"blocks.{r}.tcn.{layer}."
            past, dil = self.past[i], 2**layer
            u = np.concatenate([s] + [past[-j * dil] for j in range(1, hp.tcn_kernel)], axis=1)
            self.h[i] = np.tanh(rec(q + "pre", matvec(w[q + "weight"], w[q + "bias"], u)))
            self.past[i] = np.concatenate([past[1:], s[None]])
            return rec(q + "h", self.h[i])
        q = f"blocks.{r}.rnn.{layer}."
        args = (w[q + "weight_ih"], w[q + "weight_hh"], w[q + "bias_ih"], w[q + "bias_hh"])
        if hp.rnn == "gru":
            self.h[i] = gru_cell(s, self.h[i], *args)
        else:
            self.h[i], self.c[i] = lstm_cell(s, self.h[i], self.c[i], *args)
            rec(q + "c", self.c[i])
        return rec(q + "h", self.h[i])

    def process(self, power: np.ndarray) -> np.ndarray:
        """Frames of power (features, J) -> `step`'s output per frame, frames last (..., J)."""
        return np.stack([self.step(power[:, j]) for j in range(power.shape[1])], axis=-1)


def heads(w: GroupCommWeights, x: np.ndarray, rec=lambda name, a: a) -> np.ndarray:
    """The groups' final x (K, D) -> masks (C, features) or the deep filter's coefficients (C, L, 2,
    features) (`GroupCommState.step`); `rec(name, logits)` sees the logits."""
    hp = w.hp
    m = _per_band(hp, sigmoid(rec("mask.logits", matvec(w["mask.weight"], w["mask.bias"], x))), 1)[:, 0]
    if not hp.df_taps:
        return m
    d = _per_band(hp, np.tanh(rec("df.logits", matvec(w["df.weight"], w["df.bias"], x))), 2 * hp.df_taps)
    d = d.reshape(hp.n_outputs, hp.df_taps, 2, hp.features)
    d[:, 0, 0] += m
    return d


def _per_band(hp: GroupCommHParams, y: np.ndarray, n: int) -> np.ndarray:
    """Head outputs (K, C*n*P) -> (C, n, features): the groups' P values concatenated per band."""
    y = y.reshape(hp.groups, hp.n_outputs, n, hp.mask_per_group).transpose(1, 2, 0, 3)
    return y.reshape(hp.n_outputs, n, -1)[:, :, : hp.features]


def deep_filter(hp: GroupCommHParams, e: np.ndarray, coef: np.ndarray, past: np.ndarray | None = None):
    """Frames e (2F, J) of complex bands [re; im] through the deep filter's coefficients (C, L, 2, F, J)
    -> (C, 2F, J): band f of frame j is sum_l c_l e_{j-l} (complex product). `past`: the L-1 frames
    before e (2F, L-1), oldest first; zeros (the start of a stream) if None."""
    nb, j, L = hp.features, e.shape[1], hp.df_taps
    ext = np.concatenate([np.zeros((2 * nb, L - 1)) if past is None else past, e], axis=1)
    xr = np.stack([ext[:nb, L - 1 - lag : L - 1 - lag + j] for lag in range(L)])  # (L, F, J)
    xi = np.stack([ext[nb:, L - 1 - lag : L - 1 - lag + j] for lag in range(L)])
    a, b = coef[:, :, 0], coef[:, :, 1]  # (C, L, F, J)
    return np.concatenate([(a * xr - b * xi).sum(axis=1), (a * xi + b * xr).sum(axis=1)], axis=1)


def apply_estimate(hp: GroupCommHParams, e: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Encoder frames e (R, J) (STFT: [re; im]) and `GroupCommState.process`'s output -> (C, R, J)."""
    if hp.df_taps:
        return deep_filter(hp, e, est)
    return e[None] * (np.concatenate([est, est], axis=1) if hp.complex_bands else est)


def _recorder(probe: dict | None):
    if probe is None:
        return lambda name, a: a

    def rec(name: str, a: np.ndarray) -> np.ndarray:
        lo, hi = float(np.min(a)), float(np.max(a))
        old = probe.get(name)
        probe[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))
        return a

    return rec


def activation_ranges(w: GroupCommWeights, power_frames: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """(min, max) of every intermediate over streams of power frames (each (features, J)), run from a
    fresh state each: the calibration data for choosing fixed-point formats."""
    probe: dict[str, tuple[float, float]] = {}
    for power in power_frames:
        st = GroupCommState(w)
        for j in range(power.shape[1]):
            st.step(power[:, j], probe)
    return probe


def _group_birnn(x: np.ndarray, w: GroupCommWeights, p: str, hi: int) -> np.ndarray:
    """Bidirectional GRU across the groups of one frame; returns the projected residual (K, D)."""
    k = x.shape[0]
    hs = np.zeros((2, k, hi))
    for tag, order, idx in (("fwd", range(k), 0), ("bwd", range(k - 1, -1, -1), 1)):
        q = f"{p}grnn.{tag}."
        h = np.zeros((1, hi))
        for g in order:
            h = gru_cell(
                x[g : g + 1], h, w[q + "weight_ih"], w[q + "weight_hh"], w[q + "bias_ih"], w[q + "bias_hh"]
            )
            hs[idx, g] = h[0]
    return matvec(w[p + "grnn.proj.weight"], w[p + "grnn.proj.bias"], np.concatenate([hs[0], hs[1]], axis=1))


# -- front ends (numpy, streaming) ------------------------------------------------------------------
def stft_frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Whole-signal STFT as the `stft` block computes it: frame j covers x[(j+1)hop - n_fft, (j+1)hop)."""
    w = sqrt_hann(n_fft)
    xp = np.concatenate([np.zeros(n_fft - hop), x])
    J = len(x) // hop
    frames = np.stack([xp[j * hop : j * hop + n_fft] for j in range(J)], axis=1)
    return np.fft.rfft(frames * w[:, None], axis=0)


def istft_frames(X: np.ndarray, n_fft: int, hop: int, n_samples: int) -> np.ndarray:
    """Inverse of `stft_frames` aligned with the input (irfft x window, overlap-add)."""
    w = sqrt_hann(n_fft)
    J = X.shape[1]
    y = np.zeros(J * hop + n_fft)
    fr = np.fft.irfft(X, n=n_fft, axis=0) * w[:, None]
    for j in range(J):
        y[j * hop : j * hop + n_fft] += fr[:, j]
    return y[n_fft - hop : n_fft - hop + n_samples]


def conv_encode(x: np.ndarray, enc: np.ndarray, hop: int) -> np.ndarray:
    """Learned encoder (N, W) on a whole signal -> (N, J); frame j covers x[(j+1)S - W, (j+1)S)."""
    W = enc.shape[1]
    xp = np.concatenate([np.zeros(W - hop), x])
    J = len(x) // hop
    out = np.empty((enc.shape[0], J))
    for j in range(J):
        out[:, j] = enc @ xp[j * hop : j * hop + W]
    return out


def conv_decode(e: np.ndarray, dec: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
    """Transposed conv (N, W) + overlap-add, aligned with the encoder's input."""
    W = dec.shape[1]
    J = e.shape[1]
    y = np.zeros(J * hop + W)
    for j in range(J):
        y[j * hop : j * hop + W] += e[:, j] @ dec
    return y[W - hop : W - hop + n_samples]


def enhance(x: np.ndarray, w: GroupCommWeights) -> np.ndarray:
    """Whole-sequence reference: mono audio (T,) -> (C, T) aligned with the input (frames run one by
    one through `GroupCommState`; T is cut to whole hops and the tail filled with zeros)."""
    hp = w.hp
    x = np.asarray(x, dtype=np.float64)
    T = len(x)
    st = GroupCommState(w)
    out = np.zeros((hp.n_outputs, T))
    if hp.frontend == "stft":
        X = stft_frames(x, hp.window, hp.hop)
        y = apply_estimate(hp, np.concatenate([X.real, X.imag]), st.process(X.real**2 + X.imag**2))
        for c in range(hp.n_outputs):
            out[c] = istft_frames(y[c, : hp.features] + 1j * y[c, hp.features :], hp.window, hp.hop, T)
    else:
        e = conv_encode(x, w["enc.weight"], hp.hop)
        y = apply_estimate(hp, e, st.process(band_power(hp, e)))
        for c in range(hp.n_outputs):
            out[c] = conv_decode(y[c], w["dec.weight"], hp.hop, T)
    return out


def random_weights(hp: GroupCommHParams, seed: int = 0, scale: float = 0.3) -> GroupCommWeights:
    """Random weights of the right shapes (for tests)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in expected_shapes(hp).items():
        fan_in = shape[-1] if len(shape) > 1 else 1
        a = rng.standard_normal(shape) * (scale if len(shape) == 1 else 1.0 / math.sqrt(fan_in))
        if name.endswith((".a1", ".a2", ".a3")):
            a = 0.25 + 0.1 * rng.standard_normal(shape)
        arrays[name] = a
    return GroupCommWeights.from_arrays(hp, arrays)


# -- cost -------------------------------------------------------------------------------------------
def ops_per_frame(hp: GroupCommHParams) -> dict[str, int]:
    """Exact operation counts of one `GroupCommState.step` (mask estimator only, no front end)."""
    K, d, h, hi, C, P, Fe = (hp.groups, hp.group_dim, hp.hidden, hp.inter_hidden, hp.n_outputs,
                             hp.mask_per_group, hp.features)  # fmt: skip
    mac = add = mul = lut = cmp_ = 0
    lut += Fe  # log2 table per feature
    add += Fe  # power + eps
    mul += Fe  # feat_scale
    mac += hp.n_model * hp.n_in
    add += hp.n_model  # bias
    if hp.feat_ema_shift:  # mean += (f - mean) >> k; deviation f - mean
        add += 3 * Fe
        mul += Fe
    for _ in range(hp.n_blocks):
        if hp.inter == "tac":
            mac += K * hi * d + hi * hi + K * d * 2 * hi
            add += K * hi + hi + K * d  # biases
            add += K * hi  # mean: sum over groups
            mul += hi  # mean: times 1/K
            cmp_ += K * hi + hi + K * d  # PReLU sign tests
            mul += K * hi + hi + K * d  # PReLU slopes (worst case)
            add += K * d  # residual
        elif hp.inter == "rnn":
            for _dir in range(2):
                mac += K * 3 * hi * (d + hi)
                add += K * (6 * hi + 3 * hi + 3 * hi)
                lut += K * 3 * hi
                mul += K * 3 * hi
            mac += K * d * 2 * hi
            add += K * d * 2
        for layer in range(hp.rnn_layers):
            n_in = hp.seq_inputs(layer)
            if hp.rnn == "tcn":  # one dense layer over k taps, bias, tanh table
                mac += K * h * hp.tcn_kernel * n_in
                add += K * h
                lut += K * h
                continue
            g = 3 if hp.rnn == "gru" else 4
            mac += K * g * h * (n_in + h)
            add += K * 2 * g * h  # two biases
            if hp.rnn == "gru":
                add += K * (2 * h + h + 2 * h)  # r,z sums; n sum; (1-z)n + zh
                mul += K * 3 * h
                lut += K * 3 * h
            else:
                add += K * (h + h)
                mul += K * 4 * h
                lut += K * 5 * h
        mac += K * d * h
        add += K * d * 2
    mac += K * C * P * d
    add += K * C * P
    lut += K * C * P
    if hp.df_taps:  # the deep filter's head (tanh per value); the filter itself is `filter_macs`
        mac += K * hp.df_per_group * d
        add += K * hp.df_per_group
        lut += K * hp.df_per_group
    return {"mac": mac, "add": add, "mul": mul, "lut": lut, "cmp": cmp_}


def past_values(hp: GroupCommHParams) -> int:
    """Front-end values the deep filter keeps: the L-1 previous frames of 2F (re, im) band values."""
    return max(hp.df_taps - 1, 0) * 2 * hp.features


def state_values(hp: GroupCommHParams) -> int:
    """Values kept between frames: RNN states (h; c for LSTM) or the TCN's earlier inputs, the running
    means and the deep filter's earlier frames."""
    if hp.rnn == "tcn":
        n = hp.n_blocks * hp.groups * sum(hp.tcn_past(i) * hp.seq_inputs(i) for i in range(hp.rnn_layers))
    else:
        n = hp.n_blocks * hp.rnn_layers * hp.groups * hp.hidden * (2 if hp.rnn == "lstm" else 1)
    return n + (hp.features if hp.feat_ema_shift else 0) + past_values(hp)


def scratch_values(hp: GroupCommHParams) -> int:
    """Largest live activations within one frame (features, x, TAC/RNN intermediates, gates, masks)."""
    K, h, hi = hp.groups, hp.hidden, hp.inter_hidden
    g = 3 if hp.rnn == "gru" else 4
    inter = K * hi * 2 + hi if hp.inter == "tac" else (2 * K * hi + 6 * hi if hp.inter == "rnn" else 0)
    seq = K * (hp.tcn_kernel * max(hp.group_dim, h) + 2 * h) if hp.rnn == "tcn" else K * 2 * g * h
    return hp.n_in + hp.n_model * 2 + max(inter, seq, K * hp.n_outputs * hp.mask_per_group)


def filter_macs(hp: GroupCommHParams) -> int:
    """Multiplies applying one output's mask (one per front-end value) or deep filter (4 per band and tap)."""
    if hp.df_taps:
        return 4 * hp.df_taps * hp.features
    return 2 * hp.features if hp.complex_bands else hp.features


def frontend_macs_per_frame(hp: GroupCommHParams) -> int:
    """Encoder + mask + decoder multiply-accumulates (STFT: direct DFT bound; an FFT needs fewer)."""
    if hp.frontend == "conv":
        n, W = hp.enc_channels, hp.window
        return n * hp.analysis_window + n * W * hp.n_outputs + filter_macs(hp) * hp.n_outputs
    L = hp.window
    # real FFT + inverse as butterflies ~ 2 * (L/2) log2(L/2) complex mults (4 MACs each), window, mask
    return 2 * 4 * (L // 2) * int(math.log2(L // 2)) + 2 * L + filter_macs(hp)


def summary(hp: GroupCommHParams) -> dict[str, float]:
    ops = ops_per_frame(hp)
    macs = ops["mac"] + frontend_macs_per_frame(hp)
    return {
        "params": n_params(hp),
        "macs_per_frame": macs,
        "mmacs_per_s": macs * hp.frame_rate_hz / 1e6,
        "state_values": state_values(hp),
        "latency_ms": 1000.0 * hp.window / hp.sample_rate_hz,  # (W - S) algorithmic + S block buffer
    }
