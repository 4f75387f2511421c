"""Fixed-point real FFT: numpy and cmsisdsp oracles, no overflow at full scale, STFT passthrough SNR."""

import cmsisdsp as dsp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearpipe.errors import InvalidInput
from hearpipe.fixed.fft import FixedRfft, to_complex
from hearpipe.fixed.ops import new_ops

RNG = np.random.default_rng(5)


def speech_like(n: int, seed: int = 0, level_dbfs: float = -26.0) -> np.ndarray:
    """Seeded speech-like test signal: AR(2)-coloured noise with a 4 Hz syllabic envelope and pauses."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n + 64)
    x = np.zeros_like(e)
    for i in range(2, len(e)):  # resonance near 500 Hz at 16 kHz
        x[i] = e[i] + 1.6 * x[i - 1] - 0.8 * x[i - 2]
    x = x[64:]
    t = np.arange(n) / 16000.0
    env = np.maximum(np.sin(2 * np.pi * 4.0 * t), 0.05) ** 2
    x = x * env
    return x / np.sqrt(np.mean(x**2)) * 10 ** (level_dbfs / 20)


def _snr(ref, est) -> float:
    return 10 * np.log10(np.sum(np.abs(ref) ** 2) / np.sum(np.abs(ref - est) ** 2))


@pytest.mark.parametrize("n", [8, 64, 256])
def test_rfft_q15_scaling_and_accuracy_vs_numpy(n):
    p = FixedRfft(n, "q15")
    x = RNG.integers(-32768, 32768, (5, n)).astype(np.int16)
    xf = p.forward(x)
    assert xf.shape == (5, n + 2) and p.forward_frac(15) == 15 - int(np.log2(n))
    exact = np.fft.rfft(x.astype(np.float64), axis=1) / n  # CMSIS convention: DFT / N
    err = np.abs(to_complex(xf) - exact)
    assert err.max() <= 2.0  # one rounding per stage, each <= 0.5 LSB, plus the q15 twiddles
    y = p.inverse(xf)
    assert np.abs(y - np.fft.irfft(to_complex(xf), n, axis=1)).max() <= 2.0


@pytest.mark.parametrize("n", [32, 128, 512])
def test_rfft_q15_agrees_with_cmsis_within_its_rounding(n):
    """cmsisdsp `arm_rfft_q15` has the same scaling (DFT / N; our first N + 2 outputs are its half
    spectrum). It truncates at every stage of its radix-4 butterflies and split, so it is not bit-exact
    with our once-rounded radix-2 butterflies: we require |ours - cmsis| <= 12 LSB, and check that the
    difference is CMSIS's rounding: its own distance to the exact DFT / N is at least ours, and the
    two disagree by no more than the sum of both distances to the exact result."""
    p = FixedRfft(n, "q15")
    inst = dsp.arm_rfft_instance_q15()
    assert dsp.arm_rfft_init_q15(inst, n, 0, 1) == 0
    for _ in range(6):
        x = RNG.integers(-32768, 32768, n).astype(np.int16)
        ours = p.forward(x).astype(np.int64)
        theirs = dsp.arm_rfft_q15(inst, x)[: n + 2].astype(np.int64)
        exact = np.fft.rfft(x.astype(np.float64)) / n
        e_ours = np.abs(to_complex(ours) - exact).max()
        e_cmsis = np.abs(to_complex(theirs) - exact).max()
        diff = np.abs(ours - theirs).max()
        assert diff <= 12 and e_ours <= e_cmsis + 0.5
        assert diff <= 2 * (e_ours + e_cmsis) + 1


@pytest.mark.parametrize("width", ["q15", "q31"])
def test_full_scale_inputs_saturate_at_most_at_the_rail(width):
    n = 64
    p = FixedRfft(n, width)
    top = 32767 if width == "q15" else 2**30
    lo = -32768 if width == "q15" else -(2**30)
    cases = [
        np.full(n, lo),
        np.full(n, top),
        np.tile([lo, top], n // 2),
        np.round(top * np.cos(2 * np.pi * 5 * np.arange(n) / n)),
    ]
    for c in cases:
        x = np.asarray(c).astype(p.dtype)
        xf = p.forward(x)
        exact = np.fft.rfft(x.astype(np.float64)) / n
        # a wrap would be off by ~2**bits; saturation at the +1 rail costs at most a couple of LSB
        assert np.abs(to_complex(xf) - exact).max() <= 3.0


def test_q31_input_headroom_is_checked():
    with pytest.raises(InvalidInput, match="2\\*\\*30"):
        FixedRfft(16, "q31").forward(np.full(16, 2**31 - 1, np.int32))
    with pytest.raises(InvalidInput, match="power of two"):
        FixedRfft(48)


def stft_passthrough(x_q15: np.ndarray, n: int, width: str) -> np.ndarray:
    """sqrt-Hann analysis and synthesis windows, hop n/2, fixed-point FFT pair, overlap-add; int16 out."""
    p = FixedRfft(n, width)
    hop = n // 2
    w = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))  # periodic: w**2 overlap-adds to 1
    wq = np.minimum(np.round(w * 32768), 32767).astype(np.int64)
    frames = (len(x_q15) - n) // hop + 1
    acc = np.zeros(len(x_q15), np.int64)
    ops = new_ops()
    log2n = int(np.log2(n))
    for f in range(frames):
        seg = x_q15[f * hop : f * hop + n].astype(np.int64) * wq  # Q2.30
        if width == "q31":
            fr = ((seg + 1) >> 1).astype(np.int32)  # Q29: one bit of headroom for the q31 FFT
            y = p.inverse(p.forward(fr, ops=ops), ops=ops).astype(np.int64)  # x / N, Q29
            acc[f * hop : f * hop + n] += (y * wq + (1 << 14)) >> 15  # still Q29 / N
            shift = 29 - 15 - log2n  # back to q15: multiply by N, drop to 15 fraction bits
        else:
            fr = ((seg + (1 << 14)) >> 15).astype(np.int16)
            y = p.inverse(p.forward(fr, ops=ops), ops=ops).astype(np.int64)  # x / N in q15
            acc[f * hop : f * hop + n] += (y * wq + (1 << 14)) >> 15
            shift = -log2n
    out = (acc + (1 << (shift - 1))) >> shift if shift > 0 else acc << -shift
    return np.clip(out, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("signal", ["speech_like", "full_scale_sine"])
def test_stft_passthrough_snr(signal):
    n = 256
    if signal == "speech_like":
        x = speech_like(8000, seed=3)
    else:
        x = 0.999 * np.sin(2 * np.pi * 1003.0 / 16000 * np.arange(8000))
    xq = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    core = slice(n, len(xq) - n)  # fully overlapped region
    snr = {}
    for width in ("q15", "q31"):
        y = stft_passthrough(xq, n, width)
        snr[width] = _snr(xq[core].astype(float), y[core].astype(float))
    print(f"STFT passthrough N={n} {signal}: q31 {snr['q31']:.1f} dB, q15 {snr['q15']:.1f} dB")
    assert snr["q31"] >= 70.0
    # q15 loses log2(N) = 8 bits in each direction (CMSIS's price for never overflowing)
    assert snr["q15"] >= (30.0 if signal == "full_scale_sine" else 5.0)


def test_forward_sqnr_vs_float_on_speech_like_and_full_scale():
    n = 256
    for x, floor in ((speech_like(n * 8, seed=9), 40.0), (0.99 * np.sin(0.3 * np.arange(n * 8)), 60.0)):
        frames = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16).reshape(-1, n)
        exact = np.fft.rfft(frames.astype(np.float64), axis=1) / n
        q15 = to_complex(FixedRfft(n, "q15").forward(frames))
        q31 = to_complex(FixedRfft(n, "q31").forward(frames.astype(np.int32) << 14), 14)
        assert _snr(exact, q15) >= floor
        assert _snr(exact, q31) >= 120.0


@settings(max_examples=30, deadline=None)
@given(
    width=st.sampled_from(["q15", "q31"]),
    log2n=st.integers(2, 7),
    vals=st.lists(
        st.sampled_from([-1.0, 1.0, 0.0, 0.5, -0.999]) | st.floats(-1, 1), min_size=128, max_size=128
    ),
)
def test_fft_pair_never_wraps_on_extreme_inputs(width, log2n, vals):
    n = 2**log2n
    p = FixedRfft(n, width)
    top = 2**15 if width == "q15" else 2**30
    x = np.clip(np.round(np.array(vals[:n]) * top), -top, top - (width == "q15")).astype(p.dtype)
    xf = p.forward(x)
    exact = np.fft.rfft(x.astype(np.float64)) / n
    assert np.abs(to_complex(xf) - exact).max() <= 3.0  # a wrap would be off by ~2**bits
    y = p.inverse(xf)
    assert np.abs(y - np.fft.irfft(to_complex(xf), n)).max() <= 3.0


def test_out_buffer_is_validated():
    p = FixedRfft(16)
    with pytest.raises(InvalidInput, match="out must be a C-contiguous int16"):
        p.forward(np.zeros(16, np.int16), out=np.zeros((2, 18), np.int16)[:, ::2])
    buf = np.zeros(18, np.int16)
    assert p.forward(np.full(16, 1000, np.int16), out=buf) is not None and buf[0] == 1000
