"""What a block costs: operations per frame by kind, and memory. The device turns ops into cycles.

The kinds of operation (`OP_KINDS`) live in `hearpipe.fixed.count`, next to the kernels that count them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hearpipe.fixed.count import OP_KINDS


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


def repeat_ops(ops: Counter, times: float) -> Counter:
    """The operations of `ops` done `times` times (e.g. one channel's, for all channels)."""
    return Counter({k: v * times for k, v in ops.items()})


def add_ops(counter: Counter, **kinds: float) -> Counter:
    """Add operation counts, checking the kinds (a typo would silently cost nothing)."""
    for k, v in kinds.items():
        if k not in OP_KINDS:
            raise KeyError(f"unknown operation kind {k!r}; known: {', '.join(OP_KINDS)}")
        counter[k] += v
    return counter
