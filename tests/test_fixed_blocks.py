"""Fixed-point STFT/gain blocks: SQNR against the float path, bit-exact streaming, counted ops == cost."""

import numpy as np
import pytest

import hearpipe
from hearpipe.fixed.count import from_array
from hearpipe.fixed.qformat import fixed_to_float, float_to_fixed

from .conftest import REPO, chain

DEVICE = "hearing-aid-dsp"


def snr_db(ref, test):
    return 10 * np.log10(np.sum(ref**2) / max(np.sum((ref - test) ** 2), 1e-30))  # identical: 300 dB


def speech_like(rng, n, level=0.05):
    """Noise shaped like a speech spectrum, with a syllabic 4 Hz envelope."""
    x = np.convolve(rng.standard_normal(n), [1.0, 0.6, 0.2], mode="same")
    env = 0.3 + 0.7 * np.abs(np.sin(2 * np.pi * 2 * np.arange(n) / 16000))
    x = x * env
    return level * x / np.std(x)


def passthrough(fft):
    return hearpipe.load_graph(chain(("stft", {"fixed_fft": fft}), ("istft", {})), device=DEVICE)


@pytest.mark.parametrize("signal", ["speech_like", "full_scale_sine"])
def test_fixed_stft_passthrough_sqnr(signal, rng):
    n = 16000
    x = (
        speech_like(rng, n)
        if signal == "speech_like"
        else 0.99 * np.sin(2 * np.pi * 1000 * np.arange(n) / 16000)
    )
    xq = fixed_to_float(float_to_fixed(x, 15), 15)  # what the q15 codec delivers
    results = {}
    for fft in ("q31", "q15"):
        g = passthrough(fft)
        d = g.latency_samples
        y = g.run(x)[0]
        results[fft] = snr_db(xq[: n - d], y[d:])
    print(f"fixed STFT passthrough SNR ({signal}): q31 {results['q31']:.1f} dB, q15 {results['q15']:.1f} dB")
    assert results["q31"] >= 70.0
    assert results["q15"] >= 20.0  # CMSIS arm_rfft_q15 scaling loses log2(N) bits each way
    assert results["q31"] > results["q15"] + 20


def test_fixed_stft_gain_graph_tracks_float(rng):
    x = speech_like(rng, 32000)
    gf = hearpipe.load_graph(REPO / "graphs" / "stft_gain.yaml")
    gq = hearpipe.load_graph(REPO / "graphs" / "stft_gain.yaml", device=DEVICE)
    assert snr_db(gf.run(x)[0], gq.run(x)[0]) >= 60.0


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_fixed_graph_chunk_invariance(chunk, rng):
    g = hearpipe.load_graph(REPO / "graphs" / "stft_gain.yaml", device=DEVICE)
    x = speech_like(rng, 5000)
    whole = g.run(x)
    parts = [g.process(x[i : i + chunk]) for i in range(0, len(x), chunk)]
    assert np.array_equal(np.concatenate([*parts, g.flush()], axis=1), whole)


def test_fixed_mix_saturates_instead_of_wrapping():
    doc = {
        "nodes": [
            {"name": "a", "type": "gain", "params": {"gain_db": 6}, "inputs": ["input"]},
            {"name": "b", "type": "gain", "params": {"gain_db": 6}, "inputs": ["input"]},
            {"name": "m", "type": "mix", "inputs": ["a", "b"]},
        ]
    }
    g = hearpipe.load_graph(doc, device=DEVICE)
    y = g.run(np.full(64, 0.9))
    assert np.all(y == 32767 / 32768)  # saturated at the positive rail, no wrap to negative


@pytest.mark.parametrize("path", ["passthrough.yaml", "stft_gain.yaml"])
def test_counted_fft_ops_equal_the_budget(path, rng):
    """The budget's per-frame cost of stft/istft equals what the kernels count while running."""
    g = hearpipe.load_graph(REPO / "graphs" / path, device=DEVICE)
    frames = 40
    g.run(speech_like(rng, frames * 64))
    for name in ("analysis", "synthesis"):
        blk = g.blocks[name]
        counted = from_array(blk.ops)
        per_frame = blk.cost().ops
        assert {k: v / frames for k, v in counted.items()} == {k: v for k, v in per_frame.items() if v}


@pytest.mark.parametrize(
    "spec,name,hop",
    [
        (chain(("limiter", {})), "n0", 1),  # time domain: a frame is one sample
        (chain(("stft", {"fixed_fft": "q15"}), ("istft", {})), "n0", 64),  # + rounding the frame to q15
        (chain(("stft", {}), ("wdrc", {}), ("istft", {})), "n1", 64),
    ],
    ids=["time-limiter", "q15-stft", "wdrc"],
)
def test_counted_block_ops_equal_the_budget(spec, name, hop, rng):
    g = hearpipe.load_graph(spec, device=DEVICE)
    frames = 40
    g.run(speech_like(rng, frames * 64))
    blk = g.blocks[name]
    counted = {k: v / (frames * 64 // hop) for k, v in from_array(blk.ops).items()}
    assert counted == {k: v for k, v in blk.cost().ops.items() if v}
