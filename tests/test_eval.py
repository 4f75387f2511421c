"""`hearpipe eval`: its scores agree with independent formulas and with the metric packages called
directly on the same signals; the mixtures are deterministic; the JSON/CSV files are written atomically."""

import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from hearpipe.cli import main
from hearpipe.evaluation import mixtures
from hearpipe.evaluation.scoring import write_csv, write_json
from hearpipe.graph.engine import load_graph
from hearpipe.io import render
from hearpipe.metrics.si_snr import si_snr
from tests.conftest import data_dir

pesq_pkg = pytest.importorskip("pesq", reason="needs the 'pesq' package (the eval/test extras)")
pystoi = pytest.importorskip("pystoi", reason="needs the 'pystoi' package (the eval/test extras)")


def small_corpus(tmp_path, n_speech=2, n_noise=2):
    d = data_dir() / "dev"
    for sub, n in (("speech", n_speech), ("noise", n_noise)):
        (tmp_path / sub).mkdir()
        for p in sorted((d / sub).iterdir())[:n]:
            (tmp_path / sub / p.name).symlink_to(p)
    return tmp_path / "speech", tmp_path / "noise"


def independent_si_snr(y, s):
    """SI-SNR by least squares: the best scaled copy of the zero-mean reference, and what is left."""
    y, s = y - y.mean(), s - s.mean()
    alpha = np.linalg.lstsq(s[:, None], y, rcond=None)[0][0]
    target = alpha * s
    return 10 * np.log10(np.sum(target**2) / np.sum((y - target) ** 2))


@pytest.mark.data
def test_eval_scores_match_independent_formula_and_the_packages(tmp_path, capsys):
    speech, noise = small_corpus(tmp_path)
    args = ["enhance", "--speech", str(speech), "--noise", str(noise), "--snr", "0", "5", "--seconds", "1.5"]
    assert main(["eval", *args, "--seed", "3", "--json", "-q"]) == 0
    res = json.loads(capsys.readouterr().out)
    g = load_graph("enhance")
    mixes = mixtures.mixtures(speech, noise, [0, 5], sample_rate_hz=16000,
                              rms=mixtures.speech_rms(65.0, g.spec.full_scale_db_spl), seconds=1.5, seed=3)  # fmt: skip
    assert [r["name"] for r in res["files"]] == [m.name for m in mixes]
    for m, row in zip(mixes, res["files"]):
        sf.write(tmp_path / "noisy.wav", m.noisy, 16000, subtype="DOUBLE")
        render(g, tmp_path / "noisy.wav", tmp_path / "out.wav", compensate_latency=True, progress=False)
        y, _ = sf.read(tmp_path / "out.wav")
        assert len(y) == len(m.clean)
        assert abs(row["out_si_snr"] - independent_si_snr(y, m.clean)) < 0.01
        assert abs(row["in_si_snr"] - independent_si_snr(m.noisy, m.clean)) < 0.01
        assert row["out_pesq"] == pesq_pkg.pesq(16000, m.clean, y, "wb")
        assert row["in_pesq"] == pesq_pkg.pesq(16000, m.clean, m.noisy, "wb")
        assert row["out_stoi"] == pystoi.stoi(m.clean, y, 16000)
        # ESTOI: numpy's summation may round the last bit differently for arrays at other addresses
        assert row["out_estoi"] == pytest.approx(pystoi.stoi(m.clean, y, 16000, extended=True), rel=1e-12)
    agg = res["aggregate"]["gain_si_snr"]
    gains = [r["out_si_snr"] - r["in_si_snr"] for r in res["files"]]
    assert agg["mean"] == pytest.approx(np.mean(gains)) and agg["ci95_low"] < agg["mean"] < agg["ci95_high"]


@pytest.mark.data
def test_mixtures_are_deterministic_and_at_the_level_asked(tmp_path):
    speech, noise = small_corpus(tmp_path, n_speech=3, n_noise=3)
    kw = {"sample_rate_hz": 16000, "rms": mixtures.speech_rms(70.0, 110.0), "seconds": 1.0}
    a = mixtures.mixtures(speech, noise, [0, 10], seed=7, **kw)
    b = mixtures.mixtures(speech, noise, [0, 10], seed=7, **kw)
    c = mixtures.mixtures(speech, noise, [0, 10], seed=8, **kw)
    assert [m.name for m in a] == [m.name for m in b]
    assert all(np.array_equal(x.noisy, y.noisy) and np.array_equal(x.clean, y.clean) for x, y in zip(a, b))
    assert any(not np.array_equal(x.noisy, y.noisy) for x, y in zip(a, c))
    for m in a:  # speech at 70 dB SPL (full-scale sine = 110 dB SPL), noise at the SNR below it
        assert 110 + 10 * np.log10(2 * np.mean(m.clean**2)) == pytest.approx(70.0)
        snr = 10 * np.log10(np.sum(m.clean**2) / np.sum((m.noisy - m.clean) ** 2))
        assert snr == pytest.approx(m.snr_db)


@pytest.mark.data
def test_pairs_with_noisy_and_clean_stems(tmp_path, capsys):
    d = data_dir() / "dev"
    rc = main(
        [
            "eval",
            "passthrough",
            "--pairs",
            str(d / "noisy_pairs"),
            "--clean",
            str(d / "speech"),
            "--json",
            "-q",
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["files"]) == len(list((d / "noisy_pairs").iterdir()))
    for r in res["files"]:  # passthrough: the output is the input
        assert r["out_si_snr"] == pytest.approx(r["in_si_snr"], abs=1e-6)


def test_eval_without_a_corpus_is_one_clear_error(capsys):
    assert main(["eval", "passthrough"]) == 2
    assert "give --speech DIR and --noise DIR, --preset NAME, or --pairs DIR" in capsys.readouterr().err


def test_json_and_csv_are_written_atomically(tmp_path, monkeypatch):
    rows = [{"name": "a", "snr_db": 0.0, "out_si_snr": 1.5}, {"name": "b", "snr_db": 5.0, "out_si_snr": 2.5}]
    write_csv(tmp_path / "r.csv", rows)
    assert [r["name"] for r in csv.DictReader(open(tmp_path / "r.csv"))] == ["a", "b"]
    write_json(tmp_path / "r.json", {"files": rows})
    before = (tmp_path / "r.json").read_text()

    def fail(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_json(tmp_path / "r.json", {"files": []})
    with pytest.raises(OSError):
        write_csv(tmp_path / "new.csv", rows)
    assert (tmp_path / "r.json").read_text() == before  # the old file whole, no new one, no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json"]


@pytest.mark.data
def test_preset_dev_mixes_as_dev_mixtures(tmp_path, capsys):
    """`hearpipe eval --preset dev` scores the mixtures `hearpipe evaluate` scores (one generator)."""
    speech, noise = small_corpus(tmp_path)
    args = [
        "passthrough",
        "--preset",
        "dev",
        "--speech",
        str(speech),
        "--noise",
        str(noise),
        "--seconds",
        "0.5",
    ]
    assert main(["eval", *args, "--json", "-q"]) == 0
    res = json.loads(capsys.readouterr().out)
    want = mixtures.preset_mixtures(mixtures.DEV, speech, noise, seconds=0.5)
    assert [r["name"] for r in res["files"]] == [m.name for m in want] and len(want) == 4
    assert res["seed"] == mixtures.DEV.seed and res["preset"] == "dev" and res["level_db_spl"] is None
    for m, r in zip(want, res["files"]):  # the input's score is that of the preset's mixture
        assert r["in_si_snr"] == si_snr(m.noisy, m.clean)


def test_haspi_hasqi_through_the_one_scoring_path(rng):
    """With a listener, `scores` adds pyclarity's HASPI v2 / HASQI v2: the clean speech itself is more
    intelligible than a noisy copy (pyclarity adds its own unseeded noise, so no exact values)."""
    pytest.importorskip("clarity", reason="needs the optional 'pyclarity' package")
    from hearpipe.evaluation.scoring import Listener, scores

    fs = 16000
    t = np.arange(fs) / fs
    clean = 0.1 * np.sin(2 * np.pi * 300 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    noisy = clean + 0.05 * rng.standard_normal(fs)
    who = Listener((250.0, 1000.0, 4000.0), (20.0, 30.0, 50.0), "test")
    a = scores(clean, clean, fs, who, 100.0, metrics=("haspi", "hasqi"))
    b = scores(noisy, clean, fs, who, 100.0, metrics=("haspi", "hasqi"))
    assert set(a) == {"haspi", "hasqi"} and all(0 <= v <= 1 for v in (*a.values(), *b.values()))
    assert a["haspi"] > b["haspi"] and a["hasqi"] > b["hasqi"]
    assert scores(noisy, clean, fs, None, 100.0, metrics=("haspi",)) == {}  # no listener, no HASPI
