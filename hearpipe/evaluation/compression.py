"""The compression report (`hearpipe compress --report`): each variant of a float model compressed by a
recipe, written as a packed file, then costed and scored as the device runs it (bit-true fixed point on
`hearing-aid-dsp`, the packed layers executed as stored).

Columns: stored bytes of the mask estimator's weights (packed values, codebooks, row masks, row scales,
biases and PReLU slopes, as in the file; the codec excluded: it is the default's front end, unchanged),
the ratio against the same weights in float32, the groupcomm block's MAC/s and MIPS from `budget`, and
SI-SNRi / STOI on dev mixtures at 0 and 5 dB SNR.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hearpipe.compress.pipeline import Recipe, compress_file, estimator_bytes
from hearpipe.evaluation.evaluate import (
    FIXED_DEVICE,
    enhancement_graph,
    evaluate,
    fixed_enhancer,
    float_enhancer,
)
from hearpipe.evaluation.mixtures import Mixture
from hearpipe.graph.engine import load_graph
from hearpipe.models.weights import load_weights, resolve_weights

VARIANTS: tuple[tuple[str, Recipe | None], ...] = (
    ("float", None),
    ("int8 PTQ", Recipe(bits=8)),
    ("6-bit PTQ", Recipe(bits=6)),
    ("4-bit PTQ", Recipe(bits=4)),
    ("3-bit PTQ", Recipe(bits=3)),
    ("2-bit PTQ", Recipe(bits=2)),
    ("prune 25% + int8", Recipe(prune=(0.25,))),
    ("prune 25% + cluster 15+15+0", Recipe(prune=(0.25,), cluster=15)),
    ("prune 50% (staged 25/50) + int8", Recipe(prune=(0.25, 0.5))),
    ("prune 50% + cluster 15+15+0", Recipe(prune=(0.25, 0.5), cluster=15)),
    ("sharing (blocks) + int8", Recipe(share=True)),
)


def groupcomm_cost(path: str | Path) -> dict:
    """MAC/s and MIPS of the groupcomm block of the file's fixed-point chain on the fixed device."""
    rep = load_graph(enhancement_graph(str(path)), device=FIXED_DEVICE).budget().to_dict()
    (blk,) = [b for b in rep["blocks"] if b["type"] == "groupcomm"]
    return {"macs_per_s": blk["macs_per_s"], "mips": blk["mips"], "rom_bytes": blk["rom_bytes"]}


def report(
    source: str, mixtures: list[Mixture], variants=VARIANTS, extra: dict[str, str] | None = None, stoi=True
) -> list[dict]:
    """One row per variant (and per already compressed file in `extra`, name -> path): bytes, ratio,
    cost and scores. The float row scores the numpy float reference and has no device cost."""
    float_bytes = estimator_bytes(load_weights(resolve_weights(source)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(name, recipe, None) for name, recipe in variants]
        jobs += [(name, None, path) for name, path in (extra or {}).items()]
        for i, (name, recipe, path) in enumerate(jobs):
            t0 = time.perf_counter()
            if recipe is not None:
                path = compress_file(source, Path(tmp) / f"v{i}.npz", recipe)
            seconds = time.perf_counter() - t0
            if path is None:  # the float model
                row = {"variant": name, "stored_bytes": float_bytes, "macs_per_s": None, "mips": None}
                scores = evaluate(float_enhancer(source), mixtures, with_stoi=stoi)
            else:
                row = {
                    "variant": name,
                    "stored_bytes": estimator_bytes(load_weights(path)),
                    **groupcomm_cost(path),
                }
                scores = evaluate(fixed_enhancer(str(path)), mixtures, with_stoi=stoi)
            row["ratio_vs_float32"] = float_bytes / row["stored_bytes"]
            row["share_of_float32"] = row["stored_bytes"] / float_bytes
            row["compress_s"] = round(seconds, 2) if recipe is not None else None
            row["si_snri_db"] = scores["si_snri"]
            row["stoi_out"] = scores.get("stoi_out")
            row["stoi_in"] = scores.get("stoi_in")
            row["n_mixtures"] = scores["n"]
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    """The report as a Markdown table."""
    head = (
        "| variant | stored bytes | ratio vs float32 | share of float32 | MAC/s (M) | MIPS | SI-SNRi (dB) | STOI |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [head]
    for r in rows:
        macs = "-" if r["macs_per_s"] is None else f"{r['macs_per_s'] / 1e6:.2f}"
        mips = "-" if r["mips"] is None else f"{r['mips']:.1f}"
        stoi = "-" if r["stoi_out"] is None else f"{r['stoi_out']:.3f}"
        lines.append(
            f"| {r['variant']} | {r['stored_bytes']} | {r['ratio_vs_float32']:.2f}x | {100 * r['share_of_float32']:.1f}% "
            f"| {macs} | {mips} | {r['si_snri_db']:.2f} | {stoi} |"
        )
    return "\n".join(lines)
