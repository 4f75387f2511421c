"""`hearpipe eval GRAPH --speech DIR --noise DIR --snr 0 5 10`: score a graph on a corpus (or on
noisy/clean pairs), each file rendered as `hearpipe render` does; optionally against a baseline graph,
serially or on Dask workers."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hearpipe.datadir import default_data_dir
from hearpipe.errors import InvalidInput
from hearpipe.evaluation import mixtures
from hearpipe.evaluation.scoring import (
    METRICS,
    Task,
    aggregate,
    by_snr,
    cached_graph,
    listener,
    score_task,
    write_csv,
    write_json,
)
from hearpipe.scale import run_jobs

LABELS = {"si_snr": "SI-SNR (dB)", "sdr": "SDR (dB)", "pesq": "PESQ-WB (MOS)", "stoi": "STOI",
          "estoi": "ESTOI", "haspi": "HASPI v2", "hasqi": "HASQI v2"}  # fmt: skip


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="score a graph on speech + noise mixtures or noisy/clean pairs",
        description="Mix every speech file with a seeded random noise at each SNR (speech at --level-db-spl "
        "through the graph's calibration), render each mixture as `hearpipe render --compensate-latency` "
        "does, and score input and output against the clean speech: SI-SNR, SDR, wide-band PESQ, STOI, "
        "ESTOI, and HASPI v2 / HASQI v2 when pyclarity is installed and an audiogram is known (the graph's "
        "fitted one, or --audiogram). Aggregates: mean, median, 95 %% confidence interval of the mean.",
    )
    p.add_argument("graph", help="graph file (YAML) or shipped graph name")
    p.add_argument("--speech", help="folder of clean speech files")
    p.add_argument("--noise", help="folder of noise recordings")
    p.add_argument("--snr", type=float, nargs="+", help="SNRs in dB (default 0 5 10, or the preset's)")
    p.add_argument(
        "--preset",
        choices=sorted(mixtures.PRESETS),
        help="a named mixture protocol on the data folder (dev: the dev set that `hearpipe evaluate` and the "
        "recorded figures use; 0 and 5 dB SNR, 6 s, seed 20260, mixtures at -25 dBFS RMS); --seconds, --seed "
        "and --snr override it",
    )
    p.add_argument("--data", help="with --preset: data folder (default $HEARPIPE_DATA or ../shared/data)")
    p.add_argument("--pairs", help="score existing pairs: noisy/ + clean/ subfolders, or NAME_noisy.* files")
    p.add_argument("--clean", help="with --pairs of NAME_noisy.* files: the folder of NAME_clean.* files")
    p.add_argument("--device", help="device profile: run its arithmetic (e.g. fixed point)")
    p.add_argument("--seconds", type=float, help="use the first S seconds of each speech file")
    p.add_argument("--seed", type=int, help="seed of the noise draw (default 0, or the preset's)")
    p.add_argument("--level-db-spl", type=float, default=65.0, help="speech level in dB SPL (default 65)")
    p.add_argument("--baseline", help="a second graph scored on the same mixtures (per-file differences)")
    p.add_argument(
        "--audiogram", help="listener's audiogram for HASPI/HASQI (default: the graph's fitted one)"
    )
    p.add_argument("--csv", metavar="OUT", help="write one row per file to this CSV file")
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="OUT",
        help="write the results as JSON to OUT (stdout without OUT)",
    )
    p.add_argument("--workers", type=int, help="run on a local Dask cluster of N processes")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:port)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(run=run)


def _items(a, g):
    if a.pairs:
        return mixtures.pairs(a.pairs, g.sample_rate_hz, a.clean)
    if a.preset:
        if g.sample_rate_hz != mixtures.SAMPLE_RATE:
            raise InvalidInput(
                f"--preset mixes {mixtures.SAMPLE_RATE} Hz data; the graph runs at {g.sample_rate_hz:g} Hz"
            )
        d = Path(a.data) if a.data else default_data_dir()
        return mixtures.preset_mixtures(mixtures.PRESETS[a.preset], a.speech or d / "dev" / "speech",
                                        a.noise or d / "dev" / "noise", snrs_db=a.snr, seconds=a.seconds,
                                        seed=_seed(a))  # fmt: skip
    if not (a.speech and a.noise):
        raise InvalidInput("give --speech DIR and --noise DIR, --preset NAME, or --pairs DIR")
    rms = mixtures.speech_rms(a.level_db_spl, g.spec.full_scale_db_spl)
    return mixtures.mixtures(a.speech, a.noise, a.snr or [0.0, 5.0, 10.0], sample_rate_hz=g.sample_rate_hz,
                             rms=rms, seconds=a.seconds, seed=_seed(a))  # fmt: skip


def _seed(a) -> int:
    if a.seed is not None:
        return a.seed
    return mixtures.PRESETS[a.preset].seed if a.preset else 0


def _fmt(s: dict | None) -> str:
    if s is None or not math.isfinite(s["mean"]):
        return f"{'-':>24}"
    return f"{s['mean']:8.3f} [{s['ci95_low']:7.3f}, {s['ci95_high']:7.3f}]"


def table(agg: dict, baseline: bool) -> str:
    head = f"{'metric':<14} {'input mean [95% CI]':>24} {'output mean [95% CI]':>24} {'output - input':>24}"
    head += f" {'output - baseline':>24}" if baseline else ""
    lines = [head]
    for k in METRICS:
        if f"out_{k}" not in agg:
            continue
        cells = [agg.get(f"in_{k}"), agg.get(f"out_{k}"), agg.get(f"gain_{k}")]
        cells += [agg.get(f"diff_{k}")] if baseline else []
        lines.append(f"{LABELS[k]:<14} " + " ".join(_fmt(c) for c in cells))
    return "\n".join(lines)


def run(a) -> int:
    g = cached_graph(a.graph, a.device)
    if a.baseline:
        b = cached_graph(a.baseline, a.device)
        if b.sample_rate_hz != g.sample_rate_hz:
            raise InvalidInput(
                f"--baseline runs at {b.sample_rate_hz:g} Hz, the graph at {g.sample_rate_hz:g} Hz"
            )
    who = listener(g, a.audiogram)
    items = _items(a, g)
    tasks = [Task(m, a.graph, a.device, a.baseline, who) for m in items]
    job = run_jobs(score_task, tasks, [len(m.clean) / g.sample_rate_hz for m in items], label="eval",
                   workers=a.workers, scheduler=a.scheduler, progress=False if a.quiet else None)  # fmt: skip
    rows = [r for r in job.values if r is not None]
    if not rows:
        raise InvalidInput("every file failed; nothing to score")
    result = {
        "graph": g.source,
        "baseline": a.baseline,
        "device": g.device.name if g.device else None,
        "listener": who.source if who else None,
        "preset": a.preset,
        "level_db_spl": None if a.pairs or a.preset else a.level_db_spl,
        "seed": None if a.pairs else _seed(a),
        "aggregate": aggregate(rows),
        "by_snr_db": by_snr(rows),
        "files": rows,
        "failed": {tasks[i].mixture.name: msg for i, msg in job.errors.items()},
        "summary": job.summary(),
    }
    if a.csv:
        write_csv(a.csv, rows)
    if a.json == "-":
        print(json.dumps(result, indent=2))
    else:
        if a.json:
            write_json(a.json, result)
        print(f"{g.source}: {len(rows)} files" + (f" against {a.baseline}" if a.baseline else ""))
        print(f"HASPI/HASQI listener: {who.source}" if who else "HASPI/HASQI: no audiogram (use --audiogram)")
        print(table(result["aggregate"], bool(a.baseline)))
        print(job.summary_line())
    return 2 if job.errors else 0
