"""`hearpipe report GRAPH --device D -o report.html`: one self-contained HTML page about a graph."""

from __future__ import annotations

import json

from hearpipe.files import write_text
from hearpipe.graph.engine import load_graph
from hearpipe.report.page import build


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write one self-contained HTML page: diagram, budget, test box, prescription, sound",
        description="Write one HTML page (figures and audio inlined, viewable without a network): the graph "
        "as a diagram, its budget against the device, test-box I/O curves and gain at 50/65/80 dB SPL, the "
        "prescription target against the achieved gain (--audiogram), spectrograms and players (--audio).",
    )
    p.add_argument("graph", help="graph file (YAML) or shipped graph name")
    p.add_argument("--device", required=True, help="device profile name or file")
    p.add_argument("--audio", help="a sound file to show before and after (first 20 s, channel 0)")
    p.add_argument(
        "--audiogram", help="audiogram file: draw its prescription target against the achieved gain"
    )
    p.add_argument("-o", "--output", required=True, help="the HTML file to write")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(run=run)


def run(a) -> int:
    g = load_graph(a.graph, device=a.device)
    out = write_text(a.output, build(g, a.audiogram, a.audio))
    if a.json:
        print(json.dumps({"graph": g.source, "device": g.device.name, "output": str(out)}))
    else:
        print(f"{out}: report on {g.source} for {g.device.name} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0
