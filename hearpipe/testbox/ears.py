"""The test box per ear: which ear each output channel is, the arithmetic that ran, the nodes that adapt to
their input (a test box measures a hearing aid in test mode, with them off) and the prescription target a
fitted graph carries, so each measurement and plot says what it measured.

`measure_ears(graph, ears=None)` measures every channel (or the channels of the named ears) with
`hearpipe.testbox.measure.measure` and returns the per-ear list with those labels.
"""

from __future__ import annotations

from typing import Any

from hearpipe.errors import InvalidInput
from hearpipe.testbox.measure import measure

# node types whose gain follows the signal over seconds (noise reduction): steady test tones are what they
# are built to suppress, so ANSI test-box figures are only meaningful with them bypassed
ADAPTIVE_TYPES = ("groupcomm",)
FITTING_TYPES = ("wdrc", "prescription", "prescription_fir")


def adaptive_nodes(graph) -> list[str]:
    return [n for n in graph.order if graph.blocks[n].type_name in ADAPTIVE_TYPES]


def arithmetic(graph) -> str:
    """'float' or 'fixed point of DEVICE (q15 audio)': the arithmetic a measurement of `graph` ran in."""
    if graph.device is None or not graph.device.fixed:
        return "float" if graph.device is None else f"float ({graph.device.name})"
    return f"fixed point of {graph.device.name} ({graph.in_format.numeric} audio)"


def channel_targets(graph) -> list[dict[str, Any] | None]:
    """Per channel: the prescription target of the graph's first fitted node ({'node', 'ear', 'rule',
    'frequencies_hz', 'target_db'}: insertion gain for speech at 65 dB SPL), or None when it holds none."""
    for name in graph.order:
        b = graph.blocks[name]
        if b.type_name not in FITTING_TYPES or getattr(b.params, "audiogram", None) is None:
            continue
        if getattr(b, "fits", None):  # wdrc: the fitted ear and target per channel
            rows = [(f.ear, f.frequencies_hz, f.target_db) for f in b.fits]
        else:  # prescription, prescription_fir: the rule's gain points per channel
            rows = [(None, f, g) for f, g in b.points]
        return [
            {
                "node": name,
                "ear": ear,
                "rule": b.params.rule,
                "frequencies_hz": [float(v) for v in f],
                "target_db": [round(float(v), 2) for v in g],
            }
            for ear, f, g in rows
        ]
    return [None] * graph.channels


def channel_ears(graph) -> list[str]:
    """The ear of each output channel: the fitted ear where the graph is fitted to an audiogram, else left
    and right for channels 0 and 1 of a 2-channel graph (the fitted graphs' convention), else 'mono'."""
    targets = channel_targets(graph)
    ears = [t["ear"] if t and t["ear"] else None for t in targets]
    if all(ears):
        return ears
    if graph.channels == 2:
        return ["left", "right"]
    return (
        ["mono"] * graph.channels if graph.channels == 1 else [f"channel {c}" for c in range(graph.channels)]
    )


def adaptive_note(graph) -> str | None:
    """What to tell a user who measures with adaptive nodes active; None when there are none."""
    nodes = adaptive_nodes(graph)
    if not nodes:
        return None
    flags = " ".join(f"--bypass {n}" for n in nodes)
    return (
        f"adaptive node(s) active: {', '.join(nodes)} (noise reduction treats steady test tones as noise, so "
        f"gains, attack/release and distortion here are not the aid's): a test box measures a hearing aid in "
        f"test mode, with them off; measure again with {flags}"
    )


def measure_ears(graph, ears: list[str] | None = None, *, quick: bool = False, bypassed=()) -> list[dict]:
    """`measure` for each output channel (or those whose ear is in `ears`), each result labelled with its
    'ear', 'arithmetic', 'bypassed' nodes, 'label' (one line for titles) and 'target' (or None)."""
    names = channel_ears(graph)
    targets = channel_targets(graph)
    chosen = [c for c, e in enumerate(names) if ears is None or e in ears]
    if not chosen:
        raise InvalidInput(
            f"--ear {' '.join(ears or [])}: the graph's channels are {', '.join(names)} "
            f"({graph.channels} channel(s))"
        )
    arith, active = arithmetic(graph), adaptive_nodes(graph)
    out = []
    for c in chosen:
        r = measure(graph, quick=quick, channel=c)
        label = (
            f"{r['graph']}, {names[c]} ear, {arith}"
            if names[c] in ("left", "right")
            else (f"{r['graph']}, {names[c]}, {arith}")
        )
        if bypassed:
            label += f", {', '.join(bypassed)} bypassed"
        if active:
            label += f", {', '.join(active)} active (not test mode)"
        r.update(ear=names[c], arithmetic=arith, bypassed=list(bypassed), label=label, target=targets[c])
        out.append(r)
    return out
