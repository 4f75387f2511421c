"""One benchmark table: every shipped graph, float (desktop) and bit-true fixed point (hearing-aid-dsp).

    python benchmarks/run.py [--seconds 10] [--repeat 3] [--graphs NAME ...] [--markdown] [--json OUT]

Per graph and arithmetic, on one core (NUMBA_NUM_THREADS, OMP/MKL/OpenBLAS threads and torch threads
pinned to 1 before anything is imported):
- whole file: `--seconds` of speech in noise through `Graph.process` in 65536-sample reads, then
  `flush` (what `hearpipe render` does), as a real-time factor (audio seconds per wall second);
- hop by hop: one `Graph.process` call per device block (`Graph.block_size` samples, what a hearing aid
  runs), its real-time factor and the per-call time p50 / p99 in us (all calls of all repeats);
- the same computation outside the graph engine, in this process, where one exists (see twins.py):
  PyTorch float (the GroupComm graphs: the training model with the shipped weights) and plain numpy
  float (static STFT gain graphs; the GroupComm numpy reference, whole file), each checked against the
  float graph's output first; shown as the graph's speed over the twin's (> 1: the graph is faster);
- `hearpipe eval` throughput for the `--eval-graphs` (default: enhance) in fixed point, with
  `--workers 1` and `--workers 2` (local Dask clusters; the wall time includes starting the cluster):
  files/s and x real time from the command's own summary.
Times are the best of `--repeat` runs, interleaved (the machine may be shared), so ratios are measured
under the same load. Targets of issue 18 are checked below the table when `enhance` is measured.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: before numpy, numba and torch are imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from twins import SR, NumpyGroupComm, NumpyStftGain, TorchTwin, bench_audio, groupcomm_weights  # noqa: E402

import hearpipe  # noqa: E402
from hearpipe.datadir import default_data_dir  # noqa: E402
from hearpipe.errors import HearpipeError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FLOAT, FIXED = "desktop", "hearing-aid-dsp"
CHUNK = 65536  # hearpipe render's read size
TARGETS = {  # issue 18, for the default enhancement graph in fixed point
    "whole_rtf": 250.0,
    "torch_whole": 3.0,
    "torch_hop": 20.0,
    "eval_speedup": 1.7,
}


def render_whole(g, x: np.ndarray) -> None:
    g.reset()
    for i in range(0, len(x), CHUNK):
        g.process(x[i : i + CHUNK])
    g.flush()


class Timer:
    """Best wall time per named function over interleaved repeats; hop-by-hop calls also per call."""

    def __init__(self):
        self.best: dict[str, float] = {}
        self.calls: dict[str, list[np.ndarray]] = {}

    def time(self, name: str, fn) -> None:
        t = time.perf_counter()
        fn()
        self.best[name] = min(self.best.get(name, float("inf")), time.perf_counter() - t)

    def hops(self, name: str, g, x: np.ndarray) -> None:
        b = g.block_size
        ns = np.empty(len(x) // b)
        g.reset()
        t = time.perf_counter()
        for j in range(len(ns)):
            t0 = time.perf_counter_ns()
            g.process(x[j * b : (j + 1) * b])
            ns[j] = time.perf_counter_ns() - t0
        self.best[name] = min(self.best.get(name, float("inf")), time.perf_counter() - t)
        self.calls.setdefault(name, []).append(ns)


def check(name: str, got: np.ndarray, ref: np.ndarray, atol: float, errors: dict) -> None:
    """A twin must compute what the float graph computes before its speed means anything."""
    err = float(np.max(np.abs(got - ref)))
    if not err <= atol:
        raise SystemExit(f"run.py: the {name} twin differs from the float graph by {err:.3g} (> {atol:g})")
    errors[name] = err


def twins_of(g_float, x: np.ndarray) -> tuple[dict, dict]:
    """name -> (whole fn, hop-by-hop fn or None) of the twins of this graph, each checked first on 2 s of
    the audio; and each check's largest difference from the float graph (full scale 1)."""
    out, errors = {}, {}
    ref = g_float.run(x[: 2 * SR])[0]
    d = g_float.latency_samples
    ref_w = groupcomm_weights(g_float)
    base = Path(g_float.source).parent
    if ref_w is not None:
        tt = TorchTwin(ref_w, base)
        xt = torch.from_numpy(x).float()
        y = tt.whole(xt[: 2 * SR]).numpy()
        check("PyTorch", y[: len(y) - d], ref[d:], 2e-3, errors)  # float32 against float64
        y = tt.hop_by_hop(xt[: 2 * SR]).numpy()
        check("PyTorch hop-by-hop", y[tt.delay :], ref[tt.delay : len(y)], 2e-3, errors)
        out["torch"] = (lambda: tt.whole(xt), lambda: tt.hop_by_hop(xt[: len(x)]))
        nt = NumpyGroupComm(ref_w, base)
        y = nt.whole(x[: 2 * SR])
        check("numpy", y[: len(y) - d], ref[d:], 1e-9, errors)
        out["numpy"] = (lambda: nt.whole(x), None)
    elif NumpyStftGain.applies(g_float):
        nt = NumpyStftGain(g_float)
        y = nt.whole(x[: 2 * SR])
        check("numpy", y, ref[: len(y)], 1e-9, errors)
        check("numpy hop-by-hop", nt.hop_by_hop(x[: 2 * SR]), y, 1e-9, errors)
        out["numpy"] = (lambda: nt.whole(x), lambda: nt.hop_by_hop(x))
    return out, errors


def bench_graph(name: str, x: np.ndarray, repeat: int) -> list[dict]:
    graphs = {FLOAT: hearpipe.load_graph(name, device=FLOAT), FIXED: hearpipe.load_graph(name, device=FIXED)}
    for g in graphs.values():
        g.run(x[:SR])  # compile / warm up
    twins, errors = twins_of(graphs[FLOAT], x)
    tm = Timer()
    for _ in range(repeat):
        for dev, g in graphs.items():
            tm.time(f"{dev} whole", lambda g=g: render_whole(g, x))
            tm.hops(f"{dev} hop", g, x)
        for tw, (whole, hop) in twins.items():
            tm.time(f"{tw} whole", whole)
            if hop is not None:
                tm.time(f"{tw} hop", hop)
    sec = len(x) / SR
    rows = []
    for dev, g in graphs.items():
        b = g.block_size
        calls_us = np.concatenate(tm.calls[f"{dev} hop"]) / 1e3
        hop_sec = len(x) // b * b / SR
        row = {
            "graph": name,
            "arithmetic": "fixed" if g.ctx.fixed else "float",
            "device": dev,
            "block_samples": b,
            "whole_rtf": sec / tm.best[f"{dev} whole"],
            "hop_rtf": hop_sec / tm.best[f"{dev} hop"],
            "hop_p50_us": float(np.percentile(calls_us, 50)),
            "hop_p99_us": float(np.percentile(calls_us, 99)),
            "twin_max_abs_error": errors,
        }
        for tw in ("torch", "numpy"):  # the graph's speed over the twin's; None where no twin exists
            for mode in ("whole", "hop"):
                t = tm.best.get(f"{tw} {mode}")
                row[f"vs_{tw}_{mode}"] = None if t is None else t / tm.best[f"{dev} {mode}"]
        rows.append(row)
    return rows


def bench_eval(name: str, data: Path, files: int, seconds: float) -> dict:
    """`hearpipe eval NAME --device hearing-aid-dsp` on `files` dev speech files x 1 SNR, 1 and 2 workers."""
    speech = sorted((data / "dev" / "speech").glob("*.flac"))[:files]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    res: dict = {
        "graph": name,
        "device": FIXED,
        "files": len(speech),
        "seconds_per_file": seconds,
        "workers": {},
    }
    with tempfile.TemporaryDirectory() as d:
        sp = Path(d) / "speech"
        sp.mkdir()
        for f in speech:
            (sp / f.name).symlink_to(f)
        for w in (1, 2):
            out = Path(d) / f"eval{w}.json"
            cmd = [sys.executable, "-m", "hearpipe", "eval", name, "--device", FIXED, "--speech", str(sp),
                   "--noise", str(data / "dev" / "noise"), "--snr", "5", "--seconds", str(seconds),
                   "--workers", str(w), "-q", "--json", str(out)]  # fmt: skip
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                raise SystemExit(f"run.py: {' '.join(cmd)} failed:\n{p.stderr.strip()[-2000:]}")
            s = json.loads(out.read_text())["summary"]
            res["workers"][str(w)] = {
                "files_per_s": s["files"] / s["wall_s"],
                "realtime_factor": s["realtime_factor"],
                "wall_s": s["wall_s"],
            }
    res["speedup"] = res["workers"]["2"]["files_per_s"] / res["workers"]["1"]["files_per_s"]
    return res


def fmt_x(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def table(rows: list[dict], evals: dict[str, dict], markdown: bool) -> str:
    head = ["graph", "arithmetic", "block (samples)", "whole file (x RT)", "hop by hop (x RT)",
            "per hop p50 / p99 (us)", "vs PyTorch whole / hop", "vs numpy whole / hop",
            "eval 1 worker (files/s, x RT)", "eval 2 workers (files/s, x RT)", "eval 2 / 1"]  # fmt: skip
    body = []
    for r in rows:
        e = evals.get(r["graph"]) if r["device"] == FIXED else None
        ev = (
            [
                f"{e['workers'][w]['files_per_s']:.2f}, {fmt_x(e['workers'][w]['realtime_factor'])}"
                for w in "12"
            ]
            if e
            else []
        )
        body.append([
            r["graph"], f"{r['arithmetic']} ({r['device']})", str(r["block_samples"]), fmt_x(r["whole_rtf"]),
            fmt_x(r["hop_rtf"]), f"{r['hop_p50_us']:.0f} / {r['hop_p99_us']:.0f}",
            f"{fmt_x(r['vs_torch_whole'])} / {fmt_x(r['vs_torch_hop'])}",
            f"{fmt_x(r['vs_numpy_whole'])} / {fmt_x(r['vs_numpy_hop'])}",
            *(ev or ["-", "-"]), f"{e['speedup']:.2f}" if e else "-",
        ])  # fmt: skip
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in body])
    width = [max(len(c[i]) for c in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(c[i].ljust(width[i]) for i in range(len(head))).rstrip() for c in [head, *body]
    )


def targets(rows: list[dict], evals: dict[str, dict]) -> list[dict]:
    fixed = next((r for r in rows if r["graph"] == "enhance" and r["device"] == FIXED), None)
    got = {}
    if fixed:
        got = {"whole_rtf": fixed["whole_rtf"], "torch_whole": fixed["vs_torch_whole"],
               "torch_hop": fixed["vs_torch_hop"]}  # fmt: skip
    if "enhance" in evals:
        got["eval_speedup"] = evals["enhance"]["speedup"]
    what = {"whole_rtf": "enhance fixed, whole file (x real time)", "torch_whole": "enhance fixed over PyTorch, "
            "whole file", "torch_hop": "enhance fixed over PyTorch, hop by hop",
            "eval_speedup": "eval throughput, 2 workers over 1"}  # fmt: skip
    return [{"target": what[k], "at_least": TARGETS[k], "measured": v, "met": v >= TARGETS[k]}
            for k, v in got.items() if v is not None]  # fmt: skip


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "torch_threads": torch.get_num_threads(),
            "numba_threads": int(os.environ["NUMBA_NUM_THREADS"]), "load_average_start": os.getloadavg()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="audio per measurement, in s (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs; the best counts (default 3)")
    ap.add_argument("--graphs", nargs="+", help="shipped graph names or files (default: every graphs/*.yaml)")
    ap.add_argument("--eval-graphs", nargs="*", default=["enhance"], help="graphs whose `hearpipe eval` "
                    "throughput is measured, when also in --graphs (default: enhance; none: skip)")  # fmt: skip
    ap.add_argument("--eval-files", type=int, default=32, help="dev speech files for eval (default 32)")
    ap.add_argument(
        "--eval-seconds", type=float, default=3.0, help="seconds of each file for eval (default 3)"
    )
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown (for the README)")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    a = ap.parse_args(argv)
    if a.seconds <= 0 or a.repeat < 1:
        ap.error("--seconds must be positive and --repeat at least 1")
    torch.set_num_threads(1)
    names = a.graphs or sorted(p.stem for p in (REPO / "graphs").glob("*.yaml"))
    data = default_data_dir()
    info = machine()
    x = bench_audio(data, int(a.seconds * SR))
    rows = []
    for name in names:
        try:
            rows += bench_graph(name, x, a.repeat)
        except HearpipeError as e:  # a graph that does not load: one line, exit 2 as the CLI does
            print(f"run.py: error: {e}", file=sys.stderr)
            return 2
    evals = {}
    for name in (n for n in a.eval_graphs if n in names):
        if not (data / "dev" / "speech").is_dir():
            print(f"run.py: no dev speech under {data}: eval throughput not measured", file=sys.stderr)
            break
        evals[name] = bench_eval(name, data, a.eval_files, a.eval_seconds)
    info["load_average_end"] = os.getloadavg()
    checked = targets(rows, evals)
    print(table(rows, evals, a.markdown))
    bullet = "- " if a.markdown else ""
    print(f"\n{bullet}{info['cpu']}, {info['cores']} cores; {a.seconds:g} s of audio per measurement, best of "
          f"{a.repeat}; load average {info['load_average_start'][0]:.1f} at the start, "
          f"{info['load_average_end'][0]:.1f} at the end")  # fmt: skip
    for t in checked:
        print(f"{bullet}target: {t['target']} >= {t['at_least']:g}: {fmt_x(t['measured'])}, "
              f"{'met' if t['met'] else 'NOT met'}")  # fmt: skip
    if a.json:
        settings = {"seconds": a.seconds, "repeat": a.repeat, "graphs": names, "eval_files": a.eval_files,
                    "eval_seconds": a.eval_seconds}  # fmt: skip
        result = {"machine": info, "settings": settings, "rows": rows, "eval": list(evals.values()),
                  "targets": checked}  # fmt: skip
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
