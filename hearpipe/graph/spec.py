"""The graph file: pydantic models for the document, before any block is built."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

INPUT = "input"  # reserved name of the graph's audio input
MAX_BLOCK_SIZE = 65536  # samples per engine step: bounds the buffers a render allocates per channel


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$", description="unique node name")
    type: str = Field(description="block type (see `hearpipe blocks`)")
    params: dict[str, Any] = Field(default_factory=dict, description="the block's parameters")
    inputs: list[str] | None = Field(
        None, description="names of the nodes feeding this one; default: the previous node (or the input)"
    )


class GraphSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = ""
    description: str = ""
    sample_rate_hz: float = Field(
        16000.0, ge=1000, le=384000, description="rate the graph runs at, in Hz (1000..384000)"
    )
    channels: int = Field(
        1, ge=1, le=64, description="audio channels (1..64); each runs through its own state"
    )
    block_size: int | None = Field(
        None,
        ge=1,
        le=MAX_BLOCK_SIZE,
        description=f"samples per engine step (1..{MAX_BLOCK_SIZE}); default: the least common multiple of "
        "all hops",
    )
    full_scale_db_spl: float = Field(
        100.0, ge=60, le=160, description="calibration: dB SPL of a full-scale sine (rms 1/sqrt(2))"
    )
    nodes: list[NodeSpec] = Field(min_length=1)
    output: str | None = Field(None, description="node whose output is the graph's output; default: the last")
