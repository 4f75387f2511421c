"""The one benchmark command (`benchmarks/run.py`) runs and writes the table's figures as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def run_bench(tmp_path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--seconds", "0.5", "--graphs", "passthrough",
           "--repeat", "1", "--json", str(out), *args]  # fmt: skip
    p = subprocess.run(
        cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120
    )
    assert p.returncode == 0, p.stderr
    return json.loads(out.read_text()), p.stdout


def test_run_writes_every_figure(tmp_path):
    r, stdout = run_bench(tmp_path)
    assert set(r) == {"machine", "settings", "rows", "eval", "targets"}
    assert r["machine"]["numba_threads"] == 1 and r["machine"]["torch_threads"] == 1
    assert [(row["graph"], row["arithmetic"]) for row in r["rows"]] == [
        ("passthrough", "float"),
        ("passthrough", "fixed"),
    ]
    for row in r["rows"]:
        assert row["block_samples"] == 64
        assert row["whole_rtf"] > 0 and row["hop_rtf"] > 0
        assert 0 < row["hop_p50_us"] <= row["hop_p99_us"]
        assert (
            row["vs_torch_whole"] is None and row["vs_torch_hop"] is None
        )  # no PyTorch twin of an STFT pair
        assert row["vs_numpy_whole"] > 0 and row["vs_numpy_hop"] > 0
        assert row["twin_max_abs_error"]["numpy"] < 1e-9
    assert r["eval"] == [] and r["targets"] == []  # eval and the targets concern the enhance graph
    assert sum(ln.startswith("passthrough") for ln in stdout.splitlines()) == 2


def test_run_measures_eval_throughput(tmp_path):
    r, _ = run_bench(tmp_path, "--eval-graphs", "passthrough", "--eval-files", "2", "--eval-seconds", "1")
    (ev,) = r["eval"]
    assert ev["graph"] == "passthrough" and ev["files"] == 2 and set(ev["workers"]) == {"1", "2"}
    for w in ev["workers"].values():
        assert w["files_per_s"] > 0 and w["realtime_factor"] > 0
    assert ev["speedup"] == pytest.approx(
        ev["workers"]["2"]["files_per_s"] / ev["workers"]["1"]["files_per_s"]
    )


def test_run_names_a_bad_graph_in_one_line():
    cmd = [sys.executable, str(REPO / "benchmarks" / "run.py"), "--graphs", "nosuch", "--seconds", "0.5"]
    p = subprocess.run(
        cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "unknown graph 'nosuch'" in p.stderr
