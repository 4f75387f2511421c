"""Weighted overlap-add: the one STFT, shared by the `stft`/`istft` blocks, the model reference and training.

The kernels are generic over the array types (numba compiles one version per type): float arrays give
the float reference, integer arrays the bit-true path (products then fit in int64). `stft`, `istft`
and `stft_matrices` are the float STFT of a whole mono signal with the blocks' framing (frame j covers
the samples [(j+1)*hop - N, (j+1)*hop), N = the window length = n_fft), and the same transform as
matrices (a conv encoder/decoder pair, for the PyTorch twin).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def frame_signal(s, window, hop, offset, buf):
    """Cut windowed frames: buf[c, j, offset + i] = s[c, j*hop + i] * window[i] (buf zero elsewhere)."""
    n_ch, n_frames, _ = buf.shape
    length = window.shape[0]
    for c in range(n_ch):
        for j in range(n_frames):
            for i in range(length):
                buf[c, j, offset + i] = s[c, j * hop + i] * window[i]


@njit(cache=True)
def overlap_add(frames, carry, hop, out):
    """Add frames (C, k, F) into the running sum `carry` (C, F); emit `hop` finished samples per frame.

    Each output sample is summed oldest frame first, whatever the batch size: bit-identical streaming.
    """
    n_ch, n_frames, n = frames.shape
    for c in range(n_ch):
        for j in range(n_frames):
            for i in range(n):
                carry[c, i] += frames[c, j, i]
            for i in range(hop):
                out[c, j * hop + i] = carry[c, i]
            for i in range(n - hop):
                carry[c, i] = carry[c, i + hop]
            for i in range(n - hop, n):
                carry[c, i] = 0


@njit(cache=True)
def window_round(frames, window, shift, out):
    """out = round(frames * window / 2**shift) (half up), frames (R, N) int32, window (N,) integer."""
    rows, n = frames.shape
    half = (1 << shift) >> 1
    for r in range(rows):
        for i in range(n):
            out[r, i] = (frames[r, i] * window[i] + half) >> shift


@njit(cache=True)
def to_q15(x, shift, out):
    """out = saturate16(round(x / 2**shift)) for the int64 overlap-add output (half up)."""
    rows, n = x.shape
    half = (1 << shift) >> 1 if shift > 0 else 0
    for r in range(rows):
        for i in range(n):
            v = (x[r, i] + half) >> shift if shift > 0 else x[r, i] << -shift
            out[r, i] = min(max(v, -32768), 32767)


def stft(x: np.ndarray, window: np.ndarray, hop: int) -> np.ndarray:
    """Mono signal x (T,) -> complex frames (N/2+1, T // hop): frame j is rfft(window * x[(j+1)hop - N,
    (j+1)hop)) with zeros before the start, as the `stft` block computes it (n_fft = N = len(window))."""
    n, k = len(window), len(x) // hop
    s = np.concatenate([np.zeros(n - hop), np.asarray(x, dtype=np.float64)])[None]
    buf = np.zeros((1, k, n))
    frame_signal(s, np.asarray(window, dtype=np.float64), hop, 0, buf)
    return np.fft.rfft(buf[0], axis=-1).T


def istft(X: np.ndarray, synthesis: np.ndarray, hop: int, n_samples: int) -> np.ndarray:
    """Frames X (N/2+1, J) of `stft` -> n_samples samples aligned with its input: irfft, synthesis
    window (N,), overlap-add as the `istft` block (the last N - hop samples lack the frames after J)."""
    n, k = len(synthesis), X.shape[1]
    frames = np.fft.irfft(X.T, n=n, axis=-1) * synthesis
    out, carry = np.empty((1, k * hop)), np.zeros((1, n))
    overlap_add(np.ascontiguousarray(frames[None]), carry, hop, out)
    y = np.concatenate([out[0], carry[0]])[n - hop : n - hop + n_samples]
    return np.pad(y, (0, n_samples - len(y)))


def stft_matrices(window: np.ndarray, synthesis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`stft` and `istft` per frame as matrices (2F, N), F = N/2+1: analysis rows give Re then Im of
    each bin ([re; im] = A @ frame), synthesis rows take them back (windowed frame = [re; im] @ S)."""
    n = len(window)
    ang = 2 * np.pi * np.arange(n // 2 + 1)[:, None] * np.arange(n)[None, :] / n
    cos, sin = np.cos(ang), np.sin(ang)
    ck = np.full((n // 2 + 1, 1), 2.0 / n)
    ck[0] = ck[-1] = 1.0 / n  # DC and Nyquist appear once in the inverse real FFT
    return np.concatenate([window * cos, -window * sin]), np.concatenate([cos * ck, -sin * ck]) * synthesis
