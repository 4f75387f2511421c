"""WDRC numerics (time constants, detector, static curves, gain tables, calibration) and the gain blocks."""

import math

import numpy as np
import pytest

import hearpipe
from hearpipe.dsp import wdrc
from hearpipe.dsp.windows import analysis_window
from hearpipe.errors import InvalidInput
from hearpipe.testbox.measure import level_db_spl, tone_amplitude

from .conftest import REPO, chain

FS = 16000.0


def test_ansi_coefficients_follow_btnrh_formulas():
    a, b = wdrc.ansi_coefficients(5.0, 50.0, FS)
    aa = 0.005 * FS / 2.425
    rr = 0.050 * FS / 1.782
    assert a == pytest.approx(aa / (1 + aa), rel=1e-15)
    assert b == pytest.approx(rr / (1 + rr), rel=1e-15)
    # the ANSI-definition variant uses ln(35 (1 - 1/CR) / 3) for both divisors
    a3, b3 = wdrc.ansi_coefficients(5.0, 50.0, FS, ratio=3.0)
    d = math.log(35 * (2 / 3) / 3)
    assert a3 == pytest.approx((0.005 * FS / d) / (1 + 0.005 * FS / d))
    assert b3 == pytest.approx((0.05 * FS / d) / (1 + 0.05 * FS / d))


def test_frame_coefficient_equals_hop_sample_updates():
    alpha, _ = wdrc.ansi_coefficients(3.0, 30.0, FS)
    hop = 16
    s_sample = 10.0
    for _ in range(hop):
        s_sample = alpha * s_sample + (1 - alpha) * 80.0
    af = wdrc.frame_coefficient(alpha, hop)
    s_frame = af * 10.0 + (1 - af) * 80.0
    assert s_frame == pytest.approx(s_sample, rel=1e-12)


def test_level_follower_uses_attack_up_and_release_down():
    lv = np.array([[[90.0] * 5 + [50.0] * 5]])
    state = np.array([[50.0]])
    out = np.empty_like(lv)
    a, r = 0.5, 0.9
    wdrc.level_follower_db(lv, np.array([a]), np.array([r]), state, out)
    up = [90 - 40 * a ** (j + 1) for j in range(5)]
    np.testing.assert_allclose(out[0, 0, :5], up)
    down = [50 + (up[-1] - 50) * r ** (j + 1) for j in range(5)]
    np.testing.assert_allclose(out[0, 0, 5:], down)
    assert state[0, 0] == out[0, 0, -1]


def test_peak_follower_reference():
    x = np.array([[0.0, 1.0, 1.0, 0.0, 0.0]])
    out = np.empty_like(x)
    wdrc.peak_follower(x, 0.5, 0.8, np.zeros(1), out)
    np.testing.assert_allclose(out[0], [0.0, 0.5, 0.75, 0.6, 0.48])


def test_static_curve_segments_and_continuity():
    c = wdrc.BandCurve(
        threshold_db_spl=50,
        ratio=3,
        gain_db=20,
        expansion_knee_db_spl=30,
        expansion_ratio=0.5,
        limit_db_spl=90,
    )
    x = np.arange(0.0, 131.0, 0.25)
    y = c.output_db(x)
    assert np.all(np.abs(np.diff(y)) < 0.25 * 2 + 1e-9)  # continuous (no jumps)
    slope = np.gradient(y, x)
    assert slope[(x > 5) & (x < 29)] == pytest.approx(2.0)  # expansion 1/0.5
    assert slope[(x > 31) & (x < 49)] == pytest.approx(1.0)
    assert c.output_db(40.0) == pytest.approx(60.0)
    # above threshold: 70 + (x - 50)/3 until the output reaches 90 (x = 110), then 10:1
    assert c.output_db(80.0) == pytest.approx(80.0)
    assert c.output_db(125.0) == pytest.approx(90 + (70 + 75 / 3 - 90) / 10)


def test_gain_table_lookup_is_exact_on_grid_and_close_between():
    curves = [wdrc.BandCurve(threshold_db_spl=47.3, ratio=2.7, gain_db=12), wdrc.limiter_curve(95)]
    grid = wdrc.table_grid()
    table = wdrc.gain_table(curves, grid)
    np.testing.assert_allclose(wdrc.table_lookup(table, np.stack([grid, grid], 1), 0, 1), table.T, atol=1e-12)
    x = np.linspace(-5, 140, 2001)
    got = wdrc.table_lookup(table, np.stack([x, x], 1), 0, 1)
    for b, c in enumerate(curves):
        exact = c.gain_at(np.clip(x, 0, 130))
        assert np.max(np.abs(got[:, b] - exact)) <= (1 - 1 / c.ratio) * 0.25 + 1e-9


@pytest.mark.parametrize(
    "window,length,n_fft", [("sqrt_hann", 128, 128), ("hann", 64, 64), ("hamming", 100, 128)]
)
def test_bin_power_weights_calibrate_a_full_scale_sine_to_0_db(window, length, n_fft, rng):
    w = analysis_window(window, length)
    wk = wdrc.bin_power_weights(w, n_fft)
    n = np.arange(length)
    for f in (1000.0, 1234.5, 3000.0):
        x = np.sin(2 * np.pi * f * n / FS + rng.uniform(0, 6))
        buf = np.zeros(n_fft)
        buf[(n_fft - length) // 2 :][:length] = x * w
        p = np.sum(wk * np.abs(np.fft.rfft(buf)) ** 2)
        assert 10 * np.log10(p) == pytest.approx(0.0, abs=0.3)  # windowed single frame: small ripple
    # white noise of mean square 1/2 reads 0 dB on average over frames
    ps = []
    for _ in range(400):
        x = rng.standard_normal(length) * np.sqrt(0.5)
        buf = np.zeros(n_fft)
        buf[(n_fft - length) // 2 :][:length] = x * w
        ps.append(np.sum(wk * np.abs(np.fft.rfft(buf)) ** 2))
    assert 10 * np.log10(np.mean(ps)) == pytest.approx(0.0, abs=0.2)


def wdrc_graph(**params):
    p = {
        "crossovers_hz": [1000, 3000],
        "threshold_db_spl": 50,
        "ratio": 3,
        "gain_db": 10,
        "attack_ms": 5,
        "release_ms": 50,
        **params,
    }
    return hearpipe.load_graph(
        chain(
            ("stft", {"window": "hann", "window_length": 64, "hop": 16}),
            ("wdrc", p),
            ("istft", {}),
            full_scale_db_spl=100,
        )
    )


def tone(freq, level, seconds=0.5, fs_db=100.0):
    n = np.arange(int(seconds * FS))
    return tone_amplitude(level, fs_db) * np.sin(2 * np.pi * freq * n / FS)


def test_detector_reads_the_tone_level_and_output_follows_the_curve():
    g = wdrc_graph()
    blk = g.blocks["n1"]
    for level in (40.0, 65.0, 90.0):
        y = g.run(tone(2000, level))[0]
        g.process(tone(2000, level)[None])  # run again, keep the detector levels of the last chunk
        assert blk.last_levels[0, 1, -1] == pytest.approx(level, abs=0.05)
        expect = level + 10 - (max(level - 50, 0) * (1 - 1 / 3))
        assert level_db_spl(y[4000:], 100) == pytest.approx(expect, abs=0.2)


def test_wdrc_is_chunk_invariant_and_resets(rng):
    g = wdrc_graph(expansion_knee_db_spl=30, expansion_ratio=0.6, limit_db_spl=[95, 90, 85])
    x = np.concatenate([tone(500, 60, 0.2), tone(2500, 95, 0.2), rng.standard_normal(3000) * 0.01])
    whole = g.run(x)
    parts, i = [], 0
    g.reset()
    for n in [5, 16, 17, 300, 1, 2048, 4000, 999]:
        parts.append(g.process(x[i : i + n]))
        i += n
    parts.append(g.process(x[i:]))
    parts.append(g.flush())
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    assert np.array_equal(g.run(x), whole)


def test_wdrc_cost_counts():
    g = wdrc_graph()
    c = g.blocks["n1"].cost()
    bins, bands = 33, 3
    assert c.frame_rate_hz == FS / 16
    assert c.ops["mul"] == 3 * bins + 2 * bands
    assert c.ops["mac_f32"] == 2 * bins + 3 * bands
    assert c.ops["cmp"] == 4 * bands and c.ops["add"] == 3 * bands
    assert c.ops["transcendental"] == 2 * bands
    assert c.ram_persistent == bands * 4
    assert c.rom == bands * wdrc.TABLE_SIZE * 4 + bins * 5 + 2 * bands * 4


@pytest.mark.parametrize(
    "params, message",
    [
        ({"ratio": 0.5}, r"ratio\[0\] = 0.5 must lie within 1..100"),
        ({"ratio": [2, 3]}, "ratio has 2 values but there are 3 bands"),
        ({"expansion_knee_db_spl": 60}, "must not exceed threshold_db_spl"),
        ({"expansion_ratio": 2}, "expansion_ratio"),
        ({"crossovers_hz": [3000, 1000]}, "must increase strictly"),
        ({"crossovers_hz": [1010, 1100]}, r"bands \[1\] contain no STFT bin"),
        ({"attack_ms": -1}, "attack_ms"),
        ({"thresold_db_spl": 3}, "unknown field"),
    ],
)
def test_wdrc_parameter_errors(params, message):
    with pytest.raises(InvalidInput, match=message):
        wdrc_graph(**params)


def test_limiter_caps_broadband_output():
    g = hearpipe.load_graph(
        chain(
            ("stft", {"window": "hann", "window_length": 64, "hop": 16}),
            ("limiter", {"limit_db_spl": 85}),
            ("istft", {}),
            full_scale_db_spl=100,
        )
    )
    for level, expect in ((70.0, 70.0), (95.0, 86.0)):
        y = g.run(tone(1000, level))[0]
        assert level_db_spl(y[4000:], 100) == pytest.approx(expect, abs=0.2)


def test_gain_table_block_interpolates_levels():
    table = [[20.0, 20.0, 10.0, 0.0], [5.0, 5.0, 5.0, 5.0]]  # levels 30, 50, 70, 90
    spec = chain(
        ("stft", {"window": "hann", "window_length": 64, "hop": 16}),
        (
            "gain_table",
            {"crossovers_hz": [2000], "level_min_db_spl": 30, "level_step_db": 20, "gains_db": table},
        ),
        ("istft", {}),
        full_scale_db_spl=100,
    )
    g = hearpipe.load_graph(spec)
    for level, expect_gain in ((40.0, 20.0), (60.0, 15.0), (80.0, 5.0), (100.0, 0.0)):
        y = g.run(tone(1000, level))[0]
        assert level_db_spl(y[4000:], 100) == pytest.approx(level + expect_gain, abs=0.2)
    y = g.run(tone(4000, 60))[0]
    assert level_db_spl(y[4000:], 100) == pytest.approx(65.0, abs=0.2)
    bad = chain(
        ("stft", {}), ("gain_table", {"crossovers_hz": [2000], "gains_db": [[1.0, 2.0]]}), ("istft", {})
    )
    with pytest.raises(InvalidInput, match="gains_db has 1 rows but crossovers_hz makes 2 bands"):
        hearpipe.load_graph(bad)


def test_gain_blocks_need_spectra():
    with pytest.raises(InvalidInput, match="spectrum"):
        hearpipe.load_graph(chain(("wdrc", {})))


def test_every_gain_block_in_one_chain_is_chunk_invariant(rng):
    ag = str(REPO / "examples/audiograms/severe.yaml")
    spec = chain(
        ("stft", {"window_length": 96, "hop": 24, "n_fft": 128}),
        ("prescription", {"audiogram": ag, "rule": "nal-rp"}),
        ("wdrc", {"crossovers_hz": [1000, 3000], "ratio": [1.5, 2, 3], "attack_ms": [2, 5, 10]}),
        (
            "gain_table",
            {
                "crossovers_hz": [2000],
                "gains_db": [[0, -10], [5, 0]],
                "level_min_db_spl": 40,
                "level_step_db": 40,
            },
        ),
        ("limiter", {"limit_db_spl": 95}),
        ("istft", {}),
        channels=2,
    )
    g = hearpipe.load_graph(spec)
    x = rng.standard_normal((2, 6000)) * np.linspace(0.001, 0.3, 6000)
    whole = g.run(x)
    g.reset()
    parts, i = [], 0
    for n in [24, 1, 1000, 47, 2400]:
        parts.append(g.process(x[:, i : i + n]))
        i += n
    parts.append(g.process(x[:, i:]))
    parts.append(g.flush())
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    assert np.abs(whole).max() > 0
