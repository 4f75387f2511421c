"""What a block costs: operations per frame by kind, and memory. The device turns ops into cycles."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

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


@dataclass
class Cost:
    """Resources of one block for all channels.

    `ops` are counted per frame (one `hop` of input samples); `frame_rate_hz` turns them into ops/s.
    Memory is in bytes: `ram_persistent` (state kept between frames), `ram_scratch` (needed only while
    the block runs, shareable with other blocks), `rom` (weights and tables at their stored width).
    """

    ops: Counter = field(default_factory=Counter)
    frame_rate_hz: float = 0.0
    ram_persistent: int = 0
    ram_scratch: int = 0
    rom: int = 0

    def ops_per_s(self) -> dict[str, float]:
        return {k: v * self.frame_rate_hz for k, v in self.ops.items() if v}

    def cycles_per_s(self, cycles_per_op: dict[str, float]) -> float:
        return sum(n * cycles_per_op.get(k, 1.0) for k, n in self.ops_per_s().items())

    def macs_per_s(self) -> float:
        return sum(v for k, v in self.ops_per_s().items() if k.startswith("mac"))


def add_ops(counter: Counter, **kinds: float) -> Counter:
    """Add operation counts, checking the kinds (a typo would silently cost nothing)."""
    for k, v in kinds.items():
        if k not in OP_KINDS:
            raise KeyError(f"unknown operation kind {k!r}; known: {', '.join(OP_KINDS)}")
        counter[k] += v
    return counter
