"""`hearpipe budget GRAPH --device D`: per-block MIPS, RAM, ROM and latency against a device's limits."""

from __future__ import annotations

import json

from hearpipe.graph.engine import load_graph


def add_parser(sub) -> None:
    p = sub.add_parser(
        "budget",
        help="per-block MIPS, RAM, ROM, latency against a device's limits",
        description="Cost every block of a graph on a device (MAC/s, MIPS, state and scratch RAM in KiB, ROM "
        "in KiB, latency in ms) and total it against the device's limits. Exit code 3 when over budget.",
    )
    p.add_argument("graph", help="graph file (YAML) or shipped graph name (see `hearpipe graphs`)")
    p.add_argument("--device", required=True, help="device profile name or file (see `hearpipe devices`)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(a) -> int:
    rep = load_graph(a.graph, device=a.device).budget()
    print(json.dumps(rep.to_dict(), indent=2) if a.json else rep.table())
    rep.check()  # over budget: OverBudget, exit code 3, after the report
    return 0
