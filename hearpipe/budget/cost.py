"""What a block costs: operations per frame by kind, the kernel calls making some of them, and memory.
The device turns them into cycles (`DeviceProfile.cycles_per_s`).

The kinds of operation (`OP_KINDS`) and the kernel call records (`KernelCall`) live in
`hearpipe.fixed.count`, next to the kernels that count them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hearpipe.fixed.count import OP_KINDS, KernelCall
from hearpipe.fixed.count import repeat as repeat_ops

__all__ = ["OP_KINDS", "Cost", "KernelCall", "add_ops", "repeat_ops"]


@dataclass
class Cost:
    """Resources of one block for all channels.

    `ops` are counted per frame (one `hop` of input samples); `frame_rate_hz` turns them into ops/s.
    Memory is in bytes: `ram_persistent` (state kept between frames), `ram_scratch` (needed only while
    the block runs, shareable with other blocks), `rom` (weights and tables at their stored width).
    `kernels` are the kernel calls per frame behind part of `ops` (each record's `ops`), priced per call,
    output and MAC where the device has a price for the family; the rest of `ops` is priced per operation.
    """

    ops: Counter = field(default_factory=Counter)
    kernels: list[KernelCall] = field(default_factory=list)
    frame_rate_hz: float = 0.0
    ram_persistent: int = 0
    ram_scratch: int = 0
    rom: int = 0

    def ops_per_s(self) -> dict[str, float]:
        return {k: v * self.frame_rate_hz for k, v in self.ops.items() if v}

    def macs_per_s(self) -> float:
        return sum(v for k, v in self.ops_per_s().items() if k.startswith("mac"))


def add_ops(counter: Counter, **kinds: float) -> Counter:
    """Add operation counts, checking the kinds (a typo would silently cost nothing)."""
    for k, v in kinds.items():
        if k not in OP_KINDS:
            raise KeyError(f"unknown operation kind {k!r}; known: {', '.join(OP_KINDS)}")
        counter[k] += v
    return counter
