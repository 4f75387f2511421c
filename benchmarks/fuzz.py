"""Fuzzing the command line with mutated documents: every shipped graph, device profile and audiogram,
changed at random (values replaced by huge, negative, odd-typed or nested ones, fields dropped or added,
YAML conversion traps, alias bombs, control characters, truncated text), then `check`, `budget` and
`render` on it. What must hold for every case: exit code 0, 2 or 3 (never 1, an internal error), no
traceback, an error message of bounded length, a bounded time.

    python benchmarks/fuzz.py --cases 10000      # the long run; prints the summary as JSON

The test suite runs a fixed-seed few hundred cases of the same strategy (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearpipe.cli import main
from hearpipe.errors import MAX_MESSAGE_CHARS

REPO = Path(__file__).resolve().parents[1]
MAX_STDERR_CHARS = MAX_MESSAGE_CHARS + 200  # one error line (with its 'hearpipe: error: ' prefix)


def _absolute_paths(doc, base: Path):
    """Relative audiogram paths made absolute, so a mutated graph written elsewhere still finds them."""
    for node in doc.get("nodes", []):
        a = node.get("params", {}).get("audiogram")
        if isinstance(a, str):
            node["params"]["audiogram"] = str((base / a).resolve())
    return doc


def _shipped() -> list[tuple[str, str, dict]]:
    """(kind, name, document) of every shipped document."""
    out = []
    for kind, folder in (("graph", "graphs"), ("device", "devices"), ("audiogram", "examples/audiograms")):
        for p in sorted((REPO / folder).glob("*.*")):
            if p.suffix in (".yaml", ".json"):
                out.append((kind, p.name, _absolute_paths(yaml.safe_load(p.read_text()), p.parent)))
    return out


SHIPPED = _shipped()

# values that have broken readers before: sizes far too large, zero, negative, the wrong type
VALUES = st.one_of(
    st.sampled_from(
        [
            0,
            -1,
            1,
            2,
            3,
            7,
            64,
            65537,
            10**6,
            10**9,
            10**12,
            10**30,
            -(10**12),
            0.5,
            -0.0,
            1e308,
            -1e308,
            1e-308,
        ]
    ),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from([None, True, False, "", "hann", "q15", "builtin:nothing", "../../../etc/passwd", []]),
    st.lists(st.integers(-(10**6), 10**6), max_size=6),
    st.lists(st.floats(-1e6, 1e6), max_size=6),
    st.dictionaries(st.sampled_from(["a", "hop", "n_fft", "name"]), st.integers(), max_size=2),
)

# raw YAML fragments substituted for a value in the text: conversion traps, aliases, deep nesting
FRAGMENTS = [
    "2024-02-30",
    "!!bool maybe",
    "!!float abc",
    "!!int 12x",
    "!!binary ###",
    "!!timestamp 2024-13-45",
    "*nowhere",
    "!!python/object:os.system ls",
    "[" * 200 + "]" * 200,
    "{a: " * 60 + "1" + "}" * 60,
    "0x" + "f" * 40,
    "9" * 5000,
    "1e999",
    ".nan",
    "-.inf",
    "'\x00'",
    '"\\x00"',
    "\x07",
    "\ufeff",
    "!<tag:yaml.org,2002:map> 3",
    "? [1, 2]",
]


def _paths(doc, prefix=()):
    """Every (path to a value) inside a document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _set(doc, path, value):
    if not path:
        return value
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return doc


def _delete(doc, path):
    if path:
        target = doc
        for k in path[:-1]:
            target = target[k]
        del target[path[-1]]
    return doc


MARK = "HEARPIPE_FUZZ_FRAGMENT"
# fields added to a mapping: the sizes of graphs and blocks, and one no document has
SIZE_FIELDS = ["block_size", "n_fft", "hop", "window_length", "order", "samples", "channels", "zzz"]


@st.composite
def mutated(draw):
    """(kind, file suffix, text) of a shipped document with 1 to 3 mutations."""
    kind, name, doc = draw(st.sampled_from(SHIPPED))
    doc = json.loads(json.dumps(doc))  # a private copy
    fragment = None
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if len(p) >= 2] or list(_paths(doc))  # mostly a value, not a section
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["value"] * 6 + ["delete", "add", "fragment", "alias"]))
        target = _get(doc, path)
        if how == "value":
            doc = _set(doc, path, draw(VALUES))
        elif how == "delete" and path:
            doc = _delete(doc, path)
        elif how == "add" and isinstance(target, dict):
            target[draw(st.sampled_from(SIZE_FIELDS))] = draw(VALUES)
        elif how in ("fragment", "alias") and path and fragment is None:
            fragment = (
                draw(st.sampled_from(FRAGMENTS))
                if how == "fragment"
                else _alias_bomb(draw(st.integers(2, 9)))
            )
            doc = _set(doc, path, MARK)
    suffix = Path(name).suffix
    text = json.dumps(doc, indent=1) if suffix == ".json" else yaml.safe_dump(doc, sort_keys=False)
    if fragment is not None:
        text = text.replace(f'"{MARK}"' if suffix == ".json" else MARK, fragment, 1)
    tail = draw(st.sampled_from(["keep"] * 8 + ["truncate", "bytes"]))
    if tail == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif tail == "bytes":
        i = draw(st.integers(0, len(text)))
        text = (
            text[:i] + draw(st.sampled_from(["\x00", "\t", "\r", "&a", "*a", "<<: *a", ":", "- "])) + text[i:]
        )
    return kind, suffix, text


def _alias_bomb(levels: int) -> str:
    """A flow sequence of `levels` nested alias layers of 9 copies each (9**levels values when expanded)."""
    parts = ["&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        parts.append(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "[" + ", ".join(parts) + "]"


@dataclass
class Outcome:
    command: list[str]
    code: int
    stderr: str
    seconds: float

    def problems(self) -> list[str]:
        out = []
        if self.code not in (0, 2, 3):
            out.append(f"exit code {self.code}")
        if "Traceback" in self.stderr or "Warning" in self.stderr:
            out.append("traceback or warning on stderr")
        if len(self.stderr) > MAX_STDERR_CHARS:
            out.append(f"{len(self.stderr)} characters on stderr")
        return out


def run_case(kind: str, suffix: str, text: str, command: str, folder: Path) -> Outcome:
    """Write the document and run one command on it in this process, capturing its output."""
    doc = folder / f"doc{suffix}"
    doc.write_text(text, encoding="utf-8", errors="surrogatepass")
    if kind == "graph" and command == "render":
        args = [
            "render",
            str(doc),
            str(folder / "in.wav"),
            "-o",
            str(folder / "out.wav"),
            "-q",
            "--no-enforce",
        ]
    elif kind == "graph" and command == "budget":
        args = ["budget", str(doc), "--device", "hearing-aid-dsp"]
    elif kind == "device" and command != "check":
        args = ["budget", "passthrough", "--device", str(doc)]
    else:
        args = ["check", str(doc)]
    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(args)
    return Outcome(args, code, err.getvalue(), time.perf_counter() - t0)


def make_folder() -> tempfile.TemporaryDirectory:
    """A scratch folder holding a short input recording (0.1 s of a tone at 16 kHz) for renders."""
    tmp = tempfile.TemporaryDirectory(prefix="hearpipe-fuzz-")
    t = np.arange(1600) / 16000
    sf.write(Path(tmp.name) / "in.wav", 0.3 * np.sin(2 * np.pi * 1000 * t), 16000, subtype="PCM_16")
    return tmp


cases = st.tuples(mutated(), st.sampled_from(["check", "check", "budget", "render"]))


@dataclass
class Summary:
    cases: int = 0
    exit_codes: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    slowest_s: float = 0.0
    slowest_command: list = field(default_factory=list)
    longest_stderr_chars: int = 0


def fuzz(n_cases: int) -> Summary:
    """Run `n_cases` cases (a fixed seed: the same cases each run) and collect what went wrong."""
    summary = Summary()
    with make_folder() as tmp:

        @settings(
            max_examples=n_cases,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def one(case):
            (kind, suffix, text), command = case
            o = run_case(kind, suffix, text, command, Path(tmp))
            summary.cases += 1
            summary.exit_codes[o.code] = summary.exit_codes.get(o.code, 0) + 1
            summary.longest_stderr_chars = max(summary.longest_stderr_chars, len(o.stderr))
            if o.seconds > summary.slowest_s:
                summary.slowest_s, summary.slowest_command = o.seconds, [*o.command[:1], kind]
            if o.problems():
                summary.failures.append(
                    {
                        "problems": o.problems(),
                        "command": o.command,
                        "text": text[:2000],
                        "stderr": o.stderr[:2000],
                    }
                )

        one()
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000, help="number of mutated documents (default 1000)")
    ap.add_argument(
        "--failures", type=Path, help="write the failing cases (document, command, stderr) here as JSON"
    )
    a = ap.parse_args()
    t0 = time.perf_counter()
    s = fuzz(a.cases)
    report = {
        "cases": s.cases,
        "exit_codes": {str(k): v for k, v in sorted(s.exit_codes.items())},
        "internal_errors": s.exit_codes.get(1, 0),
        "failures": len(s.failures),
        "longest_stderr_chars": s.longest_stderr_chars,
        "stderr_cap_chars": MAX_STDERR_CHARS,
        "slowest_case_s": round(s.slowest_s, 3),
        "slowest_case": s.slowest_command,
        "total_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=2))
    if a.failures:
        a.failures.write_text(json.dumps(s.failures, indent=1))
    sys.exit(1 if s.failures else 0)
