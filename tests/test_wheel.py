"""The wheel: a non-editable install carries the shipped graphs, device profiles and audiograms, and finds
them by name from any folder (issue 16). Built from a copy of the build inputs, so the checkout stays clean."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from .conftest import DEVICES, GRAPHS, REPO

BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "hearpipe",
    "graphs",
    "devices",
    "examples/audiograms",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, src / name)
    build = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    r = subprocess.run(
        [sys.executable, "-c", build, str(tmp / "dist")], cwd=src, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return tmp / "dist" / r.stdout.split()[-1]


@pytest.mark.slow
def test_wheel_carries_the_shipped_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    share = "hearpipe/_share/"
    expected = (
        {f"{share}graphs/{p.name}" for p in GRAPHS}
        | {f"{share}devices/{p.name}" for p in DEVICES}
        | {f"{share}devices/calibration.json"}
        | {f"{share}examples/audiograms/{p.name}" for p in (REPO / "examples" / "audiograms").iterdir()}
        | {f"hearpipe/models/weights/{p.name}" for p in (REPO / "hearpipe/models/weights").glob("*.npz")}
    )
    assert expected <= names
    assert {n for n in names if n.startswith(share)} == expected - {n for n in expected if "weights" in n}
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert all("extra ==" in line for line in requires if "pytest" in line)


@pytest.mark.slow
def test_installed_wheel_finds_graphs_and_devices_by_name(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}

    def hearpipe(*args):
        r = subprocess.run(
            [sys.executable, "-m", "hearpipe", *args], cwd=empty, env=env, capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    assert [d["device"] for d in hearpipe("devices", "--json")] == [p.stem for p in DEVICES]
    assert [g["name"] for g in hearpipe("graphs", "--json")] == [p.stem for p in GRAPHS]
    # wdrc.yaml names its audiogram by a path relative to the graph: it resolves inside the wheel
    rep = hearpipe("budget", "wdrc", "--device", "desktop", "--json")
    assert rep["fits"] and rep["graph"] == str(site / "hearpipe" / "_share" / "graphs" / "wdrc.yaml")
