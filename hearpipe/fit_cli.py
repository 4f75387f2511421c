"""`hearpipe fit AUDIOGRAM [--rule nal-r] [--ear left|right] [--json]`: prescribed insertion gain."""

from __future__ import annotations

import argparse
import json

from hearpipe.dsp.prescription import RULES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hearpipe fit", description="Insertion gain per frequency from an audiogram."
    )
    p.add_argument("audiogram", help="audiogram file (YAML or JSON)")
    p.add_argument("--rule", default="nal-r", choices=RULES, help="prescription rule (default nal-r)")
    p.add_argument("--ear", choices=("left", "right"), help="ear to fit (default: the first ear in the file)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: list[str]) -> int:
    try:
        a = build_parser().parse_args(argv)
    except SystemExit as e:  # usage errors: argparse printed the message; exit code 2
        return int(e.code or 0)
    from hearpipe.dsp.prescription import fit_table

    r = fit_table(a.audiogram, a.rule, a.ear)
    if a.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{r['audiogram']}: {r['rule']} insertion gain, {r['ear']} ear")
        for f, g in zip(r["frequencies_hz"], r["gain_db"]):
            print(f"  {f:7.0f} Hz  {g:6.1f} dB")
    return 0
