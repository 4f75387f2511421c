"""The command line: exit codes 0/1/2/3, readable errors, nothing written on failure."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

import hearpipe
from hearpipe.cli import COMMANDS, main

from .conftest import DEVICES, GRAPHS, REPO


def run(*args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def tone(tmp_path):
    p = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(p, 0.2 * np.sin(2 * np.pi * 440 * t), 16000, subtype="FLOAT")
    return p


def test_console_script_help():
    r = subprocess.run([sys.executable, "-m", "hearpipe", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for cmd in ("render", "budget", "check", "blocks", "devices"):
        assert cmd in r.stdout


def test_blocks_and_devices_list(capsys):
    code, out, _ = run("blocks", capsys=capsys)
    assert code == 0 and "stft:" in out and "hop (int; default 64)" in out
    code, out, _ = run("devices", capsys=capsys)
    assert code == 0 and "hearing-aid-dsp" in out and "MIPS" in out and "KiB" in out


def test_check_shipped_files(capsys):
    code, out, err = run("check", *GRAPHS, *DEVICES, capsys=capsys)
    assert code == 0, err
    assert out.count(": ok") == len(GRAPHS) + len(DEVICES)


def test_check_bad_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [{name: a, type: stfft}]\n")
    code, _, err = run("check", bad, capsys=capsys)
    assert code == 2 and "unknown block type 'stfft'" in err and "Traceback" not in err


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda p: p.stem)
@pytest.mark.parametrize("device", DEVICES, ids=lambda p: p.stem)
def test_budget_every_graph_on_every_device(graph, device, capsys):
    code, out, err = run("budget", graph, "--device", device, "--json", capsys=capsys)
    assert code in (0, 3), err
    rep = json.loads(out)
    assert rep["fits"] == (code == 0)
    assert (
        rep["totals"]["ram_kib"]
        <= rep["totals"]["ram_persistent_kib"] + rep["totals"]["arena_unshared_kib"] + 1e-9
    )
    if code == 3:
        assert "over the budget" in err


def test_over_budget_exit_3_names_limit_and_block(tmp_path, capsys, tone):
    dev = yaml.safe_load((REPO / "devices" / "hearing-aid-dsp.yaml").read_text())
    dev["ram_kib"] = 1.0
    dev["usable_mips"] = 0.1
    small = tmp_path / "tiny.yaml"
    small.write_text(yaml.safe_dump(dev))
    code, _, err = run("budget", REPO / "graphs" / "stft_gain.yaml", "--device", small, capsys=capsys)
    assert code == 3
    assert "RAM" in err and "KiB limit" in err and "over by" in err and "largest: '" in err
    assert "processing" in err and "MIPS" in err
    # render refuses before reading audio, and writes nothing
    out_wav = tmp_path / "out.wav"
    code, _, err = run(
        "render", REPO / "graphs" / "stft_gain.yaml", tone, "-o", out_wav, "--device", small, capsys=capsys
    )
    assert code == 3 and not out_wav.exists()
    code, _, err = run(
        "render",
        REPO / "graphs" / "stft_gain.yaml",
        tone,
        "-o",
        out_wav,
        "--device",
        small,
        "--no-enforce",
        capsys=capsys,
    )
    assert code == 0 and out_wav.exists()


def test_unknown_device_suggests(capsys):
    code, _, err = run(
        "budget", REPO / "graphs" / "passthrough.yaml", "--device", "hearing-aid", capsys=capsys
    )
    assert code == 2 and "did you mean 'hearing-aid-dsp'" in err


def test_render_passthrough_latency_measured(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000) * 0.1
    src = tmp_path / "noise.flac"
    sf.write(src, x, 16000, subtype="PCM_24")
    x = sf.read(src)[0]
    out = tmp_path / "out.wav"
    code, _, err = run("render", REPO / "graphs" / "passthrough.yaml", src, "-o", out, capsys=capsys)
    assert code == 0, err
    y, sr = sf.read(out)
    assert sr == 16000 and len(y) == len(x)
    lag = int(np.argmax(np.correlate(y, x, "full"))) - (len(x) - 1)
    assert lag == 64  # reported latency of the shipped passthrough (4 ms)
    code, _, _ = run(
        "render", REPO / "graphs" / "passthrough.yaml", src, "-o", out, "--compensate-latency", capsys=capsys
    )
    y2, _ = sf.read(out)
    assert np.max(np.abs(y2 - x)) < 2e-7  # time aligned; within 24-bit quantisation


@pytest.mark.parametrize(
    "make_input,message",
    [
        (lambda d: d / "missing.wav", "no such file"),
        (lambda d: (d / "empty.wav", sf.write(d / "empty.wav", np.zeros(0), 16000))[0], "no audio samples"),
        (
            lambda d: (d / "text.wav", (d / "text.wav").write_text("not audio"))[0],
            "not a readable audio file",
        ),
        (
            lambda d: (d / "rate.wav", sf.write(d / "rate.wav", np.zeros(100), 44100))[0],
            "sample rate 44100 Hz",
        ),
        (
            lambda d: (
                d / "nan.wav",
                sf.write(d / "nan.wav", np.array([0.0, np.nan, 0.0]), 16000, subtype="FLOAT"),
            )[0],
            "NaN or Inf",
        ),
    ],
    ids=["missing", "empty", "non-audio", "wrong-rate", "nan"],
)
def test_bad_inputs_exit_2_nothing_written(tmp_path, capsys, make_input, message):
    src = make_input(tmp_path)
    out = tmp_path / "out" / "o.wav"
    out.parent.mkdir()
    code, _, err = run("render", REPO / "graphs" / "passthrough.yaml", src, "-o", out, capsys=capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []  # no partial or temporary file left


def test_truncated_file(tmp_path, capsys, tone):
    data = tone.read_bytes()
    cut = tmp_path / "cut.flac"
    sf.write(cut, sf.read(tone)[0], 16000)
    cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 2])
    out = tmp_path / "o.wav"
    code, _, err = run("render", REPO / "graphs" / "passthrough.yaml", cut, "-o", out, capsys=capsys)
    assert code in (0, 2) and "Traceback" not in err
    if code == 2:
        assert not out.exists()
    assert data == tone.read_bytes()


def test_output_equal_to_input_refused(tone, capsys):
    before = tone.read_bytes()
    code, _, err = run("render", REPO / "graphs" / "passthrough.yaml", tone, "-o", tone, capsys=capsys)
    assert code == 2 and "overwrite the input" in err
    assert tone.read_bytes() == before


def test_unwritable_output_folder(tone, capsys, tmp_path):
    code, _, err = run(
        "render", REPO / "graphs" / "passthrough.yaml", tone, "-o", tmp_path / "nope" / "o.wav", capsys=capsys
    )
    assert code == 2 and "does not exist" in err


def test_several_inputs_into_folder(tmp_path, capsys, tone):
    other = tmp_path / "b.flac"
    sf.write(other, np.zeros((800, 2)), 16000)  # stereo through a mono graph: per channel
    out = tmp_path / "rendered"
    code, _, err = run("render", REPO / "graphs" / "stft_gain.yaml", tone, other, "-o", out, capsys=capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["b.flac", "tone.wav"]
    assert sf.info(out / "b.flac").channels == 2


def test_internal_error_exit_1_without_traceback(monkeypatch, capsys):
    from hearpipe.cli import devices

    def boom(a):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(devices, "run", boom)
    code, _, err = run("devices", capsys=capsys)
    assert code == 1 and "internal error" in err and "Traceback" not in err


def test_render_writes_the_graphs_output_channels(tmp_path, capsys):
    """A graph that selects one ear of a stereo file writes a mono file (it used to fail writing)."""
    src, out, g = tmp_path / "st.wav", tmp_path / "left.wav", tmp_path / "split.yaml"
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (1600, 2))
    sf.write(src, x, 16000, subtype="FLOAT")
    g.write_text(
        yaml.safe_dump(
            {"channels": 2, "nodes": [{"name": "s", "type": "split", "params": {"channels": [1]}}]}
        )
    )
    code, _, err = run("render", g, src, "-o", out, capsys=capsys)
    assert code == 0, err
    y, _ = sf.read(out, always_2d=True)
    assert y.shape == (1600, 1) and np.array_equal(y[:, 0], x[:, 1].astype(np.float32))


def test_measure_plot_folder_refused_before_measuring(tmp_path, capsys):
    not_a_folder = tmp_path / "plots"
    not_a_folder.write_text("a file")
    code, out, err = run("measure", REPO / "graphs" / "stft_gain.yaml", "--plot", not_a_folder, capsys=capsys)
    assert code == 2 and "--plot" in err and "cannot create the plot folder" in err and "Traceback" not in err
    assert out == ""  # nothing measured


def test_render_api_with_a_device_keeps_the_graph_files_folder(tmp_path, tone, monkeypatch):
    """Rebuilding a loaded graph for a device must still find its audiogram relative to the graph file."""
    monkeypatch.chdir(tmp_path)  # not the graph's folder
    g = hearpipe.load_graph(REPO / "graphs" / "nalr_stft.yaml")
    (r,) = hearpipe.render(g, tone, tmp_path / "o.wav", device="desktop", progress=False)
    assert r.output.exists() and r.duration_s == pytest.approx(1.0)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg"])
def test_render_formats_in_and_out(tmp_path, capsys, tone, ext):
    out = tmp_path / f"o.{ext}"
    code, _, err = run("render", REPO / "graphs" / "passthrough.yaml", tone, "-o", out, capsys=capsys)
    assert code == 0, err
    back = tmp_path / f"back.{ext}"
    code, _, err = run("render", REPO / "graphs" / "passthrough.yaml", out, "-o", back, capsys=capsys)
    assert code == 0, err
    y, sr = sf.read(back)
    assert sr == 16000 and len(y) == 16000 and 0.1 < np.max(np.abs(y)) < 0.3


def test_unknown_output_format(tmp_path, capsys, tone):
    code, _, err = run(
        "render", REPO / "graphs" / "passthrough.yaml", tone, "-o", tmp_path / "o.mp9", capsys=capsys
    )
    assert code == 2 and "unknown output format '.mp9'" in err


@pytest.mark.parametrize("cmd", [c.__name__.rpartition(".")[2] for c in COMMANDS])
def test_every_command_shows_its_help(cmd):
    r = subprocess.run([sys.executable, "-m", "hearpipe", cmd, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and f"usage: hearpipe {cmd}" in r.stdout, r.stderr


def test_unknown_option_is_a_usage_error(capsys):
    code, _, err = run("blocks", "--bogus", capsys=capsys)
    assert code == 2 and "unrecognized arguments: --bogus" in err


def test_version(capsys):
    code, out, _ = run("--version", capsys=capsys)
    assert code == 0 and out.startswith("hearpipe ") and out.split()[1] == hearpipe.__version__


def test_check_json_per_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [{name: a, type: stfft}]\n")
    code, out, err = run("check", GRAPHS[0], DEVICES[0], bad, "--json", capsys=capsys)
    assert code == 2 and err == ""
    good_graph, good_device, failed = json.loads(out)
    assert good_graph["ok"] and good_graph["kind"] == "graph" and good_graph["error"] is None
    assert good_device["ok"] and good_device["kind"] == "device"
    assert not failed["ok"] and failed["kind"] == "graph" and "unknown block type 'stfft'" in failed["error"]


def test_blocks_devices_graphs_json(capsys):
    code, out, _ = run("blocks", "--json", capsys=capsys)
    types = {t["type"]: t for t in json.loads(out)}
    assert code == 0 and {"name": "hop", "type": "int", "required": False, "default": 64} in [
        {k: p[k] for k in ("name", "type", "required", "default")} for p in types["stft"]["params"]
    ]
    code, out, _ = run("devices", "--json", capsys=capsys)
    devices = json.loads(out)
    assert code == 0 and [d["device"] for d in devices] == [p.stem for p in DEVICES]
    assert all(d["usable_mips"] > 0 and d["ram_kib"] > 0 for d in devices)
    code, out, _ = run("graphs", "--json", capsys=capsys)
    graphs = json.loads(out)
    assert code == 0 and [g["name"] for g in graphs] == [p.stem for p in GRAPHS]
    assert all(g["description"] for g in graphs)
    code, out, _ = run("graphs", capsys=capsys)
    assert code == 0 and all(p.stem in out for p in GRAPHS)


def test_render_json_summary(tmp_path, tone, capsys):
    out_wav = tmp_path / "o.wav"
    code, out, err = run(
        "render", "passthrough", tone, "-o", out_wav, "--device", "desktop", "--json", capsys=capsys
    )
    assert code == 0, err
    s = json.loads(out)
    assert s["device"] == "desktop" and s["latency_samples"] == 64 and s["latency_ms"] == 4.0
    assert s["latency_compensated"] is False
    (f,) = s["files"]
    assert f["input"] == str(tone) and f["output"] == str(out_wav) and f["duration_s"] == 1.0
    assert f["realtime_factor"] == pytest.approx(f["duration_s"] / f["seconds"])


def test_rendered_file_mode_follows_the_umask(tmp_path, tone):
    old = os.umask(0o027)
    try:
        (r,) = hearpipe.render("passthrough", tone, tmp_path / "o.wav", progress=False)
    finally:
        os.umask(old)
    assert r.output.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("name", ["enhance", "builtin:enhance"])
def test_shipped_graph_by_name(name, capsys):
    code, out, err = run("budget", name, "--device", "hearing-aid-dsp", "--json", capsys=capsys)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["fits"] and Path(rep["graph"]).name == "enhance.yaml"
    code, out, err = run("check", name, "--json", capsys=capsys)
    assert code == 0 and json.loads(out)[0]["kind"] == "graph", err


def test_unknown_graph_name_suggests(capsys):
    code, _, err = run("budget", "enhanse", "--device", "desktop", capsys=capsys)
    assert code == 2 and "unknown graph 'enhanse'; did you mean 'enhance'" in err and "shipped: " in err
    code, _, err = run("budget", "nothere.yaml", "--device", "desktop", capsys=capsys)
    assert code == 2 and "nothere.yaml: no such file" in err


def test_a_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "enhance").write_text((REPO / "graphs" / "passthrough.yaml").read_text())
    g = hearpipe.load_graph("enhance")
    assert g.source == "enhance" and g.spec.name == "passthrough"
    assert hearpipe.load_graph("builtin:enhance").spec.name == "enhance"


def test_blocks_name_shows_one_block(capsys):
    code, out, _ = run("blocks", "limiter", capsys=capsys)
    assert code == 0 and out.startswith("limiter:") and "wdrc:" not in out
    code, _, err = run("blocks", "nope", capsys=capsys)
    assert code == 2 and "unknown block type 'nope'" in err and "wdrc" in err
