import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
GRAPHS = sorted((REPO / "graphs").glob("*.yaml"))
DEVICES = sorted((REPO / "devices").glob("*.yaml"))


def data_dir() -> Path:
    return Path(os.environ.get("HEARPIPE_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    if data_dir().is_dir():
        return
    skip = pytest.mark.skip(reason=f"recorded data folder {data_dir()} not found (set HEARPIPE_DATA)")
    for item in items:
        if "data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def chain(*nodes, **graph):
    """A graph mapping from (type, params) pairs, named n0, n1, ..."""
    spec = {"sample_rate_hz": 16000, **graph}
    spec["nodes"] = [{"name": f"n{i}", "type": t, "params": p} for i, (t, p) in enumerate(nodes)]
    return spec
