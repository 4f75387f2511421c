"""`hearpipe render GRAPH IN... -o OUT`: audio files through a graph, streaming, atomic output; a summary of
what ran (device and budget use, levels in dB SPL, speed) and where to look next."""

from __future__ import annotations

import json

from hearpipe.graph.edit import bypass
from hearpipe.graph.engine import load_graph
from hearpipe.io import CLIPPING, render, render_jobs
from hearpipe.plots import plot_dir, pyplot

COMPILE_NOTE_S = 1.0  # a warm-up this long was a compile, worth telling a first-time user about


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render audio files through a graph",
        description="Render audio files (WAV, FLAC, OGG) through a graph, in blocks of bounded memory; each "
        "output is written to a temporary file and renamed, so a failure leaves nothing behind. Prints the "
        "device's budget use, input and output levels (dB SPL) and the real-time factor.",
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
    p.add_argument(
        "--level-db-spl",
        type=float,
        metavar="L",
        help="scale each input so its active speech level (ITU-T P.56) is L dB SPL through the graph's "
        "full_scale_db_spl; each file is read twice, first to measure that level",
    )
    p.add_argument(
        "--bypass",
        nargs="+",
        default=[],
        metavar="NODE",
        help="render with these nodes replaced by wires (e.g. noise reduction off)",
    )
    p.add_argument(
        "--duplicate-mono",
        action="store_true",
        help="feed a mono file to every channel of a multichannel graph (else refused)",
    )
    p.add_argument("--plot", metavar="DIR", help="write a before/after spectrogram PNG per file into DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar; one line per file")
    p.add_argument("--json", action="store_true", help="print a JSON summary of what was written")
    p.add_argument("--workers", type=int, help="render on a local Dask cluster of N processes")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="render on an existing Dask cluster (tcp://host:port)"
    )
    p.set_defaults(run=run)


def _arithmetic(kind: str) -> str:
    return "bit-true fixed point" if kind == "fixed" else kind


def _budget_line(rep) -> str:
    t, lim = rep.totals, rep.limits
    verdict = "fits" if rep.fits else "OVER BUDGET (" + ", ".join(v[0] for v in rep.violations) + ")"
    return (
        f"budget {t['mips']:.1f} of {lim['mips']:g} MIPS, RAM {t['ram_kib']:.1f} of {lim['ram_kib']:g} KiB, "
        f"ROM {t['rom_kib']:.1f} of {lim['rom_kib']:g} KiB, latency {t['latency_ms']:g} of "
        f"{lim['latency_ms']:g} ms: {verdict}"
    )


def run(a) -> int:
    if a.plot:  # refuse before rendering: matplotlib missing, or a folder that cannot be written
        pyplot()
        plot_dir(a.plot)
    g = load_graph(a.graph, device=a.device)
    if a.bypass:
        g = bypass(g, a.bypass)
    if a.workers is not None or a.scheduler is not None:
        return _run_jobs(a, g)
    rep = g.budget() if g.device else None
    results = render(
        g,
        a.inputs,
        a.output,
        enforce=not a.no_enforce,
        compensate_latency=a.compensate_latency,
        progress=False if a.quiet or a.json else None,
        clipping=a.clipping,
        level_db_spl=a.level_db_spl,
        duplicate_mono=a.duplicate_mono,
    )
    plots = []
    if a.plot:
        from hearpipe.plots.render import plot_before_after  # matplotlib and its import time only when asked

        plots = [str(plot_before_after(r, g, a.plot, a.compensate_latency)) for r in results]
    if a.json:
        summary = {
            "graph": g.source,
            "device": g.device.name if g.device else None,
            "arithmetic": g.device.arithmetic if g.device else "float64",
            "full_scale_db_spl": g.spec.full_scale_db_spl,
            "latency_samples": g.latency_samples,
            "latency_ms": g.latency_ms,
            "latency_compensated": a.compensate_latency,
            "bypassed": a.bypass,
            "level_db_spl": a.level_db_spl,
            "budget": {"totals": rep.totals, "limits": rep.limits, "fits": rep.fits} if rep else None,
            "files": [r.to_dict() for r in results],
            "plots": plots,
        }
        print(json.dumps(summary, indent=2))
        return 0
    if not a.quiet:
        print(f"{g.spec.name or g.source}: {g.spec.description}" if g.spec.description else g.source)
        if g.device:
            print(f"device {g.device.name}, {_arithmetic(g.device.arithmetic)}; {_budget_line(rep)}")
        else:
            print("the host in float64; no device budget checked (add --device, see `hearpipe devices`)")
        if a.bypass:
            print(f"bypassed: {', '.join(a.bypass)} (replaced by wires)")
    for r in results:
        line = f"{r.input} -> {r.output}: {r.duration_s:.2f} s of audio in {r.seconds:.2f} s ({r.realtime_factor:.3g}x real time)"
        level = f"{r.input_db_spl:.1f} dB SPL in, {r.output_db_spl:.1f} dB SPL out"
        active = f"active speech {r.input_active_db_spl:.1f} dB SPL (ITU-T P.56"
        active += (
            f"; scaled by {r.gain_db:+.1f} dB to --level-db-spl {a.level_db_spl:g})"
            if a.level_db_spl is not None
            else ")"
        )
        if a.quiet:
            print(f"{line}, {level}")
            continue
        print(line)
        if r.warmup_s >= COMPILE_NOTE_S:
            print(f"  before that, {r.warmup_s:.1f} s compiling the numba kernels (first run only, cached)")
        print(f"  level {level} (Leq of the file; {g.spec.full_scale_db_spl:g} dB SPL = full scale)")
        print(f"  input {active}")
    for p in plots:
        print(f"spectrogram: {p}")
    if not a.quiet:
        dev = g.device.name if g.device else "hearing-aid-dsp"
        print(
            f"more: --plot DIR (before/after spectrogram); hearpipe budget {a.graph} --device {dev} (per block);"
        )
        print(
            f"      hearpipe measure {a.graph} --plot DIR (ANSI S3.22 test box: gain, I/O curve, attack/release)"
        )
    return 0


def _run_jobs(a, g) -> int:
    job = render_jobs(g, a.inputs, a.output, workers=a.workers, scheduler=a.scheduler,
                      enforce=not a.no_enforce, compensate_latency=a.compensate_latency,
                      progress=False if a.quiet else None, level_db_spl=a.level_db_spl,
                      duplicate_mono=a.duplicate_mono)  # fmt: skip
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
