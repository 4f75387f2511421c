"""Fixed-point vs float rendering of the STFT -> gain -> iSTFT graph, on one core.

    python benchmarks/bench_fixed_graph.py [--seconds 120]
Prints the real-time factor of the bit-true fixed-point graph (device hearing-aid-dsp) and of its float
twin, measured in the same process, and their ratio. Aim (issue 3): fixed >= 200x real time.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import hearpipe

GRAPH = Path(__file__).resolve().parents[1] / "graphs" / "stft_gain.yaml"


def rtf(graph, x, sr=16000, repeat=3) -> float:
    graph.run(x[:sr])  # compile
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        graph.reset()
        for i in range(0, len(x), 65536):
            graph.process(x[i : i + 65536])
        graph.flush()
        best = min(best, time.perf_counter() - t0)
    return len(x) / sr / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120.0)
    a = ap.parse_args()
    x = 0.05 * np.random.default_rng(0).standard_normal(int(a.seconds * 16000))
    r_float = rtf(hearpipe.load_graph(GRAPH), x)
    r_fixed = rtf(hearpipe.load_graph(GRAPH, device="hearing-aid-dsp"), x)
    print(f"{GRAPH.name}, {a.seconds:.0f} s of audio, one core")
    print(f"  float64 reference:        {r_float:8.0f}x real time")
    print(f"  fixed point (q31 FFT):    {r_fixed:8.0f}x real time   (target >= 200x)")
    print(f"  fixed / float speed:      {r_fixed / r_float:8.2f}")


if __name__ == "__main__":
    main()
