"""PyTorch GroupComm mask estimator: the training twin of `hearpipe.models.groupcomm` (same function).

Whole-sequence, causal: every frame depends only on itself and earlier frames. Shapes: audio `(B, T)`
in, separated audio `(B, C, T)` out, aligned with the input sample by sample (the streaming blocks
deliver the same samples `window - hop` later). Parameter names follow the `.npz` array names
(`export_arrays`), so the numpy reference reads the exported file without any renaming.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from hearpipe.models.groupcomm import GroupCommHParams
from hearpipe.models.groupcomm.frontend import stft_codec


class _TAC(nn.Module):
    """Transform-average-concatenate across groups, per frame (residual)."""

    def __init__(self, d: int, h: int):
        super().__init__()
        self.w1, self.a1 = nn.Linear(d, h), nn.PReLU(h, init=0.25)
        self.w2, self.a2 = nn.Linear(h, h), nn.PReLU(h, init=0.25)
        self.w3, self.a3 = nn.Linear(2 * h, d), nn.PReLU(d, init=0.25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, T, K, D)
        z = self.a1(self.w1(x).movedim(-1, 1)).movedim(1, -1)
        m = self.a2(self.w2(z.mean(dim=2)).movedim(-1, 1)).movedim(1, -1)
        zm = torch.cat([z, m.unsqueeze(2).expand_as(z)], dim=-1)
        y = self.a3(self.w3(zm).movedim(-1, 1)).movedim(1, -1)
        return x + y


class _GroupRNN(nn.Module):
    """Residual bidirectional GRU running across the K groups of one frame (ICASSP 2021 variant)."""

    def __init__(self, d: int, h: int):
        super().__init__()
        self.rnn = nn.GRU(d, h, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * h, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, T, K, D)
        b, t, k, d = x.shape
        y, _ = self.rnn(x.reshape(b * t, k, d))
        return x + self.proj(y).reshape(b, t, k, d)


class _TCN(nn.Module):
    """Causal dilated convolutions over frames (one sequence per group, shared weights): layer l reads
    this frame and the tcn_kernel - 1 before it 2**l apart, h = tanh(W [s_t; s_{t-2**l}; ...] + b).
    Called as nn.GRU is: `forward(s, state)` -> (h, state), the state being each layer's earlier inputs
    (N, (k-1) 2**l, inputs); None: zeros (the streaming reference's initial state)."""

    def __init__(self, hp: GroupCommHParams):
        super().__init__()
        self.k = hp.tcn_kernel
        self.layers = nn.ModuleList(
            nn.Linear(hp.tcn_kernel * hp.seq_inputs(i), hp.hidden) for i in range(hp.rnn_layers)
        )

    def forward(self, s: torch.Tensor, state: list[torch.Tensor] | None = None):  # s (N, T, inputs)
        t, new = s.shape[1], []
        for i, lin in enumerate(self.layers):
            dil, n_past = 2**i, (self.k - 1) * 2**i
            past = s.new_zeros(s.shape[0], n_past, s.shape[2]) if state is None else state[i]
            ext = torch.cat([past, s], dim=1)
            new.append(ext[:, t:])
            taps = [ext[:, n_past - j * dil : n_past - j * dil + t] for j in range(self.k)]
            s = torch.tanh(lin(torch.cat(taps, dim=-1)))
        return s, new


class _Block(nn.Module):
    def __init__(self, hp: GroupCommHParams):
        super().__init__()
        d = hp.group_dim
        if hp.inter == "tac":
            self.inter = _TAC(d, hp.inter_hidden)
        elif hp.inter == "rnn":
            self.inter = _GroupRNN(d, hp.inter_hidden)
        else:
            self.inter = None
        if hp.rnn == "tcn":
            self.rnn = _TCN(hp)
        else:
            cls = nn.GRU if hp.rnn == "gru" else nn.LSTM
            self.rnn = cls(d, hp.hidden, num_layers=hp.rnn_layers, batch_first=True)
        self.out = nn.Linear(hp.hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, T, K, D)
        if self.inter is not None:
            x = self.inter(x)
        b, t, k, d = x.shape
        s = x.permute(0, 2, 1, 3).reshape(b * k, t, d)  # each group is its own sequence, shared weights
        h, _ = self.rnn(s)
        y = self.out(h).reshape(b, k, t, d).permute(0, 2, 1, 3)
        return x + y


class GroupCommNet(nn.Module):
    """Front end (STFT or learned conv) + GroupComm mask estimator + synthesis."""

    def __init__(self, hp: GroupCommHParams):
        super().__init__()
        self.hp = hp
        L = hp.window
        if hp.frontend == "stft":
            ana, syn = stft_codec(L, hp.hop)  # rows: Re then Im of the F bins (the windows included)
            self.register_buffer("enc_basis", torch.from_numpy(ana[:, None, :]))
            self.register_buffer("dec_basis", torch.from_numpy(syn[:, None, :]))
        else:
            enc, dec = init_conv_basis(hp.enc_channels, L, hp.enc_complex)
            enc = np.pad(enc, ((0, 0), (hp.analysis_window - L, 0)))  # older samples start unused
            self.enc = nn.Parameter(torch.from_numpy(enc[:, None, :]))
            self.dec = nn.Parameter(torch.from_numpy(dec[:, None, :]))
        self.inp = nn.Linear(hp.n_in, hp.n_model)
        self.blocks = nn.ModuleList(_Block(hp) for _ in range(hp.n_blocks))
        self.mask = nn.Linear(hp.group_dim, hp.n_outputs * hp.mask_per_group)
        if hp.df_taps:  # starts at zero: the deep filter starts as the real mask on the current frame
            self.df = nn.Linear(hp.group_dim, hp.df_per_group)
            nn.init.zeros_(self.df.weight)
            nn.init.zeros_(self.df.bias)
        self.float()

    # -- the four steps ------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, R, J): frame j covers x[(j+1)S - W, (j+1)S), zeros before the start."""
        L, S = self.hp.analysis_window, self.hp.hop
        basis = self.enc_basis if self.hp.frontend == "stft" else self.enc
        xp = F.pad(x.unsqueeze(1), (L - S, 0))
        return F.conv1d(xp, basis, stride=S)

    def power(self, e: torch.Tensor) -> torch.Tensor:
        if self.hp.complex_bands:
            nb = self.hp.features
            return e[:, :nb] ** 2 + e[:, nb:] ** 2
        return e**2

    def _trunk(self, e: torch.Tensor) -> torch.Tensor:
        """Encoder output (B, R, J) -> the groups' features after the blocks (B, J, K, D)."""
        hp = self.hp
        f = torch.log2(self.power(e) + hp.log_eps) * hp.feat_scale  # (B, F, J)
        if hp.feat_ema_shift:
            f = torch.cat([f, f - running_mean(f, 2.0**-hp.feat_ema_shift)], dim=1)
        b, _, j = f.shape
        x = self.inp(f.transpose(1, 2)).reshape(b, j, hp.groups, hp.group_dim)
        for blk in self.blocks:
            x = blk(x)
        return x

    def _per_band(self, y: torch.Tensor, n: int) -> torch.Tensor:
        """Head outputs (B, J, K, C*n*P) -> (B, C, n, F, J): the groups' P values concatenated per band."""
        hp = self.hp
        b, j = y.shape[:2]
        y = y.reshape(b, j, hp.groups, hp.n_outputs, n, hp.mask_per_group).permute(0, 3, 4, 2, 5, 1)
        return y.reshape(b, hp.n_outputs, n, hp.groups * hp.mask_per_group, j)[:, :, :, : hp.features]

    def estimate(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Encoder output (B, R, J) -> masks (B, C, F, J) in (0, 1) and, with `df_taps` L, the deep
        filter's tanh terms (B, C, L, 2, F, J) (else None)."""
        return self.heads(self._trunk(e))

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The groups after the blocks (B, J, K, D) -> `estimate`'s (masks, deep-filter terms)."""
        m = self._per_band(torch.sigmoid(self.mask(x)), 1)[:, :, 0]
        if not self.hp.df_taps:
            return m, None
        d = self._per_band(torch.tanh(self.df(x)), 2 * self.hp.df_taps)
        return m, d.reshape(*d.shape[:2], self.hp.df_taps, 2, *d.shape[3:])

    def apply(self, e: torch.Tensor, m: torch.Tensor, d: torch.Tensor | None = None) -> torch.Tensor:
        """Masked (or deep-filtered) encoder output (B, C, R, J). The filter: band f of output c is
        sum_l c_l X_{t-l} with c_l = d[l, 0] + j d[l, 1] (+ m on c_0); frames before the start are zero."""
        if d is None:
            return e.unsqueeze(1) * (torch.cat([m, m], dim=2) if self.hp.complex_bands else m)
        nb, j = self.hp.features, e.shape[-1]
        er, ei = e[:, None, :nb], e[:, None, nb:]
        a, b = m + d[:, :, 0, 0], d[:, :, 0, 1]
        yr, yi = a * er - b * ei, a * ei + b * er
        for lag in range(1, self.hp.df_taps):
            xr, xi = F.pad(er, (lag, 0))[..., :j], F.pad(ei, (lag, 0))[..., :j]
            a, b = d[:, :, lag, 0], d[:, :, lag, 1]
            yr, yi = yr + a * xr - b * xi, yi + a * xi + b * xr
        return torch.cat([yr, yi], dim=2)

    def decode(self, y: torch.Tensor, n_samples: int) -> torch.Tensor:
        """Synthesis of masked frames (B, C, R, J) with overlap-add -> (B, C, n_samples)."""
        L, S = self.hp.window, self.hp.hop
        b, c, _, j = y.shape
        basis = self.dec_basis if self.hp.frontend == "stft" else self.dec
        y = F.conv_transpose1d(y.reshape(b * c, -1, j), basis, stride=S)
        y = y[:, 0, L - S : L - S + n_samples]  # J*S samples: a partial last hop is not output
        if y.shape[-1] < n_samples:
            y = F.pad(y, (0, n_samples - y.shape[-1]))
        return y.reshape(b, c, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        e = self.encode(x)
        return self.decode(self.apply(e, *self.estimate(e)), n)

    # -- export ---------------------------------------------------------------------------------------
    def export_arrays(self, dtype=np.float32) -> dict[str, np.ndarray]:
        """Weights under the `.npz` names read by `hearpipe.models.groupcomm` (torch GRU/LSTM layouts)."""
        hp = self.hp
        out: dict[str, np.ndarray] = {}

        def put(name: str, t: torch.Tensor) -> None:
            out[name] = t.detach().cpu().numpy().astype(dtype)

        if hp.frontend == "conv":
            put("enc.weight", self.enc[:, 0, :])
            put("dec.weight", self.dec[:, 0, :])
        put("in.weight", self.inp.weight)
        put("in.bias", self.inp.bias)
        for r, blk in enumerate(self.blocks):
            p = f"blocks.{r}."
            if hp.inter == "tac":
                for i in (1, 2, 3):
                    put(f"{p}tac.w{i}", getattr(blk.inter, f"w{i}").weight)
                    put(f"{p}tac.b{i}", getattr(blk.inter, f"w{i}").bias)
                    put(f"{p}tac.a{i}", getattr(blk.inter, f"a{i}").weight)
            elif hp.inter == "rnn":
                for sfx, tag in (("", "fwd"), ("_reverse", "bwd")):
                    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        put(f"{p}grnn.{tag}.{kind}", getattr(blk.inter.rnn, f"{kind}_l0{sfx}"))
                put(f"{p}grnn.proj.weight", blk.inter.proj.weight)
                put(f"{p}grnn.proj.bias", blk.inter.proj.bias)
            for layer in range(hp.rnn_layers):
                if hp.rnn == "tcn":
                    put(f"{p}tcn.{layer}.weight", blk.rnn.layers[layer].weight)
                    put(f"{p}tcn.{layer}.bias", blk.rnn.layers[layer].bias)
                    continue
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    put(f"{p}rnn.{layer}.{kind}", getattr(blk.rnn, f"{kind}_l{layer}"))
            put(f"{p}out.weight", blk.out.weight)
            put(f"{p}out.bias", blk.out.bias)
        put("mask.weight", self.mask.weight)
        put("mask.bias", self.mask.bias)
        if hp.df_taps:
            put("df.weight", self.df.weight)
            put("df.bias", self.df.bias)
        return out

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of `export_arrays` (for tests and fine-tuning from a shipped file)."""
        names = self.export_arrays()
        with torch.no_grad():
            for name in names:
                t = self._param_for(name)
                t.copy_(torch.from_numpy(np.asarray(arrays[name], dtype=np.float64)).reshape(t.shape))

    def _param_for(self, name: str) -> torch.Tensor:
        hp = self.hp
        if name == "enc.weight":
            return self.enc
        if name == "dec.weight":
            return self.dec
        head, _, rest = name.partition(".")
        if head in ("in", "mask", "df"):
            mod = {"in": self.inp, "mask": self.mask, "df": getattr(self, "df", None)}[head]
            return getattr(mod, rest)
        r = int(rest.split(".")[0])
        blk = self.blocks[r]
        parts = rest.split(".")[1:]
        if parts[0] == "tac":
            kind, i = parts[1][0], parts[1][1]
            return (
                getattr(blk.inter, f"w{i}").weight
                if kind == "w"
                else (getattr(blk.inter, f"w{i}").bias if kind == "b" else getattr(blk.inter, f"a{i}").weight)
            )
        if parts[0] == "grnn":
            if parts[1] == "proj":
                return getattr(blk.inter.proj, parts[2])
            sfx = "" if parts[1] == "fwd" else "_reverse"
            return getattr(blk.inter.rnn, f"{parts[2]}_l0{sfx}")
        if parts[0] == "rnn":
            return getattr(blk.rnn, f"{parts[2]}_l{parts[1]}")
        if parts[0] == "tcn":
            return getattr(blk.rnn.layers[int(parts[1])], parts[2])
        if parts[0] == "out":
            return getattr(blk.out, parts[1])
        raise KeyError(f"{name} (hp {hp})")


def running_mean(f: torch.Tensor, a: float) -> torch.Tensor:
    """m_t = m_{t-1} + a (f_t - m_{t-1}) along the last axis with m_0 = f_0, in closed form (one causal
    depthwise convolution, no loop over frames): m_t = a sum_{s<=t} (1-a)^(t-s) f_s + (1-a)^(t+1) f_0."""
    n, j = f.shape[1], f.shape[2]
    decay = (1.0 - a) ** torch.arange(j, dtype=f.dtype, device=f.device)
    kernel = (a * decay).flip(0).expand(n, 1, j)
    m = F.conv1d(F.pad(f, (j - 1, 0)), kernel, groups=n)
    return m + f[:, :, :1] * (decay * (1.0 - a))


def init_conv_basis(n: int, w: int, complex_bands: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Encoder/decoder start: a windowed real Fourier basis when n == w (perfect reconstruction with hop
    w/2), the STFT's when the channels are complex bands of all w/2+1 bins, else small random filters.
    Returns (enc, dec), each (n, w)."""
    if complex_bands and n == 2 * (w // 2 + 1):
        return stft_codec(w, w // 2)
    if n == w:  # the STFT's rows without the all-zero sines of DC and Nyquist
        enc, dec = stft_codec(w, w // 2)
        keep = np.r_[0 : w // 2 + 1, w // 2 + 2 : w + 1]  # w/2+1 cosines + w/2-1 sines = w rows
        sign = np.where(keep > w // 2, -1.0, 1.0)[:, None]  # the sines start positive, as they always did
        return enc[keep] * sign, dec[keep] * sign
    rng = np.random.default_rng(0)
    enc = rng.standard_normal((n, w)) / math.sqrt(w)
    return enc, enc.copy() * (2.0 / n)


def grow(
    arrays: dict[str, np.ndarray], src: dict[str, Any], hp: GroupCommHParams, seed: int = 0
) -> dict[str, np.ndarray]:
    """Arrays of a model with hyper-parameters `src` for a model `hp` that differs at most in a longer
    encoder (`enc_window`) or wider sequence modules (`hidden`), computing the same function. An STFT
    model (`src`) also initialises a conv model with complex bands (`enc_complex`) of as many bins.

    The extra, older encoder taps start at zero. New hidden units get small random input and recurrent
    weights (so they carry signal and learn: all-zero units would get no gradient), but nothing the model
    had reads them yet: their columns in the old units' recurrent weights, the next layer's input weights
    and the output projection are zero. Hence the output is unchanged, exactly (Net2Net-style growth)."""
    a = GroupCommHParams.from_dict(src)
    if a.frontend == "stft" and hp.frontend == "conv" and hp.enc_complex:
        arrays, a = _stft_as_conv(arrays, a, hp)
    keep = {"enc_window": 0, "hidden": 0, "feat_ema_shift": 0, "df_taps": 0}
    if {**a.to_dict(), **keep} != {**hp.to_dict(), **keep}:
        raise ValueError(f"weights of {a} do not fit a model {hp}")
    if a.analysis_window > hp.analysis_window or a.hidden > hp.hidden:
        raise ValueError(f"weights of {a} are larger than a model {hp}: they can only grow")
    if a.hidden < hp.hidden and hp.rnn == "tcn":
        raise ValueError(f"growing a TCN's width (hidden {a.hidden} -> {hp.hidden}) is not supported")
    if a.df_taps > hp.df_taps:
        raise ValueError(f"weights of {a} have more deep-filter taps than a model {hp}")
    if a.feat_ema_shift not in (0, hp.feat_ema_shift):
        raise ValueError(f"weights of {a} read features normalised differently from a model {hp}")
    out = dict(arrays)
    if hp.feat_ema_shift and not a.feat_ema_shift:  # the deviation inputs start unread
        out["in.weight"] = np.pad(np.asarray(arrays["in.weight"]), ((0, 0), (0, hp.features)))
    if hp.df_taps > a.df_taps:  # the new taps start at zero (tanh(0) = 0 adds nothing)
        c, p, d = hp.n_outputs, 2 * hp.mask_per_group, hp.group_dim
        w = np.asarray(arrays["df.weight"]) if a.df_taps else np.zeros((0, d))
        b = np.asarray(arrays["df.bias"]) if a.df_taps else np.zeros(0)
        pad = ((0, 0), (0, hp.df_taps - a.df_taps), (0, 0))
        out["df.weight"] = np.pad(w.reshape(c, a.df_taps, p * d), pad).reshape(-1, d)
        out["df.bias"] = np.pad(b.reshape(c, a.df_taps, p), pad).ravel()
    if hp.frontend == "conv":
        enc = np.asarray(arrays["enc.weight"])
        out["enc.weight"] = np.pad(enc, ((0, 0), (hp.analysis_window - enc.shape[1], 0)))
    if hp.hidden > a.hidden:
        rng = np.random.default_rng(seed)
        h0, h1, gates = a.hidden, hp.hidden, 3 if hp.rnn == "gru" else 4
        for r in range(hp.n_blocks):
            for layer in range(hp.rnn_layers):
                pre = f"blocks.{r}.rnn.{layer}."
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    w = np.asarray(arrays[pre + kind], dtype=np.float64)
                    reads_hidden = kind == "weight_hh" or (kind == "weight_ih" and layer > 0)
                    out[pre + kind] = _grow_gates(w, gates, h0, h1, reads_hidden, rng)
            w = np.asarray(arrays[f"blocks.{r}.out.weight"])
            out[f"blocks.{r}.out.weight"] = np.pad(w, ((0, 0), (0, h1 - h0)))
    return out


def _stft_as_conv(arrays, a: GroupCommHParams, hp: GroupCommHParams) -> tuple[dict, GroupCommHParams]:
    """An STFT model's arrays as the conv model with complex bands that computes the same function: the
    encoder and decoder are the STFT's analysis and synthesis rows (`stft_codec`)."""
    if hp.enc_channels != 2 * a.features:
        raise ValueError(
            f"an STFT model of {a.features} bins needs enc_channels {2 * a.features}, not {hp.enc_channels}"
        )
    enc, dec = stft_codec(a.window, a.hop)
    conv = GroupCommHParams(
        **{**a.to_dict(), "frontend": "conv", "enc_channels": hp.enc_channels, "enc_complex": True}
    )
    return {**arrays, "enc.weight": enc, "dec.weight": dec}, conv


def _grow_gates(w, gates: int, h0: int, h1: int, reads_hidden: bool, rng) -> np.ndarray:
    """Gate-stacked RNN weights (gates*h0, ...) -> (gates*h1, ...): old units keep their rows (and read
    nothing new), new units' rows are small random numbers (biases zero)."""
    w = w.reshape(gates, h0, *w.shape[1:])
    if w.ndim == 2:  # biases
        return np.pad(w, ((0, 0), (0, h1 - h0))).ravel()
    cols = h1 if reads_hidden else w.shape[2]
    out = np.zeros((gates, h1, cols))
    out[:, :h0, : w.shape[2]] = w
    out[:, h0:] = 0.1 * float(np.std(w)) * rng.standard_normal((gates, h1 - h0, cols))
    return out.reshape(gates * h1, cols)


def load_net(ref: str) -> GroupCommNet:
    """A trained model in evaluation mode from a weight file / builtin:NAME or a trainer checkpoint (.pt)."""
    from hearpipe.models.groupcomm import ARCHITECTURE
    from hearpipe.models.weights import load_weights, resolve_weights

    if str(ref).endswith(".pt"):
        st = torch.load(ref, map_location="cpu", weights_only=False)
        net = build(st["hparams"])
        net.load_state_dict(st["model"])
    else:
        wf = load_weights(resolve_weights(ref), ARCHITECTURE)
        net = build(wf.hparams)
        net.load_arrays(wf.arrays)
    return net.eval()


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(hp: GroupCommHParams | dict[str, Any]) -> GroupCommNet:
    if isinstance(hp, dict):
        hp = GroupCommHParams(**hp)
    return GroupCommNet(hp)
