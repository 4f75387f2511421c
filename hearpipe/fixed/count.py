"""Exact operation counts of the fixed-point kernels, from shapes alone (for blocks' `cost()`).

Every kernel also adds what it executed to its `ops` argument (an int64 array indexed like `OP_KINDS`,
defined here so the kernels need nothing above `hearpipe.fixed`); tests run the kernels on random shapes and check that the counter
equals the functions here, so a block's cost is the count of what its kernels do, not an estimate.

Conventions (one unit = one instruction of a DSP with single-cycle MAC and saturation):
- mac8 / mac16: one multiply-accumulate with int8 / int16 weights (int16 data, 32/64-bit accumulator);
- add: add, subtract, shift, rounding add or saturation; cmp: compare, clamp bound, max/min;
- mul: a multiply whose result is not accumulated (requantisation, gate products, twiddles);
- lut: one table read with interpolation (its multiply counted as mul, its adds as add);
- butterfly: one radix-2 complex butterfly (4 mul + 6 add, priced by the device);
- move: one word copied (delay lines, FFT bit reversal); div: one integer division.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from hearpipe.fixed import _opidx

# Operation kinds a device profile prices in cycles. MACs are counted at the width of the narrower
# operand pair the kernel multiplies (mac8: int8 x int16 as in CMSIS-NN s8/s16 kernels).
OP_KINDS: tuple[str, ...] = (
    "mac8",  # 8-bit weight multiply-accumulate
    "mac16",  # 16 x 16 -> 32/64-bit accumulate
    "mac32",  # 32 x 32 (or 24 x 24 on a 24-bit DSP) accumulate
    "mac_f32",  # float multiply-accumulate
    "add",  # add/subtract/saturate/shift
    "mul",  # plain multiply (no accumulate)
    "cmp",  # compare/max/min/abs
    "lut",  # table look-up (with interpolation counted as mul + add)
    "div",  # division
    "sqrt",  # square root / reciprocal square root
    "transcendental",  # float exp/log/pow/tanh on a float device
    "butterfly",  # one radix-2 complex butterfly of an FFT
    "move",  # memory move of one word
)

for _name in ("mac8", "mac16", "mac32", "add", "mul", "cmp", "lut", "div", "sqrt", "butterfly", "move"):
    if OP_KINDS.index(_name) != getattr(_opidx, _name.upper()):
        raise RuntimeError(f"hearpipe.fixed._opidx is out of date with OP_KINDS for {_name!r}")
if len(OP_KINDS) != _opidx.N_KINDS:
    raise RuntimeError("hearpipe.fixed._opidx.N_KINDS differs from len(OP_KINDS)")


def from_array(ops: np.ndarray) -> Counter:
    """A kernel `ops` array as a Counter keyed by OP_KINDS names (zeros dropped)."""
    return Counter({k: int(v) for k, v in zip(OP_KINDS, ops) if v})


def to_array(counts: Counter) -> np.ndarray:
    """The inverse of `from_array`: a Counter of OP_KINDS names as an int64 array a kernel's `ops` adds to."""
    return np.array([counts.get(k, 0) for k in OP_KINDS], np.int64)


@dataclass(frozen=True)
class KernelCall:
    """Calls of one kernel family a block makes per frame, for a device's kernel prices (`devices/*.yaml`
    `kernels:`): `calls`, and over all of them the `outputs` (rows, output samples; an FFT's length) and
    the `macs` (an FFT's (n/2) log2 n radix-2 butterflies). `ops` are the exact operations these calls
    execute (part of the block's counts); the kernel price replaces their per-operation prices."""

    family: str
    calls: float
    outputs: float
    macs: float
    ops: Counter = field(default_factory=Counter, compare=False)

    def times(self, k: float) -> KernelCall:
        """The same calls made `k` times (e.g. for every channel)."""
        return KernelCall(self.family, self.calls * k, self.outputs * k, self.macs * k, repeat(self.ops, k))


# The kernel families a device prices; the size options of `hearpipe cycles` build their calls.
KERNEL_FAMILIES: tuple[str, ...] = (
    "fir_q15", "fir_q31", "fir_f32",
    "rfft_q15", "rfft_q31", "rfft_f32",
    "dense_s8", "dense_s16", "conv_s8", "conv_s16", "gru_s8", "gru_s16", "lstm_s8", "lstm_s16",
)  # fmt: skip


def repeat(ops: Counter, times: float) -> Counter:
    """The operations of `ops` done `times` times."""
    return Counter({k: v * times for k, v in ops.items()})


def fir_call(width: str, channels: int, samples: float, taps: int, ops: Counter) -> KernelCall:
    """`channels` calls of arm_fir_<width> on `samples` samples each."""
    return KernelCall(f"fir_{width}", channels, channels * samples, channels * samples * taps, ops)


def rfft_call(width: str, n: int, frames: float = 1, ops: Counter | None = None) -> KernelCall:
    """`frames` real FFTs (forward or inverse) of n points; `ops` defaults to `rfft(n, frames)`."""
    ops = rfft(n, frames) if ops is None else ops
    return KernelCall(f"rfft_{width}", frames, frames * n, frames * (n // 2) * _log2(n), ops)


def _nn(weight_bits: int) -> str:
    return "s8" if _mac(weight_bits) == "mac8" else "s16"


def dense_call(outputs: int, inputs: int, batch: int = 1, weight_bits: int = 16) -> KernelCall:
    """`batch` calls of a fully connected layer (CMSIS-NN s8/s16), requantisation included."""
    ops = dense(outputs, inputs, batch, weight_bits)
    return KernelCall(f"dense_{_nn(weight_bits)}", batch, batch * outputs, batch * outputs * inputs, ops)


def rnn_call(kind: str, inputs: int, hidden: int, steps: int, batch: int = 1, weight_bits: int = 16):
    """steps x batch cell updates of an LSTM or GRU (`kind`): rows are the gate units."""
    ops = (lstm if kind == "lstm" else gru)(inputs, hidden, steps, batch, weight_bits)
    rows = steps * batch * (4 if kind == "lstm" else 3) * hidden
    return KernelCall(f"{kind}_{_nn(weight_bits)}", steps * batch, rows, rows * (inputs + hidden), ops)


def conv_call(
    out_channels: int, in_channels: int, taps: int, samples: int, dilation: int = 1, weight_bits=16
):
    """One call of a 1-D convolution (conv1d)."""
    ops = conv1d(out_channels, in_channels, taps, samples, dilation, weight_bits)
    rows = out_channels * samples
    return KernelCall(f"conv_{_nn(weight_bits)}", 1, rows, rows * in_channels * taps, ops)


def _c(**kinds) -> Counter:
    return Counter({k: int(v) for k, v in kinds.items() if v})


def _mac(weight_bits: int) -> str:
    if weight_bits not in (8, 16):
        raise ValueError(f"weight_bits ({weight_bits}) must be 8 or 16")
    return "mac8" if weight_bits == 8 else "mac16"


# --- ops.py ----------------------------------------------------------------------------------------
def add_q15(n: int) -> Counter:
    """Also sub_q15, add_q7, add_q31."""
    return _c(add=2 * n)


def mult_q15(n: int) -> Counter:
    """Also mult_q7 and scale_q15."""
    return _c(mul=n, add=2 * n)


def mult_q31(n: int) -> Counter:
    return _c(mul=n, add=3 * n)


def requantize_channels(channels: int, n: int) -> Counter:
    return _c(mul=channels * n, add=4 * channels * n, cmp=2 * channels * n)


def requantize_s64_channels(channels: int, n: int) -> Counter:
    return _c(mul=channels * n, add=3 * channels * n, cmp=2 * channels * n)


# --- linalg.py -------------------------------------------------------------------------------------
def dot(n: int, weight_bits: int = 16) -> Counter:
    """dot_q15 (16) or dot_s8_s16 (8)."""
    return _c(**{_mac(weight_bits): n})


def matvec(rows: int, cols: int, weight_bits: int = 16) -> Counter:
    """matvec_acc64 / matvec_acc32 (accumulators only)."""
    return _c(**{_mac(weight_bits): rows * cols})


def matvec_q15(rows: int, cols: int) -> Counter:
    return _c(mac16=rows * cols, add=2 * rows)


def dense(outputs: int, inputs: int, batch: int = 1, weight_bits: int = 16) -> Counter:
    n = batch * outputs
    return _c(**{_mac(weight_bits): n * inputs}, add=3 * n, mul=n, cmp=2 * n)


def unpack(values: int, bits: int, codebook: bool = False) -> Counter:
    """Reading `values` packed weights (`hearpipe.fixed.packing.read_bits`): shift and mask each, then a
    codebook read (move) or a sign extension (compare, subtract); 8-bit integers cost nothing more than
    the int8 weights of a plain layer (a sign-extending byte load)."""
    if codebook:
        return _c(add=2 * values, move=values)
    return Counter() if bits == 8 else _c(add=3 * values, cmp=values)


# --- conv.py ---------------------------------------------------------------------------------------
def fir_q15(channels: int, samples: int, taps: int) -> Counter:
    return _c(mac16=channels * samples * taps, add=2 * channels * samples, move=channels * (taps - 1))


def conv1d(out_channels: int, in_channels: int, taps: int, samples: int, dilation: int = 1, weight_bits=16):
    n = out_channels * samples
    return _c(
        **{_mac(weight_bits): n * in_channels * taps},
        mul=n,
        add=3 * n,
        cmp=2 * n,
        move=in_channels * (taps - 1) * dilation,
    )


def dwconv1d(channels: int, taps: int, samples: int, dilation: int = 1, weight_bits: int = 16) -> Counter:
    n = channels * samples
    return _c(
        **{_mac(weight_bits): n * taps}, mul=n, add=3 * n, cmp=2 * n, move=channels * (taps - 1) * dilation
    )


def pwconv1d(out_channels: int, in_channels: int, samples: int, weight_bits: int = 16) -> Counter:
    n = out_channels * samples
    return _c(**{_mac(weight_bits): n * in_channels}, mul=n, add=3 * n, cmp=2 * n)


# --- rnn.py ----------------------------------------------------------------------------------------
def lstm(inputs: int, hidden: int, steps: int, batch: int = 1, weight_bits: int = 16) -> Counter:
    """steps x batch LSTM cell updates (steps = frames per call, batch = groups)."""
    s = steps * batch
    g = 4 * hidden
    return _c(
        **{_mac(weight_bits): s * g * (inputs + hidden)},
        mul=s * (2 * g + 3 * hidden),
        add=s * (9 * g + 4 * hidden),
        cmp=s * (4 * g + 2 * hidden),
        lut=s * 5 * hidden,
    )


def gru(inputs: int, hidden: int, steps: int, batch: int = 1, weight_bits: int = 16) -> Counter:
    s = steps * batch
    g = 3 * hidden
    return _c(
        **{_mac(weight_bits): s * g * (inputs + hidden)},
        mul=s * (2 * g + 2 * hidden),
        add=s * (8 * g + 7 * hidden),
        cmp=s * (2 * g + 6 * hidden),
        lut=s * 3 * hidden,
    )


# --- fft.py ----------------------------------------------------------------------------------------
def _log2(n: int) -> int:
    if n < 4 or n & (n - 1):
        raise ValueError(f"FFT length ({n}) must be a power of two >= 4")
    return n.bit_length() - 1


def rfft(n: int, frames: int = 1) -> Counter:
    """One forward real FFT of n points per frame (q15 or q31: same operations, different widths)."""
    nc = n // 2
    return _c(
        move=frames * n,
        butterfly=frames * (nc // 2) * (_log2(n) - 1),
        mul=frames * 8 * (nc // 2),
        add=frames * (4 + 24 * (nc // 2)),
    )


def irfft(n: int, frames: int = 1) -> Counter:
    nc = n // 2
    return _c(
        move=frames * n,
        butterfly=frames * (nc // 2) * (_log2(n) - 1),
        mul=frames * 4 * nc,
        add=frames * 10 * nc,
    )


# --- tables.py ---------------------------------------------------------------------------------------
def sigmoid(n: int) -> Counter:
    """Also tanh."""
    return _c(lut=n, mul=n, add=4 * n, cmp=2 * n)


def log2(n: int) -> Counter:
    """log2 / amp_to_db / power_to_db."""
    return _c(lut=n, mul=2 * n, add=6 * n, cmp=n)


def exp2(n: int) -> Counter:
    """exp2 / db_to_amp / db_to_power."""
    return _c(lut=n, mul=2 * n, add=5 * n, cmp=2 * n)


def rsqrt(n: int) -> Counter:
    return _c(lut=n, mul=n, add=6 * n, cmp=3 * n)


# --- elementwise.py ----------------------------------------------------------------------------------
def relu(n: int) -> Counter:
    return _c(cmp=n)


def prelu(n: int) -> Counter:
    return _c(cmp=2 * n, mul=n, add=n)


def mean_groups(groups: int, features: int) -> Counter:
    return _c(add=features * groups, div=features, cmp=features)


def mask_mul(n: int, complex_input: bool = False) -> Counter:
    k = 2 if complex_input else 1
    return _c(mul=k * n, add=2 * k * n)


def deep_filter(bands: int, taps: int, wide: bool = False) -> Counter:
    """deep_filter_q15 on one frame: 4 MACs per tap and band (int32 band values: mac32), the mask added
    to tap 0, two rounded and saturated outputs per band."""
    return _c(**{"mac32" if wide else "mac16": 4 * taps * bands}, add=5 * bands, cmp=4 * bands)


def cmplx_mult(n: int) -> Counter:
    """cmplx_mult_q15 / cmplx_mult_s16 on n complex values."""
    return _c(mul=4 * n, add=6 * n)
