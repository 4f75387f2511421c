"""Device profiles (`devices/*.yaml`): arithmetic, clock, cycle prices, memory and latency limits.

Cycles come from two price lists: `kernels` prices whole kernel calls (call overhead + per output + per
MAC, fitted to measured cycle counts in `devices/calibration.json`) for the operations a block's kernel
records cover; `cycles_per_op` prices every other operation at an instruction's rate.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hearpipe.budget.cost import OP_KINDS, Cost, KernelCall
from hearpipe.fixed.count import KERNEL_FAMILIES


class KernelPrice(BaseModel):
    """Cycles of one kernel family on a device: `overhead` per call, `per_output` per output (row or
    sample), `per_mac` per multiply-accumulate (an FFT's radix-2 butterfly), inner loop's loads included,
    for the `implementation` the profile assumes; `alternatives` are the other implementations measured
    (or estimated), each as a factor on these cycles: they make the range a budget reports."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    overhead: float = Field(ge=0, description="cycles per call")
    per_output: float = Field(ge=0, description="cycles per output row or sample")
    per_mac: float = Field(ge=0, description="cycles per MAC (FFT: per radix-2 butterfly)")
    status: Literal["measured", "derived", "estimated"] = Field(
        description="measured: fitted to this core's measured cycles; derived: computed from measured "
        "figures of another core or kernel; estimated: reasoned from the architecture"
    )
    implementation: str = Field(min_length=1, description="the assumed engine/compiler (calibration.json id)")
    alternatives: dict[str, float] = Field(
        default_factory=dict, description="other implementations: factor on the assumed cycles"
    )

    @field_validator("alternatives")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        if any(f <= 0 for f in v.values()):
            raise ValueError("alternative factors must be > 0")
        return v

    def cycles(self, call: KernelCall) -> float:
        return self.overhead * call.calls + self.per_output * call.outputs + self.per_mac * call.macs

    @property
    def range(self) -> tuple[float, float]:
        """(low, high) factors on the assumed cycles over all implementations."""
        f = [1.0, *self.alternatives.values()]
        return min(f), max(f)


class DeviceProfile(BaseModel):
    """A device class a graph must fit. Every number should be cited in `sources`; a private chip's profile
    may leave `sources` out (its numbers are then uncited, which `load_device` notes)."""

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
    implementation: str = Field(
        "", description="the engines/compilers the kernel prices assume, and where code and weights live"
    )
    weight_memory: Literal["flash", "ram", "tcm"] | None = Field(
        None, description="where weights and tables live (flash with wait states is slower than TCM)"
    )
    kernels: dict[str, KernelPrice] = Field(
        default_factory=dict, description="prices of kernel calls by family; others are priced per operation"
    )
    sources: dict[str, str] = Field(
        default_factory=dict, description="where each number comes from (empty: the numbers are uncited)"
    )

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

    @field_validator("kernels")
    @classmethod
    def _known_kernels(cls, v: dict[str, KernelPrice]) -> dict[str, KernelPrice]:
        unknown = sorted(set(v) - set(KERNEL_FAMILIES))
        if unknown:
            raise ValueError(f"unknown kernel families {unknown}; known: {', '.join(KERNEL_FAMILIES)}")
        return v

    @model_validator(mode="after")
    def _kernels_cited(self):
        missing = [f"kernels.{k}" for k in self.kernels if f"kernels.{k}" not in self.sources]
        if missing and self.sources:  # a cited profile cites its kernel prices too
            raise ValueError(f"sources missing for {missing}")
        return self

    def cycles_per_s(self, cost: Cost) -> tuple[float, float, float]:
        """Cycles per second of `cost`: (assumed implementations, lowest, highest over the alternatives).
        Kernel calls of a priced family replace the per-operation price of the operations they cover."""
        assumed = low = high = 0.0
        rest = Counter(cost.ops)
        for call in cost.kernels:
            price = self.kernels.get(call.family)
            if price is None:
                continue  # no calibrated price: its operations stay priced per operation
            rest.subtract(call.ops)
            c = price.cycles(call)
            lo, hi = price.range
            assumed, low, high = assumed + c, low + c * lo, high + c * hi
        per_op = sum(n * self.cycles_per_op[k] for k, n in rest.items() if n)
        r = cost.frame_rate_hz
        return (assumed + per_op) * r, (low + per_op) * r, (high + per_op) * r

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
