"""The listener table (issue 23): HASPI v2 / HASQI v2 (and SI-SNR, STOI for reference) of the shipped
graphs and their variants for each example audiogram, speech at 55/65/75 dB SPL in recorded noise at
0/5/10 dB SNR, on dev material only.

    python experiments/listener_table.py                      # the full grid: 45 utterances
    python experiments/listener_table.py --n 6 --seconds 3    # the iteration subset
    python experiments/listener_table.py --rows nalr_fir hearing_aid --out /tmp/listener

Every graph that carries a fit (an `audiogram` parameter) is refitted for each audiogram (its left ear)
by a spec mapping rebuilt with `Graph.rebuilt`: the linear NAL-R reference is the NAL-R fit for that
listener, not the shipped mild-sloping file. Mixtures are those of `hearpipe eval` (seeded noise draw,
speech RMS at the level through a 110 dB SPL full-scale calibration; every graph here is run at that
calibration); each is rendered as `hearpipe render --compensate-latency` renders a file. Writes
OUT/ROW.json (per-file scores) and OUT/table.md (means per audiogram and level over the SNRs, the
difference to linear NAL-R with its 95 % confidence interval). Rows already in OUT with the same
settings are reused unless --force.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from hearpipe.datadir import default_data_dir
from hearpipe.dsp.audiogram import load_audiogram
from hearpipe.evaluation import corpus
from hearpipe.evaluation.scoring import Listener, rendered, write_json, write_text
from hearpipe.graph.engine import Graph, load_graph
from hearpipe.metrics import clarity
from hearpipe.metrics.si_snr import si_snr
from hearpipe.metrics.stoi import stoi

ROOT = Path(__file__).resolve().parents[1]
FULL_SCALE_DB_SPL = 110.0
AUDIOGRAMS = ("mild_sloping", "moderate_flat", "severe")
# name -> (label, graph file or None for the unprocessed input, device, node params to override)
ROWS = {
    "unprocessed": ("unprocessed", None, None, {}),
    "nalr_fir": ("NAL-R linear, FIR (`nalr_fir.yaml`)", "graphs/nalr_fir.yaml", None, {}),
    "nalr_stft": ("NAL-R linear, STFT (`nalr_stft.yaml`)", "graphs/nalr_stft.yaml", None, {}),
    "wdrc": ("NAL-R WDRC (`wdrc.yaml`)", "graphs/wdrc.yaml", None, {}),
    "hearing_aid": ("full chain (`hearing_aid.yaml`), float", "graphs/hearing_aid.yaml", None, {}),
    "hearing_aid_dsp": ("full chain (`hearing_aid.yaml`), hearing-aid-dsp", "graphs/hearing_aid.yaml",
                        "hearing-aid-dsp", {}),
    "enhance_dsp": ("`enhance.yaml` alone (no gain), hearing-aid-dsp", "graphs/enhance.yaml",
                    "hearing-aid-dsp", {}),
}  # fmt: skip
METRICS = ("haspi", "hasqi", "si_snr", "stoi")
KEY = ("haspi", "hasqi")


def fitted(g: Graph, audiogram: Path, overrides: dict) -> Graph:
    """`g` refitted for `audiogram` (left ear) at the table's calibration, with `overrides`
    ({node: {param: value}}) applied: every node with an `audiogram` parameter is refitted."""
    nodes = []
    for n in g.spec.nodes:
        p = dict(n.params)
        if "audiogram" in p:
            p.update(audiogram=str(audiogram), ear="left")
        p.update(overrides.get(n.name, {}))
        nodes.append(n.model_copy(update={"params": p}))
    spec = g.spec.model_copy(update={"nodes": nodes, "full_scale_db_spl": FULL_SCALE_DB_SPL})
    return g.rebuilt(spec=spec)


def scores(y: np.ndarray, clean: np.ndarray, who: Listener) -> dict[str, float]:
    fs, rms1 = 16000.0, FULL_SCALE_DB_SPL + 10 * math.log10(2)
    args = (fs, who.frequencies_hz, who.thresholds_db_hl, rms1)
    return {"haspi": clarity.haspi_v2(y, clean, *args), "hasqi": clarity.hasqi_v2(y, clean, *args),
            "si_snr": si_snr(y, clean), "stoi": stoi(y, clean, int(fs))}  # fmt: skip


def run_row(name: str, a, mixes: dict, listeners: dict, row_def=None) -> dict:
    label, path, device, overrides = row_def or ROWS[name]
    base = load_graph(ROOT / path, device=device) if path else None
    files, t0 = [], time.perf_counter()
    for ag, who in listeners.items():
        g = fitted(base, ROOT / "examples/audiograms" / f"{ag}.yaml", overrides) if base else None
        for level, ms in mixes.items():
            for m in ms:
                y = rendered(g, m.noisy) if g else m.noisy
                files.append({"audiogram": ag, "level_db_spl": level, "snr_db": m.snr_db, "name": m.name,
                              **scores(y, m.clean, who)})  # fmt: skip
    print(f"{name}: {len(files)} files in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return {"row": name, "label": label, "graph": path, "device": device, "overrides": overrides,
            "settings": settings(a), "files": files}  # fmt: skip


def settings(a) -> dict:
    return {"n": a.n, "seconds": a.seconds, "seed": a.seed, "levels_db_spl": a.levels, "snrs_db": a.snrs,
            "audiograms": a.audiograms, "data": str(a.data)}  # fmt: skip


def ci95(d: np.ndarray) -> float:
    return float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def table(results: dict[str, dict], a) -> str:
    """Markdown: per audiogram and level, each row's mean HASPI/HASQI (over SNRs and files) and its
    difference to linear NAL-R (FIR) with the 95 % CI of the per-file difference; SI-SNR, STOI."""
    ref = results.get("nalr_fir")
    out = [f"Dev mixtures: {a.n} utterances x SNR {', '.join(f'{s:g}' for s in a.snrs)} dB"
           + (f", first {a.seconds:g} s" if a.seconds else "") + f", seed {a.seed}; "
           "HASPI/HASQI v2 for each audiogram's left ear. `d` = minus linear NAL-R (FIR), per file, "
           "[95 % CI]. Regenerate: `python experiments/listener_table.py "
           + " ".join(f"--{k} {v}" for k, v in (("n", a.n), ("seconds", a.seconds)) if v) + "`", ""]  # fmt: skip
    for ag in a.audiograms:
        for level in a.levels:
            out += [f"### {ag}, speech {level:g} dB SPL", "",
                    "| graph | HASPI | d HASPI | HASQI | d HASQI | SI-SNR dB | STOI |",
                    "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
            for r in results.values():
                sel = [f for f in r["files"] if f["audiogram"] == ag and f["level_db_spl"] == level]
                if not sel:
                    continue
                cells = []
                for k in METRICS:
                    v = np.array([f[k] for f in sel])
                    cells.append(f"{v.mean():.3f}" if k != "si_snr" else f"{v.mean():.2f}")
                    if k in KEY and ref is not None:
                        rs = [f for f in ref["files"] if f["audiogram"] == ag and f["level_db_spl"] == level]
                        d = v - np.array([f[k] for f in rs])
                        cells.append(
                            f"{d.mean():+.3f} [{d.mean() - ci95(d):+.3f}, {d.mean() + ci95(d):+.3f}]"
                        )
                    elif k in KEY:
                        cells.append("-")
                out.append(f"| {r['label']} | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=45, help="first N dev utterances (default all 45)")
    p.add_argument("--seconds", type=float, help="first S seconds of each utterance (default whole)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", type=float, nargs="+", default=[55.0, 65.0, 75.0], help="speech dB SPL")
    p.add_argument("--snrs", type=float, nargs="+", default=[0.0, 5.0, 10.0], help="SNRs in dB")
    p.add_argument("--audiograms", nargs="+", default=list(AUDIOGRAMS), choices=AUDIOGRAMS)
    p.add_argument("--rows", nargs="+", default=list(ROWS), help=f"rows (default all: {' '.join(ROWS)})")
    p.add_argument("--data", type=Path, default=None, help="data folder (default: hearpipe's)")
    p.add_argument("--out", type=Path, default=ROOT / "experiments/listener")
    p.add_argument("--force", action="store_true", help="recompute rows already in OUT")
    a = p.parse_args(argv)
    a.data = a.data or default_data_dir()
    unknown = [r for r in a.rows if r not in ROWS and r not in variants()]
    if unknown:
        p.error(f"unknown rows: {', '.join(unknown)}")
    return a


def variants() -> dict:
    """Rows defined in experiments/listener/variants.json: name -> [label, graph, device, overrides]."""
    f = ROOT / "experiments/listener/variants.json"
    return {k: tuple(v) for k, v in json.loads(f.read_text()).items()} if f.exists() else {}


def main(argv=None) -> int:
    a = parse(argv)
    if not clarity.available():
        sys.exit("HASPI/HASQI need pyclarity (pip install 'hearpipe[clarity]')")
    a.out.mkdir(parents=True, exist_ok=True)
    dev = Path(a.data) / "dev"
    mixes = {}
    for level in a.levels:
        ms = corpus.mixtures(dev / "speech", dev / "noise", a.snrs, sample_rate_hz=16000.0,
                             full_scale_db_spl=FULL_SCALE_DB_SPL, level_db_spl=level, seconds=a.seconds,
                             seed=a.seed)  # fmt: skip
        mixes[level] = ms[: a.n * len(a.snrs)]
    listeners = {}
    for ag in a.audiograms:
        g = load_audiogram(ROOT / "examples/audiograms" / f"{ag}.yaml")
        listeners[ag] = Listener(tuple(g.frequencies_hz), tuple(float(v) for v in g.thresholds("left")), ag)
    defs = {**ROWS, **variants()}
    results = {}
    for name in dict.fromkeys(["unprocessed", "nalr_fir", *a.rows]):
        f = a.out / f"{name}.json"
        old = json.loads(f.read_text()) if f.exists() else None
        if old is not None and old["settings"] == settings(a) and not a.force:
            results[name] = old
            continue
        results[name] = run_row(name, a, mixes, listeners, defs[name])
        write_json(f, results[name])
    write_text(a.out / "table.md", table(results, a) + "\n")
    print(table(results, a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
