"""Audiogram files: loading, validation messages, log-frequency interpolation."""

import json
import math

import numpy as np
import pytest

from hearpipe.dsp.audiogram import Audiogram, load_audiogram
from hearpipe.errors import InvalidInput

from .conftest import REPO

EXAMPLES = sorted((REPO / "examples" / "audiograms").glob("*"))


def write(tmp_path, doc, suffix=".yaml"):
    p = tmp_path / f"a{suffix}"
    p.write_text(json.dumps(doc))  # JSON is valid YAML too
    return p


def test_examples_load():
    names = {p.stem for p in EXAMPLES}
    assert {"mild_sloping", "moderate_flat", "severe", "right_only"} <= names
    for p in EXAMPLES:
        a = load_audiogram(p)
        assert a.ears
    one = load_audiogram(REPO / "examples/audiograms/right_only.json")
    assert one.ears == ["right"]
    assert one.pick_ear(None) == "right"
    with pytest.raises(InvalidInput, match="no left ear"):
        one.thresholds("left")


def test_interpolation_is_linear_in_log_frequency_with_edges_held():
    a = Audiogram(frequencies_hz=[250, 1000, 4000], left_db_hl=[10, 30, 70])
    # 500 Hz is halfway between 250 and 1000 on a log axis
    assert a.at([500.0])[0] == pytest.approx(20.0)
    assert a.at([2000.0])[0] == pytest.approx(50.0)
    f = 1000 * 2**0.3
    assert a.at([f])[0] == pytest.approx(30 + 40 * 0.3 / 2)
    assert a.at([125.0, 8000.0]).tolist() == [10.0, 70.0]
    # an independent oracle at arbitrary points
    q = np.geomspace(250, 4000, 17)
    expect = [
        np.interp(math.log(v), [math.log(250), math.log(1000), math.log(4000)], [10, 30, 70]) for v in q
    ]
    np.testing.assert_allclose(a.at(q), expect, atol=1e-9)


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"frequencies_hz": [500, 250], "left_db_hl": [10, 20]}, "strictly increasing"),
        ({"frequencies_hz": [100, 250], "left_db_hl": [10, 20]}, r"frequencies_hz\[0\] = 100 Hz is outside"),
        ({"frequencies_hz": [250, 9000], "left_db_hl": [10, 20]}, "9000 Hz is outside"),
        ({"frequencies_hz": [250, 500], "left_db_hl": [10, 130]}, r"left_db_hl\[1\] = 130 dB HL is outside"),
        ({"frequencies_hz": [250, 500], "right_db_hl": [-20, 10]}, r"right_db_hl\[0\] = -20 dB HL"),
        (
            {"frequencies_hz": [250, 500], "left_db_hl": [10]},
            "left_db_hl has 1 values but frequencies_hz has 2",
        ),
        ({"frequencies_hz": [250, 500]}, "at least one of left_db_hl and right_db_hl"),
        ({"frequencies_hz": [250], "left_db_hl": [10], "lft_db_hl": [3]}, "lft_db_hl: unknown field"),
        ({"left_db_hl": [10]}, "frequencies_hz: required field is missing"),
    ],
)
def test_validation_errors_name_the_field(tmp_path, doc, message):
    p = write(tmp_path, doc)
    with pytest.raises(InvalidInput, match=message) as e:
        load_audiogram(p)
    assert str(p) in str(e.value)


def test_json_and_yaml_agree(tmp_path):
    doc = {"frequencies_hz": [250, 500, 1000], "left_db_hl": [5, 10, 15], "right_db_hl": [0, 10, 20]}
    a = load_audiogram(write(tmp_path, doc, ".json"))
    b = load_audiogram(write(tmp_path, doc, ".yaml"))
    assert a == b
    assert a.thresholds("right").tolist() == [0, 10, 20]
    assert a.pick_ear(None) == "left"


def test_missing_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="no such file"):
        load_audiogram(tmp_path / "nope.yaml")
