"""Weighted overlap-add kernels shared by the float and fixed-point STFT and the learned decoder.

Both kernels are generic over the array types (numba compiles one version per type): float arrays give
the float reference, integer arrays the bit-true path (products then fit in int64).
"""

from __future__ import annotations

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
