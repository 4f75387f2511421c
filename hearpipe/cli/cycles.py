"""`hearpipe cycles KERNEL --device D [sizes]`: the cycles one kernel call costs on a device."""

from __future__ import annotations

import json

from hearpipe.budget.calibration import kernel_call
from hearpipe.budget.profiles import load_device
from hearpipe.errors import InvalidInput
from hearpipe.fixed.count import KERNEL_FAMILIES


def add_parser(sub) -> None:
    p = sub.add_parser(
        "cycles",
        help="cycles of one kernel call on a device (compare with your board's measurement)",
        description="Price one kernel call with a device's calibrated kernel prices: call overhead + per "
        "output + per MAC (FFT: per radix-2 butterfly), with the range over the implementations the "
        "profile names. Sizes: fir_* --taps --block; rfft_* --n; dense_*/gru_*/lstm_* --rows (outputs or "
        "hidden units) --cols (inputs); conv_* --rows --cols --taps --block.",
    )
    p.add_argument("kernel", choices=KERNEL_FAMILIES, metavar="KERNEL", help=", ".join(KERNEL_FAMILIES))
    p.add_argument("--device", required=True, help="device profile name or file (see `hearpipe devices`)")
    for name, what in (("taps", "filter taps"), ("block", "samples per call"), ("n", "FFT length"),
                       ("rows", "outputs / hidden units"), ("cols", "inputs")):  # fmt: skip
        p.add_argument(f"--{name}", type=int, help=what)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(a) -> int:
    dev = load_device(a.device)
    sizes = {k: getattr(a, k) for k in ("taps", "block", "n", "rows", "cols")}
    if any(v is not None and v < 1 for v in sizes.values()):
        raise InvalidInput("sizes must be positive integers")
    call = kernel_call(a.kernel, **sizes)
    price = dev.kernels.get(a.kernel)
    if price is None:
        raise InvalidInput(
            f"device '{dev.name}' has no price for {a.kernel} (priced: {', '.join(dev.kernels) or 'none'})"
        )
    cycles = price.cycles(call)
    lo, hi = price.range
    out = {
        "kernel": a.kernel,
        "device": dev.name,
        "size": {k: v for k, v in sizes.items() if v},
        "calls": call.calls,
        "outputs": call.outputs,
        "macs": call.macs,
        "cycles": cycles,
        "cycles_range": [cycles * lo, cycles * hi],
        "cycles_per_mac": cycles / call.macs,
        "us_at_clock": cycles / dev.clock_mhz,
        "clock_mhz": dev.clock_mhz,
        "price": price.model_dump(),
        "source": dev.sources[f"kernels.{a.kernel}"],
    }
    if a.json:
        print(json.dumps(out, indent=2))
        return 0
    size = ", ".join(f"{k} {v}" for k, v in out["size"].items())
    print(
        f"{a.kernel} ({size}) on '{dev.name}': {cycles:,.0f} cycles ({cycles * lo:,.0f}-{cycles * hi:,.0f} over "
        f"implementations), {cycles / call.macs:.2f} cycles per {'butterfly' if a.kernel.startswith('rfft') else 'MAC'}, "
        f"{cycles / dev.clock_mhz:,.1f} us at {dev.clock_mhz:g} MHz\n"
        f"  = {price.overhead:g} x {call.calls:g} calls + {price.per_output:g} x {call.outputs:g} outputs + "
        f"{price.per_mac:g} x {call.macs:g} {'butterflies' if a.kernel.startswith('rfft') else 'MACs'} "
        f"({price.status}, assumed implementation {price.implementation}"
        f"{', alternatives ' + ', '.join(f'{k} x{v:g}' for k, v in price.alternatives.items()) if price.alternatives else ''})"
    )
    return 0
