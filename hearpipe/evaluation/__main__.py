"""`python -m hearpipe.evaluation WEIGHTS ...`: the `hearpipe evaluate` command on its own."""

from __future__ import annotations

import argparse
import sys

from hearpipe.cli.evaluate import add_parser


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hearpipe.evaluation")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(["evaluate", *(sys.argv[1:] if argv is None else argv)])
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
