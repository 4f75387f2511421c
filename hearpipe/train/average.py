"""Checkpoint averaging: the mean of several checkpoints' model weights, exported as a `.npz` weight file.

Checkpoints taken along one run's low-learning-rate tail lie in one basin; their mean usually scores a
little above each of them (stochastic weight averaging). All checkpoints must have the same
hyper-parameters.

    python -m hearpipe.train.average OUT.npz CKPT.pt [CKPT.pt ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from hearpipe.models.groupcomm import ARCHITECTURE, GroupCommHParams
from hearpipe.models.weights import save_weights
from hearpipe.train.model import GroupCommNet


def average_checkpoints(paths: list[Path], out: Path) -> Path:
    """Mean of the model weights of `paths` (trainer checkpoints) written to `out` (.npz)."""
    if not paths:
        raise ValueError("no checkpoints to average")
    states, steps, hparams = [], [], None
    for p in paths:
        st = torch.load(p, map_location="cpu", weights_only=False)
        hp = GroupCommHParams.from_dict(st["hparams"])  # fields added since the run: their defaults
        if hparams is not None and hp != hparams:
            raise ValueError(f"{p}: hyper-parameters differ from {paths[0]}")
        hparams = hp
        states.append(st["model"])
        steps.append(int(st["step"]))
    mean = {k: sum(s[k].double() for s in states) / len(states) for k in states[0]}
    net = GroupCommNet(hparams)
    net.load_state_dict({k: v.to(states[0][k].dtype) for k, v in mean.items()})
    training = {
        "averaged_checkpoints": [str(p) for p in paths], "step": max(steps), "steps": steps,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    return save_weights(out, net.export_arrays(), ARCHITECTURE, net.hp.to_dict(), training)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hearpipe.train.average", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="weight file to write (.npz)")
    ap.add_argument("checkpoints", type=Path, nargs="+", help="trainer checkpoints (.pt)")
    a = ap.parse_args(argv)
    try:
        path = average_checkpoints(a.checkpoints, a.out)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} (mean of {len(a.checkpoints)} checkpoints)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
