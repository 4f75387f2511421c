"""`hearpipe render GRAPH IN... -o OUT`: audio files through a graph, streaming, atomic output."""

from __future__ import annotations

import json

from hearpipe.graph.engine import load_graph
from hearpipe.io import CLIPPING, render, render_jobs


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render audio files through a graph",
        description="Render audio files (WAV, FLAC, OGG) through a graph, in blocks of bounded memory; each "
        "output is written to a temporary file and renamed, so a failure leaves nothing behind.",
    )
    p.add_argument("graph", help="graph file (YAML) or shipped graph name (see `hearpipe graphs`)")
    p.add_argument("inputs", nargs="+", help="input audio files (WAV, FLAC, OGG)")
    p.add_argument("-o", "--output", required=True, help="output file (one input) or folder (several)")
    p.add_argument("--device", help="device profile name or file: run its arithmetic, enforce its budget")
    p.add_argument("--no-enforce", action="store_true", help="render even if the graph is over the budget")
    p.add_argument(
        "--compensate-latency",
        action="store_true",
        help="shift the output back by the graph's latency (time-aligned with the input)",
    )
    p.add_argument(
        "--clipping",
        choices=CLIPPING,
        default="notice",
        help="output samples beyond full scale in an integer format (PCM WAV, FLAC): write them clipped "
        "with a notice of how many, or refuse to write the file (default: notice)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print a JSON summary of what was written")
    p.add_argument("--workers", type=int, help="render on a local Dask cluster of N processes")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="render on an existing Dask cluster (tcp://host:port)"
    )
    p.set_defaults(run=run)


def run(a) -> int:
    g = load_graph(a.graph, device=a.device)
    if a.workers is not None or a.scheduler is not None:
        return _run_jobs(a, g)
    results = render(
        g,
        a.inputs,
        a.output,
        enforce=not a.no_enforce,
        compensate_latency=a.compensate_latency,
        progress=False if a.quiet else None,
        clipping=a.clipping,
    )
    if a.json:
        summary = {
            "graph": g.source,
            "device": g.device.name if g.device else None,
            "latency_samples": g.latency_samples,
            "latency_ms": g.latency_ms,
            "latency_compensated": a.compensate_latency,
            "files": [r.to_dict() for r in results],
        }
        print(json.dumps(summary, indent=2))
        return 0
    for r in results:
        print(
            f"{r.input} -> {r.output}: {r.duration_s:.2f} s of audio in {r.seconds:.2f} s "
            f"({r.realtime_factor:.3g}x real time)"
        )
    return 0


def _run_jobs(a, g) -> int:
    job = render_jobs(g, a.inputs, a.output, workers=a.workers, scheduler=a.scheduler,
                      enforce=not a.no_enforce, compensate_latency=a.compensate_latency,
                      progress=False if a.quiet else None)  # fmt: skip
    done = [r for r in job.values if r is not None]
    if a.json:
        print(
            json.dumps(
                {"graph": g.source, "files": [r.to_dict() for r in done], "summary": job.summary()}, indent=2
            )
        )
    else:
        for r in done:
            print(f"{r.input} -> {r.output}: {r.duration_s:.2f} s of audio")
        print(job.summary_line())
    return 2 if job.errors else 0
