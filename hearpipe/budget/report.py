"""A graph's resources against a device's limits: per-block table, memory plan, totals, verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearpipe.budget.cost import Cost
from hearpipe.budget.device import DeviceProfile
from hearpipe.budget.memory import Buffer, plan
from hearpipe.errors import InvalidInput, OverBudget

KIB = 1024.0
ALIGN = 4  # bytes: buffers start on 32-bit word boundaries


@dataclass
class BlockRow:
    name: str
    type: str
    cost: Cost
    mips: float  # the device's assumed implementations
    latency_samples: int
    mips_low: float = 0.0  # the fastest and slowest implementations the device's kernel prices name
    mips_high: float = 0.0

    @property
    def macs_per_s(self) -> float:
        return self.cost.macs_per_s()


@dataclass
class BudgetReport:
    graph: str
    device: DeviceProfile
    sample_rate_hz: float
    block_size: int
    rows: list[BlockRow]
    buffers: list[Buffer]
    arena_bytes: int
    latency_samples: int
    totals: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)

    @property
    def violations(self) -> list[tuple[str, float, float, str]]:
        """(what, value, limit, unit) for every exceeded limit."""
        out = []
        for key, unit in (("mips", "MIPS"), ("ram_kib", "KiB"), ("rom_kib", "KiB"), ("latency_ms", "ms")):
            if self.totals[key] > self.limits[key] + 1e-9:
                out.append((key, self.totals[key], self.limits[key], unit))
        return out

    @property
    def fits(self) -> bool:
        return not self.violations

    def top_contributor(self, key: str) -> BlockRow | None:
        metric = {
            "mips": lambda r: r.mips,
            "ram_kib": lambda r: r.cost.ram_persistent + r.cost.ram_scratch,
            "rom_kib": lambda r: r.cost.rom,
            "latency_ms": lambda r: r.latency_samples,
        }[key]
        return max(self.rows, key=metric, default=None)

    def check(self) -> None:
        """Raise OverBudget naming each exceeded limit, by how much, and the block that costs most."""
        if self.fits:
            return
        names = {"mips": "processing", "ram_kib": "RAM", "rom_kib": "ROM", "latency_ms": "latency"}
        parts = []
        for key, value, limit, unit in self.violations:
            top = self.top_contributor(key)
            who = f"; largest: '{top.name}' ({top.type})" if top else ""
            parts.append(
                f"{names[key]} {value:.2f} {unit} > {limit:.2f} {unit} limit "
                f"(over by {value - limit:.2f} {unit}, {100 * (value / limit - 1):.0f}%){who}"
            )
        raise OverBudget(f"{self.graph}: over the budget of device '{self.device.name}': " + "; ".join(parts))

    def to_dict(self) -> dict:
        return {
            "graph": self.graph,
            "device": self.device.name,
            "sample_rate_hz": self.sample_rate_hz,
            "block_size": self.block_size,
            "blocks": [
                {
                    "name": r.name,
                    "type": r.type,
                    "ops_per_s": r.cost.ops_per_s(),
                    "macs_per_s": r.macs_per_s,
                    "mips": r.mips,
                    "mips_range": [r.mips_low, r.mips_high],
                    "kernels": [
                        {
                            "family": k.family,
                            "calls": k.calls * r.cost.frame_rate_hz,
                            "per": "s",
                            "outputs": k.outputs * r.cost.frame_rate_hz,
                            "macs": k.macs * r.cost.frame_rate_hz,
                        }
                        for k in r.cost.kernels
                    ],
                    "ram_persistent_bytes": r.cost.ram_persistent,
                    "ram_scratch_bytes": r.cost.ram_scratch,
                    "rom_bytes": r.cost.rom,
                    "latency_samples": r.latency_samples,
                }
                for r in self.rows
            ],
            "memory_plan": [
                {"buffer": b.name, "bytes": b.size, "offset": b.offset, "steps": [b.first, b.last]}
                for b in self.buffers
            ],
            "totals": self.totals,
            "limits": self.limits,
            "fits": self.fits,
            "violations": [{"limit": k, "value": v, "max": m, "unit": u} for k, v, m, u in self.violations],
        }

    def table(self) -> str:
        head = f"{'block':<16} {'type':<14} {'MMAC/s':>8} {'MIPS':>8} {'RAM KiB':>8} {'scr KiB':>8} {'ROM KiB':>8} {'lat ms':>7}"
        lines = [
            f"graph {self.graph} on device '{self.device.name}' ({self.device.arithmetic}, "
            f"{self.sample_rate_hz:g} Hz, block {self.block_size} samples)",
            head,
            "-" * len(head),
        ]
        ms = 1000.0 / self.sample_rate_hz
        for r in self.rows:
            lines.append(
                f"{r.name[:16]:<16} {r.type[:14]:<14} {r.macs_per_s / 1e6:8.3f} {r.mips:8.3f} "
                f"{r.cost.ram_persistent / KIB:8.2f} {r.cost.ram_scratch / KIB:8.2f} {r.cost.rom / KIB:8.2f} "
                f"{r.latency_samples * ms:7.3f}"
            )
        lines.append("-" * len(head))
        t, lim = self.totals, self.limits
        lines += [
            f"{'processing':<22} {t['mips']:10.3f} MIPS   of {lim['mips']:10.2f} MIPS   "
            f"(range {t['mips_low']:.1f}-{t['mips_high']:.1f} MIPS over implementations; "
            f"{t['macs_per_s'] / 1e6:.3f} MMAC/s)",
            f"{'RAM':<22} {t['ram_kib']:10.3f} KiB    of {lim['ram_kib']:10.2f} KiB    "
            f"(state {t['ram_persistent_kib']:.2f} + shared arena {t['arena_kib']:.2f}, unshared would be "
            f"{t['arena_unshared_kib']:.2f})",
            f"{'ROM':<22} {t['rom_kib']:10.3f} KiB    of {lim['rom_kib']:10.2f} KiB",
            f"{'latency':<22} {t['latency_ms']:10.3f} ms     of {lim['latency_ms']:10.2f} ms     "
            f"(algorithmic {t['algorithmic_latency_ms']:.3f} + input block {t['block_latency_ms']:.3f})",
            "verdict: fits"
            if self.fits
            else "verdict: OVER BUDGET (" + ", ".join(v[0] for v in self.violations) + ")",
        ]
        return "\n".join(lines)


def budget_report(graph) -> BudgetReport:
    """Cost every block of a prepared graph, plan the shared RAM arena, and total against the limits of the
    device it was prepared for. `graph` is a `hearpipe.graph.engine.Graph` (duck-typed: source, spec, device,
    ctx, order, blocks, inputs, formats, block_size, latency_samples); `Graph.budget` is the usual way in."""
    device = graph.device
    if device is None:
        raise InvalidInput("a budget needs a device profile (--device NAME or PATH)")
    rows = []
    for name in graph.order:
        blk = graph.blocks[name]
        cost = blk.cost()
        assumed, low, high = device.cycles_per_s(cost)
        rows.append(
            BlockRow(
                name, blk.type_name, cost, assumed / 1e6, int(blk.latency_samples), low / 1e6, high / 1e6
            )
        )

    # activation buffers of one engine step, alive from their producer to their last reader
    step = {name: i for i, name in enumerate(graph.order)}
    buffers = []
    for name, fmt in graph.formats.items():
        readers = [step[n] for n, ins in graph.inputs.items() if name in ins]
        last = max(readers, default=len(graph.order))  # the graph output lives until it is sent out
        frames = graph.block_size // fmt.hop
        size = fmt.channels * fmt.features * frames * (2 if fmt.complex else 1) * graph.ctx.value_bytes(fmt)
        # the graph input is the one edge no step produces: it is there before the first step
        buffers.append(Buffer(f"edge:{name}", size, step.get(name, -1), last))
    for r in rows:
        if r.cost.ram_scratch:
            buffers.append(Buffer(f"scratch:{r.name}", r.cost.ram_scratch, step[r.name], step[r.name]))
    arena = plan(buffers, align=ALIGN)

    sr = graph.spec.sample_rate_hz
    persistent = sum(r.cost.ram_persistent for r in rows)
    algorithmic_ms = 1000.0 * graph.latency_samples / sr
    block_ms = 1000.0 * graph.block_size / sr
    totals = {
        "mips": sum(r.mips for r in rows),
        "mips_low": sum(r.mips_low for r in rows),
        "mips_high": sum(r.mips_high for r in rows),
        "macs_per_s": sum(r.macs_per_s for r in rows),
        "ram_persistent_kib": persistent / KIB,
        "arena_kib": arena / KIB,
        "arena_unshared_kib": sum(-(-b.size // ALIGN) * ALIGN for b in buffers) / KIB,
        "ram_kib": (persistent + arena) / KIB,
        "rom_kib": sum(r.cost.rom for r in rows) / KIB,
        "algorithmic_latency_ms": algorithmic_ms,
        "block_latency_ms": block_ms,
        "latency_ms": algorithmic_ms + block_ms,
    }
    limits = {
        "mips": device.usable_mips,
        "ram_kib": device.ram_kib,
        "rom_kib": device.rom_kib,
        "latency_ms": device.max_latency_ms,
    }
    return BudgetReport(
        graph.source,
        device,
        sr,
        graph.block_size,
        rows,
        buffers,
        arena,
        graph.latency_samples,
        totals,
        limits,
    )
