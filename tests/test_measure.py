"""The virtual test box on the shipped graphs: static I/O, ANSI attack/release, latency, tones, outputs."""

import copy
import json

import numpy as np
import pytest
import yaml

import hearpipe
import hearpipe.cli
from hearpipe.dsp.audiogram import load_audiogram
from hearpipe.dsp.prescription import fit_table, prescribe
from hearpipe.graph.edit import bypass
from hearpipe.testbox.ears import adaptive_note
from hearpipe.testbox.measure import (
    attack_release,
    configured_io,
    io_curve,
    measure,
    measured_latency,
    tone_envelope,
)

from .conftest import REPO

WDRC_YAML = REPO / "graphs" / "wdrc.yaml"


def wdrc_spec(**compressor):
    spec = yaml.safe_load(WDRC_YAML.read_text())
    spec = copy.deepcopy(spec)
    node = next(n for n in spec["nodes"] if n["type"] == "wdrc")
    node["params"]["audiogram"] = str((WDRC_YAML.parent / node["params"]["audiogram"]).resolve())
    node["params"].update(compressor)
    return spec


@pytest.fixture(scope="module")
def wdrc_graph():
    return hearpipe.load_graph(WDRC_YAML)


def expected_output_1k(levels, graph=WDRC_YAML):
    """A shipped graph's configured curve at 1 kHz, computed here from its parameters (expansion 0.7:1 below
    35 dB SPL, its ratio above 45) and the gain solved for its 750-1500 Hz band (the solved gains are checked
    against speech in tests/test_fitting.py)."""
    comp = hearpipe.load_graph(graph).blocks["compressor"]
    gain, ratio = comp.prescribed_gains_db[0, 1], comp.params.ratio
    out = []
    for x in levels:
        if x < 35:
            y = 35 + gain + (x - 35) / 0.7
        elif x <= 45:
            y = x + gain
        else:
            y = 45 + gain + (x - 45) / ratio
        out.append(y if y <= 105 else 105 + (y - 105) / 10)
    return np.array(out)


def test_static_io_curve_within_1_db_of_configured(wdrc_graph):
    levels = np.arange(40.0, 91.0, 5.0)
    r = io_curve(wdrc_graph, 1000.0, levels)
    expect = expected_output_1k(levels)
    assert np.max(np.abs(np.array(r["output_db_spl"]) - expect)) < 1.0
    # the graph's own account of its configuration agrees with the independent one
    np.testing.assert_allclose(r["configured_output_db_spl"], expect, atol=0.2)


def test_tones_in_each_band_come_out_where_the_static_curve_says(wdrc_graph):
    blk = wdrc_graph.blocks["compressor"]
    levels = np.arange(50.0, 81.0, 10.0)
    for band in (1, 2, 3):
        f = float(blk.band_centers_hz[band])
        r = io_curve(wdrc_graph, f, levels)
        expect = blk.curves[0][band].output_db(levels)
        assert np.max(np.abs(np.array(r["output_db_spl"]) - expect)) < 1.0, f
        np.testing.assert_allclose(configured_io(wdrc_graph, f, levels), expect, atol=0.2)


@pytest.mark.parametrize("attack_ms,release_ms", [(5, 50), (10, 200), (2, 1000)])
def test_attack_and_release_within_25_percent(attack_ms, release_ms):
    g = hearpipe.load_graph(wdrc_spec(attack_ms=attack_ms, release_ms=release_ms))
    r = attack_release(g)
    assert r["attack_ms"] == pytest.approx(attack_ms, rel=0.25)
    assert r["release_ms"] == pytest.approx(release_ms, rel=0.25)


def test_btnrh_time_constants_measure_as_the_dB_detector_predicts():
    # BTNRH divisors on this dB-domain detector: release ~ ln(35 (1 - 1/CR) / 3) / 1.782 x configured
    g = hearpipe.load_graph(wdrc_spec(attack_ms=10, release_ms=200, time_constants="btnrh"))
    r = attack_release(g)
    predicted = 200 * np.log(35 * 0.6 / 3) / 1.782
    assert r["release_ms"] == pytest.approx(predicted, rel=0.05)
    assert r["attack_ms"] < 10 * np.log(35 * 0.6 / 3) / 2.425 + 0.5  # never slower than the ideal detector


def test_latency_reported_equals_measured(wdrc_graph):
    assert measured_latency(wdrc_graph) == wdrc_graph.latency_samples == 60
    fir = hearpipe.load_graph(REPO / "graphs" / "nalr_fir.yaml")
    assert measured_latency(fir) == fir.latency_samples == 32


def test_tone_envelope_is_local():
    fs, f = 16000.0, 2000.0
    n = np.arange(1600)
    amp = np.where(n < 800, 1.0, 0.01)
    env = tone_envelope(amp * np.sin(2 * np.pi * f * n / fs), f, fs)
    np.testing.assert_allclose(env[100:790], 1.0, atol=1e-9)
    np.testing.assert_allclose(env[810:1500], 0.01, atol=1e-9)  # no leakage from the loud half


def test_measure_result_is_json_and_plots_are_written(wdrc_graph, tmp_path):
    r = measure(wdrc_graph, quick=True)
    text = json.dumps(r)
    back = json.loads(text)
    for key in (
        "attack_ms",
        "release_ms",
        "io_curve",
        "frequency_response",
        "ospl90",
        "full_on_gain_db",
        "reference_test_gain_db",
        "harmonic_distortion",
        "equivalent_input_noise_db_spl",
    ):
        assert key in back
    assert len(back["io_curve"]["input_db_spl"]) == len(back["io_curve"]["output_db_spl"])
    assert back["latency_samples"] == {"reported": 60, "measured": 60}
    # a 50 dB SPL input gets more gain than an 80 dB SPL one (compression)
    assert np.all(
        np.array(r["frequency_response"]["gain_db"]["50"])
        > np.array(r["frequency_response"]["gain_db"]["80"])
    )
    assert all(d["thd_percent"] < 1.0 for d in r["harmonic_distortion"])
    pytest.importorskip("matplotlib")
    from hearpipe.testbox.plots import plot_measurements

    paths = plot_measurements(r, tmp_path / "plots")
    assert {p.name for p in paths} == {"io_curves.png", "frequency_response.png", "attack_release.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_api_and_cli(capsys):
    ag = REPO / "examples/audiograms/right_only.json"
    r = fit_table(ag, "nal-r")
    assert r["ear"] == "right" and r["frequencies_hz"] == [250, 500, 1000, 2000, 4000, 6000]
    assert hearpipe.cli.main(["fit", str(ag), "--rule", "half-gain", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ears"][0]["gain_db"] == [10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 32.5]
    assert hearpipe.cli.main(["fit", str(ag), "--ear", "left"]) == 2
    assert "no left ear" in capsys.readouterr().err


def test_measure_cli_json(capsys, tmp_path):
    assert hearpipe.cli.main(["measure", str(REPO / "graphs" / "nalr_fir.yaml"), "--quick", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["ears"][0]
    # a linear FIR: the gain does not depend on the input level
    np.testing.assert_allclose(
        r["frequency_response"]["gain_db"]["50"], r["frequency_response"]["gain_db"]["80"], atol=0.01
    )
    assert r["latency_samples"]["measured"] == 32


def test_full_hearing_aid_chain_latency_and_test_mode():
    g = hearpipe.load_graph(REPO / "graphs" / "hearing_aid.yaml")
    assert measured_latency(g) == g.latency_samples == 64
    # test mode: noise reduction bypassed (it would treat steady tones as noise); the compressor's
    # static curve is then what the box measures at 1 kHz
    t = bypass(g, ["groupcomm"])
    assert "groupcomm" not in t.blocks and t.latency_samples == 64
    levels = np.arange(40.0, 91.0, 10.0)
    r = io_curve(t, 1000.0, levels)
    want = expected_output_1k(levels, REPO / "graphs" / "hearing_aid.yaml")
    assert np.max(np.abs(np.array(r["output_db_spl"]) - want)) < 1.0
    with pytest.raises(hearpipe.InvalidInput, match="unknown node"):
        bypass(g, ["nope"])
    with pytest.raises(hearpipe.InvalidInput, match="changes the signal format"):
        bypass(g, ["analysis"])


def test_measure_per_ear_labels_targets_and_test_mode(capsys, tmp_path):
    client = tmp_path / "client.yaml"
    ag = REPO / "examples/audiograms/mild_sloping.yaml"
    assert hearpipe.cli.main(["fit", str(ag), "--graph", "wdrc", "-o", str(client), "--json"]) == 0
    capsys.readouterr()
    assert hearpipe.cli.main(["measure", str(client), "--quick", "--json", "--device", "cortex-m4f"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [e["ear"] for e in r["ears"]] == ["left", "right"] and r["test_mode_note"] is None
    assert all(
        "fixed point of cortex-m4f" in e["label"] and e["arithmetic"] == r["arithmetic"] for e in r["ears"]
    )
    # each ear carries its own ear's prescription (the example audiogram's ears differ at 2 kHz and above)
    audiogram = load_audiogram(ag)
    for e in r["ears"]:
        _, g = prescribe(audiogram, "nal-r", e["ear"])
        assert e["target"]["target_db"] == [round(float(v), 2) for v in g]
    left, right = r["ears"]
    assert right["target"]["target_db"] != left["target"]["target_db"]
    # ... and is measured on its own channel: the right ear's 2 kHz gain exceeds the left's as its target does
    i = left["frequency_response"]["frequencies_hz"].index(2000.0)
    assert (
        right["frequency_response"]["gain_db"]["65"][i] > left["frequency_response"]["gain_db"]["65"][i] + 0.5
    )
    # --ear picks one, named in the label and the plot file names
    argv = ["measure", str(client), "--quick", "--ear", "right", "--plot", str(tmp_path / "p")]
    assert hearpipe.cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "== wdrc, right ear, float ==" in out and "left ear" not in out
    assert (tmp_path / "p" / "frequency_response_right.png").exists()
    assert not (tmp_path / "p" / "frequency_response_left.png").exists()
    assert hearpipe.cli.main(["measure", "passthrough", "--ear", "left"]) == 2
    assert "channels are mono" in capsys.readouterr().err


def test_measure_names_the_adaptive_node_to_bypass():
    g = hearpipe.load_graph(REPO / "graphs" / "hearing_aid.yaml")
    note = adaptive_note(g)
    assert "test mode" in note and "--bypass groupcomm" in note
    assert adaptive_note(bypass(g, ["groupcomm"])) is None
