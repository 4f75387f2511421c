"""Q formats and float <-> fixed conversion (CMSIS conventions, domain.md section 5)."""

from __future__ import annotations

from typing import Literal

import numpy as np

Rounding = Literal["truncate", "nearest"]


def int_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def storage_dtype(bits: int) -> type:
    return {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}.get(bits, np.int64 if bits > 32 else np.int32)


def float_to_fixed(x, frac_bits: int, bits: int = 16, rounding: Rounding = "nearest") -> np.ndarray:
    """Scale by 2**frac_bits, round (truncate = floor, as CMSIS without ARM_MATH_ROUNDING; nearest =
    half away from zero, as arm_float_to_q15 with ARM_MATH_ROUNDING) and saturate to `bits` bits."""
    v = np.asarray(x, dtype=np.float64) * float(1 << frac_bits)
    v = np.floor(v) if rounding == "truncate" else np.trunc(v + np.copysign(0.5, v))
    lo, hi = int_range(bits)
    return np.clip(v, lo, hi).astype(storage_dtype(bits))


def fixed_to_float(q, frac_bits: int) -> np.ndarray:
    return np.asarray(q, dtype=np.float64) * 2.0**-frac_bits
