"""The block interface every node of a graph implements (architecture.md section 2).

Life of a block: `Params` validated from the graph file -> `prepare(inputs, ctx)` negotiates formats,
builds tables and allocates state -> `process(*xs)` once per batch of whole frames -> `reset()`.
`process` receives `k` frames at once (k >= 1) and must give bit-identical results for any k, so
chunked and whole-file rendering agree: keep per-frame arithmetic independent of the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from hearpipe.errors import FormatMismatch, InvalidInput
from hearpipe.graph.format import SignalFormat

if TYPE_CHECKING:
    from hearpipe.budget.cost import Cost
    from hearpipe.budget.device import DeviceProfile


class BlockParams(BaseModel):
    """Base of every block's parameters: frozen, unknown fields rejected, units in the names.

    NaN and infinity (YAML `.nan`, `.inf`) are refused in every float field, lists included: they would
    pass range checks written as comparisons and reach the audio as NaN or a wrapped fixed-point gain.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass
class Context:
    """Graph-wide settings a block may read while preparing."""

    sample_rate_hz: float
    block_size: int  # samples the engine hands the graph at once (the smallest unit of work)
    full_scale_db_spl: float = (
        100.0  # calibration: the level digital full scale (rms of a full-scale sine) represents
    )
    device: DeviceProfile | None = None
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths in params resolve against this

    @property
    def fixed(self) -> bool:
        return self.device is not None and self.device.fixed

    @property
    def word_bytes(self) -> int:
        """Bytes of one stored data word on the device (`DeviceProfile.word_bytes`); 4 (float32) without one."""
        return 4 if self.device is None else self.device.word_bytes

    def value_bytes(self, fmt: SignalFormat) -> int:
        """Bytes of one stored value of an edge of format `fmt` (`DeviceProfile.value_bytes`); without a
        device every edge is float, stored as float32."""
        return 4 if self.device is None else self.device.value_bytes(fmt.numeric)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)


class Block:
    """One node type. Subclasses set `type_name`, `Params`, `n_inputs`, and implement the methods."""

    type_name: ClassVar[str]
    Params: ClassVar[type[BlockParams]]
    n_inputs: ClassVar[int | None] = 1  # None: any number >= 1
    summary: ClassVar[str] = ""

    def __init__(self, params: BlockParams, name: str):
        self.params = params
        self.name = name
        self.in_formats: list[SignalFormat] = []
        self.out_format: SignalFormat | None = None

    # -- life cycle ---------------------------------------------------------------------------------
    def prepare(self, inputs: list[SignalFormat], ctx: Context) -> SignalFormat:
        raise NotImplementedError

    def process(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reset(self) -> None:
        """Back to the state right after `prepare` (clear delay lines, detectors, recurrent state)."""

    @property
    def latency_samples(self) -> int:
        """Algorithmic delay this block adds, in samples of the graph's sample rate."""
        return 0

    def cost(self) -> Cost:
        raise NotImplementedError

    # -- helpers for subclasses ---------------------------------------------------------------------
    def label(self) -> str:
        return f"'{self.name}' ({self.type_name})"

    def fail(self, message: str) -> InvalidInput:
        return InvalidInput(f"{self.label()}: {message}")

    def expect_q15_audio(self, fmt: SignalFormat) -> None:
        """Refuse fixed-point time-domain input other than q15 (what the codec delivers on fixed devices)."""
        if (fmt.numeric, fmt.frac_bits) != ("q15", 15):
            raise self.fail(f"fixed-point input must be q15 audio, receives {fmt.describe()}")

    def fixed_spectrum_bits(self, fmt: SignalFormat) -> int:
        """Storage width (16 or 32 bits) of a fixed-point spectrum edge; refuses any other format."""
        if fmt.numeric not in ("int16", "int32") or not fmt.complex:
            raise self.fail(
                f"fixed-point spectra must be int16 or int32 [re, im] pairs, receives {fmt.describe()}"
            )
        return 16 if fmt.numeric == "int16" else 32

    def expect(self, fmt: SignalFormat, *, domain: str | tuple[str, ...], what: str = "input") -> None:
        domains = (domain,) if isinstance(domain, str) else domain
        if fmt.domain not in domains:
            raise FormatMismatch(
                f"{self.label()}: {what} must be in the {' or '.join(domains)} domain, "
                f"but receives {fmt.describe()}"
            )
