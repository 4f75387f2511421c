"""Building, preparing and streaming a graph of blocks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hearpipe.blocks.base import Block, Context
from hearpipe.budget.device import DeviceProfile
from hearpipe.budget.profiles import load_device
from hearpipe.budget.report import BudgetReport, budget_report
from hearpipe.config import read_document, validate
from hearpipe.errors import FormatMismatch, InvalidInput
from hearpipe.fixed.qformat import float_to_fixed
from hearpipe.graph.format import SignalFormat
from hearpipe.graph.registry import get_block_class
from hearpipe.graph.spec import INPUT, MAX_BLOCK_SIZE, GraphSpec
from hearpipe.models.weights import BUILTIN_PREFIX
from hearpipe.shipped import find_shipped

AUDIO_FRAC_BITS = 15  # fixed devices exchange audio with the codec as q15


class Graph:
    """A prepared processing graph. Feed audio with `process`, finish with `flush`.

    `process(x)` takes float audio `(channels, samples)` (mono may be 1-D) in chunks of any size and
    returns the output samples completed so far, a whole number of `block_size` blocks: the
    concatenated output does not depend on how the input was chunked. `flush()` completes the last
    partial block with zeros and returns exactly the samples still owed, so the total output length
    equals the total input length. The output is delayed by `latency_samples`.
    """

    def __init__(
        self,
        spec: GraphSpec,
        source: str = "<graph>",
        device: DeviceProfile | None = None,
        base_dir: Path | None = None,
    ):
        self.spec = spec
        self.source = source
        self.device = device
        self.ctx = Context(
            sample_rate_hz=spec.sample_rate_hz,
            block_size=1,
            full_scale_db_spl=spec.full_scale_db_spl,
            device=device,
            base_dir=base_dir or Path.cwd(),
        )
        self.blocks: dict[str, Block] = {}
        self.inputs: dict[str, list[str]] = {}
        self._build()
        self.order = self._topological_order()
        self.output_name = spec.output or spec.nodes[-1].name
        self._prepare()
        self.reset()

    # -- construction -------------------------------------------------------------------------------
    def _where(self, i: int, field: str = "") -> str:
        node = self.spec.nodes[i]
        return f"{self.source}: nodes[{i}]{'.' + field if field else ''} '{node.name}' ({node.type}): "

    def _build(self) -> None:
        prev = INPUT
        for i, node in enumerate(self.spec.nodes):
            if node.name == INPUT:
                raise InvalidInput(
                    f"{self.source}: nodes[{i}].name: '{INPUT}' is reserved for the graph input"
                )
            if node.name in self.blocks:
                raise InvalidInput(f"{self.source}: nodes[{i}].name: duplicate node name '{node.name}'")
            cls = get_block_class(node.type, f"{self.source}: nodes[{i}].type: ")
            params = validate(cls.Params, node.params, self.source, prefix=f"nodes.{i}.params")
            self.blocks[node.name] = cls(params, node.name)
            self.inputs[node.name] = list(node.inputs) if node.inputs is not None else [prev]
            prev = node.name
        names = set(self.blocks) | {INPUT}
        for i, node in enumerate(self.spec.nodes):
            ins = self.inputs[node.name]
            for src in ins:
                if src not in names:
                    raise InvalidInput(
                        f"{self._where(i, 'inputs')}unknown input '{src}' (nodes: {', '.join(sorted(names))})"
                    )
            n_in = self.blocks[node.name].n_inputs
            if n_in is not None and len(ins) != n_in:
                raise InvalidInput(f"{self._where(i, 'inputs')}takes {n_in} input(s), got {len(ins)}")
            if not ins:
                raise InvalidInput(f"{self._where(i, 'inputs')}needs at least one input")
        if self.spec.output is not None and self.spec.output not in self.blocks:
            raise InvalidInput(f"{self.source}: output: unknown node '{self.spec.output}'")

    def _topological_order(self) -> list[str]:
        state: dict[str, int] = {}  # 1 = visiting, 2 = done
        order: list[str] = []

        def visit(n: str, path: list[str]) -> None:
            if n == INPUT or state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = [*path[path.index(n) :], n]
                raise InvalidInput(f"{self.source}: the graph has a cycle: {' -> '.join(cycle)}")
            state[n] = 1
            for src in self.inputs[n]:
                visit(src, [*path, n])
            state[n] = 2
            order.append(n)

        for n in self.blocks:
            visit(n, [])
        return order

    def _prepare(self) -> None:
        sr = self.spec.sample_rate_hz
        if self.device is not None and not any(abs(sr - r) < 1e-6 for r in self.device.sample_rates_hz):
            rates = ", ".join(f"{r:g}" for r in self.device.sample_rates_hz)
            raise InvalidInput(
                f"{self.source}: sample_rate_hz {sr:g} Hz is not a rate of device '{self.device.name}' ({rates} Hz)"
            )
        fixed = self.ctx.fixed
        self.in_format = SignalFormat(
            "time",
            self.spec.channels,
            sr,
            1,
            numeric="q15" if fixed else "float",
            frac_bits=AUDIO_FRAC_BITS if fixed else 0,
        )
        formats: dict[str, SignalFormat] = {INPUT: self.in_format}
        latency: dict[str, int] = {INPUT: 0}
        index = {n.name: i for i, n in enumerate(self.spec.nodes)}
        for name in self.order:
            blk = self.blocks[name]
            ins = [formats[s] for s in self.inputs[name]]
            lats = [latency[s] for s in self.inputs[name]]
            if len(set(lats)) > 1:
                detail = ", ".join(f"'{s}' {latency[s]} samples" for s in self.inputs[name])
                raise FormatMismatch(
                    f"{self._where(index[name])}inputs arrive with different delays ({detail})"
                )
            try:
                formats[name] = blk.prepare(ins, self.ctx)
            except InvalidInput as e:
                srcs = " and ".join(f"'{s}'" for s in self.inputs[name])
                extra = f" (fed by {srcs})" if isinstance(e, FormatMismatch) else ""
                raise type(e)(f"{self.source}: nodes[{index[name]}] {e}{extra}") from None
            blk.in_formats, blk.out_format = ins, formats[name]
            latency[name] = (lats[0] if lats else 0) + int(blk.latency_samples)
        out = formats[self.output_name]
        if out.domain != "time":
            raise FormatMismatch(
                f"{self.source}: output node '{self.output_name}' produces {out.describe()}; the graph output "
                "must be time-domain audio (end with an inverse STFT or a decoder)"
            )
        self.formats = formats
        self.out_format = out
        self.block_size = self.spec.block_size or math.lcm(*(f.hop for f in formats.values()))
        if self.block_size > MAX_BLOCK_SIZE:  # hops of no common small multiple (e.g. 997 and 991)
            raise InvalidInput(
                f"{self.source}: the hops need a block of {self.block_size} samples (their least common "
                f"multiple), more than the {MAX_BLOCK_SIZE} samples a step may have; use hops that divide "
                "each other"
            )
        for name, f in formats.items():
            if self.block_size % f.hop:
                raise InvalidInput(
                    f"{self.source}: block_size ({self.block_size}) must be a multiple of the hop ({f.hop}) "
                    f"of '{name}'"
                )
        self.ctx.block_size = self.block_size
        self._latency = latency[self.output_name]

    # -- streaming ----------------------------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        """Algorithmic delay from input to output in samples (excluding the I/O block buffer)."""
        return self._latency

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self._latency / self.spec.sample_rate_hz

    @property
    def channels(self) -> int:
        return self.spec.channels

    @property
    def sample_rate_hz(self) -> float:
        return self.spec.sample_rate_hz

    def reset(self) -> None:
        for b in self.blocks.values():
            b.reset()
        self._pending = np.zeros((self.channels, 0))

    def _check_audio(self, x: Any) -> np.ndarray:
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"audio must be an array of numbers (channels, samples): {e}") from None
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise InvalidInput(
                f"audio must have shape (channels, samples) with {self.channels} channel(s), got {x.shape}"
            )
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0]
            raise InvalidInput(f"audio contains NaN or Inf (first at channel {bad[0]}, sample {bad[1]})")
        return x

    def process(self, x: Any) -> np.ndarray:
        x = self._check_audio(x)
        buf = np.concatenate([self._pending, x], axis=1) if self._pending.shape[1] else x
        n = buf.shape[1] // self.block_size * self.block_size
        self._pending = buf[:, n:].copy()
        return self._run(buf[:, :n])

    def flush(self) -> np.ndarray:
        """Finish the stream: pad the pending partial block with zeros, return the samples still owed."""
        owed = self._pending.shape[1]
        if owed == 0:
            return np.zeros((self.out_format.channels, 0))
        pad = np.zeros((self.channels, self.block_size - owed))
        return self.process(pad)[:, :owed]

    def _run(self, block: np.ndarray) -> np.ndarray:
        if block.shape[1] == 0:
            return np.zeros((self.out_format.channels, 0))
        if self.ctx.fixed:
            block = float_to_fixed(block, AUDIO_FRAC_BITS, 16, rounding="nearest")
        values: dict[str, np.ndarray] = {INPUT: block}
        for name in self.order:
            values[name] = self.blocks[name].process(*(values[s] for s in self.inputs[name]))
        y = values[self.output_name]
        if self.out_format.numeric != "float":
            y = y.astype(np.float64) * 2.0**-self.out_format.frac_bits
        return y

    def run(self, x: Any) -> np.ndarray:
        """Process a whole signal from a fresh state; output has the input's length (delayed by latency)."""
        self.reset()
        y = np.concatenate([self.process(x), self.flush()], axis=1)
        self.reset()
        return y

    def rebuilt(
        self,
        *,
        device: DeviceProfile | Literal["same"] | None = "same",
        channels: int | None = None,
        spec: GraphSpec | None = None,
    ) -> Graph:
        """This graph prepared anew: for another device, channel count or an edited spec, with the same
        source and base folder (relative paths in the graph resolve as before). The one way to rebuild."""
        new_spec = spec or self.spec
        if channels is not None and channels != new_spec.channels:
            new_spec = new_spec.model_copy(update={"channels": channels})
        return Graph(
            new_spec,
            source=self.source,
            device=self.device if device == "same" else device,
            base_dir=self.ctx.base_dir,
        )

    # -- resources ----------------------------------------------------------------------------------
    def budget(self, device: DeviceProfile | None = None) -> BudgetReport:
        """Resources against `device` (default: the device this graph was prepared for). Blocks size their
        state for the device they were prepared for, so another device costs a graph rebuilt for it."""
        if device is not None and device != self.device:
            return budget_report(self.rebuilt(device=device))
        return budget_report(self)


def graph_path(name_or_path: str | Path) -> Path:
    """A graph file: a path (it wins when it exists) or a shipped graph's name, `enhance` or `builtin:enhance`."""
    s = str(name_or_path)
    if s.startswith(BUILTIN_PREFIX):
        return find_shipped("graphs", s.removeprefix(BUILTIN_PREFIX))
    p = Path(s)
    if p.exists() or p.suffix or len(p.parts) > 1:  # a path; read_document names a missing one
        return p
    return find_shipped("graphs", s)


def load_graph(
    spec: str | Path | Mapping | GraphSpec, device: str | Path | DeviceProfile | None = None
) -> Graph:
    """Build and prepare a graph from a YAML path or shipped graph name, a mapping or a GraphSpec, for an
    optional device (a DeviceProfile, a shipped profile's name or a profile file)."""
    dev = load_device(device) if device is not None and not isinstance(device, DeviceProfile) else device
    if isinstance(spec, GraphSpec):
        return Graph(spec, device=dev)
    if isinstance(spec, Mapping):
        return Graph(validate(GraphSpec, dict(spec), "<graph>"), device=dev)
    path = graph_path(spec)
    doc = read_document(path)
    return Graph(validate(GraphSpec, doc, str(path)), source=str(path), device=dev, base_dir=path.parent)
