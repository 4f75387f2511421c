"""Device profiles (`devices/*.yaml`): arithmetic, clock, cycle prices, memory and latency limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hearpipe.budget.cost import OP_KINDS


class DeviceProfile(BaseModel):
    """A device class a graph must fit. Every number should be cited in `sources`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    description: str = ""
    arithmetic: Literal["float32", "float64", "fixed"] = Field(
        description="float32/float64 run the float path; fixed runs the bit-true fixed-point kernels"
    )
    word_bits: int = Field(16, ge=8, le=64, description="native data word width of the DSP (fixed devices)")
    clock_mhz: float = Field(gt=0, description="core clock in MHz")
    usable_mips: float = Field(gt=0, description="MIPS available to signal processing (after OS/IO)")
    ram_kib: float = Field(gt=0, description="data RAM available to the graph in KiB")
    rom_kib: float = Field(gt=0, description="program/weight memory available to tables and weights in KiB")
    max_latency_ms: float = Field(gt=0, description="largest acceptable input-to-output delay in ms")
    sample_rates_hz: list[float] = Field(min_length=1, description="sample rates the device's codec runs")
    cycles_per_op: dict[str, float] = Field(description="cycles for one operation of each kind")
    sources: dict[str, str] = Field(min_length=1, description="where each number comes from")

    @field_validator("cycles_per_op")
    @classmethod
    def _known_ops(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(OP_KINDS))
        if unknown:
            raise ValueError(f"unknown operation kinds {unknown}; known: {', '.join(OP_KINDS)}")
        missing = sorted(set(OP_KINDS) - set(v))
        if missing:
            raise ValueError(f"cycle price missing for {missing}")
        return v

    @property
    def fixed(self) -> bool:
        return self.arithmetic == "fixed"

    @property
    def word_bytes(self) -> int:
        """Bytes of one stored data word: 4 on a float32 device, 8 on float64, the native word (2 or 4
        bytes) on a fixed-point one."""
        if self.arithmetic == "float32":
            return 4
        if self.arithmetic == "float64":
            return 8
        return 2 if self.word_bits <= 16 else 4

    def value_bytes(self, numeric: str) -> int:
        """Bytes of one stored value of an edge whose numeric format is `numeric`: a data word, or more
        where the value is wider than the word (the q31 FFT's int32 spectrum on a 16-bit DSP)."""
        return max(self.word_bytes, 4 if numeric == "int32" else 0)
