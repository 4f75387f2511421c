"""The GroupComm claim on our data: a non-grouped baseline against grouped variants of the same backbone.

Variants share the STFT front end, width n_model and the total recurrent width (groups x hidden): the
baseline (K = 1) runs one GRU of K0*h units over all n_model features; GroupComm with K groups runs one
small GRU of (K0*h)/K units, shared by all groups, on n_model/K features each, plus TAC across groups.

    python -m hearpipe.train.compare configs --out-dir runs/compare --steps 3000   # one config per variant
    hearpipe train runs/compare/gc_k4.yaml --out runs/compare/gc_k4              # (each, same recipe)
    python -m hearpipe.train.compare table --runs runs/compare [--stoi]           # the table

Columns: parameters, MAC/s of the mask estimator (float reference op count, front end excluded), RAM of
the fixed-point model on a device (state + scratch, int16 activations), ROM (int8 weights), and, for
variants that have been trained (`<runs>/<name>/best.npz`), SI-SNRi and STOI on dev mixtures at 0 and
5 dB SNR. Untrained variants show "-" in the quality columns.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import yaml

from hearpipe.models import groupcomm as gc

BASE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "train_enhance_stft.yaml"
TOTAL_HIDDEN = 256  # groups x hidden of the shipped STFT model (4 x 64)


def variants() -> dict[str, gc.GroupCommHParams]:
    base = gc.GroupCommHParams(frontend="stft", window=128, hop=64, n_model=64, n_blocks=2, rnn="gru",
                               inter_hidden=32, sample_rate_hz=16000.0)  # fmt: skip
    out = {"baseline_k1": replace(base, groups=1, hidden=TOTAL_HIDDEN, inter="none")}
    for k in (2, 4, 8, 16):
        out[f"gc_k{k}"] = replace(base, groups=k, hidden=TOTAL_HIDDEN // k, inter="tac")
    return out


def resources(hp: gc.GroupCommHParams) -> dict[str, float]:
    import numpy as np

    from hearpipe.models.groupcomm.cost import cost_summary
    from hearpipe.models.groupcomm.fixed_model import quantize_model

    frames = [
        np.random.default_rng(0).standard_normal((hp.features, 50)) ** 2
    ]  # sizes only: any data will do
    model = quantize_model(gc.random_weights(hp), calibration_frames=frames, weight_bits=8)
    s = cost_summary(model)
    return {
        "params": gc.n_params(hp),
        "mmac_s": gc.ops_per_frame(hp)["mac"] * hp.frame_rate_hz / 1e6,
        "ram_kib": (s["ram_persistent"] + s["ram_scratch"]) / 1024,
        "rom_kib": s["rom"] / 1024,
    }


def write_configs(out_dir: Path, steps: int) -> list[Path]:
    base = yaml.safe_load(BASE_CONFIG.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, hp in variants().items():
        cfg = dict(base, name=name, max_steps=steps)
        cfg["model"] = {k: v for k, v in hp.to_dict().items() if k in base["model"]}
        p = out_dir / f"{name}.yaml"
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        paths.append(p)
    return paths


def table(runs: Path | None, with_stoi: bool, n: int | None, seconds: float) -> str:
    rows = ["| variant | K | hidden/group | params | MMAC/s | RAM KiB | ROM KiB | steps (best ckpt) | SI-SNRi dB | STOI (in -> out) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    mixes = None
    for name, hp in variants().items():
        r = resources(hp)
        quality, steps = ("-", "-"), "-"
        trained = runs / name / "best.npz" if runs else None
        if trained and trained.is_file():
            from hearpipe.datadir import default_data_dir
            from hearpipe.evaluation.evaluate import evaluate
            from hearpipe.evaluation.mixtures import dev_mixtures
            from hearpipe.models.weights import load_weights

            wf = load_weights(trained, gc.ARCHITECTURE)
            w = gc.GroupCommWeights.from_arrays(gc.GroupCommHParams.from_dict(wf.hparams), wf.arrays)
            mixes = mixes or dev_mixtures(default_data_dir(), n=n, seconds=seconds)
            res = evaluate(lambda x, w=w: gc.enhance(x, w)[0], mixes, with_stoi=with_stoi)
            stoi = (
                f"{res['stoi_in']:.3f} -> {res['stoi_out']:.3f}" if with_stoi else "-"
            )  # means over 0 and 5 dB
            quality = f"{res['si_snri']:.2f}", stoi
            steps = str(wf.training.get("step", "?")) if isinstance(wf.training, dict) else "?"
        rows.append(
            f"| {name} | {hp.groups} | {hp.hidden} | {r['params']:,} | {r['mmac_s']:.1f} | {r['ram_kib']:.1f} | "
            f"{r['rom_kib']:.1f} | {steps} | {quality[0]} | {quality[1]} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hearpipe.train.compare", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("configs", help="write one training config per variant (same recipe)")
    c.add_argument("--out-dir", type=Path, required=True)
    c.add_argument("--steps", type=int, default=3000)
    t = sub.add_parser("table", help="print the comparison table (markdown)")
    t.add_argument("--runs", type=Path, default=None, help="folder with <variant>/best.npz")
    t.add_argument("--stoi", action="store_true")
    t.add_argument("--n", type=int, default=None, help="dev utterances, each at 0 and 5 dB (default: all)")
    t.add_argument("--seconds", type=float, default=6.0)
    a = ap.parse_args(argv)
    if a.cmd == "configs":
        for p in write_configs(a.out_dir, a.steps):
            print(p)
    else:
        print(table(a.runs, a.stoi, a.n, a.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
