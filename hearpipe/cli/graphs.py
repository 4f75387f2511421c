"""`hearpipe graphs`: the shipped graphs, which every command takes by name (`enhance` or `builtin:enhance`)."""

from __future__ import annotations

import json

from hearpipe.config import read_document
from hearpipe.shipped import shipped_files


def add_parser(sub) -> None:
    p = sub.add_parser(
        "graphs",
        help="list shipped graphs",
        description="List the shipped graphs (name, description). Commands that take a graph file also take "
        "these names, e.g. `hearpipe render enhance in.wav -o out.wav`.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(a) -> int:
    graphs = [
        {"name": p.stem, "description": read_document(p).get("description", ""), "file": str(p)}
        for p in shipped_files("graphs")
    ]
    if a.json:
        print(json.dumps(graphs, indent=2))
        return 0
    width = max((len(g["name"]) for g in graphs), default=0)
    for g in graphs:
        print(f"{g['name']:<{width}}  {g['description']}")
    return 0
