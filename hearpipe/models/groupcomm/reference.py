"""GroupComm mask estimator: the numpy float reference, frame by frame.

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

Front ends and the whole-signal `enhance`: `frontend`; costs: `cost`; hyper-parameters: `hparams`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.models.groupcomm.hparams import ARCHITECTURE, GroupCommHParams, expected_shapes
from hearpipe.models.weights import WeightFile, load_weights, resolve_weights


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
                x = x + rec(p + "grnn.y", group_birnn(x, w, p, hp.inter_hidden))
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


def group_birnn(x: np.ndarray, w: GroupCommWeights, p: str, hi: int) -> np.ndarray:
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


def read_weights(ref, base_dir=None) -> tuple[WeightFile, GroupCommWeights]:
    """A GroupComm weight file or builtin:NAME (a path relative to base_dir): the file, for its
    metadata, and its checked float weights (packed layers of a compressed file dequantised)."""
    wf = load_weights(resolve_weights(ref, base_dir), ARCHITECTURE)
    hp = GroupCommHParams.from_dict(wf.hparams, wf.source)
    return wf, GroupCommWeights.from_arrays(hp, wf.float_arrays(), wf.source)


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
