"""Small command-line items of issue 19: budget on every device, --debug after the subcommand, check's
latency label, the lazy package names' help."""

import json
import pydoc

import hearpipe
from hearpipe.budget.profiles import list_devices
from hearpipe.cli import main


def _run(*args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_budget_on_every_shipped_device(capsys):
    code, text, err = _run("budget", "hearing_aid", "--all-devices", "--json", capsys=capsys)
    assert code == 0, err
    rows = json.loads(text)["devices"]
    assert [r["device"] for r in rows] == [p.stem for p in list_devices()]
    for r in rows:  # each row is that device's own budget
        one = json.loads(_run("budget", "hearing_aid", "--device", r["device"], "--json", capsys=capsys)[1])
        assert r["totals"] == one["totals"] and r["fits"] == one["fits"]
    assert any(r["fits"] for r in rows) and not all(r["fits"] for r in rows)  # a table worth having
    code, text, _ = _run("budget", "hearing_aid", "--all-devices", capsys=capsys)
    lines = text.splitlines()
    assert code == 0 and len(lines) == 3 + len(rows)
    over = next(r for r in rows if not r["fits"])
    assert any(line.startswith(over["device"]) and "over: MIPS" in line for line in lines)
    code, _, err = _run("budget", "hearing_aid", "--all-devices", "--device", "desktop", capsys=capsys)
    assert code == 2 and "not allowed with" in err


def test_debug_after_the_subcommand(capsys, tmp_path):
    missing = tmp_path / "missing.wav"
    for args in (("--debug", "render", "wdrc", missing), ("render", "wdrc", missing, "--debug")):
        code, _, err = _run(*args, "-o", tmp_path / "o.wav", capsys=capsys)
        assert code == 2 and "Traceback" in err and "no such file" in err
    code, _, err = _run("render", "wdrc", missing, "-o", tmp_path / "o.wav", capsys=capsys)
    assert code == 2 and "Traceback" not in err


def test_check_says_its_latency_is_algorithmic(capsys):
    code, text, _ = _run("check", "wdrc", capsys=capsys)
    assert code == 0 and "algorithmic latency" in text and "input block" in text


def test_help_shows_the_real_signatures():
    assert "render(graph, inputs, output, *, device=None" in pydoc.plain(pydoc.render_doc(hearpipe.render))
    package = pydoc.plain(pydoc.render_doc(hearpipe))
    assert "render(graph, inputs, output" in package and "load_graph(spec" in package
