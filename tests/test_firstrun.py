"""The README's first command (issue 21): the shipped speech-in-noise recording through the hearing-aid chain
on the hearing-aid DSP, its summary (device, budget use, levels in dB SPL, speed) and its spectrogram."""

import json
import runpy
import sys

import numpy as np
import pytest
import soundfile as sf

from hearpipe.cli import main
from hearpipe.graph.engine import load_graph
from hearpipe.io import render_file
from hearpipe.metrics.level import level_db_spl

from .conftest import REPO

DEMO = REPO / "examples" / "speech_in_street_noise.flac"
GRAPH = REPO / "graphs" / "hearing_aid.yaml"
DEMO_SECONDS = 4.81  # the length examples/README.md states
FULL_SCALE_DB_SPL = 110.0  # graphs/hearing_aid.yaml


def run(*args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_demo_recording_is_short_16k_mono():
    info = sf.info(str(DEMO))
    assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
    assert info.duration == pytest.approx(DEMO_SECONDS, abs=0.005)
    assert DEMO.stat().st_size < 200 * 1024


@pytest.mark.data
def test_demo_recording_is_remade_bit_identical(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["make_speech_in_noise.py", str(tmp_path / "again.flac")])
    runpy.run_path(str(REPO / "examples" / "make_speech_in_noise.py"), run_name="__main__")
    a, _ = sf.read(str(DEMO), dtype="int16")
    b, _ = sf.read(str(tmp_path / "again.flac"), dtype="int16")
    np.testing.assert_array_equal(a, b)
    # the calibration it states: speech 70 dB SPL + noise 65 dB SPL, the mixture within the power sum
    assert 65.0 < level_db_spl(a / 32768.0, FULL_SCALE_DB_SPL) < 71.2


def test_first_command_summary_text(tmp_path, capsys):
    out = tmp_path / "out.wav"
    code, text, err = run("render", GRAPH, DEMO, "-o", out, "--device", "hearing-aid-dsp", capsys=capsys)
    assert code == 0, err
    budget = load_graph(GRAPH, device="hearing-aid-dsp").budget()
    t, lim = budget.totals, budget.limits
    lines = text.splitlines()
    dev = next(x for x in lines if x.startswith("device hearing-aid-dsp"))
    assert "bit-true fixed point" in dev and dev.endswith(": fits")
    for value, limit, unit in ((t["mips"], lim["mips"], "MIPS"), (t["rom_kib"], lim["rom_kib"], "KiB"),
                               (t["ram_kib"], lim["ram_kib"], "KiB"), (t["latency_ms"], lim["latency_ms"], "ms")):  # fmt: skip
        assert f"{value:.1f} of {limit:g} {unit}" in dev or f"{value:g} of {limit:g} {unit}" in dev
    x, _ = sf.read(str(DEMO))
    y, _ = sf.read(str(out))
    level = next(x for x in lines if "dB SPL in" in x)
    assert f"{level_db_spl(x, FULL_SCALE_DB_SPL):.1f} dB SPL in" in level
    assert f"{level_db_spl(y, FULL_SCALE_DB_SPL):.1f} dB SPL out" in level
    assert any("x real time" in x and str(out) in x for x in lines)
    assert any("hearpipe budget" in x for x in lines) and any("hearpipe measure" in x for x in lines)


def test_first_command_summary_json(tmp_path, capsys):
    out = tmp_path / "out.flac"
    code, text, err = run(
        "render", GRAPH, DEMO, "-o", out, "--device", "hearing-aid-dsp", "--json", capsys=capsys
    )
    assert code == 0, err
    s = json.loads(text)
    budget = load_graph(GRAPH, device="hearing-aid-dsp").budget()
    assert s["budget"] == {"totals": budget.totals, "limits": budget.limits, "fits": True}
    assert (s["device"], s["arithmetic"], s["full_scale_db_spl"]) == ("hearing-aid-dsp", "fixed", 110.0)
    (f,) = s["files"]
    x, _ = sf.read(str(DEMO))
    y, _ = sf.read(str(out))
    assert f["input_db_spl"] == pytest.approx(level_db_spl(x, 110.0), abs=1e-9)
    assert f["output_db_spl"] == pytest.approx(level_db_spl(y, 110.0), abs=1e-6)
    assert f["realtime_factor"] > 0 and f["warmup_s"] > 0 and s["plots"] == []


def test_warm_up_before_the_clock_leaves_no_state(tmp_path):
    # the render runs silence through the graph before timing it (numba compile); the output must be what a
    # fresh graph gives for the file alone
    g = load_graph(GRAPH, device="hearing-aid-dsp")
    r = render_file(g, DEMO, tmp_path / "o.wav", progress=False, subtype="FLOAT")
    x, _ = sf.read(str(DEMO), dtype="float64")
    expect = load_graph(GRAPH, device="hearing-aid-dsp").run(x)[0].astype(np.float32)
    y, _ = sf.read(str(tmp_path / "o.wav"), dtype="float32")
    np.testing.assert_array_equal(y, expect[: len(y)])
    assert len(y) == len(x) and r.warmup_s > 0


def test_quiet_is_one_line_per_file(tmp_path, capsys):
    code, text, err = run("render", GRAPH, DEMO, "-o", tmp_path / "o.wav", "-q", capsys=capsys)
    assert code == 0, err
    (line,) = text.splitlines()
    assert "dB SPL in" in line and "real time" in line


def test_plot_writes_a_before_after_spectrogram(tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image", reason="--plot needs matplotlib (the plot extra)")
    out = tmp_path / "out.wav"
    code, text, err = run(
        "render",
        GRAPH,
        DEMO,
        "-o",
        out,
        "--device",
        "hearing-aid-dsp",
        "--plot",
        tmp_path / "p",
        capsys=capsys,
    )
    assert code == 0, err
    png = tmp_path / "p" / "out_spectrogram.png"
    assert f"spectrogram: {png}" in text
    img = image.imread(str(png))
    assert img.shape[0] > 400 and img.shape[1] > 600
    # not blank: inside each spectrogram (before, after; the level trace is below them) many of the
    # colour scale's 14 steps, where a blank one would show one
    h, w = img.shape[:2]
    for top, bottom in ((0.15, 0.35), (0.45, 0.65)):
        inside = img[round(top * h) : round(bottom * h), round(0.15 * w) : round(0.7 * w)]
        assert len(np.unique(inside.reshape(-1, img.shape[2]), axis=0)) >= 8


def test_plot_without_matplotlib_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    out = tmp_path / "o.wav"
    code, _, err = run("render", GRAPH, DEMO, "-o", out, "--plot", tmp_path / "p", capsys=capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "pip install 'hearpipe[plot]'" in err
    assert not out.exists()  # refused before rendering
