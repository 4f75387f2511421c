"""Evaluation on fixed dev mixtures: dev speech + dev noise at 0 and 5 dB SNR (seeded, reproducible).

`dev_mixtures` builds the set (never used for training); `evaluate` runs any enhancer (a function
from a mono float array to an array of the same length, aligned with the input) and reports mean
SI-SNR improvement and STOI of input and output, per SNR and overall.

Command line: `python -m hearpipe.metrics.evaluate WEIGHTS.npz [--fixed] [--n N] [--seconds 6] [--stoi]
[--by-noise]` evaluates a weight file with the numpy float reference or, with `--fixed`, the bit-true
fixed-point model with the formats pinned in the file (what a device computes). By default all 45 dev
utterances are used (90 mixtures): small subsets differ by several dB with the noises they draw.
`python -m hearpipe.metrics.evaluate oracle [--windows 128 256 384] [--by-noise]` prints the ideal-ratio-
mask ceilings of STFT front ends of those windows on the same mixtures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.metrics.si_snr import si_snr

SAMPLE_RATE = 16000
DEV_SEED = 20260
DEV_LEVEL_DBFS = -25.0


@dataclass
class Mixture:
    noisy: np.ndarray
    clean: np.ndarray
    snr_db: float
    name: str


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".flac", ".wav"))


def dev_mixtures(
    data_dir: Path | str,
    n: int | None = None,
    snrs_db: Sequence[float] = (0.0, 5.0),
    seconds: float = 6.0,
    seed: int = DEV_SEED,
    split: str = "dev",
) -> list[Mixture]:
    """`n` dev utterances (all when None; first `seconds` s), each mixed with a random dev noise at
    every SNR. The draw is seeded, and the first n of a larger set are the set of size n. `split="train"`
    mixes the train speech and recorded train noise the same way: the same score on data the model was
    trained on tells over-fitting (train far above dev) from a model too small for the task (both alike)."""
    if split not in ("dev", "train"):
        raise ValueError(f"split ({split!r}) must be 'dev' or 'train'")
    data_dir = Path(data_dir)
    speech = _files(data_dir / split / "speech")
    noise = _files(data_dir / split / "noise")
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(speech))[:n]
    out = []
    seg = int(seconds * SAMPLE_RATE)
    for i in picks:
        s, sr = sf.read(speech[i], dtype="float64")
        assert sr == SAMPLE_RATE, speech[i]
        s = s[:seg]
        k = int(rng.integers(len(noise)))
        v, _ = sf.read(noise[k], dtype="float64")
        if len(v) < len(s):
            v = np.tile(v, -(-len(s) // len(v)))
        start = int(rng.integers(0, len(v) - len(s) + 1))
        v = v[start : start + len(s)]
        s0 = s / np.sqrt(np.mean(s**2))
        v0 = v / np.sqrt(np.mean(v**2))
        for snr in snrs_db:
            mix = s0 + v0 * 10 ** (-snr / 20)
            g = 10 ** (DEV_LEVEL_DBFS / 20) / np.sqrt(np.mean(mix**2))
            out.append(Mixture(mix * g, s0 * g, float(snr), f"{speech[i].stem}+{noise[k].stem}@{snr:g}dB"))
    return out


def evaluate(
    enhance: Callable[[np.ndarray], np.ndarray] | None,
    mixtures: Sequence[Mixture],
    with_stoi: bool = False,
    by_noise: bool = False,
    rows: list[dict] | None = None,
    oracle: int = 0,
) -> dict[str, float]:
    """Mean SI-SNR in/out/improvement (dB) and optionally STOI in/out, overall, per SNR and (by_noise)
    per dev noise recording and speech corpus (the speech file name's prefix). Per-mixture scores are
    appended to `rows` when given. `oracle` > 0 scores `oracle_irm` with that window instead of `enhance`."""
    rows = [] if rows is None else rows
    for m in mixtures:
        y = oracle_irm(m, oracle) if oracle else enhance(m.noisy)
        y = np.asarray(y, dtype=np.float64).ravel()[: len(m.clean)]
        r = {
            "snr": m.snr_db,
            "noise": m.name.split("+")[1].rsplit("@", 1)[0],
            "corpus": m.name.split("+")[0].split("_")[0],  # speech file-name prefix: libri, vctk, ...
            "si_snr_in": si_snr(m.noisy, m.clean),
            "si_snr_out": si_snr(y, m.clean),
            "name": m.name,
        }
        if with_stoi:
            from hearpipe.metrics.stoi import stoi

            r["stoi_in"] = stoi(m.noisy, m.clean)
            r["stoi_out"] = stoi(y, m.clean)
        rows.append(r)
    res: dict[str, float] = {}
    keys = [k for k in rows[0] if k not in ("snr", "noise", "corpus", "name")]
    for k in keys:
        res[k] = float(np.mean([r[k] for r in rows]))
    res["si_snri"] = res["si_snr_out"] - res["si_snr_in"]
    for snr in sorted({r["snr"] for r in rows}):
        sub = [r for r in rows if r["snr"] == snr]
        res[f"si_snri@{snr:g}dB"] = float(np.mean([r["si_snr_out"] - r["si_snr_in"] for r in sub]))
        if with_stoi:
            res[f"stoi_in@{snr:g}dB"] = float(np.mean([r["stoi_in"] for r in sub]))
            res[f"stoi_out@{snr:g}dB"] = float(np.mean([r["stoi_out"] for r in sub]))
    if by_noise:
        for field, label in (("noise", "[{}]"), ("corpus", "<speech {}>")):
            for value in sorted({r[field] for r in rows}):
                sub = [r["si_snr_out"] - r["si_snr_in"] for r in rows if r[field] == value]
                res[f"si_snri{label.format(value)} (n={len(sub)})"] = float(np.mean(sub))
    res["n"] = len(rows)
    return res


def oracle_irm(m: Mixture, window: int, hop: int = 64) -> np.ndarray:
    """The ideal ratio mask |S| / (|S| + |N|) of a Hann STFT (window, hop) applied to the mixture: the
    ceiling of a real mask on a front end of that frequency resolution (it knows the clean speech)."""
    from scipy.signal import istft, stft

    kw = dict(fs=SAMPLE_RATE, window="hann", nperseg=window, noverlap=window - hop)
    _, _, S = stft(m.clean, **kw)
    _, _, N = stft(m.noisy - m.clean, **kw)
    _, _, X = stft(m.noisy, **kw)
    _, y = istft(X * np.abs(S) / (np.abs(S) + np.abs(N) + 1e-12), **kw)
    return y[: len(m.clean)]


def main(argv: list[str] | None = None) -> int:
    from hearpipe.datadir import default_data_dir
    from hearpipe.models import groupcomm
    from hearpipe.models.weights import load_weights, resolve_weights

    ap = argparse.ArgumentParser(
        prog="python -m hearpipe.metrics.evaluate", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "weights",
        help="weight file or builtin:NAME (with --torch also a trainer checkpoint .pt); 'oracle': ideal-ratio-mask "
        "ceilings",
    )
    ap.add_argument("--windows", type=int, nargs="+", default=[128, 256, 384], help="oracle STFT windows")
    ap.add_argument("--data", default=None, help="data folder (default $HEARPIPE_DATA or ../shared/data)")
    ap.add_argument("--n", type=int, default=None, help="dev utterances, each at 0 and 5 dB (default: all)")
    ap.add_argument(
        "--split", choices=["dev", "train"], default="dev",
        help="train: the same protocol on the train speech and noise (over-fitting check; use --n)",
    )  # fmt: skip
    ap.add_argument("--seconds", type=float, default=6.0, help="first seconds of each utterance")
    ap.add_argument("--stoi", action="store_true", help="also compute STOI (slower)")
    ap.add_argument("--fixed", action="store_true", help="the bit-true fixed-point model (pinned formats)")
    ap.add_argument(
        "--torch", action="store_true",
        help="the float model through its PyTorch twin (float32, the reference within 1e-5; about 10x faster: "
        "for ranking checkpoints; needs the train extra)",
    )  # fmt: skip
    ap.add_argument(
        "--by-noise", action="store_true", help="also SI-SNRi per noise recording and speech corpus"
    )
    ap.add_argument("--plot", metavar="DIR", help="write spectrograms.png and si_snri_by_noise.png into DIR")
    a = ap.parse_args(argv)
    data = a.data or default_data_dir()
    if a.weights == "oracle":
        mixes = dev_mixtures(data, n=a.n, seconds=a.seconds)
        print(f"ideal ratio mask ceilings (Hann STFT, hop 64), {len(mixes)} dev mixtures at 0 and 5 dB SNR")
        for win in a.windows:
            res = evaluate(None, mixes, by_noise=a.by_noise, oracle=win)
            parts = [
                f"{k.split('[')[1].split(']')[0]} {v:.1f}" for k, v in res.items() if k.startswith("si_snri[")
            ]
            print(f"window {win} ({1000 * win / SAMPLE_RATE:g} ms): SI-SNRi {res['si_snri']:.2f} dB"
                  + (f"; {', '.join(parts)}" if parts else ""))  # fmt: skip
        return 0
    if a.fixed:
        from hearpipe.models.groupcomm_fixed import enhance_fixed, quantize_weight_file

        w, model = quantize_weight_file(a.weights, data_dir=data)

        def run(x: np.ndarray) -> np.ndarray:
            return enhance_fixed(w, model, x)
    elif a.torch:
        import torch

        from hearpipe.train.model import load_net

        net = load_net(a.weights)

        def run(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return net(torch.from_numpy(x.astype(np.float32))[None])[0, 0].numpy().astype(np.float64)
    else:
        wf = load_weights(resolve_weights(a.weights), groupcomm.ARCHITECTURE)
        hp = groupcomm.GroupCommHParams.from_dict(wf.hparams, wf.source)
        w = groupcomm.GroupCommWeights.from_arrays(hp, wf.arrays, wf.source)

        def run(x: np.ndarray) -> np.ndarray:
            return groupcomm.enhance(x, w)[0]

    if a.plot:
        from hearpipe.plots import plot_dir

        plot_dir(a.plot)  # fail before the long part
    mixes = dev_mixtures(data, n=a.n, seconds=a.seconds, split=a.split)
    rows: list[dict] = []
    res = evaluate(run, mixes, with_stoi=a.stoi, by_noise=a.by_noise, rows=rows)
    kind = "fixed point" if a.fixed else ("float (PyTorch)" if a.torch else "float reference")
    print(f"{a.weights}, {kind}, {a.split} mixtures at 0 and 5 dB SNR")
    for k, v in res.items():
        print(f"{k:>40s}: {v:.3f}" if isinstance(v, float) else f"{k:>40s}: {v}")
    if a.plot:
        from hearpipe.plots import plot_enhancement

        title = f"{a.weights} ({kind})"
        for path in plot_enhancement(mixes[0], run(mixes[0].noisy), rows, a.plot, title):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
