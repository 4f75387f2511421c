"""Fit the device kernel prices to the measured cycle counts of `devices/calibration.json`.

For each (device, kernel) fit the calibration names: least squares of relative error over the sizes
measured with the implementation the device profile assumes (terms the fit `hold`s stay at their
estimate), the other implementations as factors; then leave-one-out (each size predicted by a fit to
the others) to show the fit generalises, and every row against the shipped profile's price.

    PYTHONPATH=. python benchmarks/fit_cycle_prices.py          # fitted prices, hold-outs, table
    PYTHONPATH=. python benchmarks/fit_cycle_prices.py --check  # exit 1 if a profile's price differs

tests/test_cycles.py runs the same fit and comparison.
"""

from __future__ import annotations

import argparse
import sys

from hearpipe.budget import calibration as cal
from hearpipe.budget.profiles import load_device


def fitted(doc: dict) -> list[tuple[dict, dict, object]]:
    """(fit entry, fitted terms, shipped price) for every fit the calibration names."""
    out = []
    for f in doc["fits"]:
        price = load_device(f["device"]).kernels[f["kernel"]]
        rows = [r for r in doc["rows"] if r["device"] == f["device"] and r["kernel"] == f["kernel"]]
        out.append((f, cal.fit(rows, price.implementation, f["hold"]), price))
    return out


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--check", action="store_true", help="fail when a shipped price differs from its fit")
    args = a.parse_args(argv)
    doc = cal.load_calibration()
    bad = 0
    print("fitted prices (cycles: per call, per output, per MAC or butterfly; alternatives as factors)")
    for f, fit, price in fitted(doc):
        same = all(abs(getattr(price, t) - fit[t]) <= 0.01 * max(1.0, abs(fit[t])) for t in cal.TERMS)
        same &= all(abs(price.alternatives.get(k, 0) - v) <= 0.01 for k, v in fit["alternatives"].items())
        bad += not same
        print(
            f"  {f['device']:<11} {f['kernel']:<9} overhead {fit['overhead']:9.3f}  per_output {fit['per_output']:7.3f}"
            f"  per_mac {fit['per_mac']:7.3f}  free {'+'.join(fit['free'])}  alternatives {fit['alternatives']}"
            f"{'' if same else '  <- profile differs'}"
        )
    print("\nleave one out: each size predicted by a fit to the other sizes")
    for f, _, price in fitted(doc):
        rows = [r for r in doc["rows"] if r["device"] == f["device"] and r["kernel"] == f["kernel"]]
        loo = cal.leave_one_out(rows, price.implementation, f["hold"])
        if not loo:
            print(f"  {f['device']:<11} {f['kernel']:<9} too few sizes to leave one out")
        for r, p in loo:
            print(f"  {f['device']:<11} {f['kernel']:<9} {r['size']!s:<26} predicted {p:10.0f}  "
                  f"measured {r['cycles']:10.0f}  ratio {p / r['cycles']:.3f}")  # fmt: skip
    print("\ncalibration table: shipped prices against every measurement")
    devices = {d: load_device(d) for d in {r["device"] for r in doc["rows"]}}
    for r in cal.table(devices, doc):
        size = r["size"] if "layers" not in r["size"] else "MLCommons AD"
        note = f"  explained: {r['explained']}" if "explained" in r else ""
        print(f"  {r['device']:<11} {r['kernel']:<9} {size!s:<26} {r['implementation']:<18} predicted "
              f"{r['predicted']:10.0f}  measured {r['cycles']:10.0f}  ratio {r['ratio']:.3f}{note}")  # fmt: skip
    return 1 if (args.check and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
