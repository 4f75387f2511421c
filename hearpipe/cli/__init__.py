"""The `hearpipe` command: parses arguments, calls the API, maps errors to exit codes.

Exit codes: 0 success, 1 internal error, 2 invalid input (file, option, audio), 3 over a device budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from hearpipe.cli import train
from hearpipe.errors import HearpipeError, InvalidInput


def _cmd_render(a) -> int:
    from hearpipe.render_files import render

    results = render(
        a.graph,
        a.inputs,
        a.output,
        device=a.device,
        enforce=not a.no_enforce,
        compensate_latency=a.compensate_latency,
        progress=False if a.quiet else None,
    )
    for r in results:
        print(
            f"{r.input} -> {r.output}: {r.duration_s:.2f} s of audio in {r.seconds:.2f} s "
            f"({r.realtime_factor:.3g}x real time)"
        )
    return 0


def _cmd_budget(a) -> int:
    from hearpipe import load_graph

    g = load_graph(a.graph, device=a.device)
    rep = g.budget()
    print(json.dumps(rep.to_dict(), indent=2) if a.json else rep.table())
    if not rep.fits:
        rep.check()
    return 0


def _kind_of(doc: dict) -> str:
    if "nodes" in doc:
        return "graph"
    if "cycles_per_op" in doc or "arithmetic" in doc:
        return "device"
    if "frequencies_hz" in doc and ("left_db_hl" in doc or "right_db_hl" in doc):
        return "audiogram"
    return "unknown"


def _cmd_check(a) -> int:
    from hearpipe import load_graph
    from hearpipe.budget.device import DeviceProfile
    from hearpipe.config import load_model, read_document

    failures = 0
    for f in a.files:
        try:
            kind = _kind_of(read_document(f))
            if kind == "graph":
                g = load_graph(f)
                what = f"graph, {len(g.blocks)} nodes, latency {g.latency_ms:.3f} ms"
            elif kind == "device":
                d = load_model(DeviceProfile, f)
                what = f"device '{d.name}' ({d.arithmetic}, {d.usable_mips:g} MIPS, {d.ram_kib:,.0f} KiB RAM)"
            elif kind == "audiogram":
                from hearpipe.dsp.audiogram import load_audiogram

                load_audiogram(f)
                what = "audiogram"
            else:
                raise InvalidInput(
                    f"{f}: not a graph (nodes:), device profile (cycles_per_op:) or audiogram "
                    "(frequencies_hz:)"
                )
            print(f"{f}: ok ({what})")
        except HearpipeError as e:
            failures += 1
            print(f"{e}", file=sys.stderr)
    return 2 if failures else 0


def _type_name(ann) -> str:
    from typing import Literal, get_args, get_origin

    if get_origin(ann) is Literal:
        return "one of " + "|".join(map(str, get_args(ann)))
    s = str(ann) if get_args(ann) else getattr(ann, "__name__", str(ann))
    return s.replace("typing.", "")


def _cmd_blocks(a) -> int:
    from hearpipe.graph.registry import block_types

    for name, cls in block_types().items():
        print(f"{name}: {cls.summary}")
        for field, info in cls.Params.model_fields.items():
            default = (
                "required"
                if info.is_required()
                else f"default {info.get_default(call_default_factory=True)!r}"
            )
            print(f"    {field} ({_type_name(info.annotation)}; {default}): {info.description or ''}")
    return 0


def _cmd_devices(a) -> int:
    from hearpipe.budget.device import list_devices
    from hearpipe.budget.profiles import load_device

    for path in list_devices():
        d = load_device(path)
        print(
            f"{path.stem}: {d.description or d.name}\n    {d.arithmetic}"
            f"{f' {d.word_bits}-bit' if d.fixed else ''}, {d.clock_mhz:g} MHz, {d.usable_mips:g} MIPS usable, "
            f"RAM {d.ram_kib:,.0f} KiB, ROM {d.rom_kib:,.0f} KiB, latency <= {d.max_latency_ms:g} ms, "
            f"rates {', '.join(f'{r:g}' for r in d.sample_rates_hz)} Hz"
        )
    return 0


def _delegate(module: str, func: str):
    def run(a) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), func)(a.args) or 0)

    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hearpipe",
        description="Hearing-aid signal-processing graphs: render, "
        "budget and check them, float or bit-true fixed point.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("render", help="render audio files through a graph")
    r.add_argument("graph", help="graph file (YAML)")
    r.add_argument("inputs", nargs="+", help="input audio files (WAV, FLAC, OGG)")
    r.add_argument("-o", "--output", required=True, help="output file (one input) or folder (several)")
    r.add_argument("--device", help="device profile name or file: run its arithmetic, enforce its budget")
    r.add_argument("--no-enforce", action="store_true", help="render even if the graph is over the budget")
    r.add_argument(
        "--compensate-latency",
        action="store_true",
        help="shift the output back by the graph's latency (time-aligned with the input)",
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(run=_cmd_render)

    b = sub.add_parser("budget", help="per-block MIPS, RAM, ROM, latency against a device's limits")
    b.add_argument("graph")
    b.add_argument("--device", required=True, help="device profile name or file")
    b.add_argument("--json", action="store_true", help="machine-readable output")
    b.set_defaults(run=_cmd_budget)

    c = sub.add_parser("check", help="validate graph, device and audiogram files")
    c.add_argument("files", nargs="+")
    c.set_defaults(run=_cmd_check)

    sub.add_parser("blocks", help="list block types and their parameters").set_defaults(run=_cmd_blocks)
    sub.add_parser("devices", help="list shipped device profiles").set_defaults(run=_cmd_devices)

    for name, module, func, help_ in (
        ("fit", "hearpipe.fit_cli", "main", "prescribe insertion gain from an audiogram (NAL-R, ...)"),
        ("measure", "hearpipe.measure_cli", "main", "ANSI S3.22-style test-box measurements of a graph"),
    ):
        s = sub.add_parser(name, help=help_, add_help=False)
        s.add_argument("args", nargs=argparse.REMAINDER)
        s.set_defaults(run=_delegate(module, func))
    train.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        a, extra = parser.parse_known_args(argv)
        if hasattr(a, "args"):  # fit/measure/train parse their own options (argparse's REMAINDER drops a
            a.args = a.args + extra  # leading option such as --help)
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # argparse: usage errors are exit 2 already
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
        import os

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


if __name__ == "__main__":
    sys.exit(main())
