"""`hearpipe fit AUDIOGRAM [--rule R] [--ear left|right|both] [--plot DIR] [--graph TEMPLATE -o OUT] [--json]`:
the insertion gain a rule prescribes for each ear and, with a template graph, the graph fitted to the client.

The written graph holds the audiogram inline in each fitting node (`wdrc`, `prescription`,
`prescription_fir`), so it validates wherever it is copied; both ears make a 2-channel graph (channel 0
left, channel 1 right). It is written atomically (temporary file beside it, then renamed).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from hearpipe.config import read_document, validate
from hearpipe.dsp.audiogram import Audiogram
from hearpipe.dsp.prescription import RULES, prescribe
from hearpipe.errors import InvalidInput
from hearpipe.files import write_text
from hearpipe.graph.engine import Graph, graph_path
from hearpipe.graph.spec import GraphSpec
from hearpipe.testbox.ears import FITTING_TYPES
from hearpipe.testbox.measure import speech_insertion_gain
from hearpipe.testbox.plots import plot_audiogram, plot_insertion_gain


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="prescribe insertion gain from an audiogram; write a graph fitted to it",
        description="Insertion gain per frequency (dB at the rule's frequencies in Hz) for each ear of an "
        "audiogram. With --graph and -o: the template graph fitted to the client (audiogram inline, both "
        "ears as a 2-channel graph), with the insertion gain it achieves for speech at 65 dB SPL.",
    )
    p.add_argument("audiogram", help="audiogram file (YAML or JSON)")
    p.add_argument("--rule", default="nal-r", choices=RULES, help="prescription rule (default nal-r)")
    p.add_argument(
        "--ear",
        choices=("left", "right", "both"),
        help="ear(s) to fit (default: every ear the audiogram has)",
    )
    p.add_argument("--graph", metavar="TEMPLATE", help="graph to fit (a file or a shipped graph's name)")
    p.add_argument("-o", "--output", metavar="OUT", help="where to write the fitted graph (needs --graph)")
    p.add_argument("--plot", metavar="DIR", help="write audiogram.png and insertion_gain_<ear>.png into DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def fitted_spec(template: dict, audiogram: Audiogram, ears: list[str], rule: str, source: str) -> dict:
    """The template graph document with every fitting node fitted to `audiogram` (inline) for `ears`."""
    doc = dict(template)
    inline = audiogram.model_dump(exclude_none=True, exclude_defaults=True)
    nodes, found = [], False
    for node in doc.get("nodes") or []:
        node = dict(node)
        if node.get("type") in FITTING_TYPES:
            found = True
            params = {
                k: v for k, v in (node.get("params") or {}).items() if k not in ("frequencies_hz", "gains_db")
            }
            params.update(audiogram=inline, rule=rule)
            if len(ears) == 1:
                params["ear"] = ears[0]
            else:
                params.pop("ear", None)  # a 2-channel graph fits left to channel 0, right to channel 1
            node["params"] = params
        nodes.append(node)
    if not found:
        raise InvalidInput(f"{source}: no {', '.join(FITTING_TYPES)} node to fit")
    doc["nodes"] = nodes
    doc["channels"] = len(ears)
    return doc


def run(a) -> int:
    doc = read_document(a.audiogram)
    ag = validate(Audiogram, doc, a.audiogram)
    ears = list(ag.ears) if a.ear in (None, "both") else [ag.pick_ear(a.ear)]
    if a.ear == "both" and len(ears) < 2:
        raise InvalidInput(f"{a.audiogram}: --ear both, but the audiogram has only the {ears[0]} ear")
    if a.output and not a.graph:
        raise InvalidInput("-o/--output writes a fitted graph: give the template with --graph")
    result = {"audiogram": a.audiogram, "rule": a.rule, "ears": []}
    for ear in ears:
        f, g = prescribe(ag, a.rule, ear)
        result["ears"].append(
            {"ear": ear, "frequencies_hz": [float(v) for v in f], "gain_db": [round(float(v), 2) for v in g]}
        )
    if a.graph:
        path = graph_path(a.graph)
        spec = fitted_spec(read_document(path), ag, ears, a.rule, str(path))
        out = Path(a.output) if a.output else None
        # built where it will live: any relative path left in it must resolve from there
        graph = Graph(validate(GraphSpec, spec, str(out or path)), source=str(out or path),
                      base_dir=(out or path).parent)  # fmt: skip
        fits = next((b.fits for b in graph.blocks.values() if getattr(b, "fits", None)), None)
        for c, r in enumerate(result["ears"]):
            if fits:
                r["achieved_db"] = fits[c].to_dict()["achieved_db"]
            measured = speech_insertion_gain(graph, r["frequencies_hz"], channel=c)
            r["measured_db"] = [round(v, 2) for v in measured]
        result["template"] = str(path)
        if out:
            write_text(out, yaml.safe_dump(spec, sort_keys=False), make_folders=True)
            result["graph"] = str(out)
    if a.plot:
        result["plots"] = [str(plot_audiogram(ag, a.plot, ears))]
        result["plots"] += [str(plot_insertion_gain(r, a.rule, a.plot)) for r in result["ears"]]
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{a.audiogram}: {a.rule} insertion gain (dB) for speech at 65 dB SPL")
    for r in result["ears"]:
        print(f"  {r['ear']} ear")
        rows = [
            ("target", r["gain_db"]),
            ("predicted", r.get("achieved_db")),
            ("measured", r.get("measured_db")),
        ]
        print("    " + " " * 10 + "".join(f"{f:>8.0f}" for f in r["frequencies_hz"]) + "  Hz")
        for label, values in rows:
            if values is not None:
                print(f"    {label:<10}" + "".join("     n/a" if v is None else f"{v:8.1f}" for v in values))
    if "graph" in result:
        print(f"wrote {result['graph']} (audiogram inline, {len(ears)} channel(s))")
    for p in result.get("plots", []):
        print(f"wrote {p}")
    return 0
