"""`hearpipe devices`: the shipped device profiles and their limits."""

from __future__ import annotations

import json

from hearpipe.budget.profiles import list_devices, load_device


def add_parser(sub) -> None:
    p = sub.add_parser(
        "devices",
        help="list shipped device profiles",
        description="List the shipped device profiles: arithmetic, clock (MHz), usable MIPS, RAM and ROM "
        "(KiB), latency limit (ms) and codec sample rates (Hz). Name one with --device.",
    )
    p.add_argument(
        "--json", action="store_true", help="machine-readable output: each whole profile, `device` its name"
    )
    p.set_defaults(run=run)


def run(a) -> int:
    profiles = {path.stem: load_device(path) for path in list_devices()}
    if a.json:
        print(json.dumps([{"device": n, **d.model_dump()} for n, d in profiles.items()], indent=2))
        return 0
    for name, d in profiles.items():
        print(
            f"{name}: {d.description or d.name}\n    {d.arithmetic}"
            f"{f' {d.word_bits}-bit' if d.fixed else ''}, {d.clock_mhz:g} MHz, {d.usable_mips:g} MIPS usable, "
            f"RAM {d.ram_kib:,.0f} KiB, ROM {d.rom_kib:,.0f} KiB, latency <= {d.max_latency_ms:g} ms, "
            f"rates {', '.join(f'{r:g}' for r in d.sample_rates_hz)} Hz"
        )
    return 0
