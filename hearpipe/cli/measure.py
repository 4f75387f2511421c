"""`hearpipe measure GRAPH [--ear left|right] [--bypass NODE] [--json] [--plot DIR] [--device DEVICE] [--quick]`:
the virtual test box, every output channel (ear) measured and labelled."""

from __future__ import annotations

import json

from hearpipe.graph.edit import bypass
from hearpipe.graph.engine import load_graph
from hearpipe.plots import plot_dir, pyplot
from hearpipe.testbox.ears import adaptive_note, arithmetic, measure_ears
from hearpipe.testbox.plots import plot_measurements


def add_parser(sub) -> None:
    p = sub.add_parser(
        "measure",
        help="ANSI S3.22-style test-box measurements of a graph",
        description="ANSI S3.22-style test-box measurements of a graph: OSPL90 and gains (dB SPL, dB), "
        "attack and release (ms), equivalent input noise, harmonic distortion (%%), I/O curve, latency.",
    )
    p.add_argument("graph", help="graph file (YAML/JSON) or shipped graph name (see `hearpipe graphs`)")
    p.add_argument("--device", help="device profile: measure with its arithmetic")
    p.add_argument("--json", action="store_true", help="print all results as JSON")
    p.add_argument(
        "--plot", metavar="DIR", help="write PNG plots (I/O curves, gain-frequency responses) here"
    )
    p.add_argument("--quick", action="store_true", help="fewer frequencies")
    p.add_argument(
        "--ear",
        choices=("left", "right"),
        help="measure only this ear's channel (default: every output channel)",
    )
    p.add_argument(
        "--bypass",
        action="append",
        default=[],
        metavar="NODE",
        help="measure with this node replaced by a wire (test mode, e.g. noise reduction off); repeatable",
    )
    p.set_defaults(run=run)


def summary(r: dict) -> str:
    """One ear's results as text, headed by its label (graph, ear, arithmetic, bypassed nodes)."""
    lines = [
        f"== {r['label']} ==",
        f"graph: {r['graph']}  ({r['sample_rate_hz']:g} Hz, full scale = {r['full_scale_db_spl']:g} dB SPL)",
        f"latency: reported {r['latency_samples']['reported']} samples, measured {r['latency_samples']['measured']}",
        f"OSPL90: max {r['ospl90']['max_db_spl']:.1f} dB SPL, HFA {r['ospl90']['hfa_db_spl']:.1f} dB SPL",
        f"full-on gain (HFA, 50 dB SPL in): {r['full_on_gain_db']:.1f} dB;"
        f" reference-test gain (HFA, 60 dB SPL in): {r['reference_test_gain_db']:.1f} dB",
        f"attack {r['attack_ms']:.2f} ms, release {r['release_ms']:.1f} ms (2 kHz, 55 <-> 90 dB SPL, 3 dB)"
        + (
            "" if r["attack_release"]["settled"] else "  [the output never settled: times are not meaningful]"
        ),
    ]
    if r.get("bypassed"):
        lines.insert(2, f"bypassed (test mode): {', '.join(r['bypassed'])}")
    ein = r["equivalent_input_noise_db_spl"]
    lines.append(
        "equivalent input noise: " + ("none (output exactly silent)" if ein is None else f"{ein:.1f} dB SPL")
    )
    thd = ", ".join(
        f"{d['frequency_hz']:g} Hz "
        + ("n/a (silent)" if d["thd_percent"] is None else f"{d['thd_percent']:.2f}%")
        for d in r["harmonic_distortion"]
    )
    lines.append(f"harmonic distortion: {thd}")
    io = r["io_curve"]
    pts = "  ".join(f"{i:g}->{o:.1f}" for i, o in zip(io["input_db_spl"], io["output_db_spl"]))
    lines.append(f"I/O at 1 kHz (dB SPL in->out): {pts}")
    t = r.get("target")
    if t:
        pairs = "  ".join(f"{f:g} Hz {v:+.1f}" for f, v in zip(t["frequencies_hz"], t["target_db"]))
        lines.append(f"{t['rule']} target ({t['node']}, speech at 65 dB SPL), dB: {pairs}")
    return "\n".join(lines)


def run(a) -> int:
    g = load_graph(a.graph, device=a.device)
    if a.bypass:
        g = bypass(g, a.bypass)
    if a.plot:  # refuse an unusable folder (or a missing matplotlib) before the measurements run
        pyplot()
        plot_dir(a.plot)
    ears = measure_ears(g, [a.ear] if a.ear else None, quick=a.quick, bypassed=a.bypass)
    note = adaptive_note(g)
    r = {
        "graph": g.spec.name or g.source,
        "arithmetic": arithmetic(g),
        "bypassed": a.bypass,
        "test_mode_note": note,
        "ears": ears,
    }
    if a.plot:
        for e in ears:
            e["plots"] = [str(p) for p in plot_measurements(e, a.plot)]
    if a.json:
        print(json.dumps(r, indent=2))
        return 0
    print("\n\n".join(summary(e) for e in ears))
    if note:
        print(f"note: {note}")
    for e in ears if a.plot else ():
        print(f"plots ({e['ear']}): " + ", ".join(e["plots"]))
    return 0
