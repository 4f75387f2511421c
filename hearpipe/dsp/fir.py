"""Direct-form FIR on float audio with a delay line (the float twin of `hearpipe.fixed.conv.fir_q15_shifted`)."""

from __future__ import annotations

from numba import njit

from hearpipe.fixed.conv import push_history


@njit(cache=True)
def fir_stream(x, taps, history, out):
    """Direct-form FIR, x (C, N), taps (C, order + 1), history (C, order) = the last `order` inputs,
    out (C, N). Each output is the same ordered sum whatever the chunking (bit-identical streaming)."""
    n_ch, n = x.shape
    order = taps.shape[1] - 1
    for c in range(n_ch):
        for i in range(n):
            acc = taps[c, 0] * x[c, i]
            for k in range(1, order + 1):
                j = i - k
                v = x[c, j] if j >= 0 else history[c, order + j]
                acc += taps[c, k] * v
            out[c, i] = acc
    push_history(x, history)
