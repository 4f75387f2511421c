"""Bit-true fixed-point arithmetic (CMSIS-DSP / CMSIS-NN conventions) as numba kernels.

Modules (import them directly; this package imports nothing, so `hearpipe.fixed.qformat` stays light):
qformat (Q formats, conversion), ops (saturation, rounding, requantisation), linalg (dot, matvec,
dense), conv (FIR, causal conv1d, depthwise, pointwise), rnn (LSTM, GRU), fft (real FFT pair q15/q31),
tables (sigmoid, tanh, log2, exp2, dB, rsqrt), elementwise (ReLU/PReLU, group mean, masks, complex
multiply), count (the kinds of operation, exact operation counts). Conventions: docs/fixed_point.md.
"""
