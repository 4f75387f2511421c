"""The benchmarks' shared set-up: their audio, best-of timing, and the "twins" of a graph, the same
computation run outside the graph engine in the same process, in PyTorch float or plain numpy float.

- `TorchStream` / `torch_net`: the PyTorch GroupComm model of `hearpipe.train.model` with the shipped
  weights (float32, inference mode), whole sequence or hop by hop with its recurrent state carried.
- `TorchTwin`: that model as the twin of a graph that is one GroupComm model between its front end and
  synthesis (`enhance`: conv encoder -> groupcomm -> conv decoder; `enhance_stft`: stft -> groupcomm ->
  istft). PyTorch runs the STFT as the model does in training, as a matrix (conv) basis.
- `NumpyStftGain`: an STFT -> static per-bin gains -> iSTFT graph (`passthrough`, `stft_gain`,
  `nalr_stft`) in plain numpy: strided frames, `np.fft`, overlap-add by array slices.
- `NumpyGroupComm`: the numpy float reference of the GroupComm model on a whole signal
  (`hearpipe.models.groupcomm.frontend.enhance`, frames one by one), whole file only: hop by hop it is
  what the float graph itself runs.
Every twin's output is checked against the float graph's (`check`) before it is timed.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from hearpipe.models.groupcomm.calibrate import calibration_signals
from hearpipe.models.groupcomm.frontend import enhance
from hearpipe.models.groupcomm.reference import read_weights
from hearpipe.train.model import GroupCommNet, build

SR = 16000
STATIC_GAINS = ("gain", "band_gain", "prescription")  # stateless per-bin gains: a numpy twin exists


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_audio(data_dir, n: int) -> np.ndarray:
    """n samples of speech-in-noise mixtures (the calibration mixtures of train/ speech and noise, or
    their synthetic stand-in without the data folder), peak 0.5, with a little white noise."""
    sig = calibration_signals(
        data_dir if data_dir is not None and data_dir.is_dir() else None, n=4, seconds=3.0
    )
    x = np.concatenate(sig * (1 + n // sum(len(s) for s in sig)))[:n]
    x = x + 1e-4 * np.random.default_rng(0).standard_normal(n)
    return x / np.abs(x).max() * 0.5


def torch_net(ref: str, base_dir=None) -> GroupCommNet:
    """The PyTorch model with the weights of `ref` (a weight file or builtin:NAME), in eval mode."""
    wf, w = read_weights(ref, base_dir)
    net = build(w.hp)
    net.load_arrays(wf.arrays)
    return net.eval()


class TorchStream:
    """The PyTorch model run frame by frame with its GRU/LSTM states carried (a hearing aid's loop)."""

    def __init__(self, net: GroupCommNet):
        self.net, self.hp = net, net.hp
        stft = self.hp.frontend == "stft"
        self.enc = (net.enc_basis if stft else net.enc)[:, 0, :]  # (R, analysis window)
        self.dec = (net.dec_basis if stft else net.dec)[:, 0, :]  # (R, window)
        self.reset()

    def reset(self) -> None:
        hp = self.hp
        self.state = [None] * hp.n_blocks
        self.history = torch.zeros(hp.analysis_window - hp.hop)
        self.carry = torch.zeros(hp.window)
        self.mean = None  # running mean of the features (feat_ema_shift)
        self.past = torch.zeros(2 * hp.features, max(hp.df_taps - 1, 0))  # deep filter: earlier frames

    def filtered(self, e: torch.Tensor) -> torch.Tensor:
        """e (R,) one frame of encoder output (STFT: [re; im]) -> output 0's masked or deep-filtered frame."""
        m, d = self.net.heads(self.trunk(e))  # one frame: (1, C, F, 1), (1, C, L, 2, F, 1)
        frames = torch.cat([self.past, e[:, None]], dim=1)  # oldest first
        self.past = frames[:, 1:]
        return self.net.apply(frames[None], m, d)[0, 0, :, -1]

    def trunk(self, e: torch.Tensor) -> torch.Tensor:
        """e (R,) one frame of encoder output (STFT: [re; im]) -> the groups after the blocks (1, 1, K, D)."""
        net, hp = self.net, self.hp
        f = torch.log2(net.power(e[None, :, None])[0, :, 0] + hp.log_eps) * hp.feat_scale
        if hp.feat_ema_shift:
            a = 2.0**-hp.feat_ema_shift
            self.mean = f.clone() if self.mean is None else self.mean + a * (f - self.mean)
            f = torch.cat([f, f - self.mean])
        x = net.inp(f).reshape(1, 1, hp.groups, hp.group_dim)
        for r, blk in enumerate(net.blocks):
            if blk.inter is not None:
                x = blk.inter(x)
            s = x.reshape(hp.groups, 1, hp.group_dim)
            h, self.state[r] = blk.rnn(s, self.state[r])
            x = x + blk.out(h).reshape(1, 1, hp.groups, hp.group_dim)
        return x

    def audio_hop(self, x: torch.Tensor) -> torch.Tensor:
        """hop samples in -> hop samples out (analysis, masks, synthesis + overlap-add)."""
        hp = self.hp
        frame = torch.cat([self.history, x])
        self.history = frame[hp.hop :]
        y = self.filtered(self.enc @ frame) @ self.dec
        self.carry = self.carry + y
        out = self.carry[: hp.hop]
        self.carry = torch.cat([self.carry[hp.hop :], torch.zeros(hp.hop)])
        return out


def groupcomm_weights(graph) -> str | None:
    """The weights of a graph that is exactly one GroupComm model with its own front end and synthesis
    (mono, output 0), else None."""
    nodes = graph.spec.nodes
    types = [n.type for n in nodes]
    if graph.channels != 1 or types not in (
        ["conv_encoder", "groupcomm", "conv_decoder"],
        ["stft", "groupcomm", "istft"],
    ):
        return None
    refs = {n.params.get("weights") for n in nodes if n.type != "stft" and n.type != "istft"}
    if len(refs) != 1 or nodes[1].params.get("output", 0) != 0:
        return None
    return refs.pop()


class TorchTwin:
    """The PyTorch model of a GroupComm graph: `whole(x)` one call on the whole signal, `hop_by_hop(x)`
    one frame per call. Outputs are aligned like the graph's (delayed by the model's latency)."""

    def __init__(self, ref: str, base_dir=None):
        self.net = torch_net(ref, base_dir)
        self.stream = TorchStream(self.net)
        self.hop = self.net.hp.hop
        self.delay = self.net.hp.window - self.hop  # the streaming loop's delay; `forward` has none

    def whole(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.net(x[None])[0, 0]

    def hop_by_hop(self, x: torch.Tensor) -> torch.Tensor:
        self.stream.reset()
        with torch.inference_mode():
            return torch.cat([self.stream.audio_hop(x[i : i + self.hop]) for i in range(0, len(x), self.hop)])


class NumpyStftGain:
    """stft -> static gains -> istft in plain numpy, from a float graph's prepared blocks (its analysis
    and synthesis windows; the gains probed by running the middle blocks on a spectrum of ones)."""

    def __init__(self, graph):
        first, *middle, last = graph.order
        a, s = graph.blocks[first], graph.blocks[last]
        p = a.params
        self.n, self.hop, self.n_fft, self.pad = p.window_length, p.hop, p.fft_length, p.pad_before
        self.window, self.synthesis = a.window, s.synthesis
        g = np.ones((1, self.n_fft // 2 + 1, 1), complex)
        for name in middle:
            g = graph.blocks[name].process(g)
        self.gain = g[0, :, 0]
        self.reset()

    @staticmethod
    def applies(graph) -> bool:
        types = [n.type for n in graph.spec.nodes]
        return (
            graph.channels == 1
            and len(types) >= 2
            and types[0] == "stft"
            and types[-1] == "istft"
            and all(t in STATIC_GAINS for t in types[1:-1])
        )

    def _synthesise(self, frames: np.ndarray) -> np.ndarray:
        buf = np.zeros((len(frames), self.n_fft))
        buf[:, self.pad : self.pad + self.n] = frames * self.window
        return np.fft.irfft(np.fft.rfft(buf, axis=1) * self.gain, n=self.n_fft, axis=1) * self.synthesis

    def whole(self, x: np.ndarray) -> np.ndarray:
        """One call: all frames at once, overlap-added by slices (frame m adds to samples m*hop on)."""
        k, hop = len(x) // self.hop, self.hop
        s = np.concatenate([np.zeros(self.n - hop), x[: k * hop]])
        y = self._synthesise(np.lib.stride_tricks.sliding_window_view(s, self.n)[::hop][:k])
        r = -(-self.n_fft // hop)
        y = np.pad(y, ((0, 0), (0, r * hop - self.n_fft))).reshape(k, r, hop)
        out = np.zeros((k + r, hop))
        for q in range(r):
            out[q : q + k] += y[:, q]
        return out[:k].ravel()

    def reset(self) -> None:
        self.history = np.zeros(self.n - self.hop)
        self.carry = np.zeros(self.n_fft)

    def step(self, x: np.ndarray) -> np.ndarray:
        """One hop of samples in, one out (state carried)."""
        frame = np.concatenate([self.history, x])
        self.history = frame[self.hop :]
        self.carry += self._synthesise(frame[None])[0]
        out = self.carry[: self.hop].copy()
        self.carry = np.concatenate([self.carry[self.hop :], np.zeros(self.hop)])
        return out

    def hop_by_hop(self, x: np.ndarray) -> np.ndarray:
        self.reset()
        return np.concatenate(
            [self.step(x[i : i + self.hop]) for i in range(0, len(x) // self.hop * self.hop, self.hop)]
        )


class NumpyGroupComm:
    """The numpy float reference of a GroupComm graph's model on the whole signal."""

    def __init__(self, ref: str, base_dir=None):
        self.w = read_weights(ref, base_dir)[1]
        self.delay = self.w.hp.window - self.w.hp.hop

    def whole(self, x: np.ndarray) -> np.ndarray:
        return enhance(x, self.w)[0]
