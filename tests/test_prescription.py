"""Prescriptions: NAL-R against the published formula, NAL-RP, half-gain, gain curves and the FIR/STFT blocks."""

import math

import numpy as np
import pytest
import scipy.signal

import hearpipe
from hearpipe.dsp.audiogram import Audiogram
from hearpipe.dsp.prescription import (
    fir_from_gains,
    half_gain,
    nal_r,
    nal_rp,
    prescribe,
    stft_gain_curve,
)
from hearpipe.errors import InvalidInput
from hearpipe.testbox.measure import level_db_spl, measured_latency, tone_amplitude

from .conftest import REPO, chain

NALR_F = [250, 500, 1000, 2000, 4000, 6000]


def nalr_oracle(hl: dict) -> dict:
    """Byrne & Dillon (1986) NAL-R, written out from the published formula (domain.md section 3)."""
    s = hl[500] + hl[1000] + hl[2000]
    x = 0.05 * s if s <= 180 else 9.0 + 0.116 * (s - 180)
    k = {250: -17, 500: -8, 1000: 1, 2000: -1, 4000: -2, 6000: -2}
    return {f: max(0.0, x + 0.31 * hl[f] + k[f]) for f in k}


def loginterp(freqs, values, f):
    """Straight line between the two neighbouring audiogram points on a log2-frequency axis."""
    if f <= freqs[0]:
        return values[0]
    if f >= freqs[-1]:
        return values[-1]
    i = max(j for j in range(len(freqs)) if freqs[j] <= f)
    if freqs[i] == f:
        return values[i]
    t = (math.log2(f) - math.log2(freqs[i])) / (math.log2(freqs[i + 1]) - math.log2(freqs[i]))
    return values[i] + t * (values[i + 1] - values[i])


def test_nalr_equals_formula_on_random_audiograms():
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(500):
        hl = rng.uniform(-10, 120, 6).round(0)
        f, g = nal_r(NALR_F, hl)
        assert f.tolist() == NALR_F
        expect = nalr_oracle(dict(zip(NALR_F, hl)))
        worst = max(worst, max(abs(a - expect[ff]) for ff, a in zip(NALR_F, g)))
    assert worst < 0.01


def test_nalr_interpolates_other_audiometric_frequencies():
    rng = np.random.default_rng(6)
    grid = [125, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 8000]
    for _ in range(200):
        keep = sorted(rng.choice(grid, size=rng.integers(3, len(grid) + 1), replace=False).tolist())
        hl = rng.uniform(-10, 120, len(keep)).tolist()
        a = Audiogram(frequencies_hz=keep, right_db_hl=hl)
        _, g = prescribe(a, "nal-r", "right")
        expect = nalr_oracle({f: loginterp(keep, hl, f) for f in NALR_F})
        np.testing.assert_allclose(g, [expect[f] for f in NALR_F], atol=0.01)


def test_nalr_known_values():
    # S = 210 > 180: X = 9 + 0.116 * 30 = 12.48
    _, g = nal_r(NALR_F, [60, 70, 70, 70, 80, 90])
    np.testing.assert_allclose(
        g, [12.48 + 0.31 * h + k for h, k in zip([60, 70, 70, 70, 80, 90], [-17, -8, 1, -1, -2, -2])]
    )
    # no loss: only the +1 dB at 1 kHz survives the clipping
    _, g = nal_r(NALR_F, [0] * 6)
    assert g.tolist() == [0, 0, 1, 0, 0, 0]


def test_nalrp_adds_points_and_profound_correction():
    f = [250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000]
    hl = [30, 40, 45, 50, 55, 60, 65, 70, 75]
    fr, g = nal_rp(f, hl)
    assert fr.tolist() == f
    x = 0.05 * (40 + 50 + 60)
    k = [-17, -8, -3, 1, 1, -1, -2, -2, -2]
    np.testing.assert_allclose(g, [max(0, x + 0.31 * h + kk) for h, kk in zip(hl, k)])
    # NAL-R's six frequencies agree with NAL-R when HL(2k) < 95
    _, gr = nal_r(f, hl)
    np.testing.assert_allclose(g[[0, 1, 3, 5, 7, 8]], gr)
    # HL(2k) = 100 dB HL: correction row 100 applies on top of the S > 180 formula
    hl2 = [80, 90, 95, 100, 100, 100, 105, 110, 110]
    _, g2 = nal_rp(f, hl2)
    s = 90 + 100 + 100
    x2 = 9 + 0.116 * (s - 180)
    corr = [6, 4, 2, 0, -2, -3, -3, -3, -3]
    np.testing.assert_allclose(g2, [x2 + 0.31 * h + kk + c for h, kk, c in zip(hl2, k, corr)])


def test_half_gain_and_unknown_rule():
    _, g = half_gain([500, 1000], [-10, 40])
    assert g.tolist() == [0.0, 20.0]
    a = Audiogram(frequencies_hz=[500, 1000], left_db_hl=[20, 40])
    with pytest.raises(InvalidInput, match=r"unknown prescription rule .nal-nl2.*nal-r"):
        prescribe(a, "nal-nl2")


def test_stft_gain_curve_interpolates_in_db_and_holds_edges():
    f, g = [500.0, 1000.0, 2000.0], [0.0, 10.0, 30.0]
    n_fft, fs = 32, 16000  # bins every 500 Hz
    curve_db = 20 * np.log10(stft_gain_curve(f, g, n_fft, fs))
    bins = np.arange(17) * 500.0
    expect = [0.0 if b <= 500 else 30.0 if b >= 2000 else (10.0 if b == 1000 else 20.0) for b in bins]
    np.testing.assert_allclose(curve_db, expect, atol=1e-9)


def test_fir_is_linear_phase_and_follows_the_gains():
    f, g = nal_r(NALR_F, [20, 25, 35, 50, 60, 65])
    taps = fir_from_gains(f, g, 128, 16000)
    assert taps.size == 129
    np.testing.assert_allclose(taps, taps[::-1], atol=1e-15)
    _, h = scipy.signal.freqz(taps, worN=[1000, 2000, 4000], fs=16000)
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), g[2:5], atol=1.0)
    with pytest.raises(InvalidInput, match="even"):
        fir_from_gains(f, g, 63, 16000)


def test_fir_graph_latency_reported_equals_measured_and_is_chunk_invariant(rng):
    g = hearpipe.load_graph(REPO / "graphs" / "nalr_fir.yaml")
    assert g.latency_samples == 32
    assert measured_latency(g) == 32
    x = rng.standard_normal(3000) * 0.05
    whole = g.run(x)
    g.reset()
    parts, i = [], 0
    for n in [1, 7, 64, 500, 3, 1000, 2000]:
        parts.append(g.process(x[i : i + n]))
        i += n
    parts.append(g.flush())
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_fir_order_must_be_even():
    spec = chain(("prescription_fir", {"frequencies_hz": [500, 1000], "gains_db": [0, 10], "order": 33}))
    with pytest.raises(InvalidInput, match="order must be even"):
        hearpipe.load_graph(spec)


def test_prescription_block_applies_gain_at_tone_frequency():
    g = hearpipe.load_graph(REPO / "graphs" / "nalr_stft.yaml")
    ag = hearpipe.dsp.audiogram.load_audiogram(REPO / "examples/audiograms/mild_sloping.yaml")
    f, gains = prescribe(ag, "nal-r", "left")
    fs_db = g.spec.full_scale_db_spl
    for freq in (1500.0, 3000.0, 5000.0):  # away from the kinks of the gain curve (window main lobe)
        n = np.arange(16000)
        x = tone_amplitude(70, fs_db) * np.sin(2 * np.pi * freq * n / 16000)
        y = g.run(x)[0][4000:]
        expect = 70 + np.interp(freq, f, gains)
        assert level_db_spl(y, fs_db) == pytest.approx(expect, abs=0.1)


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "needs an audiogram"),
        ({"frequencies_hz": [1000]}, "go together"),
        ({"frequencies_hz": [1000, 500], "gains_db": [1, 2]}, "strictly increasing"),
        ({"audiogram": "x.yaml", "frequencies_hz": [1000], "gains_db": [1]}, "not both"),
        ({"audiogram": "missing.yaml"}, "no such file"),
        ({"audiogram": str(REPO / "examples/audiograms/right_only.json"), "ear": "left"}, "no left ear"),
    ],
)
def test_prescription_params_errors(params, message):
    spec = chain(("stft", {}), ("prescription", params), ("istft", {}))
    with pytest.raises(InvalidInput, match=message):
        hearpipe.load_graph(spec)


def test_fixed_point_fir_is_bit_exact_and_within_0_1_db_of_float(rng):
    g = hearpipe.load_graph(REPO / "graphs" / "nalr_fir.yaml")
    gq = hearpipe.load_graph(REPO / "graphs" / "nalr_fir.yaml", device="cortex-m7")
    blk = gq.blocks["nalr"]
    assert blk.fixed and np.abs(blk.taps_q15).max() <= 32767
    # independent oracle: int64 convolution of the q15 taps (scaled by 2**-shift), >> (15 - shift), saturate
    xq = rng.integers(-12000, 12000, 2000).astype(np.int16)
    gq.reset()
    y = blk.process(xq[None].copy())[0].astype(np.int64)
    acc = np.convolve(xq.astype(np.int64), blk.taps_q15[0].astype(np.int64))[: xq.size]
    expect = np.clip(acc >> (15 - blk.shift), -32768, 32767)
    assert np.array_equal(y, expect)
    fs_db = g.spec.full_scale_db_spl
    for f in (1000.0, 2000.0, 4000.0):
        x = tone_amplitude(70, fs_db) * np.sin(2 * np.pi * f * np.arange(8000) / 16000)
        a, b = g.run(x)[0][1000:], gq.run(x)[0][1000:]
        assert level_db_spl(b, fs_db) == pytest.approx(level_db_spl(a, fs_db), abs=0.1)


def test_prescription_on_fixed_spectra_matches_float():
    g = hearpipe.load_graph(REPO / "graphs" / "nalr_stft.yaml")
    gq = hearpipe.load_graph(REPO / "graphs" / "nalr_stft.yaml", device="hearing-aid-dsp")
    assert gq.blocks["nalr"].fixed
    fs_db = g.spec.full_scale_db_spl
    for level in (40.0, 70.0):
        for freq in (1500.0, 3000.0):
            x = tone_amplitude(level, fs_db) * np.sin(2 * np.pi * freq * np.arange(8000) / 16000)
            a, b = g.run(x)[0][2000:], gq.run(x)[0][2000:]
            assert level_db_spl(b, fs_db) == pytest.approx(level_db_spl(a, fs_db), abs=0.1)


def test_fir_with_every_gain_point_above_nyquist_holds_the_lowest_gain():
    taps = fir_from_gains([9000.0, 10000.0], [12.0, 20.0], 64, 16000)
    _, h = scipy.signal.freqz(taps, worN=[500, 2000, 6000], fs=16000)
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), 12.0, atol=0.5)


def test_missing_audiogram_names_the_node_and_field(tmp_path):
    spec = chain(("stft", {}), ("prescription", {"audiogram": "nowhere.yaml"}), ("istft", {}))
    with pytest.raises(InvalidInput, match=r"nodes\[1\] 'n1' \(prescription\): audiogram: .*nowhere.yaml"):
        hearpipe.load_graph(spec)
