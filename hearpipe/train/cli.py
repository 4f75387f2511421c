"""`hearpipe train CONFIG` / `python -m hearpipe.train CONFIG`: train (or resume) a GroupComm model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from hearpipe.config import load_model
from hearpipe.errors import HearpipeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hearpipe train", description=__doc__.split(":")[1].strip())
    ap.add_argument("config", help="training config (YAML), e.g. examples/train_enhance.yaml")
    ap.add_argument("--max-steps", type=int, default=None, help="override max_steps")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after this wall time")
    ap.add_argument("--out-dir", default=None, help="override out_dir (relative to the current folder)")
    ap.add_argument("--no-export", action="store_true", help="do not copy the best model to export_path")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a top-level config field (YAML value), e.g. --set lr=6e-4 --set schedule_start=5000",
    )
    a = ap.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        print("error: training needs PyTorch (pip install 'hearpipe[train]')", file=sys.stderr)
        return 2
    from hearpipe.train.trainer import TrainConfig, Trainer

    path = Path(a.config)
    try:
        cfg = load_model(TrainConfig, path)
    except HearpipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    changes = {}
    if a.max_steps is not None:
        changes["max_steps"] = a.max_steps
    if a.max_minutes is not None:
        changes["max_minutes"] = a.max_minutes
    if a.no_export:
        changes["export_path"] = None
    for item in a.set:
        key, sep, value = item.partition("=")
        if not sep or key not in TrainConfig.model_fields or key in ("model", "data"):
            print(
                f"error: --set {item!r}: expected FIELD=VALUE with a top-level field of the config",
                file=sys.stderr,
            )
            return 2
        changes[key] = yaml.safe_load(value)
    base = path.resolve().parent
    if a.out_dir is not None:
        changes["out_dir"] = str(Path(a.out_dir).resolve())
    try:
        cfg = TrainConfig.model_validate({**cfg.model_dump(), **changes})
    except ValidationError as e:
        print(f"error: {path}: {e}", file=sys.stderr)
        return 2
    try:
        Trainer(cfg, base).run()
    except HearpipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted; resume by running the same command", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
