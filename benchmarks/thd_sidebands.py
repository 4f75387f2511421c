"""Where the THD at 500 Hz of graphs/hearing_aid.yaml (test mode: groupcomm bypassed) comes from: the
output spectrum of a steady 70 dB SPL tone at 500 Hz and at 530 Hz, its components at f + k * 250 Hz (the
frame rate of the hop-64 STFT at 16 kHz) relative to the fundamental, and the ANSI THD, for the shipped
compressor (float and hearing-aid-dsp) and the same compressor made linear (ratio 1). Prints a Markdown table.

    python benchmarks/thd_sidebands.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import yaml

from hearpipe.graph.edit import bypass
from hearpipe.graph.engine import load_graph
from hearpipe.testbox.measure import _Box, harmonic_distortion

REPO = Path(__file__).resolve().parents[1]
LEVEL_DB_SPL = 70.0
FRAME_RATE_HZ = 250.0  # 16000 Hz / hop 64


def variants():
    doc = yaml.safe_load((REPO / "graphs/hearing_aid.yaml").read_text())
    wdrc = next(n for n in doc["nodes"] if n["type"] == "wdrc")
    wdrc["params"]["audiogram"] = str(REPO / "examples/audiograms" / Path(wdrc["params"]["audiogram"]).name)
    linear = copy.deepcopy(doc)
    next(n for n in linear["nodes"] if n["type"] == "wdrc")["params"].update(ratio=1.0, expansion_ratio=1.0)
    return [("shipped, float", doc, None), ("shipped, hearing-aid-dsp", doc, "hearing-aid-dsp"),
            ("compressor ratio 1, float", linear, None)]  # fmt: skip


def components_db(graph, f: float) -> list[float]:
    """Levels (dB re the fundamental) of the output at f + k * FRAME_RATE_HZ, k = 1..4 (0.5 s, 2 Hz bins)."""
    box = _Box(graph)
    y = box.guarded(box.tone(f, [LEVEL_DB_SPL], 1.0), f)[round(box.fs / 4) :][: int(box.fs) // 2]
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size))) ** 2
    df = box.fs / y.size

    def level(fh):
        k = round(fh / df)
        return 10 * np.log10(np.sum(spec[k - 3 : k + 4]))

    return [level(f + k * FRAME_RATE_HZ) - level(f) for k in range(1, 5)]


def main() -> None:
    print("| graph (groupcomm bypassed) | tone | THD | +250 Hz | +500 Hz | +750 Hz | +1000 Hz |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, doc, device in variants():
        g = bypass(load_graph(doc, device=device), ["groupcomm"])
        for f in (500.0, 530.0):
            thd = harmonic_distortion(g, ((f, LEVEL_DB_SPL),))[0]["thd_percent"]
            cells = " | ".join(f"{v:.1f} dB" for v in components_db(g, f))
            print(f"| {label} | {f:g} Hz | {thd:.2f} % | {cells} |", flush=True)


if __name__ == "__main__":
    main()
