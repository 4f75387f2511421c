"""Kernel prices against measured cycle counts: one kernel call from its sizes, the calibration data
(`devices/calibration.json`), the fit of a family's prices to it and the prediction of every row."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np

from hearpipe.budget.device import DeviceProfile, KernelPrice
from hearpipe.config import read_document
from hearpipe.errors import InvalidInput
from hearpipe.fixed import count
from hearpipe.shipped import shipped_dir

TERMS = ("overhead", "per_output", "per_mac")

# the sizes each family's call needs (the options of `hearpipe cycles`)
SIZES = {"fir": ("taps", "block"), "rfft": ("n",), "dense": ("rows", "cols"), "gru": ("rows", "cols"),
         "lstm": ("rows", "cols"), "conv": ("rows", "cols", "taps", "block")}  # fmt: skip


def kernel_call(family: str, **size) -> count.KernelCall:
    """One call of `family` (e.g. fir_q15 with taps and block; rfft_q31 with n; dense_s8 with rows
    (outputs) and cols (inputs); gru/lstm with rows (hidden units) and cols (inputs); conv with rows
    (output channels), cols (input channels), taps and block (output samples)), or a chain of dense
    layers given as `layers` (the calibration's networks)."""
    if family not in count.KERNEL_FAMILIES:
        raise InvalidInput(f"unknown kernel {family!r}; known: {', '.join(count.KERNEL_FAMILIES)}")
    kind, width = family.split("_")
    if kind == "dense" and size.get("layers"):
        ls = size["layers"]
        calls = [count.dense_call(o, i, 1, 8 if width == "s8" else 16) for i, o in pairwise(ls)]
        total = sum((c.ops for c in calls), count.Counter())
        return count.KernelCall(
            family, len(calls), sum(c.outputs for c in calls), sum(c.macs for c in calls), total
        )
    missing = [s for s in SIZES[kind] if not size.get(s)]
    if missing:
        raise InvalidInput(f"{family} needs {', '.join('--' + m for m in missing)} (positive integers)")
    s = {k: int(v) for k, v in size.items() if v}
    bits = 8 if width == "s8" else 16
    try:
        if kind == "fir":
            ops = count.fir_q15(1, s["block"], s["taps"])  # the q15 kernel's counts; the width sets the price
            return count.fir_call(width, 1, s["block"], s["taps"], ops)
        if kind == "rfft":
            return count.rfft_call(width, s["n"])
        if kind == "dense":
            return count.dense_call(s["rows"], s["cols"], 1, bits)
        if kind in ("gru", "lstm"):
            return count.rnn_call(kind, s["cols"], s["rows"], 1, 1, bits)
        return count.conv_call(s["rows"], s["cols"], s["taps"], s["block"], 1, bits)
    except ValueError as e:
        raise InvalidInput(f"{family}: {e}") from None


def load_calibration(path: str | Path | None = None) -> dict:
    """The calibration document: `sources`, `fits` (what each family's fit holds) and `rows`."""
    return read_document(path or shipped_dir("devices") / "calibration.json")


def row_call(row: dict) -> count.KernelCall:
    return kernel_call(row["kernel"], **row["size"])


def predict(price: KernelPrice, row: dict) -> float:
    """The cycles `price` predicts for a calibration row, at the row's implementation."""
    c = price.cycles(row_call(row))
    if row["implementation"] == price.implementation:
        return c
    if row["implementation"] not in price.alternatives:
        raise KeyError(f"{row['kernel']}: no price for implementation {row['implementation']!r}")
    return c * price.alternatives[row["implementation"]]


def fit(rows: list[dict], implementation: str, hold: dict[str, float]) -> dict:
    """Least squares of relative error over the rows of the assumed `implementation`: the terms not in
    `hold` fitted, then each other implementation's factor (least squares of its rows' ratios)."""
    own = [r for r in rows if r["implementation"] == implementation]
    if not own:
        raise ValueError(f"no rows measured with {implementation!r}")
    calls = [row_call(r) for r in own]
    x = np.array([[c.calls, c.outputs, c.macs] for c in calls], float)
    y = np.array([r["cycles"] for r in own], float)
    free = [i for i, t in enumerate(TERMS) if t not in hold]
    held = np.array([hold.get(t, 0.0) for t in TERMS])
    w = 1.0 / y  # relative error
    sol = np.linalg.lstsq(x[:, free] * w[:, None], (y - x @ held) * w, rcond=None)[0]
    terms = {t: float(v) for t, v in zip(TERMS, held)}
    terms.update({TERMS[i]: float(v) for i, v in zip(free, sol)})
    base = {t: round(v, 3) for t, v in terms.items()}
    alternatives = {}
    for impl in sorted({r["implementation"] for r in rows} - {implementation}):
        p = np.array(
            [sum(base[t] * v for t, v in zip(TERMS, _terms(r))) for r in rows if r["implementation"] == impl]
        )
        m = np.array([r["cycles"] for r in rows if r["implementation"] == impl], float)
        alternatives[impl] = round(float(np.sum(m / p) / len(p)), 3)  # mean ratio over its rows
    return {**base, "alternatives": alternatives, "free": [TERMS[i] for i in free], "rows": len(own)}


def _terms(row: dict) -> tuple[float, float, float]:
    c = row_call(row)
    return c.calls, c.outputs, c.macs


def leave_one_out(rows: list[dict], implementation: str, hold: dict[str, float]) -> list[tuple[dict, float]]:
    """Each row of the assumed implementation predicted by a fit to the others: (row, predicted cycles).
    Empty where the others are too few to fit the free terms."""
    own = [r for r in rows if r["implementation"] == implementation]
    if len(own) - 1 <= 3 - len(hold):  # the others must over-determine the free terms
        return []
    out = []
    for r in own:
        f = fit([o for o in own if o is not r], implementation, hold)
        out.append((r, sum(f[t] * v for t, v in zip(TERMS, _terms(r)))))
    return out


def table(devices: dict[str, DeviceProfile], doc: dict) -> list[dict]:
    """Every calibration row against its device's shipped price: prediction, measurement, ratio."""
    out = []
    for r in doc["rows"]:
        price = devices[r["device"]].kernels[r["kernel"]]
        p = predict(price, r)
        out.append({**r, "predicted": p, "ratio": p / r["cycles"]})
    return out
