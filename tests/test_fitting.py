"""Fitting to target (issue 19): the band gains of a `wdrc` are solved so that the insertion gain for speech
at 65 dB SPL (long-term output minus input spectrum) matches the NAL-R target wherever the filter bank can
reach it, for the example audiograms and 20 random ones, left and right ears."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import hearpipe
import hearpipe.cli
from hearpipe.dsp import fitting
from hearpipe.dsp.audiogram import Audiogram
from hearpipe.dsp.windows import analysis_window, dual_window
from hearpipe.dsp.wola import istft, stft
from hearpipe.testbox.measure import long_term_spectrum, measure, speech_insertion_gain
from tests.conftest import REPO

TOLERANCE_DB = 2.0  # the issue's: achieved within 2 dB of the target
MODEL_DB = 1.0  # measured against predicted insertion gain (the MPO limiter trims a severe fit by ~0.8 dB)
EXAMPLES = sorted((REPO / "examples/audiograms").glob("*.*"))


def random_audiograms(n: int = 20, seed: int = 19) -> list[dict]:
    """Seeded audiograms, both ears: a threshold at 250 Hz and a slope per octave, with jitter."""
    rng = np.random.default_rng(seed)
    f = [250, 500, 1000, 2000, 3000, 4000, 6000, 8000]
    octaves = np.log2(np.array(f) / 250)
    out = []
    for _ in range(n):
        ears = {}
        for ear in ("left", "right"):
            hl = rng.uniform(0, 45) + rng.uniform(-3, 12) * octaves + rng.uniform(-5, 5, len(f))
            ears[f"{ear}_db_hl"] = np.clip(np.round(hl), -10, 100).tolist()
        out.append({"frequencies_hz": f, **ears})
    return out


def fitted_wdrc(audiogram: dict, channels: int) -> hearpipe.Graph:
    """graphs/wdrc.yaml fitted to an inline audiogram (both ears on a 2-channel graph)."""
    spec = yaml.safe_load((REPO / "graphs/wdrc.yaml").read_text())
    spec["channels"] = channels
    params = spec["nodes"][1]["params"]
    params["audiogram"] = audiogram
    del params["ear"]
    return hearpipe.load_graph(spec)


def check_ear(graph: hearpipe.Graph, channel: int, speech=None) -> tuple[np.ndarray, np.ndarray]:
    """Measure one ear against its fit: returns (reachable, measured - target)."""
    blk = graph.blocks["compressor"]
    fit = blk.fits[channel]
    measured = np.array(speech_insertion_gain(graph, fit.frequencies_hz, channel=channel, speech=speech))
    err = measured - fit.target_db
    # the solver predicts what a clinician measures
    assert np.all(np.abs(measured - fit.achieved_db) < MODEL_DB), (fit.ear, measured, fit.achieved_db)
    # reachable: the solved bank's own prediction is within the tolerance less the model's error
    reachable = np.abs(fit.achieved_db - fit.target_db) <= TOLERANCE_DB - MODEL_DB
    # the bank falls short only at 250-1000 Hz: the 0-750 Hz band holds both 250 and 500 Hz, and the
    # 64-sample window's bands overlap by about 500 Hz, which a steep 500 -> 1000 Hz step cannot follow
    assert np.all(reachable[fit.frequencies_hz > 1000]), (fit.ear, fit.to_dict())
    print(fit.ear, "measured - target", np.round(err, 2), "unreachable at", fit.frequencies_hz[~reachable])
    return reachable, err


def test_ltass_is_ansi_s35_normal_effort():
    # ANSI S3.5-1997 Table 3, normal vocal effort: 62.35 dB SPL overall
    bands = fitting.LTASS_SPECTRUM_LEVEL_DB + 10 * np.log10(
        fitting.THIRD_OCTAVE_BANDWIDTH * fitting.LTASS_CENTERS_HZ
    )
    assert 10 * np.log10(np.sum(10 ** (bands / 10))) == pytest.approx(62.35, abs=0.05)
    f = np.linspace(0, 10000, 200001)
    assert 10 * np.log10(np.trapezoid(fitting.ltass_psd(f, 65.0), f)) == pytest.approx(65.0, abs=0.01)


def test_band_responses_predict_the_stft_with_band_gains(rng):
    """The bank's responses (the time-invariant part of WOLA with per-bin gains) against the STFT run."""
    w = analysis_window("hann", 64)
    band = np.searchsorted([750.0, 1500.0, 3000.0, 5000.0], np.arange(33) * 250.0, side="right")
    f, resp = fitting.stft_band_responses(w, 4, 64, band, 5, 16000.0)
    assert np.allclose(resp.sum(axis=0), 1.0)
    gains_db = np.array([0.0, 12.0, 3.0, 20.0, 8.0])
    x = rng.standard_normal(16000 * 4)
    X = stft(x, w, 4) * 10 ** (gains_db[band] / 20)[:, None]
    y = istft(X, dual_window(w, 4)[0], 4, x.size)
    ratio = long_term_spectrum(y[1000:]) / long_term_spectrum(x[1000:])
    at = np.array([250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 6000.0])
    measured = 10 * np.log10(np.interp(at, np.fft.rfftfreq(1024, 1 / 16000), ratio))
    predicted = fitting.achieved_gain_db(np.stack([np.interp(at, f, r.real) for r in resp]), gains_db)
    assert measured == pytest.approx(predicted, abs=0.3)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_audiograms_meet_nal_r_for_speech_both_ears(path):
    ag = yaml.safe_load(path.read_text())
    ears = Audiogram.model_validate(ag).ears
    g = fitted_wdrc(ag, len(ears))
    for c, ear in enumerate(ears):
        assert g.blocks["compressor"].fits[c].ear == ear
        reachable, err = check_ear(g, c)
        assert np.all(np.abs(err[reachable]) <= TOLERANCE_DB), (ear, err)
        # mild_sloping: NAL-R asks 0 dB at 250 and 500 Hz and 10.4 dB at 1 kHz: 500 Hz gets about +1.9 dB
        if path.stem == "mild_sloping":
            assert not reachable[1] and reachable[2:].all()


def test_random_audiograms_meet_nal_r_for_speech_both_ears():
    worst = 0.0
    for ag in random_audiograms():
        g = fitted_wdrc(ag, 2)
        for c in (0, 1):
            reachable, err = check_ear(g, c)
            assert np.all(np.abs(err[reachable]) <= TOLERANCE_DB), (ag, c, err)
            worst = max(worst, float(np.max(np.abs(err[reachable]))))
    print(f"worst reachable error over 20 random audiograms x 2 ears: {worst:.2f} dB")


def test_inline_audiogram_errors_name_the_field():
    with pytest.raises(
        hearpipe.InvalidInput, match=r"audiogram: inline audiogram: .*left_db_hl has 1 values"
    ):
        fitted_wdrc({"frequencies_hz": [500, 1000], "left_db_hl": [20]}, 1)


def test_fit_cli_writes_a_two_ear_graph_that_checks_anywhere(tmp_path, capsys):
    ag = REPO / "examples/audiograms/mild_sloping.yaml"
    out = tmp_path / "a" / "client.yaml"
    args = [
        "fit",
        str(ag),
        "--rule",
        "nal-r",
        "--graph",
        "wdrc",
        "-o",
        str(out),
        "--plot",
        str(tmp_path / "p"),
    ]
    assert hearpipe.cli.main([*args, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [e["ear"] for e in r["ears"]] == ["left", "right"]
    for e in r["ears"]:
        err = np.array(e["measured_db"]) - np.array(e["gain_db"])
        assert np.all(np.abs(err[2:]) <= TOLERANCE_DB)  # 1-6 kHz; 500 Hz is the bank's limit (above)
    assert sorted(Path(p).name for p in r["plots"]) == [
        "audiogram.png",
        "insertion_gain_left.png",
        "insertion_gain_right.png",
    ]
    assert not list(out.parent.glob(".*part"))  # written atomically: no temporary file left
    copy = tmp_path / "elsewhere" / "client.yaml"
    copy.parent.mkdir()
    copy.write_bytes(out.read_bytes())
    assert hearpipe.cli.main(["check", str(copy)]) == 0
    assert isinstance(yaml.safe_load(copy.read_text())["nodes"][1]["params"]["audiogram"], dict)
    # the 2-channel fitted graph, measured per ear: each ear matches its own target
    g = hearpipe.load_graph(copy)
    assert g.channels == 2
    for c, e in enumerate(r["ears"]):
        measured = np.array(speech_insertion_gain(g, e["frequencies_hz"], channel=c))
        assert np.all(np.abs(measured - np.array(e["gain_db"]))[2:] <= TOLERANCE_DB), (e["ear"], measured)
    left, right = (np.array(speech_insertion_gain(g, [2000.0, 4000.0], channel=c)) for c in (0, 1))
    assert np.all(right - left > 1.0)  # the right ear's NAL-R target is 1.5 dB higher there
    assert measure(g, quick=True, per_band=False, channel=1)["channel"] == 1


def test_fit_cli_ears_and_errors(capsys):
    ag = REPO / "examples/audiograms/right_only.json"
    assert hearpipe.cli.main(["fit", str(ag), "--ear", "both"]) == 2
    assert "only the right ear" in capsys.readouterr().err
    assert hearpipe.cli.main(["fit", str(ag), "-o", "x.yaml"]) == 2
    assert "--graph" in capsys.readouterr().err
    assert hearpipe.cli.main(["fit", str(REPO / "examples/audiograms/severe.yaml"), "--json"]) == 0
    assert [e["ear"] for e in json.loads(capsys.readouterr().out)["ears"]] == ["left", "right"]
    assert hearpipe.cli.main(["fit", str(ag), "--graph", "passthrough"]) == 2
    assert "no wdrc" in capsys.readouterr().err
