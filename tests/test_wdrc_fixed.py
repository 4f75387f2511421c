"""The fixed-point band-gain kernel against the float one: levels, gains (<= 0.1 dB), streaming, op counts."""

import numpy as np
import pytest

from hearpipe.dsp import wdrc
from hearpipe.dsp.wdrc_fixed import fixed_ops, prepare_fixed, run_fixed
from hearpipe.dsp.windows import analysis_window
from hearpipe.fixed.count import from_array
from hearpipe.fixed.ops import new_ops

FS, N_FFT, HOP = 16000.0, 64, 8
FRAC = 15 - 6  # arm_rfft_q15 of 64 points


def setup(channels=1):
    w = analysis_window("hann", N_FFT)
    band = wdrc.band_of_bins([750, 1500, 3000, 5000], N_FFT, FS)
    nb = int(band.max()) + 1
    curves = [
        wdrc.BandCurve(
            threshold_db_spl=45,
            ratio=r,
            gain_db=g,
            expansion_knee_db_spl=35,
            expansion_ratio=0.7,
            limit_db_spl=100,
        )
        for r, g in zip([1.5, 2, 2.5, 3, 4], [5, 15, 20, 25, 30])
    ]
    table = np.tile(wdrc.gain_table(curves, wdrc.table_grid())[None], (channels, 1, 1))
    coef = [
        wdrc.ansi_coefficients(a, r, FS, 2.5) for a, r in zip([1, 2, 5, 10, 20], [20, 50, 100, 500, 1000])
    ]
    alpha = np.array([wdrc.frame_coefficient(a, HOP) for a, _ in coef])
    beta = np.array([wdrc.frame_coefficient(b, HOP) for _, b in coef])
    fx = prepare_fixed(
        band, w, N_FFT, FRAC, 110.0, alpha, beta, table, wdrc.TABLE_MIN_DB_SPL, wdrc.TABLE_STEP_DB
    )
    return w, band, nb, alpha, beta, table, fx


def spectra(rng, channels, frames):
    """Stepping tones and noise through a 64-point Hann STFT, quantised to the q15 FFT's 9 fractional bits."""
    n = frames * HOP + N_FFT
    t = np.arange(n)
    level = np.repeat(rng.uniform(30, 100, n // 400 + 1), 400)[:n]
    x = np.zeros((channels, n))
    for c in range(channels):
        amp = 10 ** ((level - 110) / 20)
        x[c] = amp * np.sin(2 * np.pi * rng.uniform(200, 7000) * t / FS) + 1e-3 * rng.standard_normal(n)
    w = analysis_window("hann", N_FFT)
    idx = np.arange(frames)[:, None] * HOP + np.arange(N_FFT)
    X = np.fft.rfft(x[:, idx] * w, axis=-1).transpose(0, 2, 1)
    re = np.clip(np.round(X.real * 2**FRAC), -32768, 32767).astype(np.int16)
    im = np.clip(np.round(X.imag * 2**FRAC), -32768, 32767).astype(np.int16)
    return re, im


def test_fixed_gains_within_0_1_db_of_float(rng):
    w, band, nb, alpha, beta, table, fx = setup(2)
    re, im = spectra(rng, 2, 1500)
    Xq = (re + 1j * im.astype(np.float64)) * 2.0**-FRAC  # the float kernel sees the same quantised bins
    out = np.empty_like(Xq)
    levels = np.empty((2, nb, Xq.shape[2]))
    state_f = np.full((2, nb), 50.0)
    wk = wdrc.bin_power_weights(w, N_FFT)
    wdrc.band_gain_frames(Xq, band, wk, nb, 110.0, alpha, beta, state_f, table, 0.0, 1.0, out, levels)
    state_q = fx.new_state(2, 50.0)
    ore, oim = run_fixed(fx, re, im, state_q, new_ops())
    # per band and frame, compare the applied gain on the strongest bin (large enough to read 0.01 dB)
    mag_in = np.hypot(re, im.astype(np.float64))
    mag_out = np.hypot(ore, oim.astype(np.float64))
    big = (mag_in > 300) & (np.maximum(np.abs(ore), np.abs(oim)) < 32000)  # readable, not saturated
    g_float = 20 * np.log10(np.abs(out[big]) / np.abs(Xq[big]))
    g_fixed = 20 * np.log10(mag_out[big] / mag_in[big])
    assert big.sum() > 1000
    assert np.max(np.abs(g_fixed - g_float)) < 0.1
    assert np.max(np.abs(state_q / 65536.0 - state_f)) < 0.05


def test_fixed_kernel_streams_bit_exactly_and_counts_its_ops(rng):
    *_, nb, _, _, _, fx = setup(1)
    re, im = spectra(rng, 1, 200)
    s1 = fx.new_state(1, 0.0)
    whole = run_fixed(fx, re, im, s1, new_ops())
    s2 = fx.new_state(1, 0.0)
    ops = new_ops()
    parts = [run_fixed(fx, re[:, :, a:b], im[:, :, a:b], s2, ops) for a, b in ((0, 1), (1, 77), (77, 200))]
    assert np.array_equal(np.concatenate([p[0] for p in parts], axis=2), whole[0])
    assert np.array_equal(np.concatenate([p[1] for p in parts], axis=2), whole[1])
    assert np.array_equal(s1, s2)
    per_frame = fixed_ops(1, N_FFT // 2 + 1, nb)
    assert from_array(ops) == {k: v * 200 for k, v in per_frame.items()}


def test_silence_and_full_scale_do_not_overflow():
    *_, fx = setup(1)
    z = np.zeros((1, 33, 5), dtype=np.int16)
    st = fx.new_state(1, 50.0)
    ore, _ = run_fixed(fx, z, z, st, new_ops())
    assert not ore.any()
    assert np.all(st < 50 * 65536)  # the level falls toward the floor
    full = np.full((1, 33, 5), 32767, dtype=np.int16)
    ore, oim = run_fixed(fx, full, -full, fx.new_state(1, 50.0), new_ops())
    assert ore.max() <= 32767 and oim.min() >= -32768


def limiter_graph(device=None):
    import hearpipe

    from .conftest import chain

    spec = chain(
        ("limiter", {"limit_db_spl": 90, "attack_ms": 1, "release_ms": 50}),
        full_scale_db_spl=110,
        block_size=16,
    )
    return hearpipe.load_graph(spec, device=device)


def test_time_domain_limiter_float_and_fixed(rng):
    from hearpipe.measure import level_db_spl, tone_amplitude

    g, gq = limiter_graph(), limiter_graph("cortex-m7")
    assert gq.blocks["n0"].fixed
    for lv in (70.0, 90.0, 100.0, 108.0):
        x = tone_amplitude(lv, 110) * np.sin(2 * np.pi * 1000 * np.arange(8000) / FS)
        a = level_db_spl(g.run(x)[0][4000:], 110)
        b = level_db_spl(gq.run(x)[0][4000:], 110)
        expect = lv if lv <= 90 else 90 + (lv - 90) / 10
        # the BTNRH peak follower settles a little under a tone's peak (it charges only near the peaks and
        # decays in between), so the limiter reads the level low and lets up to ~0.7 dB more through
        assert expect - 0.05 < a < expect + 1.0
        assert b == pytest.approx(a, abs=0.1)
    # bit-exact streaming and exact op counts of the fixed kernel
    blk = gq.blocks["n0"]
    xq = (rng.standard_normal((1, 3000)) * 8000).astype(np.int16)
    s1, s2 = blk.fx.new_state(1), blk.fx.new_state(1)
    whole = blk.fx.run(xq, s1, new_ops())
    ops = new_ops()
    parts = [blk.fx.run(xq[:, a:b], s2, ops) for a, b in ((0, 1), (1, 1000), (1000, 3000))]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    from hearpipe.dsp.wdrc_fixed import limiter_fixed_ops

    assert from_array(ops) == {k: v * 3000 for k, v in limiter_fixed_ops(1).items()}
