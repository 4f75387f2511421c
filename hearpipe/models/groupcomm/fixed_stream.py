"""Streaming fixed-point GroupComm: `FixedGroupCommState` keeps the state of every audio channel between
calls (int16 h, c, TCN inputs, running means, the deep filter's earlier frames) and runs its frames one
at a time inside one numba call (`groupcomm_kernels`: power, log2 features, network, mask), so any split
of a stream into calls gives bit-identical output.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.fixed.ops import new_ops
from hearpipe.fixed.tables import LOG2_TABLE, SIGMOID_TABLE, TANH_TABLE
from hearpipe.models.groupcomm import groupcomm_kernels as kr
from hearpipe.models.groupcomm.fixed_model import FixedGroupComm


class FixedGroupCommState:
    """Streaming fixed-point GroupComm for `channels` audio channels (state per channel).

    STFT front end: `process(X, frac_bits)` with X int32 (channels, bins, frames, 2) [re, im] returns
    the masked spectrum in the same format (mask output `output`); conv front end: e int16
    (channels, N, frames) -> masked int16 (channels, N, frames). `masks(...)` returns all C masks,
    int16 Q1.15 (channels, C, features, frames). `step` = one frame ((channels, bins, 2) or
    (channels, N)). Output is bit-identical for any split of the frames into calls.
    Runs one fused numba call per channel and call (`groupcomm_kernels`); the same function as a chain
    of library kernels: `hearpipe.models.groupcomm.fixed_oracle.LibraryGroupCommState`.
    `ops` (int64, OP_KINDS order) accumulates the operations executed.
    """

    engine = "fused"

    def __init__(self, model: FixedGroupComm, channels: int = 1, output: int = 0):
        if not 0 <= output < model.hp.n_outputs:
            raise InvalidInput(
                f"output ({output}) must be below the model's n_outputs ({model.hp.n_outputs})"
            )
        if channels < 1:
            raise InvalidInput(f"channels ({channels}) must be >= 1")
        self.model, self.channels, self.output = model, int(channels), int(output)
        self.ops = new_ops()
        hp = model.hp
        w = model.width
        self._scr = np.zeros((9, max(hp.groups, 2), w), np.int16)
        self._acc = (np.zeros((hp.groups, w), np.int64), np.zeros((hp.groups, w), np.int32))
        self.reset()

    def reset(self) -> None:
        hp = self.model.hp
        n = hp.n_blocks * hp.rnn_layers
        self.h = np.zeros((self.channels, n, hp.groups, hp.hidden), np.int16)
        # LSTM cell states, or each TCN layer's earlier inputs, newest first (lag j at (j-1)*inputs); every
        # layer's row is as long as the longest (a simulator convenience: `state_bytes` counts the device's)
        aux = max(hp.tcn_past(i) * hp.seq_inputs(i) for i in range(hp.rnn_layers)) if hp.rnn == "tcn" else 0
        self.c = np.zeros((self.channels, n, hp.groups, max(aux, hp.hidden)), np.int16)
        self.ema = np.zeros((self.channels, hp.features + 1), np.int64)  # running means (feat_ema_shift)
        taps = max(hp.df_taps, 1)  # the deep filter's delay line: this frame and the L-1 before it
        self.hist = (
            np.zeros((self.channels, taps, hp.features, 2), np.int32)
            if hp.frontend == "stft"
            else np.zeros((self.channels, taps, hp.enc_channels), np.int16)
        )
        self._dfc = np.zeros((hp.n_outputs, taps, 2, hp.features), np.int16)
        m = self.model
        sig_f, tanh_f = full_tables()
        self._args = [  # the kernel's per-channel arguments, built once (a hop-by-hop call is short)
            (m.c24, LOG2_TABLE, m.dims, m.fmts, m.lay, m.wt, m.bias, m.mq, m.sh, m.alpha, self.h[ch], self.c[ch],
             self.ema[ch], self.hist[ch], self._dfc, sig_f, tanh_f, self._scr, self._acc, self.output)
            for ch in range(self.channels)
        ]  # fmt: skip

    # -- front end ----------------------------------------------------------------------------------
    def _check(self, data, frac_bits: int) -> np.ndarray:
        hp = self.model.hp
        a = np.asarray(data)
        stft = hp.frontend == "stft"
        if stft and a.dtype == np.int16:  # a q15 FFT's spectrum: computed in int32, same values
            a = a.astype(np.int32)
        dt = np.int32 if stft else np.int16
        n = hp.features if stft else hp.enc_channels
        ok = a.dtype == dt and a.ndim == (4 if stft else 3) and a.shape[:2] == (self.channels, n)
        if not ok or (stft and a.shape[3] != 2):
            shape = f"{self.channels}, {n}, frames" + (", 2" if stft else "")
            raise InvalidInput(
                f"groupcomm fixed input must be {np.dtype(dt).name} ({shape}), got {a.dtype} {a.shape}"
            )
        if not 0 <= frac_bits <= 31:
            raise InvalidInput(f"frac_bits ({frac_bits}) must be within 0..31")
        return a if a.flags.c_contiguous else np.ascontiguousarray(a)

    def _run(self, ch: int, a: np.ndarray, frac_bits: int, out: np.ndarray) -> np.ndarray:
        """One channel's frames a (F, J[, 2]) -> masks (J, C, F) Q15; writes the masked values to out."""
        m = self.model
        hp = m.hp
        p_frac, p_shift, eps = power_format(hp.log_eps, int(frac_bits))
        masks = np.empty((a.shape[1], hp.n_outputs, hp.features), np.int16)
        run = kr.run_stft if hp.frontend == "stft" else kr.run_conv
        run(a, p_shift, eps, p_frac, *self._args[ch], masks, out, self.ops, m.ops_frame_arr)
        return masks

    def masks(self, data, frac_bits: int) -> np.ndarray:
        """All C masks, int16 Q1.15 (channels, C, features, frames); advances the state."""
        a = self._check(data, frac_bits)
        out = np.empty_like(a)
        return np.stack(
            [self._run(ch, a[ch], frac_bits, out[ch]).transpose(1, 2, 0) for ch in range(self.channels)]
        )

    def process(self, data, frac_bits: int) -> np.ndarray:
        """Masked front-end values (the model's output `output`), same dtype, shape and format as data
        (an int16 spectrum comes back int16, saturated: a mask <= 1 never grows a value, a deep filter can)."""
        a = self._check(data, frac_bits)
        out = np.empty_like(a)
        for ch in range(self.channels):
            self._run(ch, a[ch], frac_bits, out[ch])
        return np.clip(out, -32768, 32767).astype(np.int16) if np.asarray(data).dtype == np.int16 else out

    def step(self, frame, frac_bits: int) -> np.ndarray:
        """One frame: (channels, bins, 2) int32 or (channels, N) int16 -> masked frame, same format."""
        a = np.asarray(frame)
        return self.process(a[:, :, None], frac_bits)[:, :, 0]


@functools.cache
def full_tables() -> tuple[np.ndarray, np.ndarray]:
    """The sigmoid/tanh tables expanded to every int16 input (`kr.expand_tables`), built once."""
    return kr.expand_tables(SIGMOID_TABLE, TANH_TABLE)


@functools.lru_cache(maxsize=64)
def power_format(log_eps: float, frac_bits: int) -> tuple[int, int, int]:
    """(p_frac, left shift of the squared input, eps as an integer) for inputs with frac_bits: eps =
    log_eps is held with at least 8 significant bits (exact for a power of two such as 2**-27)."""
    e_eps = math.ceil(-math.log2(log_eps)) if log_eps > 0 else 0
    p_frac = max(2 * int(frac_bits), e_eps + 8)
    if p_frac - 2 * int(frac_bits) > 48:
        raise InvalidInput(f"log_eps ({log_eps:g}) is too small for inputs with {frac_bits} fraction bits")
    eps = round(log_eps * 2.0**p_frac)
    return p_frac, p_frac - 2 * int(frac_bits), eps
