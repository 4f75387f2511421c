"""`hearpipe fit AUDIOGRAM [--rule nal-r] [--ear left|right] [--json]`: prescribed insertion gain."""

from __future__ import annotations

import json

from hearpipe.dsp.prescription import RULES, fit_table


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="prescribe insertion gain from an audiogram (NAL-R, ...)",
        description="Insertion gain per frequency (dB, at the audiogram's frequencies in Hz) from an audiogram.",
    )
    p.add_argument("audiogram", help="audiogram file (YAML or JSON)")
    p.add_argument("--rule", default="nal-r", choices=RULES, help="prescription rule (default nal-r)")
    p.add_argument("--ear", choices=("left", "right"), help="ear to fit (default: the first ear in the file)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(a) -> int:
    r = fit_table(a.audiogram, a.rule, a.ear)
    if a.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"{r['audiogram']}: {r['rule']} insertion gain, {r['ear']} ear")
        for f, g in zip(r["frequencies_hz"], r["gain_db"]):
            print(f"  {f:7.0f} Hz  {g:6.1f} dB")
    return 0
