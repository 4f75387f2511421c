"""The .npz weight format: round trip, checksum, missing/corrupt files, builtin names."""

import json
import zipfile

import numpy as np
import pytest

from hearpipe.errors import InvalidInput
from hearpipe.models.weights import (
    META_KEY,
    checksum,
    load_weights,
    resolve_weights,
    save_weights,
)


def _arrays(rng):
    return {
        "a.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "a.bias": np.arange(3, dtype=np.float32),
    }


def test_round_trip_keeps_arrays_and_metadata(tmp_path, rng):
    arrays = _arrays(rng)
    p = save_weights(tmp_path / "m.npz", arrays, "groupcomm", {"groups": 4}, {"step": 7})
    wf = load_weights(p, "groupcomm")
    assert set(wf.arrays) == set(arrays)
    for k, v in arrays.items():
        assert wf.arrays[k].dtype == v.dtype
        np.testing.assert_array_equal(wf.arrays[k], v)
    assert wf.hparams == {"groups": 4}
    assert wf.training == {"step": 7}
    assert wf.architecture == "groupcomm"
    with np.load(p, allow_pickle=False) as z:  # metadata is a plain 0-d unicode array
        assert z[META_KEY].dtype.kind == "U" and z[META_KEY].shape == ()
        meta = json.loads(str(z[META_KEY][()]))
    assert meta["format_version"] == 1 and meta["sha256"] == checksum(arrays)


def test_checksum_detects_an_edited_array(tmp_path, rng):
    arrays = _arrays(rng)
    p = save_weights(tmp_path / "m.npz", arrays, "groupcomm", {})
    with np.load(p, allow_pickle=False) as z:
        content = {k: z[k] for k in z.files}
    content["a.bias"] = content["a.bias"] + 1  # same shape, one value changed, metadata kept
    np.savez(tmp_path / "edited.npz", **content)
    with pytest.raises(InvalidInput, match="checksum mismatch"):
        load_weights(tmp_path / "edited.npz")


def test_checksum_depends_on_names_shapes_and_values(rng):
    a = _arrays(rng)
    base = checksum(a)
    assert checksum({**a, "a.bias": a["a.bias"].copy()}) == base
    assert checksum({"b.weight": a["a.weight"], "a.bias": a["a.bias"]}) != base
    assert checksum({**a, "a.weight": a["a.weight"].reshape(4, 3)}) != base


def test_missing_corrupt_and_foreign_files_give_clear_errors(tmp_path, rng):
    with pytest.raises(InvalidInput, match="weight file not found"):
        load_weights(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(InvalidInput, match="corrupt or unreadable"):
        load_weights(bad)
    p = save_weights(tmp_path / "m.npz", _arrays(rng), "groupcomm", {})
    raw = bytearray(p.read_bytes())
    (tmp_path / "trunc.npz").write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(InvalidInput, match="corrupt or unreadable"):
        load_weights(tmp_path / "trunc.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(InvalidInput, match="not a hearpipe weight file"):
        load_weights(tmp_path / "plain.npz")
    with pytest.raises(InvalidInput, match="architecture is 'groupcomm', expected 'other'"):
        load_weights(p, "other")


def test_object_arrays_are_refused(tmp_path):
    p = tmp_path / "pickle.npz"
    np.savez(p, **{META_KEY: np.array("{}"), "x": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(InvalidInput):
        load_weights(p)
    assert zipfile.is_zipfile(p)


def test_resolve_builtin_and_relative_paths(tmp_path):
    assert resolve_weights("m.npz", tmp_path) == tmp_path / "m.npz"
    assert resolve_weights(tmp_path / "m.npz", "/elsewhere") == tmp_path / "m.npz"
    with pytest.raises(InvalidInput, match="no builtin model 'does_not_exist'"):
        resolve_weights("builtin:does_not_exist")
