"""Broken audio, odd outputs and signals during a render (issue 20): a clear exit code, a notice or error
that says what happened, and no temporary file left behind."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from hearpipe.cli import main

from .conftest import REPO


def run(*args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.err


def tone(path, seconds=0.2, amplitude=0.3, subtype="PCM_16"):
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, amplitude * np.sin(2 * np.pi * 440 * t), 16000, subtype=subtype)
    return path


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_truncated_wav_is_reported_not_rendered_short(tmp_path, capsys):
    whole = tone(tmp_path / "whole.wav")  # 3200 frames promised by the header
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 1000])  # 500 frames present
    code, err = run("render", "passthrough", cut, "-o", tmp_path / "out.wav", "-q", capsys=capsys)
    assert code == 2
    assert "cut.wav: truncated: the header promises 3200 samples per channel, the file holds 500" in err
    assert not (tmp_path / "out.wav").exists() and not leftovers(tmp_path)


def test_flac_cut_in_half_names_where_it_breaks(tmp_path, capsys):
    src = tmp_path / "long.flac"
    rng = np.random.default_rng(0)
    sf.write(src, 0.1 * rng.standard_normal(16000 * 8), 16000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    code, err = run("render", "passthrough", cut, "-o", tmp_path / "out.wav", "-q", capsys=capsys)
    assert code == 2 and "of 128000" in err
    at = int(err.split("breaks at sample ")[1].split()[0])
    assert 40000 < at < 90000  # near the middle, not "at sample 0"
    assert not (tmp_path / "out.wav").exists() and not leftovers(tmp_path)


def test_float_beyond_full_scale_to_flac_says_how_many_clipped(tmp_path, capsys):
    src = tone(tmp_path / "loud.wav", amplitude=1.5, subtype="FLOAT")
    code, err = run("render", "passthrough", src, "-o", tmp_path / "float.wav", "-q", capsys=capsys)
    assert code == 0 and "clipped by" not in err and sf.info(tmp_path / "float.wav").subtype == "FLOAT"
    n = int(np.count_nonzero(np.abs(sf.read(tmp_path / "float.wav")[0]) > 1.0))  # what PCM must clip
    assert n > 1000
    code, err = run("render", "passthrough", src, "-o", tmp_path / "out.flac", "-q", capsys=capsys)
    assert code == 0
    assert f"out.flac: {n} output samples beyond full scale were clipped by the PCM_16 format" in err
    code, err = run(
        "render",
        "passthrough",
        src,
        "-o",
        tmp_path / "strict.flac",
        "-q",
        "--clipping",
        "error",
        capsys=capsys,
    )
    assert code == 2 and f"{n} output samples beyond full scale would be clipped" in err
    assert not (tmp_path / "strict.flac").exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_output_mode_follows_the_umask(tmp_path, capsys, umask):
    src = tone(tmp_path / "in.wav")
    old = os.umask(umask)
    try:
        code, _ = run("render", "passthrough", src, "-o", tmp_path / "out.wav", "-q", capsys=capsys)
    finally:
        os.umask(old)
    assert code == 0 and (tmp_path / "out.wav").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("folder", ["/sys", "/proc"])
def test_pseudo_file_systems_are_invalid_outputs(tmp_path, capsys, folder):
    src = tone(tmp_path / "in.wav")
    code, err = run("render", "passthrough", src, "-o", f"{folder}/hearpipe-test.wav", "-q", capsys=capsys)
    assert code == 2 and f"{folder}/hearpipe-test.wav: cannot write" in err


def test_multi_file_render_validates_every_input_first(tmp_path, capsys):
    good = tone(tmp_path / "a.wav")
    bad = tmp_path / "b.wav"
    bad.write_bytes(good.read_bytes()[:500])
    out = tmp_path / "out"
    code, err = run("render", "passthrough", good, bad, "-o", out, "-q", capsys=capsys)
    assert code == 2 and "b.wav: truncated" in err
    assert not out.exists()  # checked before the output folder is made


def test_multi_file_render_names_what_it_wrote_before_a_broken_stream(tmp_path, capsys):
    good = tone(tmp_path / "a.flac")
    src = tmp_path / "long.flac"
    sf.write(src, 0.1 * np.random.default_rng(0).standard_normal(16000 * 8), 16000)
    (tmp_path / "b.flac").write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    out = tmp_path / "out"
    code, err = run("render", "passthrough", good, tmp_path / "b.flac", "-o", out, "-q", capsys=capsys)
    assert code == 2 and "b.flac: the audio stream breaks at sample" in err
    assert f"stopped after writing 1 of 2 outputs: {out / 'a.flac'}" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.flac"]


def _start_render(tmp_path):
    src = tmp_path / "long.wav"
    sf.write(src, 0.1 * np.random.default_rng(0).standard_normal(16000 * 120), 16000, subtype="PCM_16")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "hearpipe",
        "render",
        "wdrc",
        str(src),
        "-o",
        str(tmp_path / "out.wav"),
        "-q",
    ]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(tmp_path), "the render never started writing"
    return proc


@pytest.mark.slow
def test_sigterm_removes_the_temporary_file(tmp_path):
    proc = _start_render(tmp_path)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143 and err.strip() == "hearpipe: terminated"
    assert not leftovers(tmp_path) and not (tmp_path / "out.wav").exists()


@pytest.mark.slow
def test_stale_temporary_file_of_a_killed_render_is_removed(tmp_path, capsys):
    proc = _start_render(tmp_path)
    proc.kill()  # SIGKILL: nothing can clean up
    proc.communicate(timeout=60)
    (stale,) = leftovers(tmp_path)
    code, err = run(
        "render", "passthrough", tone(tmp_path / "in.wav"), "-o", tmp_path / "out.wav", "-q", capsys=capsys
    )
    assert code == 0 and f"{stale}: removed the temporary file of an earlier render that was killed" in err
    assert not leftovers(tmp_path)


def test_stale_file_of_a_running_render_is_kept(tmp_path, capsys):
    live = tmp_path / f".out.wav.{os.getpid()}.abc.part"  # this process is alive
    live.write_bytes(b"")
    code, _ = run(
        "render", "passthrough", tone(tmp_path / "in.wav"), "-o", tmp_path / "out.wav", "-q", capsys=capsys
    )
    assert code == 0 and live.exists()


def test_sigint_during_import_is_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_DISABLE_JIT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hearpipe", "graphs"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)  # the interpreter has started; hearpipe.cli (numba, scipy) is still importing
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    assert proc.returncode in (130, -signal.SIGINT)  # -SIGINT: the signal came before Python's handler
