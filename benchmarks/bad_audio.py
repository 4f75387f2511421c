"""The bad-audio table: broken and odd audio files, impossible outputs and signals during a render, each
through `hearpipe render` in its own process; prints a Markdown table of input, exit code, message and the
files left in the output folder.

    python benchmarks/bad_audio.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SR = 16000


def _tone(path: Path, seconds: float = 0.2, amplitude: float = 0.3, subtype: str = "PCM_16") -> Path:
    t = np.arange(int(SR * seconds)) / SR
    sf.write(path, amplitude * np.sin(2 * np.pi * 440 * t), SR, subtype=subtype)
    return path


def _noise(path: Path, seconds: float) -> Path:
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(int(SR * seconds)), SR, subtype="PCM_16")
    return path


def _cut(src: Path, dst: Path, keep: int) -> Path:
    dst.write_bytes(src.read_bytes()[:keep])
    return dst


def _inputs(d: Path) -> list[tuple[str, list[str], str | None]]:
    """(what, render arguments after the graph, signal to send once the render writes) of every case."""
    whole = _tone(d / "whole.wav")
    flac = d / "long.flac"
    sf.write(flac, 0.1 * np.random.default_rng(0).standard_normal(SR * 8), SR)
    nan = d / "nan.wav"
    sf.write(nan, np.array([0.0, 0.5, np.nan, 0.0]), SR, subtype="FLOAT")
    (d / "text.wav").write_text("not audio\n")
    (d / "empty.wav").write_bytes(b"")
    sf.write(d / "rate44k.wav", np.zeros(4410), 44100)
    loud = _tone(d / "loud.wav", amplitude=1.5, subtype="FLOAT")
    long = _noise(d / "long.wav", 120)
    out = "out"
    return [
        (
            "WAV whose header promises 3200 frames, holding 500",
            [str(_cut(whole, d / "cut.wav", 1044)), "-o", out],
            None,
        ),
        (
            "FLAC cut in half (8 s)",
            [str(_cut(flac, d / "half.flac", flac.stat().st_size // 2)), "-o", out],
            None,
        ),
        ("WAV with a NaN sample", [str(nan), "-o", out], None),
        ("a text file named .wav", [str(d / "text.wav"), "-o", out], None),
        ("an empty file", [str(d / "empty.wav"), "-o", out], None),
        ("44.1 kHz input to a 16 kHz graph", [str(d / "rate44k.wav"), "-o", out], None),
        ("float input at 1.5x full scale to .flac", [str(loud), "-o", f"{out}/loud.flac"], None),
        (
            "the same with --clipping error",
            [str(loud), "-o", f"{out}/loud.flac", "--clipping", "error"],
            None,
        ),
        ("output /sys/x.wav", [str(whole), "-o", "/sys/x.wav"], None),
        ("output /proc/x.wav", [str(whole), "-o", "/proc/x.wav"], None),
        ("two inputs, the second truncated", [str(whole), str(d / "cut.wav"), "-o", out], None),
        ("two inputs, the second a FLAC cut in half", [str(whole), str(d / "half.flac"), "-o", out], None),
        ("SIGTERM during a 120 s render", [str(long), "-o", f"{out}/long.wav"], "TERM"),
        ("SIGKILL during a 120 s render", [str(long), "-o", f"{out}/long.wav"], "KILL"),
        ("the render after that SIGKILL", [str(whole), "-o", f"{out}/long.wav"], None),
    ]


def _run(args: list[str], sig: str | None, cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "hearpipe", "render", "wdrc", *args, "-q"]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if sig:
        deadline = time.monotonic() + 60
        while not list((cwd / "out").glob(".*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(getattr(signal, f"SIG{sig}"))
    err = proc.communicate(timeout=600)[1]
    return proc.returncode, " ".join(err.split())


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hearpipe-bad-audio-") as tmp:
        d = Path(tmp)
        cases = _inputs(d)
        print("| input | exit code | message (stderr) | files left in out/ |")
        print("|---|---|---|---|")
        for what, args, sig in cases:
            (d / "out").mkdir(exist_ok=True)
            code, err = _run(args, sig, d)
            left = sorted(p.name for p in (d / "out").iterdir())
            err = err.replace(str(d) + "/", "").replace("|", "\\|")
            print(f"| {what} | {code} | {err or '(none)'} | {', '.join(left) or '(none)'} |")
            if "SIGKILL" not in what:  # the stale file of a killed render stays for the next case
                for p in (d / "out").iterdir():
                    p.unlink()


if __name__ == "__main__":
    main()
