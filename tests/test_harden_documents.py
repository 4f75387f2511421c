"""Documents that once crashed, flooded or exhausted memory (issue 20): each now gives exit code 2 and one
short line naming the file, line or field."""

import pytest
import yaml

from hearpipe.cli import main
from hearpipe.config import MAX_DEPTH, MAX_VALUES
from hearpipe.errors import MAX_MESSAGE_CHARS

from .conftest import REPO

STFT_GAIN = (REPO / "graphs" / "stft_gain.yaml").read_text()


def check(tmp_path, text: str, capsys, name="doc.yaml", *extra):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    code = main(["check", str(p), *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Warning" not in err
    return code, err


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2024-02-30", "'2024-02-30' is not a valid timestamp"),
        ("!!bool maybe", "'maybe' is not a valid bool"),
        ("!!float abc", "'abc' is not a valid float"),
        ("!!int 12x", "'12x' is not a valid int"),
    ],
)
def test_yaml_conversion_failures_name_the_line(tmp_path, capsys, value, says):
    code, err = check(tmp_path, STFT_GAIN.replace("name: stft_gain", f"name: {value}"), capsys)
    assert code == 2
    assert f"doc.yaml: malformed document (line 2, column 7): {says}" in err


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path, capsys, suffix):
    text = '{"nodes": ' + "[" * 1000 + "]" * 1000 + "}"
    code, err = check(tmp_path, text, capsys, f"doc{suffix}")
    assert code == 2 and f"nested deeper than {MAX_DEPTH} levels" in err


def test_alias_bomb_gives_a_short_message(tmp_path, capsys):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, n in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{n}: &{n} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = "\n".join([*lines, "nodes: *i", ""])
    assert len(text) < 700
    code, err = check(tmp_path, text, capsys)
    assert code == 2 and f"aliases expand to more than {MAX_VALUES:,} values" in err
    assert len(err) < 200


def test_long_values_are_abbreviated_in_messages(tmp_path, capsys):
    doc = yaml.safe_load(STFT_GAIN)
    doc["nodes"][0]["type"] = [["x" * 1000] * 1000] * 50  # 50,000 values: within the alias limit
    code, err = check(tmp_path, yaml.safe_dump(doc), capsys)
    assert code == 2 and "nodes[0].type: Input should be a valid string (got [['xxx" in err
    assert len(err) <= MAX_MESSAGE_CHARS + 1


def test_nul_byte_is_one_line(tmp_path, capsys):
    code, err = check(tmp_path, STFT_GAIN.replace("stft_gain", "stft\x00gain"), capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"{tmp_path / 'doc.yaml'}: malformed document (line 2, column 11): control character U+0000 is not "
        "allowed in a document"
    ]


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("hop: 64}", "hop: 64, n_fft: 1000000000}", "n_fft: Input should be less than or equal to 65536"),
        ("hop: 64}", "hop: 100000}", "hop: Input should be less than or equal to 65536"),
        ("channels: 1", "channels: 1\nblock_size: 1000000000000", "block_size: Input should be less than or"),
        ("sample_rate_hz: 16000", "sample_rate_hz: 1.0e+300", "sample_rate_hz: Input should be less than"),
    ],
)
def test_sizes_are_bounded_at_validation(tmp_path, capsys, old, new, says):
    """`check` refuses what `render` could not run, and `budget` refuses it before allocating."""
    text = STFT_GAIN.replace(old, new)
    code, err = check(tmp_path, text, capsys)
    assert code == 2 and says in err
    code = main(["budget", str(tmp_path / "doc.yaml"), "--device", "desktop"])
    assert code == 2 and says in capsys.readouterr().err


def test_hops_without_a_small_common_multiple(tmp_path, capsys):
    text = STFT_GAIN.replace("hop: 64}", "hop: 997, window_length: 1024}")
    text = text.replace("  - name: synthesis\n    type: istft", "  - {name: synthesis, type: istft}")
    doc = yaml.safe_load(text)
    doc["nodes"] += [
        {"name": "a2", "type": "stft", "params": {"window_length": 1024, "hop": 991}},
        {"name": "s2", "type": "istft"},
    ]
    code, err = check(tmp_path, yaml.safe_dump(doc), capsys)
    assert code == 2 and "need a block of 988027 samples" in err


def test_negative_crossover_is_refused_before_numpy_warns(tmp_path, capsys):
    text = (REPO / "graphs" / "wdrc.yaml").read_text().replace("[750,", "[-750,")
    text = text.replace("../examples", str(REPO / "examples"))
    code, err = check(tmp_path, text, capsys)
    assert code == 2 and "crossovers_hz must increase strictly within 0..8000 Hz" in err
    assert len(err.strip().splitlines()) == 1


def test_numeric_warnings_become_one_notice(capsys, monkeypatch):
    import numpy as np

    from hearpipe.cli import graphs

    def warns(a):
        np.sqrt(-np.ones(3))
        return 0

    monkeypatch.setattr(graphs, "run", warns)
    assert main(["graphs"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "hearpipe: notice: 1 numeric warning(s) during the run (first: invalid value encountered in sqrt); "
        "run with --debug for details"
    ]


def test_check_goes_on_after_an_internal_error(tmp_path, capsys, monkeypatch):
    from hearpipe.cli import check as check_cmd

    real = check_cmd.load_graph

    def broken(path, **kw):
        if "first" in str(path):
            raise ZeroDivisionError("boom")
        return real(path, **kw)

    monkeypatch.setattr(check_cmd, "load_graph", broken)
    (tmp_path / "first.yaml").write_text(STFT_GAIN)
    (tmp_path / "second.yaml").write_text(STFT_GAIN)
    code = main(["check", str(tmp_path / "first.yaml"), str(tmp_path / "second.yaml")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "first.yaml: internal error: ZeroDivisionError: boom" in err
    assert "second.yaml: ok" in out


@pytest.mark.torch
def test_training_sizes_are_bounded(tmp_path, capsys):
    pytest.importorskip("torch")
    cfg = tmp_path / "train.yaml"
    cfg.write_text("name: t\nmax_steps: 1000000000000\nmodel: {hidden: 100000}\n")
    code = main(["train", str(cfg), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "max_steps: Input should be less than or equal to 10000000" in err
    assert "model.hidden: Input should be less than or equal to 4096" in err
    assert not (tmp_path / "run").exists()
    cfg.write_text("name: t\n")
    code = main(["train", str(cfg), "--out", str(tmp_path / "run"), "--set", "seed=!!float abc"])
    assert code == 2 and "--set seed: malformed document" in capsys.readouterr().err
