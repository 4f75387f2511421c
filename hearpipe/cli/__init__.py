"""The `hearpipe` command: one argparse tree built from the command modules, errors mapped to exit codes.

Exit codes: 0 success, 1 internal error, 2 invalid input (file, option, audio), 3 over a device budget,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Each command is a module here with `add_parser(sub)`, which adds its subparser and sets `run`, and
`run(args) -> int`; it raises `hearpipe.errors` exceptions, which `main` turns into one readable line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
import warnings

from hearpipe import __version__
from hearpipe.cli import (
    blocks,
    budget,
    check,
    compress,
    cycles,
    devices,
    eval,
    evaluate,
    fit,
    graphs,
    measure,
    render,
    report,
    train,
)
from hearpipe.errors import HearpipeError

COMMANDS = (
    render,
    eval,
    report,
    budget,
    cycles,
    check,
    graphs,
    blocks,
    devices,
    fit,
    measure,
    train,
    evaluate,
    compress,
)


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
    for command_parser in sub.choices.values():  # `hearpipe render ... --debug` as well as before it
        command_parser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
        )
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a job scheduler's stop): unwinds like Ctrl-C, so temporary files are removed."""


def _on_sigterm(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    try:
        a = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help and --version exit 0, usage errors 2
        return int(e.code or 0)
    in_main_thread = threading.current_thread() is threading.main_thread()  # signals go to the main thread
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _run(a)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(a: argparse.Namespace) -> int:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = a.run(a)
        _report_warnings(caught, a.debug)
        return code
    except HearpipeError as e:
        if a.debug:
            traceback.print_exc()
        print(f"hearpipe: error: {e}", file=sys.stderr)
        return e.exit_code
    except Terminated:
        print("hearpipe: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
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
            f"hearpipe: internal error: {type(e).__name__}: {' '.join(str(e).split())[:300]} (run with "
            "--debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def _report_warnings(caught: list[warnings.WarningMessage], debug: bool) -> None:
    """Warnings of numeric code are the program's business, not the user's: one notice line (all of
    them, with their source lines, on --debug) instead of a library's two-line message per warning."""
    if not caught:
        return
    if debug:
        for w in caught:
            print(
                warnings.formatwarning(w.message, w.category, w.filename, w.lineno), file=sys.stderr, end=""
            )
        return
    first = " ".join(str(caught[0].message).split())[:100]
    print(
        f"hearpipe: notice: {len(caught)} numeric warning(s) during the run (first: {first}); "
        "run with --debug for details",
        file=sys.stderr,
    )
