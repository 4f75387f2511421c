"""Throughput of the int16 matrix-vector kernel against float baselines and this CPU's peak, one core.

Run: `python benchmarks/bench_fixed_kernels.py [--rows 256 --cols 256 --seconds 0.5]`.

Printed, all measured in this process (best of several repeats, since the machine is shared):
- `matvec_acc64` (int16 weights x int16 data, exact int64 accumulators: the kernel the fixed-point
  path uses) and `matvec_acc32` (int32 accumulators, usable when `acc32_is_safe`), in MAC/s;
- a float32 numpy matvec of the same shape (BLAS sgemv, one thread);
- the same loop in float32 numba, as compiled for the float path (no fastmath: strict summation order,
  which LLVM may not vectorise) and with fastmath (reassociation allowed: the best float numba can do);
- the CPU's integer MAC peak, two ways: nominal = clock (/proc/cpuinfo) x 32 int16 MACs per cycle
  (x86: vpmaddwd on 256-bit registers does 16 MACs and issues on two ports, or on 512-bit registers
  32 MACs on one port; AVX-512 VNNI vpdpwssd does the same count); attainable = an int16 dot product
  on L1-resident data with int32 accumulators (no memory traffic, no widening to 64 bits), as numba's
  LLVM vectorises it - the best int16 MAC rate we could get from numba on this core.
- the fixed-point FFT pair (q31, N = 256): frames per second and the real-time factor at 16 kHz, hop 128.
"""

from __future__ import annotations

import os

for _v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from hearpipe.fixed.fft import FixedRfft  # noqa: E402
from hearpipe.fixed.linalg import matvec_acc32, matvec_acc64  # noqa: E402
from hearpipe.fixed.ops import new_ops  # noqa: E402


@njit("void(float32[:, ::1], float32[::1], float32[::1])", cache=True)
def matvec_f32_strict(w, x, y):
    for m in range(w.shape[0]):
        s = np.float32(0.0)
        for k in range(w.shape[1]):
            s += w[m, k] * x[k]
        y[m] = s


@njit("void(float32[:, ::1], float32[::1], float32[::1])", cache=True, fastmath=True)
def matvec_f32_fast(w, x, y):
    for m in range(w.shape[0]):
        s = np.float32(0.0)
        for k in range(w.shape[1]):
            s += w[m, k] * x[k]
        y[m] = s


@njit("int64(int16[::1], int16[::1], int64)", cache=True)
def _l1_dot_i16(a, b, reps):
    """reps passes of an int16 dot product over L1-resident vectors, int32 lanes (vpmaddwd)."""
    total = np.int64(0)
    for r in range(reps):
        s = np.int32(0)
        for i in range(a.shape[0]):
            s = np.int32(s + np.int32(a[i]) * np.int32(b[i]))
        total += s + r
    return total


def _best_rate(fn, work: float, seconds: float, repeats: int = 5) -> float:
    """Best work/s over `repeats` timed batches of about seconds/repeats each."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(seconds / repeats / once))
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = max(best, work * calls / (time.perf_counter() - t0))
    return best


def _clock_hz() -> float:
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        return max(mhz) * 1e6
    except (OSError, ValueError, IndexError):
        return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cols", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    m, k = a.rows, a.cols
    w = rng.integers(-32768, 32768, (m, k)).astype(np.int16)
    x = rng.integers(-32768, 32768, k).astype(np.int16)
    wf, xf = w.astype(np.float32), x.astype(np.float32)
    acc64, acc32, yf = np.empty(m, np.int64), np.empty(m, np.int32), np.empty(m, np.float32)
    ops = new_ops()
    macs = float(m * k)
    r = {
        "int16 matvec_acc64 (exact)": _best_rate(lambda: matvec_acc64(w, x, acc64, ops), macs, a.seconds),
        "int16 matvec_acc32": _best_rate(lambda: matvec_acc32(w, x, acc32, ops), macs, a.seconds),
        "float32 numpy (BLAS)": _best_rate(lambda: np.dot(wf, xf, out=yf), macs, a.seconds),
        "float32 numba strict": _best_rate(lambda: matvec_f32_strict(wf, xf, yf), macs, a.seconds),
        "float32 numba fastmath": _best_rate(lambda: matvec_f32_fast(wf, xf, yf), macs, a.seconds),
    }
    va, vb = w[0, :1024].copy() if k >= 1024 else np.resize(w[0], 1024), np.resize(x, 1024)
    reps = 2000
    attainable = _best_rate(lambda: _l1_dot_i16(va, vb, reps), 1024.0 * reps, a.seconds)
    clock = _clock_hz()
    nominal = clock * 32
    base = r["int16 matvec_acc64 (exact)"]
    print(f"matvec {m} x {k}, one core (NUMBA_NUM_THREADS=1), best of 5")
    for name, v in r.items():
        print(f"  {name:28s} {v / 1e9:8.2f} GMAC/s   int16/this = {base / v:6.2f}")
    print(
        f"  peak int16 MAC, attainable  {attainable / 1e9:8.2f} GMAC/s   int16/peak = {base / attainable:6.3f}"
    )
    print(
        f"  peak int16 MAC, nominal     {nominal / 1e9:8.2f} GMAC/s   int16/peak = {base / nominal:6.3f}"
        f"   ({clock / 1e9:.2f} GHz x 32 int16 MAC/cycle)"
    )
    n, hop, fs = 256, 128, 16000.0
    fr = FixedRfft(n, "q31")
    frames = 64
    xs = (rng.integers(-32768, 32768, (frames, n)).astype(np.int32) << 14).astype(np.int32)
    spec = np.empty((frames, n + 2), np.int32)
    back = np.empty((frames, n), np.int32)

    def fft_pair():
        fr.forward(xs, out=spec, ops=ops)
        fr.inverse(spec, out=back, ops=ops)

    fps = _best_rate(fft_pair, float(frames), a.seconds)
    print(
        f"q31 rfft+irfft N={n}: {fps:,.0f} frame pairs/s = {fps * hop / fs:,.0f}x real time at 16 kHz, hop {hop}"
    )


if __name__ == "__main__":
    main()
