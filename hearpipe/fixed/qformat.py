"""Q formats and float <-> fixed conversion (CMSIS conventions, domain.md section 5).

A value stored as the integer `q` in format Qm.n (ARM convention as in CMSIS "1.15": m integer bits
including the sign bit, n fraction bits,
m + n = storage bits) means `q * 2**-n`. q7 = Q1.7 (int8), q15 = Q1.15 (int16), q31 = Q1.31 (int32).
Conversions saturate at the rails; they never wrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from hearpipe.errors import InvalidInput

# truncate: toward zero, as the C cast in CMSIS `arm_float_to_q15` (no ARM_MATH_ROUNDING);
# floor: toward -inf, as an arithmetic right shift of a wider integer;
# nearest: half away from zero, as `arm_float_to_q15` built with ARM_MATH_ROUNDING.
Rounding = Literal["truncate", "floor", "nearest"]
ROUNDINGS: tuple[str, ...] = ("truncate", "floor", "nearest")


def int_range(bits: int) -> tuple[int, int]:
    """Smallest and largest value of a signed two's-complement integer of `bits` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def storage_dtype(bits: int) -> type:
    """The numpy integer type that stores a `bits`-bit signed value (wider types for odd widths)."""
    return {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}.get(
        bits, np.int64 if bits > 32 else np.int32
    )


def _round(v: np.ndarray, rounding: str) -> np.ndarray:
    if rounding == "truncate":
        return np.trunc(v)
    if rounding == "floor":
        return np.floor(v)
    if rounding == "nearest":
        return np.trunc(v + np.copysign(0.5, v))
    raise InvalidInput(f"rounding {rounding!r} is not one of {', '.join(ROUNDINGS)}")


def float_to_fixed(x, frac_bits: int, bits: int = 16, rounding: Rounding = "nearest") -> np.ndarray:
    """Scale by 2**frac_bits, round and saturate to a signed `bits`-bit integer array.

    Rounding: "truncate" (toward zero, CMSIS `arm_float_to_q15` default), "floor", or "nearest" (half
    away from zero, CMSIS with ARM_MATH_ROUNDING). NaN maps to 0. Computed in float64, so inputs that
    are float32 give the same result as CMSIS's float32 arithmetic (scaling by a power of two is exact).
    """
    v = np.asarray(x, dtype=np.float64) * 2.0**frac_bits
    v = _round(np.where(np.isnan(v), 0.0, v), rounding)  # not nan_to_num/clip: ~5x their cost on a hop
    lo, hi = int_range(bits)
    return np.minimum(np.maximum(v, lo), hi).astype(storage_dtype(bits))


def fixed_to_float(q, frac_bits: int) -> np.ndarray:
    """The real value of fixed-point integers with `frac_bits` fraction bits (exact in float64 up to 53 bits)."""
    return np.asarray(q, dtype=np.float64) * 2.0**-frac_bits


def saturate(q, bits: int) -> np.ndarray:
    """Clamp integers to the `bits`-bit signed range and store them in that width."""
    lo, hi = int_range(bits)
    return np.clip(np.asarray(q, dtype=np.int64), lo, hi).astype(storage_dtype(bits))


def quantize_rows(w, bits: int, clip=None) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-row weight quantisation (CMSIS-NN per-channel): w (M, K) -> (q, scale) with
    w[m] ~= q[m] * scale[m], scale[m] = max|w[m]| / qmax, qmax = 2**(bits-1) - 1 (bits 2..8: int8
    storage, levels -qmax..qmax including 0, e.g. 127 for 8 bits, 3 for 3 bits; bits 16: int16, 32767),
    q rounded half up; an all-zero row gets q = 0 and scale 0. `clip` (M,): per-row magnitudes used
    instead of max|w[m]| (weights beyond saturate; low-bit quantisers choose it to cut the error)."""
    if not (2 <= bits <= 8 or bits == 16):
        raise InvalidInput(f"weight bits ({bits}) must be 2..8 or 16")
    w = np.asarray(w, dtype=np.float64)
    qmax = (1 << (bits - 1)) - 1
    amax = np.abs(w).max(axis=1) if clip is None else np.asarray(clip, dtype=np.float64)
    scale = np.where(amax > 0, amax / qmax, 1.0)
    q = np.clip(np.floor(w / scale[:, None] + 0.5), -qmax, qmax).astype(np.int8 if bits <= 8 else np.int16)
    return q, np.where(amax > 0, scale, 0.0)


@dataclass(frozen=True)
class QFormat:
    """Signed fixed-point format Qm.n: `bits` = m + n storage bits, `frac_bits` = n.

    `QFormat.parse("q15")`, `QFormat.parse("Q4.12")`, `QFormat(16, 12)` all work. frac_bits may exceed
    bits (small values, e.g. Q-2.18 in 16 bits) or be negative (coarse large values).
    """

    bits: int
    frac_bits: int

    def __post_init__(self):
        if self.bits not in (8, 16, 32, 64):
            raise InvalidInput(f"QFormat bits ({self.bits}) must be 8, 16, 32 or 64")

    @classmethod
    def parse(cls, name: str) -> QFormat:
        s = name.strip().lower()
        if s in NAMED:
            return NAMED[s]
        if s.startswith("q") and "." in s:
            try:
                m, n = (int(p) for p in s[1:].split("."))
            except ValueError:
                m = n = -1
            if m >= 1 and n >= 0:
                return cls(m + n, n)
        raise InvalidInput(
            f"Q format {name!r} is not understood: use q7, q15, q31, or Qm.n with m + n in 8/16/32/64"
        )

    @property
    def int_bits(self) -> int:
        """m: integer bits including the sign bit."""
        return self.bits - self.frac_bits

    @property
    def name(self) -> str:
        for k, v in NAMED.items():
            if v == self:
                return k
        return f"Q{self.int_bits}.{self.frac_bits}"

    @property
    def dtype(self) -> type:
        return storage_dtype(self.bits)

    @property
    def int_min(self) -> int:
        return int_range(self.bits)[0]

    @property
    def int_max(self) -> int:
        return int_range(self.bits)[1]

    @property
    def lsb(self) -> float:
        """Value of one least significant bit."""
        return 2.0**-self.frac_bits

    @property
    def min(self) -> float:
        return self.int_min * self.lsb

    @property
    def max(self) -> float:
        return self.int_max * self.lsb

    def quantize(self, x, rounding: Rounding = "nearest") -> np.ndarray:
        return float_to_fixed(x, self.frac_bits, self.bits, rounding)

    def to_float(self, q) -> np.ndarray:
        return fixed_to_float(q, self.frac_bits)

    def __str__(self) -> str:
        return self.name


NAMED: dict[str, QFormat] = {"q7": QFormat(8, 7), "q15": QFormat(16, 15), "q31": QFormat(32, 31)}
Q7, Q15, Q31 = NAMED["q7"], NAMED["q15"], NAMED["q31"]
