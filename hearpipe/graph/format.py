"""Signal formats carried on every edge of a graph, negotiated once in `prepare`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Domain = Literal["time", "spectrum", "latent"]


@dataclass(frozen=True)
class SignalFormat:
    """What flows on an edge.

    Layouts are fixed: time `(channels, samples)`; spectrum and latent `(channels, features, frames)`.
    `hop` is the number of input samples per frame (1 on time-domain edges: a frame is one sample).
    `numeric` is "float" or a fixed-point format name such as "q15" (see `hearpipe.fixed.qformat`).
    `frac_bits` is where the binary point sits for fixed-point edges (15 for q15 data) and may differ
    from the storage width after scaling stages (e.g. a q15 FFT output is in 9.7 for N=256).
    """

    domain: Domain
    channels: int
    sample_rate_hz: float
    hop: int
    features: int = 1  # spectrum: bins (n_fft // 2 + 1); latent: N channels; time: 1
    frame: int = 1  # window length in samples (spectrum, latent); 1 for time
    n_fft: int = 0  # spectrum only
    complex: bool = False
    numeric: str = "float"
    frac_bits: int = 0
    window: str = ""  # spectrum only: the analysis window, so the inverse can pick its dual

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop

    def with_(self, **changes) -> SignalFormat:
        return replace(self, **changes)

    def describe(self) -> str:
        num = self.numeric if self.numeric == "float" else f"{self.numeric}(frac {self.frac_bits})"
        if self.domain == "time":
            return f"time, {self.channels} ch, {self.sample_rate_hz:g} Hz, {num}"
        kind = "complex " if self.complex else ""
        return (
            f"{self.domain}, {self.channels} ch x {self.features} {kind}features, "
            f"hop {self.hop}, frame {self.frame}, {self.sample_rate_hz:g} Hz, {num}"
        )
