"""`hearpipe train CONFIG|RECIPE --out DIR`: train (or resume) a GroupComm model, or run a recipe's stages.

PyTorch (the `train` extra) is imported when the command runs, so `hearpipe --help` does not load it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hearpipe.config import parse_text, read_document
from hearpipe.errors import InvalidInput


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a GroupComm model or run a recipe (needs the 'train' extra)",
        description="Train (or resume) a GroupComm model from a training config, or run a recipe's stages "
        "in order (experiments/recipes/). Everything is written under --out; a rerun with the same --out "
        "resumes; SIGINT/SIGTERM write a checkpoint first. The loss printed is -SI-SNR in dB.",
    )
    p.add_argument("config", help="training config or recipe (YAML), e.g. examples/train_enhance.yaml")
    p.add_argument("--out", required=True, type=Path, help="run folder: every file is written under it")
    p.add_argument("--max-steps", type=int, default=None, help="config: override max_steps")
    p.add_argument("--max-minutes", type=float, default=None, help="config: stop after this wall time")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="config: override a top-level field (YAML value), e.g. --set lr=6e-4 --set schedule_start=5000",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="recipe: 2 steps per stage and a one-utterance dev subset (checks that the chain runs)",
    )
    p.set_defaults(run=run)


def _overrides(a: argparse.Namespace, fields) -> dict:
    changes = {}
    if a.max_steps is not None:
        changes["max_steps"] = a.max_steps
    if a.max_minutes is not None:
        changes["max_minutes"] = a.max_minutes
    for item in a.set:
        key, sep, value = item.partition("=")
        if not sep or key not in fields or key in ("model", "data"):
            raise InvalidInput(f"--set {item!r}: expected FIELD=VALUE with a top-level field of the config")
        changes[key] = parse_text(value, f"--set {key}")
    return changes


def run(a: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        raise InvalidInput("training needs PyTorch (pip install 'hearpipe[train]')") from None
    from hearpipe.config import validate
    from hearpipe.train.recipe import is_recipe, run_recipe
    from hearpipe.train.trainer import TrainConfig, Trainer

    path = Path(a.config)
    doc = read_document(path)
    if is_recipe(doc):
        if a.max_steps is not None or a.max_minutes is not None or a.set:
            raise InvalidInput(
                "--max-steps, --max-minutes and --set apply to a config; a recipe sets its stages"
            )
        result = run_recipe(path, a.out, smoke=a.smoke)
        if result is None:
            print(f"stopped for time; rerun the same command to resume ({a.out})")
            return 0
        print(f"recipe done: {result}")
        return 0
    if a.smoke:
        raise InvalidInput("--smoke applies to a recipe (a file with `stages:`)")
    cfg = validate(TrainConfig, {**doc, **_overrides(a, TrainConfig.model_fields)}, str(path))
    Trainer(cfg, a.out, base_dir=path.resolve().parent).run()
    return 0
