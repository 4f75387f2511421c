"""Mutated shipped documents through check, budget and render (issue 20): exit code 0, 2 or 3, never an
internal error or a traceback, a bounded message, a bounded time. A fixed-seed short run of
benchmarks/fuzz.py; the long run is `python benchmarks/fuzz.py --cases 10000` (README)."""

import importlib.util
import sys

from .conftest import REPO

spec = importlib.util.spec_from_file_location("fuzz", REPO / "benchmarks" / "fuzz.py")
fuzz = importlib.util.module_from_spec(spec)
sys.modules["fuzz"] = fuzz  # its dataclasses look their module up
spec.loader.exec_module(fuzz)

MAX_SECONDS_PER_CASE = 10.0  # generous on a shared machine; the shipped documents take well under 1 s


def test_mutated_documents_never_crash():
    s = fuzz.fuzz(200)
    assert s.cases == 200
    assert s.failures == [], s.failures[:3]
    assert s.longest_stderr_chars <= fuzz.MAX_STDERR_CHARS
    assert s.slowest_s < MAX_SECONDS_PER_CASE, s.slowest_command
    assert set(s.exit_codes) <= {0, 2, 3} and s.exit_codes.get(0, 0) > 0  # some mutations stay valid


def test_the_fuzzer_sees_an_internal_error(tmp_path, monkeypatch):
    """The property can fail: an internal error in the loader is caught as one."""
    from hearpipe.cli import check

    def broken(path):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(check, "read_document", broken)
    o = fuzz.run_case("graph", ".yaml", "nodes: []\n", "check", tmp_path)
    assert o.code == 1 and o.problems() == ["exit code 1"]
