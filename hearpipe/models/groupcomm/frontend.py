"""GroupComm front ends in float (numpy, numba): the STFT (`hearpipe.dsp.wola`, the graph's) or the
learned conv encoder/decoder, and the whole-signal reference `enhance`.

Framing as the blocks' (`stft`, `conv_encoder`): frame j covers the input samples [(j+1)S - W, (j+1)S)
with zeros before the start (W the window or encoder length, S the hop); the synthesis completes S
samples per frame, and the whole-signal functions return them aligned with the input.
The fixed-point conv encoder/decoder: `hearpipe.models.groupcomm.codec`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.dsp import wola
from hearpipe.dsp.windows import analysis_window, dual_window
from hearpipe.dsp.wola import overlap_add
from hearpipe.models.groupcomm.hparams import GroupCommHParams
from hearpipe.models.groupcomm.reference import GroupCommState, GroupCommWeights, apply_estimate, band_power


def stft_windows(n: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """The STFT front end's periodic sqrt-Hann analysis window (n,) and its synthesis (dual) window at
    this hop, as the `stft` / `istft` blocks use them."""
    w = analysis_window("sqrt_hann", n)
    return w, dual_window(w, hop)[0]


def stft_codec(n: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """The STFT front end (window n, hop) as conv encoder and decoder weights, each (2 (n/2+1), n): rows
    k and k + n/2+1 give (decoder: take) Re and Im of bin k (`hearpipe.dsp.wola.stft_matrices`)."""
    return wola.stft_matrices(*stft_windows(n, hop))


@njit(cache=True)
def encode_frames(s, enc, hop, out):
    """out[c, n, j] = sum_i enc[n, i] * s[c, j*hop + i], summed in index order (bit-identical per frame)."""
    n_ch, N, n_frames = out.shape
    W = enc.shape[1]
    for c in range(n_ch):
        for j in range(n_frames):
            for n in range(N):
                acc = 0.0
                for i in range(W):
                    acc += enc[n, i] * s[c, j * hop + i]
                out[c, n, j] = acc


@njit(cache=True)
def decode_frames(e, dec, carry, hop, out):
    """Transposed conv + overlap-add: frame j is sum_n e[c, n, j] * dec[n, :] (summed in n order), added
    into `carry` (C, W) by the one overlap-add (`wola.overlap_add`), which emits `hop` finished samples per
    frame. Same arithmetic for any number of frames per call."""
    n_ch, N, n_frames = e.shape
    W = dec.shape[1]
    frames = np.empty((n_ch, n_frames, W))
    for c in range(n_ch):
        for j in range(n_frames):
            for i in range(W):
                acc = 0.0
                for n in range(N):
                    acc += e[c, n, j] * dec[n, i]
                frames[c, j, i] = acc
    overlap_add(frames, carry, hop, out)


def conv_encode(x: np.ndarray, enc: np.ndarray, hop: int) -> np.ndarray:
    """Learned encoder (N, W) on a whole mono signal (T,) -> (N, T // hop)."""
    W, k = enc.shape[1], len(x) // hop
    s = np.concatenate([np.zeros(W - hop), np.asarray(x, dtype=np.float64)])[None]
    out = np.empty((1, enc.shape[0], k))
    encode_frames(s, np.ascontiguousarray(enc, dtype=np.float64), hop, out)
    return out[0]


def conv_decode(e: np.ndarray, dec: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
    """Transposed conv (N, W) + overlap-add of frames e (N, J) -> n_samples aligned with the encoder's input."""
    W, k = dec.shape[1], e.shape[1]
    out, carry = np.empty((1, k * hop)), np.zeros((1, W))
    dec = np.ascontiguousarray(dec, dtype=np.float64)
    decode_frames(np.ascontiguousarray(e, dtype=np.float64)[None], dec, carry, hop, out)
    y = np.concatenate([out[0], carry[0]])[W - hop : W - hop + n_samples]
    return np.pad(y, (0, n_samples - len(y)))


def frontend_power(w: GroupCommWeights, x: np.ndarray) -> np.ndarray:
    """Float power frames (features, J) of mono audio x (float, full scale 1) through the model's front end."""
    hp = w.hp
    if hp.frontend == "stft":
        X = wola.stft(x, stft_windows(hp.window, hp.hop)[0], hp.hop)
        return X.real**2 + X.imag**2
    return band_power(hp, conv_encode(x, w["enc.weight"], hp.hop))


def enhance(x: np.ndarray, w: GroupCommWeights) -> np.ndarray:
    """Whole-sequence reference: mono audio (T,) -> (C, T) aligned with the input (frames run one by
    one through `GroupCommState`; T is cut to whole hops and the tail filled with zeros)."""
    hp: GroupCommHParams = w.hp
    x = np.asarray(x, dtype=np.float64)
    T = len(x)
    st = GroupCommState(w)
    out = np.zeros((hp.n_outputs, T))
    if hp.frontend == "stft":
        ana, syn = stft_windows(hp.window, hp.hop)
        X = wola.stft(x, ana, hp.hop)
        y = apply_estimate(hp, np.concatenate([X.real, X.imag]), st.process(X.real**2 + X.imag**2))
        for c in range(hp.n_outputs):
            out[c] = wola.istft(y[c, : hp.features] + 1j * y[c, hp.features :], syn, hp.hop, T)
    else:
        e = conv_encode(x, w["enc.weight"], hp.hop)
        y = apply_estimate(hp, e, st.process(band_power(hp, e)))
        for c in range(hp.n_outputs):
            out[c] = conv_decode(y[c], w["dec.weight"], hp.hop, T)
    return out
