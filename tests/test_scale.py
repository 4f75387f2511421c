"""Scale-out on Dask: `--workers 2` and a scheduler started separately write the same bytes as a serial
render; a file that fails is reported while the others go on."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from hearpipe.cli import main
from tests.conftest import REPO

pytest.importorskip("distributed", reason="needs dask[distributed] (the scale/test extras)")
pytestmark = pytest.mark.slow


def inputs(tmp_path, n=3, seconds=1.0):
    rng = np.random.default_rng(5)
    files = []
    for i in range(n):
        p = tmp_path / "in" / f"f{i}.wav"
        p.parent.mkdir(exist_ok=True)
        sf.write(p, 0.1 * rng.standard_normal(int(16000 * seconds)), 16000, subtype="PCM_16")
        files.append(str(p))
    return files


def outputs(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_workers_2_writes_the_serial_bytes_and_reports_a_failed_file(tmp_path, capsys):
    files = inputs(tmp_path)
    assert main(["render", "enhance", *files, "-o", str(tmp_path / "serial"), "-q"]) == 0
    capsys.readouterr()
    bad = tmp_path / "in" / "bad.wav"  # a readable file whose audio is NaN: fails inside its task
    sf.write(bad, np.full(1600, np.nan), 16000, subtype="FLOAT")
    rc = main(
        [
            "render",
            "enhance",
            *files,
            str(bad),
            "-o",
            str(tmp_path / "dask"),
            "--workers",
            "2",
            "-q",
            "--json",
        ]
    )
    cap = capsys.readouterr()
    assert rc == 2 and "bad.wav: audio contains NaN or Inf" in cap.err
    summary = json.loads(cap.out)["summary"]
    assert summary["files"] == 4 and summary["failed"] == 1 and summary["workers"] == 2
    assert outputs(tmp_path / "dask") == outputs(tmp_path / "serial")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_started_separately(tmp_path):
    files = inputs(tmp_path, n=2)
    assert main(["render", "enhance", *files, "-o", str(tmp_path / "serial"), "-q"]) == 0
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    try:
        time.sleep(2)
        procs.append(subprocess.Popen([*dask, "worker", addr, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        from dask.distributed import Client

        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
        assert (
            main(["render", "enhance", *files, "-o", str(tmp_path / "remote"), "--scheduler", addr, "-q"])
            == 0
        )
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
    assert outputs(tmp_path / "remote") == outputs(tmp_path / "serial")


def test_workers_without_a_scheduler_is_one_clear_error(capsys):
    assert main(["render", "passthrough", "x.wav", "-o", "y.wav", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "error" in capsys.readouterr().err
