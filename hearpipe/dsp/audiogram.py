"""Audiograms: hearing thresholds in dB HL per ear at audiometric frequencies (domain.md section 3).

File form (YAML or JSON)::

    frequencies_hz: [250, 500, 1000, 2000, 4000, 8000]
    left_db_hl:  [20, 25, 35, 50, 60, 65]
    right_db_hl: [15, 20, 30, 45, 55, 70]   # either ear may be absent, not both

Thresholds between the measured frequencies are interpolated linearly in dB over log2(frequency)
(audiometric frequencies are octave-spaced, so this is "straight lines on the audiogram form");
outside the measured range the edge values are held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearpipe.config import load_model
from hearpipe.errors import InvalidInput

Ear = Literal["left", "right"]
EARS: tuple[Ear, ...] = ("left", "right")

MIN_FREQUENCY_HZ = 125.0
MAX_FREQUENCY_HZ = 8000.0
MIN_DB_HL = -10.0
MAX_DB_HL = 120.0


class Audiogram(BaseModel):
    """Thresholds of one or both ears; validated on construction (InvalidInput via `load_audiogram`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("", description="free text, e.g. 'mild sloping'")
    description: str = ""
    frequencies_hz: list[float] = Field(
        min_length=1, description="audiometric frequencies in Hz, strictly increasing, 125..8000"
    )
    left_db_hl: list[float] | None = Field(None, description="left-ear thresholds in dB HL (-10..120)")
    right_db_hl: list[float] | None = Field(None, description="right-ear thresholds in dB HL (-10..120)")

    @model_validator(mode="after")
    def _check(self):
        f = self.frequencies_hz
        for i, v in enumerate(f):
            if not (MIN_FREQUENCY_HZ <= v <= MAX_FREQUENCY_HZ):
                raise ValueError(
                    f"frequencies_hz[{i}] = {v:g} Hz is outside {MIN_FREQUENCY_HZ:g}..{MAX_FREQUENCY_HZ:g} Hz"
                )
            if i and v <= f[i - 1]:
                raise ValueError(
                    f"frequencies_hz must be strictly increasing: [{i - 1}] = {f[i - 1]:g} then [{i}] = {v:g}"
                )
        if self.left_db_hl is None and self.right_db_hl is None:
            raise ValueError("at least one of left_db_hl and right_db_hl is required")
        for ear in EARS:
            values = getattr(self, f"{ear}_db_hl")
            if values is None:
                continue
            if len(values) != len(f):
                raise ValueError(
                    f"{ear}_db_hl has {len(values)} values but frequencies_hz has {len(f)}; they must match"
                )
            for i, v in enumerate(values):
                if not (MIN_DB_HL <= v <= MAX_DB_HL) or not np.isfinite(v):
                    raise ValueError(
                        f"{ear}_db_hl[{i}] = {v:g} dB HL is outside {MIN_DB_HL:g}..{MAX_DB_HL:g}"
                    )
        return self

    @property
    def ears(self) -> list[Ear]:
        return [e for e in EARS if getattr(self, f"{e}_db_hl") is not None]

    def thresholds(self, ear: Ear | None = None) -> np.ndarray:
        """Measured thresholds of `ear` (default: the only ear, or the left one when both exist)."""
        ear = self.pick_ear(ear)
        return np.asarray(getattr(self, f"{ear}_db_hl"), dtype=np.float64)

    def pick_ear(self, ear: Ear | None = None) -> Ear:
        if ear is None:
            return self.ears[0]
        if ear not in EARS:
            raise InvalidInput(f"ear must be 'left' or 'right', got {ear!r}")
        if getattr(self, f"{ear}_db_hl") is None:
            raise InvalidInput(
                f"audiogram{' ' + repr(self.name) if self.name else ''} has no {ear} ear "
                f"(it has: {', '.join(self.ears)})"
            )
        return ear

    def at(self, frequencies_hz, ear: Ear | None = None) -> np.ndarray:
        """Thresholds in dB HL at arbitrary frequencies (log-frequency interpolation, edges held)."""
        return interpolate_log_frequency(self.frequencies_hz, self.thresholds(ear), frequencies_hz)


def interpolate_log_frequency(f_known, values, f_query) -> np.ndarray:
    """Linear interpolation of `values` over log2(frequency); values beyond either end are held."""
    fk = np.log2(np.asarray(f_known, dtype=np.float64))
    fq = np.log2(np.maximum(np.asarray(f_query, dtype=np.float64), 1e-9))
    return np.interp(fq, fk, np.asarray(values, dtype=np.float64))


def load_audiogram(path: str | Path) -> Audiogram:
    """Read and validate an audiogram file; problems raise InvalidInput naming the file and field."""
    return load_model(Audiogram, path)
