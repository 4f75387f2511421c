"""Static memory planning: buffers with known lifetimes share RAM when their lifetimes do not overlap.

The greedy-by-size planner of TFLite-Micro / CMSIS-Stream: place the largest buffers first, each at the
lowest offset that does not collide with an already placed buffer alive at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Buffer:
    name: str
    size: int  # bytes
    first: int  # index of the step that writes it
    last: int  # index of the last step that reads it
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


def plan(buffers: list[Buffer], align: int = 4) -> int:
    """Assign offsets in place; returns the arena size in bytes."""
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first, b.name)):
        live = sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, -(-(p.offset + p.size) // align) * align)
        b.offset = offset
        placed.append(b)
    return max((b.offset + b.size for b in placed), default=0)
