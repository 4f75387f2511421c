"""`hearpipe train CONFIG` / `python -m hearpipe.train CONFIG`: train (or resume) a GroupComm model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hearpipe.config import load_model
from hearpipe.errors import HearpipeError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="hearpipe train", description=__doc__.split(":")[1].strip())
    ap.add_argument("config", help="training config (YAML), e.g. examples/train_enhance.yaml")
    ap.add_argument("--max-steps", type=int, default=None, help="override max_steps")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop after this wall time")
    ap.add_argument("--out-dir", default=None, help="override out_dir (relative to the current folder)")
    ap.add_argument("--no-export", action="store_true", help="do not copy the best model to export_path")
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
    base = path.resolve().parent
    if a.out_dir is not None:
        changes["out_dir"] = str(Path(a.out_dir).resolve())
    cfg = cfg.model_copy(update=changes)
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
