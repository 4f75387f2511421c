"""Render speed and memory of an STFT -> gain -> iSTFT graph, on one core.

Prints real-time factors (audio seconds per wall second) for
  (a) whole-file rendering through Graph.process in 65536-sample reads,
  (b) hop-by-hop streaming, 16 samples per Graph.process call (what a live demo pays),
and, as a baseline run in the same process, scipy.signal's batch STFT -> gain -> iSTFT of the same
signal; then (c) the peak resident memory of `hearpipe render` on a one-hour file (in a subprocess).

    python benchmarks/bench_render.py [--minutes-streamed 1] [--skip-hour]
Targets (issue 2): (a) >= 300x, (b) >= 20x real time, (c) peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy.signal
import soundfile as sf

import hearpipe

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "graphs" / "stft_gain.yaml"
SR = 16000


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600.0, help="audio length for (a), in s")
    ap.add_argument("--streamed-seconds", type=float, default=30.0, help="audio length for (b), in s")
    ap.add_argument("--skip-hour", action="store_true", help="skip (c), the one-hour file")
    a = ap.parse_args()

    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(int(a.seconds * SR))
    g = hearpipe.load_graph(GRAPH)
    g.run(x[:SR])  # compile numba kernels before timing

    def whole():
        g.reset()
        for i in range(0, len(x), 65536):
            g.process(x[i : i + 65536])
        g.flush()

    t_whole = timed(whole)

    shaping = 10 ** ((g.blocks["shaping"].gain_db + g.blocks["volume"].params.gain_db) / 20)

    def scipy_batch():
        _, _, Z = scipy.signal.stft(x, SR, window="hann", nperseg=128, noverlap=64)
        scipy.signal.istft(Z * shaping[:, None], SR, window="hann", nperseg=128, noverlap=64)

    t_scipy = timed(scipy_batch)

    xs = x[: int(a.streamed_seconds * SR)]

    def hop_by_hop():
        g.reset()
        for i in range(0, len(xs), 16):
            g.process(xs[i : i + 16])

    t_hop = timed(hop_by_hop, repeat=1)

    print(f"graph: {GRAPH.name} (block {g.block_size} samples, latency {g.latency_ms:.1f} ms), one core")
    print(
        f"(a) whole file, {a.seconds:.0f} s:        {a.seconds / t_whole:9.0f}x real time   (target >= 300x)"
    )
    print(
        f"    scipy batch stft/istft baseline:  {a.seconds / t_scipy:9.0f}x real time   "
        f"(hearpipe/scipy speed ratio {t_scipy / t_whole:.2f})"
    )
    print(
        f"(b) 16-sample hops, {a.streamed_seconds:.0f} s:      {a.streamed_seconds / t_hop:9.0f}x real time   "
        f"(target >= 20x; {1e6 * t_hop / (len(xs) / 16):.1f} us per call)"
    )

    if a.skip_hour:
        return
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "hour.flac", Path(d) / "out.flac"
        with sf.SoundFile(src, "w", SR, 1, subtype="PCM_16") as f:
            for _ in range(60):
                f.write(0.1 * rng.standard_normal(60 * SR))
        t0 = time.perf_counter()
        # VmHWM of the child's own address space: ru_maxrss would carry over this (large) parent's peak,
        # because Linux keeps it across fork + exec
        code = (
            "import hearpipe, re; "
            f"hearpipe.render({str(GRAPH)!r}, {str(src)!r}, {str(dst)!r}, progress=False); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        rss_mb = int(out.stdout.strip().splitlines()[-1]) / 1024
        print(
            f"(c) one-hour FLAC render:          peak RSS {rss_mb:6.0f} MB (target < 300 MB), "
            f"{3600 / wall:.0f}x real time including FLAC decode/encode"
        )


if __name__ == "__main__":
    main()
