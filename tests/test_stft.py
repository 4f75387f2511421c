"""STFT/iSTFT: exact reconstruction, latency, oracles (scipy), chunk invariance."""

import numpy as np
import pytest
import scipy.signal

import hearpipe
from hearpipe.dsp.windows import analysis_window
from hearpipe.errors import InvalidInput

from .conftest import chain

CONFIGS = [  # window, window_length, hop, n_fft
    ("sqrt_hann", 128, 64, None),
    ("hann", 256, 64, 512),
    ("hamming", 200, 50, 256),
    ("rect", 64, 16, 64),
    ("blackman", 96, 24, 128),
]


def passthrough(window, length, hop, n_fft, **kw):
    params = {"window": window, "window_length": length, "hop": hop}
    if n_fft:
        params["n_fft"] = n_fft
    return hearpipe.load_graph(chain(("stft", params), ("istft", {}), **kw))


@pytest.mark.parametrize("window,length,hop,n_fft", CONFIGS)
def test_passthrough_reconstructs_exactly_with_reported_latency(window, length, hop, n_fft, rng):
    g = passthrough(window, length, hop, n_fft)
    x = rng.standard_normal(8000)
    y = g.run(x)[0]
    d = g.latency_samples
    assert d == ((n_fft or length) + length) // 2 - hop  # openMHA's formula
    assert np.max(np.abs(y[d:] - x[: len(x) - d])) < 1e-9
    # measured delay by cross-correlation equals the reported one
    xc = scipy.signal.correlate(y, x, mode="full", method="fft")
    assert int(np.argmax(xc)) - (len(x) - 1) == d


def test_analysis_matches_scipy_stft(rng):
    """Frame j covers x[(j+1)hop - L : (j+1)hop]; compare against scipy's ShortTimeFFT on the padded signal."""
    L, R = 128, 32
    x = rng.standard_normal(2048)
    g = hearpipe.load_graph(chain(("stft", {"window": "hann", "window_length": L, "hop": R}), ("istft", {})))
    stft = g.blocks["n0"]
    X = stft.process(x[None, :])[0]  # (bins, frames)
    w = analysis_window("hann", L)
    sft = scipy.signal.ShortTimeFFT(w, hop=R, fs=16000, fft_mode="onesided")
    padded = np.concatenate([np.zeros(L - R), x])
    full = sft.stft(padded)
    # scipy centres frame p on sample p*hop (first column p_min) and takes the window centre as time 0
    first = L // (2 * R) - sft.p_min
    k = np.arange(L // 2 + 1)[:, None]
    ref = full[:, first : first + X.shape[1]] * np.exp(-2j * np.pi * k * sft.m_num_mid / L)
    np.testing.assert_allclose(X, ref, atol=1e-10)


@pytest.mark.parametrize("chunk", [1, 7, 64, 100, 4096, None])
def test_chunk_size_invariance_bit_identical(chunk, rng):
    g = hearpipe.load_graph(REPO_GRAPH)
    x = rng.standard_normal(16000 + 37) * 0.3
    whole = g.run(x)
    g.reset()
    if chunk is None:
        parts = [g.process(x)]
    else:
        parts = [g.process(x[i : i + chunk]) for i in range(0, len(x), chunk)]
    streamed = np.concatenate([*parts, g.flush()], axis=1)
    assert streamed.shape == whole.shape == (1, len(x))
    assert np.array_equal(streamed, whole)


def test_invalid_window_hop_is_a_clear_error():
    with pytest.raises(InvalidInput, match=r"cannot reconstruct"):
        passthrough("hann", 128, 128, None)


def test_hop_larger_than_window_rejected():
    with pytest.raises(InvalidInput, match=r"nodes\[0\]\.params.*hop \(200\) must not exceed window_length"):
        passthrough("hann", 128, 200, None)


def test_nfft_smaller_than_window_rejected():
    with pytest.raises(InvalidInput, match=r"n_fft \(64\) must be at least window_length \(128\)"):
        passthrough("hann", 128, 64, 64)


def test_multichannel_channels_are_independent(rng):
    g = passthrough("sqrt_hann", 128, 64, None, channels=2)
    x = rng.standard_normal((2, 4000))
    y = g.run(x)
    g1 = passthrough("sqrt_hann", 128, 64, None)
    assert np.array_equal(y[1], g1.run(x[1])[0])


from .conftest import REPO  # noqa: E402

REPO_GRAPH = REPO / "graphs" / "stft_gain.yaml"
