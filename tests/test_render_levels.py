"""Presentation levels, bypassed nodes and mono files in a render (issue 19): ITU-T P.56 active speech
level, `render --level-db-spl`, `--bypass`, `--duplicate-mono`."""

import json

import numpy as np
import pytest
import soundfile as sf
import yaml

from hearpipe.cli import main
from hearpipe.metrics.level import ActiveLevel, active_level_db_spl, level_db_spl, mean_square_db_spl

from .conftest import chain

FS = 16000


def _run(*args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _gated_tone(seconds=20.0, period_s=5.0, amplitude=0.1):
    """A 1 kHz tone switched on and off every `period_s`: on half the time."""
    t = np.arange(round(seconds * FS)) / FS
    return amplitude * np.sin(2 * np.pi * 1000 * t) * (np.floor(t / period_s) % 2 == 0)


def test_active_level_of_a_steady_tone_is_its_level():
    x = _gated_tone(period_s=100.0)  # never off
    assert active_level_db_spl(x, FS, 110.0) == pytest.approx(level_db_spl(x, 110.0), abs=0.1)


def test_active_level_of_a_tone_on_half_the_time_is_3_db_above_its_long_term_level():
    x = _gated_tone()
    # the envelope's decay and the 0.2 s hangover count a little of each pause as active: a bit under 3 dB
    assert active_level_db_spl(x, FS, 110.0) - level_db_spl(x, 110.0) == pytest.approx(3.0, abs=0.5)


def test_active_level_streamed_in_blocks_equals_the_whole_signal():
    x = _gated_tone()
    acc = ActiveLevel(FS)
    for block in np.array_split(x, 37):
        acc.update(block)
    assert mean_square_db_spl(acc.mean_square(), 110.0) == pytest.approx(
        active_level_db_spl(x, FS, 110.0), abs=1e-9
    )
    assert ActiveLevel(FS).mean_square() == 0.0  # nothing heard: no active level


def _graph(tmp_path, *nodes, channels=1):
    p = tmp_path / "g.yaml"
    p.write_text(yaml.safe_dump(chain(*nodes, channels=channels)))
    return p


def test_render_at_a_presentation_level(tmp_path, capsys):
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    x = _gated_tone(seconds=4.0, period_s=1.0, amplitude=0.3)
    sf.write(src, x, FS, subtype="DOUBLE")
    g = _graph(tmp_path, ("gain", {"gain_db": 0.0}))
    code, text, err = _run("render", g, src, "-o", out, "--level-db-spl", 65, "--json", capsys=capsys)
    assert code == 0, err
    summary = json.loads(text)
    (f,), fs_db = summary["files"], summary["full_scale_db_spl"]
    assert f["gain_db"] == pytest.approx(65.0 - active_level_db_spl(x, FS, fs_db), abs=1e-9)
    assert f["input_active_db_spl"] == pytest.approx(65.0, abs=0.01)
    assert f["input_db_spl"] == pytest.approx(level_db_spl(x, fs_db) + f["gain_db"], abs=1e-6)
    y, _ = sf.read(out)
    assert np.allclose(y, x * 10 ** (f["gain_db"] / 20), atol=1e-9)  # the gain reached the audio
    code, text, err = _run("render", g, src, "-o", out, "--level-db-spl", 65, capsys=capsys)
    assert code == 0 and "active speech 65.0 dB SPL" in text and "to --level-db-spl 65" in text


def test_render_at_a_presentation_level_refuses_silence(tmp_path, capsys):
    src = tmp_path / "silence.wav"
    sf.write(src, np.zeros(FS), FS)
    g = _graph(tmp_path, ("gain", {}))
    code, _, err = _run("render", g, src, "-o", tmp_path / "o.wav", "--level-db-spl", 65, capsys=capsys)
    assert code == 2 and "digital silence" in err and len(err.strip().splitlines()) == 1


def test_render_bypass(tmp_path, capsys):
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    x = np.random.default_rng(1).uniform(-0.1, 0.1, FS)
    sf.write(src, x, FS, subtype="DOUBLE")
    g = _graph(tmp_path, ("gain", {"gain_db": 6.0}), ("gain", {"gain_db": 0.0}))
    code, text, err = _run("render", g, src, "-o", out, "--bypass", "n0", "--json", capsys=capsys)
    assert code == 0, err
    assert json.loads(text)["bypassed"] == ["n0"]
    assert np.allclose(sf.read(out)[0], x, atol=1e-12)  # without the bypass it would be 6 dB up
    code, text, _ = _run("render", g, src, "-o", out, "--bypass", "n0", capsys=capsys)
    assert code == 0 and "bypassed: n0" in text
    code, _, err = _run("render", g, src, "-o", out, "--bypass", "nope", capsys=capsys)
    assert code == 2 and "unknown node" in err


def test_mono_into_a_two_channel_graph(tmp_path, capsys):
    src, out = tmp_path / "mono.wav", tmp_path / "out.wav"
    x = np.random.default_rng(2).uniform(-0.1, 0.1, FS)
    sf.write(src, x, FS, subtype="DOUBLE")
    g = _graph(tmp_path, ("gain", {"gain_db": 0.0}), channels=2)
    code, _, err = _run("render", g, src, "-o", out, capsys=capsys)
    assert code == 2 and "--duplicate-mono" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    code, _, err = _run("render", g, src, "-o", out, "--duplicate-mono", "-q", capsys=capsys)
    assert code == 0, err
    y, _ = sf.read(out, always_2d=True)
    assert y.shape == (FS, 2) and np.allclose(y[:, 0], x) and np.allclose(y[:, 1], x)


def test_short_term_level_trace_follows_a_level_step():
    from hearpipe.plots.render import short_term_db_spl

    t = np.arange(FS) / FS
    x = np.sin(2 * np.pi * 1000 * t) * np.where(t < 0.5, 0.1, 0.01)  # -20 dBFS, then -40 dBFS
    levels = short_term_db_spl(x[:, None], FS, 110.0)
    assert len(levels) == 8  # whole 125 ms windows
    assert np.allclose(levels[:4], 90.0, atol=0.05) and np.allclose(levels[4:], 70.0, atol=0.05)


def test_plot_of_a_render_at_a_presentation_level(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    src = tmp_path / "in.wav"
    sf.write(src, _gated_tone(seconds=2.0, period_s=0.5, amplitude=0.3), FS)
    g = _graph(tmp_path, ("gain", {"gain_db": 0.0}))
    out, plots = tmp_path / "out.wav", tmp_path / "p"
    code, text, err = _run("render", g, src, "-o", out, "--level-db-spl", 60, "--plot", plots, capsys=capsys)
    assert code == 0, err
    assert f"spectrogram: {plots / 'out_spectrogram.png'}" in text
    assert (plots / "out_spectrogram.png").stat().st_size > 10_000
