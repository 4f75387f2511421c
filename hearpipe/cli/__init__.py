"""The `hearpipe` command: one argparse tree built from the command modules, errors mapped to exit codes.

Exit codes: 0 success, 1 internal error, 2 invalid input (file, option, audio), 3 over a device budget.
Each command is a module here with `add_parser(sub)`, which adds its subparser and sets `run`, and
`run(args) -> int`; it raises `hearpipe.errors` exceptions, which `main` turns into one readable line.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from hearpipe import __version__
from hearpipe.cli import (
    blocks,
    budget,
    check,
    compress,
    devices,
    evaluate,
    fit,
    graphs,
    measure,
    render,
    train,
)
from hearpipe.errors import HearpipeError

COMMANDS = (render, budget, check, graphs, blocks, devices, fit, measure, train, evaluate, compress)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hearpipe",
        description="Hearing-aid signal-processing graphs: render, "
        "budget and check them, float or bit-true fixed point.",
    )
    p.add_argument("--version", action="version", version=f"hearpipe {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        a = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help and --version exit 0, usage errors 2
        return int(e.code or 0)
    try:
        return a.run(a)
    except HearpipeError as e:
        if a.debug:
            traceback.print_exc()
        print(f"hearpipe: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("hearpipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # an internal error: say so plainly, traceback on --debug
        if a.debug:
            traceback.print_exc()
        print(
            f"hearpipe: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
