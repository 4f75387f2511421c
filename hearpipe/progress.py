"""A small progress bar on stderr (no dependency), shown only on a terminal and for long work."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(
        self, total: float, label: str, unit: str = "s", enabled: bool | None = None, min_total: float = 0
    ):
        self.total, self.label, self.unit = max(total, 1e-9), label, unit
        self.done = 0.0
        self.enabled = (sys.stderr.isatty() if enabled is None else enabled) and total >= min_total
        self.t0 = self._last = time.perf_counter()

    def update(self, amount: float) -> None:
        self.done += amount
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(30 * frac)
            speed = self.done / max(now - self.t0, 1e-9)
            eta = (self.total - self.done) / speed if speed > 0 else float("inf")
            sys.stderr.write(
                f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% {self.done:.1f}/{self.total:.1f} {self.unit} "
                f"({speed:.0f} {self.unit}/s, ETA {eta:.0f} s)"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
