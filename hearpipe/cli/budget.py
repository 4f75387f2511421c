"""`hearpipe budget GRAPH --device D`: per-block MIPS, RAM, ROM and latency against a device's limits;
`--all-devices`: one row per shipped device."""

from __future__ import annotations

import json

from hearpipe.budget.profiles import list_devices, load_device
from hearpipe.graph.engine import load_graph


def add_parser(sub) -> None:
    p = sub.add_parser(
        "budget",
        help="per-block MIPS, RAM, ROM, latency against a device's limits",
        description="Cost every block of a graph on a device (MAC/s, MIPS, state and scratch RAM in KiB, ROM "
        "in KiB, latency in ms) and total it against the device's limits. Exit code 3 when over budget "
        "(with --all-devices: when the graph fits none of them).",
    )
    p.add_argument("graph", help="graph file (YAML) or shipped graph name (see `hearpipe graphs`)")
    on = p.add_mutually_exclusive_group(required=True)
    on.add_argument("--device", help="device profile name or file (see `hearpipe devices`)")
    on.add_argument(
        "--all-devices", action="store_true", help="one table: the graph's totals on every shipped device"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(a) -> int:
    if a.all_devices:
        return _all_devices(a)
    rep = load_graph(a.graph, device=a.device).budget()
    print(json.dumps(rep.to_dict(), indent=2) if a.json else rep.table())
    rep.check()  # over budget: OverBudget, exit code 3, after the report
    return 0


def _all_devices(a) -> int:
    g = load_graph(a.graph)
    reps = [g.rebuilt(device=load_device(p)).budget() for p in list_devices()]
    if a.json:
        rows = [
            {"device": r.device.name, "arithmetic": r.device.arithmetic, "totals": r.totals,
             "limits": r.limits, "fits": r.fits,
             "violations": [{"limit": k, "value": v, "max": m, "unit": u} for k, v, m, u in r.violations]}
            for r in reps
        ]  # fmt: skip
        print(json.dumps({"graph": g.source, "devices": rows}, indent=2))
    else:
        print(_table(g.source, reps))
    return 0 if any(r.fits for r in reps) else 3


def _table(graph: str, reps) -> str:
    head = (
        f"{'device':<22} {'MIPS':>8} {'(range)':>13} {'of':>8} {'RAM KiB':>8} {'of':>8} {'ROM KiB':>8} "
        f"{'of':>8} {'lat ms':>7} {'of':>6}  verdict"
    )
    lines = [f"graph {graph} on every shipped device (latency: algorithmic + the device's input block)", head,
             "-" * len(head)]  # fmt: skip
    names = {"mips": "MIPS", "ram_kib": "RAM", "rom_kib": "ROM", "latency_ms": "latency"}
    for r in reps:
        t, lim = r.totals, r.limits
        verdict = "fits" if r.fits else "over: " + ", ".join(names[v[0]] for v in r.violations)
        span = f"{t['mips_low']:.1f}-{t['mips_high']:.1f}"
        lines.append(
            f"{r.device.name[:22]:<22} {t['mips']:8.2f} {span:>13} "
            f"{lim['mips']:8.1f} {t['ram_kib']:8.2f} {lim['ram_kib']:8.0f} {t['rom_kib']:8.2f} "
            f"{lim['rom_kib']:8.0f} {t['latency_ms']:7.3f} {lim['latency_ms']:6.1f}  {verdict}"
        )
    return "\n".join(lines)
