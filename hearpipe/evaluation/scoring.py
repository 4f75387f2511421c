"""Scoring a graph on a corpus: each mixture rendered exactly as `hearpipe render` renders a file
(`hearpipe.io.render_file`, latency compensated), then SI-SNR, SDR, wide-band PESQ, STOI, ESTOI and,
with pyclarity and an audiogram, HASPI v2 / HASQI v2, for the unprocessed input and the output (and a
baseline graph's output). Aggregates: mean, median and the 95 % confidence interval of the mean."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy import stats

from hearpipe.dsp.audiogram import load_audiogram
from hearpipe.evaluation.mixtures import Mixture
from hearpipe.files import write_text
from hearpipe.graph.engine import Graph, load_graph
from hearpipe.io import render_file
from hearpipe.metrics import clarity
from hearpipe.metrics.level import mean_square_db_spl
from hearpipe.metrics.pesq import pesq_wb
from hearpipe.metrics.sdr import sdr
from hearpipe.metrics.si_snr import si_snr
from hearpipe.metrics.stoi import stoi

METRICS = ("si_snr", "sdr", "pesq", "stoi", "estoi", "haspi", "hasqi")


@dataclass(frozen=True)
class Listener:
    """The audiogram HASPI/HASQI hear with: thresholds in dB HL at frequencies in Hz, and its source."""

    frequencies_hz: tuple[float, ...]
    thresholds_db_hl: tuple[float, ...]
    source: str


def listener(graph: Graph, audiogram: str | None) -> Listener | None:
    """`audiogram` (a file; its first ear) when given, else the audiogram the graph is fitted to (the
    first node with one, its `ear`), else None (HASPI/HASQI are then not computed)."""
    if audiogram is not None:
        ag, ear, src = load_audiogram(audiogram), None, str(audiogram)
    else:
        node = next((n for n in graph.spec.nodes if n.params.get("audiogram")), None)
        if node is None:
            return None
        path = graph.ctx.resolve(node.params["audiogram"])
        ag, ear, src = load_audiogram(path), node.params.get("ear"), f"{path} (fitted in node '{node.name}')"
    e = ag.pick_ear(ear)
    return Listener(tuple(ag.frequencies_hz), tuple(float(v) for v in ag.thresholds(e)), f"{src}, {e} ear")


@functools.lru_cache(maxsize=4)
def cached_graph(graph: str, device: str | None) -> Graph:
    """One prepared graph per (graph, device) per process: a Dask worker builds it once for all its files."""
    return load_graph(graph, device=device)


def rendered(graph: Graph, x: np.ndarray, name: str = "in") -> np.ndarray:
    """`x` through `graph` by the file path `hearpipe render --compensate-latency` takes: written as a
    64-bit float WAV (lossless) named `name` (so a render notice names the mixture), rendered to another,
    read back; channel 0 of the output."""
    with tempfile.TemporaryDirectory(prefix="hearpipe-eval-") as d:
        (Path(d) / "in").mkdir()
        src, dst = Path(d) / "in" / f"{name.replace('/', '_')}.wav", Path(d) / "out.wav"
        sf.write(str(src), x, int(graph.sample_rate_hz), subtype="DOUBLE")
        render_file(graph, src, dst, compensate_latency=True, progress=False, subtype="DOUBLE")
        y, _ = sf.read(str(dst), dtype="float64", always_2d=True)
    return y[:, 0]


def scores(
    y: np.ndarray,
    clean: np.ndarray,
    fs: float,
    who: Listener | None = None,
    rms1_db_spl: float | None = None,
    metrics: Sequence[str] = METRICS,
) -> dict[str, float]:
    """The `metrics` of `y` against `clean` (NaN where a metric does not apply, e.g. PESQ off 16 kHz;
    HASPI/HASQI only with a listener, pyclarity and the level of RMS 1 in dB SPL). The one scoring path
    of `hearpipe eval` and `hearpipe evaluate`."""
    r = {}
    if "si_snr" in metrics:
        r["si_snr"] = si_snr(y, clean)
    if "sdr" in metrics:
        r["sdr"] = sdr(y, clean)
    if "pesq" in metrics:
        try:
            r["pesq"] = pesq_wb(y, clean, int(fs)) if int(fs) == 16000 else math.nan
        except Exception:  # pesq raises its own errors for e.g. no detected utterance: a missing score
            r["pesq"] = math.nan
    if "stoi" in metrics:
        r["stoi"] = stoi(y, clean, int(fs))
    if "estoi" in metrics:
        r["estoi"] = stoi(y, clean, int(fs), extended=True)
    if who is not None and rms1_db_spl is not None and clarity.available():
        for k in ("haspi", "hasqi"):
            if k in metrics:
                r[k] = clarity.v2(k, y, clean, fs, who.frequencies_hz, who.thresholds_db_hl, rms1_db_spl)
    return r


@dataclass(frozen=True)
class Task:
    """One mixture to score (picklable: a Dask worker loads the graphs by name)."""

    mixture: Mixture
    graph: str
    device: str | None
    baseline: str | None
    who: Listener | None


def score_task(t: Task) -> dict[str, Any]:
    """The row of one mixture: name, snr_db, in_*, out_* (and base_*, diff_* = out - base) per metric."""
    g = cached_graph(t.graph, t.device)
    m = t.mixture
    fs = float(g.sample_rate_hz)
    rms1 = mean_square_db_spl(1.0, float(g.spec.full_scale_db_spl))  # the level of RMS 1
    row: dict[str, Any] = {"name": m.name, "snr_db": m.snr_db, "seconds": len(m.clean) / fs}
    outs = {"in": m.noisy, "out": rendered(g, m.noisy, m.name)}
    if t.baseline is not None:
        outs["base"] = rendered(cached_graph(t.baseline, t.device), m.noisy, m.name)
    for prefix, y in outs.items():
        for k, v in scores(y, m.clean, fs, t.who, rms1).items():
            row[f"{prefix}_{k}"] = v
    for k in METRICS:
        if f"out_{k}" in row:
            row[f"gain_{k}"] = row[f"out_{k}"] - row[f"in_{k}"]
            if "base" in outs:
                row[f"diff_{k}"] = row[f"out_{k}"] - row[f"base_{k}"]
    return row


def aggregate(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per numeric column (except snr_db/seconds): n, mean, median, and the 95 % confidence interval of
    the mean (Student t; equal to the mean when n = 1), over rows where the value is finite."""
    out: dict[str, dict[str, float]] = {}
    for k in rows[0] if rows else []:
        if k in ("name", "snr_db", "seconds"):
            continue
        v = np.array([r[k] for r in rows if k in r], dtype=np.float64)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        mean = float(v.mean())
        half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
        out[k] = {"n": len(v), "mean": mean, "median": float(np.median(v)), "ci95_low": mean - half,
                  "ci95_high": mean + half}  # fmt: skip
    return out


def by_snr(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    snrs = sorted({r["snr_db"] for r in rows if np.isfinite(r["snr_db"])})
    return {f"{s:g}": aggregate([r for r in rows if r["snr_db"] == s]) for s in snrs}


def write_json(path: str | Path, result: dict[str, Any]) -> Path:
    return write_text(path, json.dumps(result, indent=2, allow_nan=True) + "\n")


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return write_text(path, buf.getvalue())
