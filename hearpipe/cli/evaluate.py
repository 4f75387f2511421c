"""`hearpipe evaluate WEIGHTS`: score a GroupComm weight file on the dev mixtures.

Modes: the numpy float reference (default); `--fixed` the bit-true fixed-point chain rendered by the
graph engine on a fixed-point device (the formats pinned in the file: what a device computes);
`--torch` the PyTorch twin (float32, about 10x faster: for ranking checkpoints; needs the train
extra); `--gap` float and fixed point on the same mixtures and the SI-SNR gap between them; `--pin`
calibrates on train/ data and stores the formats in the weight file; WEIGHTS `oracle` prints the
ideal-ratio-mask ceilings of STFT front ends (`--windows`). By default all 45 dev utterances are used
(90 mixtures at 0 and 5 dB SNR): small subsets differ by several dB with the noises they draw.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a GroupComm weight file on dev mixtures (SI-SNR improvement, STOI)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "weights",
        help="weight file or builtin:NAME (with --torch also a trainer checkpoint .pt); 'oracle': ideal-ratio-mask "
        "ceilings",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fixed", action="store_true", help="the bit-true fixed-point chain (pinned formats)")
    mode.add_argument(
        "--torch",
        action="store_true",
        help="the float model through its PyTorch twin (needs the train extra)",
    )
    mode.add_argument(
        "--gap", action="store_true", help="float and fixed point on the same mixtures, and the gap"
    )
    mode.add_argument(
        "--pin",
        action="store_true",
        help="calibrate on train/ data and store the formats in the weight file (training.fixed_formats), "
        "so devices get the same arithmetic with or without the data folder",
    )
    p.add_argument("--windows", type=int, nargs="+", default=[128, 256, 384], help="oracle STFT windows")
    p.add_argument("--data", default=None, help="data folder (default $HEARPIPE_DATA or ../shared/data)")
    p.add_argument("--n", type=int, default=None, help="dev utterances, each at 0 and 5 dB (default: all)")
    p.add_argument(
        "--split", choices=["dev", "train"], default="dev",
        help="train: the same protocol on the train speech and noise (over-fitting check; use --n)",
    )  # fmt: skip
    p.add_argument("--seconds", type=float, default=6.0, help="first seconds of each utterance")
    p.add_argument("--stoi", action="store_true", help="also compute STOI (slower)")
    p.add_argument(
        "--by-noise", action="store_true", help="also SI-SNRi per noise recording and speech corpus"
    )
    p.add_argument("--weight-bits", type=int, choices=[8, 16], default=8, help="fixed point: weight width")
    p.add_argument("--plot", metavar="DIR", help="write spectrograms.png and si_snri_by_noise.png into DIR")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    # imported here: the command tree is built at every start, the evaluation is heavy
    from hearpipe.datadir import default_data_dir
    from hearpipe.evaluation import evaluate as ev
    from hearpipe.evaluation.mixtures import SAMPLE_RATE, dev_mixtures
    from hearpipe.models.groupcomm.fixed_model import pin_formats, quantize_weight_file

    data = args.data or default_data_dir()
    if args.pin:
        path, formats = pin_formats(args.weights, data, args.weight_bits)
        return _print(args, {"weights": str(path), "formats": formats.to_dict()},
                      [f"{args.weights}: {args.weight_bits}-bit weights; {formats.describe()}",
                       f"pinned the formats in {path}"])  # fmt: skip
    if args.weights == "oracle":
        mixes = dev_mixtures(data, n=args.n, seconds=args.seconds, split=args.split)
        res = {win: ev.evaluate(None, mixes, by_noise=args.by_noise, oracle=win) for win in args.windows}
        lines = [
            f"ideal ratio mask ceilings (Hann STFT, hop 64), {len(mixes)} {args.split} mixtures at 0 and 5 dB SNR"
        ]
        for win, r in res.items():
            parts = [
                f"{k.split('[')[1].split(']')[0]} {v:.1f}" for k, v in r.items() if k.startswith("si_snri[")
            ]
            lines.append(f"window {win} ({1000 * win / SAMPLE_RATE:g} ms): SI-SNRi {r['si_snri']:.2f} dB"
                         + (f"; {', '.join(parts)}" if parts else ""))  # fmt: skip
        return _print(args, {"oracle": res}, lines)

    lines = []
    if args.fixed or args.gap:
        _, model = quantize_weight_file(args.weights, weight_bits=args.weight_bits, data_dir=data)
        lines.append(f"{args.weights}: {model.weight_bits}-bit weights; {model.formats.describe()}")
    if args.plot:
        from hearpipe.plots import plot_dir

        plot_dir(args.plot)  # fail before the long part
    mixes = dev_mixtures(data, n=args.n, seconds=args.seconds, split=args.split)
    rows: list[dict] = []
    if args.gap:
        fixed_rows: list[dict] = []
        ev.evaluate(ev.float_enhancer(args.weights), mixes, rows=rows)
        ev.evaluate(ev.fixed_enhancer(args.weights, args.weight_bits), mixes, rows=fixed_rows)
        g = ev.gap(rows, fixed_rows)
        lines.append(
            f"mixtures {g['n']}: SI-SNR in {g['si_snr_in']:.2f} dB, float {g['si_snr_float']:.3f} dB, fixed "
            f"{g['si_snr_fixed']:.3f} dB; SI-SNRi float {g['si_snri_float']:.3f}, fixed {g['si_snri_fixed']:.3f}; "
            f"gap float - fixed: mean {g['gap_mean']:.3f} dB, max |gap| {g['gap_max_abs']:.3f} dB"
        )
        return _print(args, {"weights": args.weights, "split": args.split, "gap": g}, lines)

    if args.fixed:
        kind, enhance = "fixed point", ev.fixed_enhancer(args.weights, args.weight_bits)
    elif args.torch:
        kind, enhance = "float (PyTorch)", _torch_enhancer(args.weights)
    else:
        kind, enhance = "float reference", ev.float_enhancer(args.weights)
    res = ev.evaluate(enhance, mixes, with_stoi=args.stoi, by_noise=args.by_noise, rows=rows)
    lines.append(f"{args.weights}, {kind}, {args.split} mixtures at 0 and 5 dB SNR")
    lines += [f"{k:>40s}: {v:.3f}" if isinstance(v, float) else f"{k:>40s}: {v}" for k, v in res.items()]
    if args.plot:
        from hearpipe.evaluation.plots import plot_enhancement

        paths = plot_enhancement(
            mixes[0], enhance(mixes[0].noisy), rows, args.plot, f"{args.weights} ({kind})"
        )
        lines += [f"wrote {path}" for path in paths]
    return _print(args, {"weights": args.weights, "kind": kind, "split": args.split, "results": res}, lines)


def _torch_enhancer(ref: str):
    """The PyTorch twin of a weight file or trainer checkpoint as an enhancer (torch: the train extra)."""
    import torch

    from hearpipe.train.model import load_net

    net = load_net(ref)

    def enhance(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(x.astype(np.float32))[None])[0, 0].numpy().astype(np.float64)

    return enhance


def _print(args, result: dict, lines: list[str]) -> int:
    print(json.dumps(result, indent=2) if args.json else "\n".join(lines))
    return 0
