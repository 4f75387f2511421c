"""Compression (issue 17): packed weight files, run as stored by the fixed-point kernels."""

import dataclasses
import json
import zipfile

import numpy as np
import pytest

import hearpipe
from hearpipe.cli import main
from hearpipe.compress.methods import cluster_layer, prune_rows, quantize_layer, shareable
from hearpipe.compress.pipeline import Recipe, compress_file, matrices
from hearpipe.errors import InvalidInput
from hearpipe.fixed.packing import pack_bits, unpack_bits
from hearpipe.fixed.qformat import quantize_rows
from hearpipe.models.groupcomm.cost import fixed_ops_per_frame
from hearpipe.models.groupcomm.fixed_model import FixedGroupComm, quantize_weight_file
from hearpipe.models.groupcomm.fixed_stream import FixedGroupCommState
from hearpipe.models.groupcomm.hparams import GroupCommHParams
from hearpipe.models.weights import load_weights
from tests.conftest import REPO

SRC = "builtin:enhance_conv"


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
def test_pack_roundtrip(bits):
    rng = np.random.default_rng(bits)
    signed = bits > 1
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 2)
    v = rng.integers(lo, hi, 101)
    s = pack_bits(v, bits, signed)
    assert s.size == (101 * bits + 7) // 8
    assert np.array_equal(unpack_bits(s, bits, 101, signed), v)


def test_quantize_rows_low_bits_levels():
    w = np.random.default_rng(0).standard_normal((6, 40))
    q, s = quantize_rows(w, 3)
    assert q.dtype == np.int8 and q.min() >= -3 and q.max() <= 3
    assert np.allclose(np.abs(w).max(axis=1), 3 * s)
    with pytest.raises(InvalidInput):
        quantize_rows(w, 1)


def test_low_bit_clipping_beats_max_scaling():
    w = np.random.default_rng(1).standard_normal((16, 64))
    layer = quantize_layer("x", w, 3)
    q, s = quantize_rows(w, 3)
    assert ((layer.dense() - w) ** 2).sum() < ((q * s[:, None] - w) ** 2).sum()


def test_pruning_is_staged_and_keeps_earlier_stages():
    w = np.random.default_rng(2).standard_normal((20, 8))
    w[3] *= 0.01
    k1 = prune_rows(w, 0.25)
    k2 = prune_rows(w, 0.5, k1)
    assert (~k1).sum() == 5 and (~k2).sum() == 10 and not k1[3]
    assert np.all(k2 <= k1)


def test_clustering_keeps_signs_apart_and_zero():
    w = np.random.default_rng(3).standard_normal((12, 30))
    layer = cluster_layer("x", w, per_sign=7)
    assert layer.bits == 4 and layer.codebook[0] == 0
    d = layer.dense()
    assert np.all(np.sign(d[d != 0]) == np.sign(w[d != 0]))
    assert len(np.unique(d)) <= 15


def test_sharing_covers_the_repeated_blocks_only():
    names = ["in.weight", "blocks.0.tac.w1", "blocks.1.tac.w1", "blocks.1.out.weight", "mask.weight"]
    assert shareable([*names, "blocks.0.out.weight"], 2) == {
        "blocks.1.tac.w1": "blocks.0.tac.w1",
        "blocks.1.out.weight": "blocks.0.out.weight",
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("compress")
    recipes = {
        "q3": Recipe(bits=3),
        "pc": Recipe(prune=(0.25, 0.5), cluster=15),
        "shared": Recipe(bits=4, share=True),
    }
    return {k: compress_file(SRC, d / f"{k}.npz", r) for k, r in recipes.items()}


def _unpacked_twin(m: FixedGroupComm) -> FixedGroupComm:
    """The same network with the packed layers' integers held unpacked (plain int8 matrices)."""
    return FixedGroupComm(
        m.hp, 8, m.formats, [dataclasses.replace(q, w=q.ints(), packed=None) for q in m.layers], m.alpha
    )


@pytest.mark.parametrize("name", ["q3", "pc", "shared"])
def test_packed_kernels_bit_identical_to_unpacked_integers(files, name):
    _, m = quantize_weight_file(files[name])
    assert all(q.w is None and q.packed is not None for q in m.layers)  # no unpacked copy at load
    twin = _unpacked_twin(m)
    e = (np.random.default_rng(4).standard_normal((1, 130, 120)) * 2000).astype(np.int16)
    a, b = FixedGroupCommState(m), FixedGroupCommState(twin)
    ya, yb = a.process(e, 8), b.process(e, 8)
    assert np.array_equal(ya, yb) and np.any(ya != 0)
    assert np.array_equal(a.masks(e, 8), b.masks(e, 8))


def test_pruned_rows_are_skipped_exactly(files):
    _, m = quantize_weight_file(files["pc"])
    twin = _unpacked_twin(m)
    k = m.hp.groups
    skipped = 0
    for q in m.layers:
        calls_x_vectors = 1 if q.name in ("in",) or q.name.endswith("tac.w2") else k
        skipped += calls_x_vectors * int((~q.packed.kept).sum()) * q.cols
    full, packed = fixed_ops_per_frame(twin)["mac8"], fixed_ops_per_frame(m)["mac8"]
    assert skipped > 0 and full - packed == skipped
    assert 0.45 < packed / full < 0.55  # half the rows pruned in every matrix
    st = FixedGroupCommState(m)
    st.process(np.zeros((1, 130, 7), np.int16), 8)
    assert st.ops[0] == 7 * m.ops_frame_arr[0]


def test_rom_is_the_stored_bits_of_the_file(files):
    for path in files.values():
        wf = load_weights(path)
        _, m = quantize_weight_file(path)
        stored = sum(a.nbytes for k, a in wf.arrays.items() if k.endswith((".packed", ".codebook", ".rows")))
        assert m.weight_bytes()["weights"] == stored


def test_float_weights_are_the_dequantised_stored_ones(files):
    wf = load_weights(files["q3"])
    fl = wf.float_arrays()
    for name in matrices_of(wf):
        layer = wf.packed_layers()[name]
        assert np.array_equal(fl[name], layer.ints() * layer.scale.astype(np.float64)[:, None])
        assert len(np.unique(layer.ints())) <= 7


def matrices_of(wf):
    return matrices(GroupCommHParams.from_dict(wf.hparams))


def test_truncated_file_refused(files, tmp_path):
    data = files["q3"].read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match="corrupt or unreadable"):
        load_weights(bad)


def test_tampered_file_refused(files, tmp_path):
    src = files["pc"]
    bad = tmp_path / "edited.npz"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            raw = zin.read(item.filename)
            if item.filename == "blocks.0.tac.w1.packed.npy":
                raw = raw[:-1] + bytes([raw[-1] ^ 0x01])
            zout.writestr(item, raw)
    with pytest.raises(InvalidInput, match="checksum mismatch"):
        load_weights(bad)


def test_recipe_errors_are_one_line():
    with pytest.raises(InvalidInput, match="bits"):
        Recipe(bits=1)
    with pytest.raises(InvalidInput, match="rise"):
        Recipe.from_dict({"prune": [0.5, 0.25]})
    with pytest.raises(InvalidInput, match="unknown"):
        Recipe.from_dict({"bitz": 3})


def test_shipped_q3_budget_rom_is_its_stored_bits():
    rep = (
        hearpipe.load_graph(REPO / "graphs" / "enhance_q3.yaml", device="hearing-aid-dsp").budget().to_dict()
    )
    (blk,) = [b for b in rep["blocks"] if b["type"] == "groupcomm"]
    wf = load_weights(REPO / "hearpipe" / "models" / "weights" / "enhance_q3.npz")
    _, m = quantize_weight_file("builtin:enhance_q3")
    parts = m.weight_bytes()
    stored = sum(a.nbytes for k, a in wf.arrays.items() if k.endswith((".packed", ".codebook", ".rows")))
    assert blk["rom_bytes"] == sum(parts.values()) and parts["weights"] == stored
    assert stored == sum((3 * q.rows * q.cols + 7) // 8 for q in m.layers)  # 3 bits per weight, no more


def test_compress_command(tmp_path, capsys):
    out = tmp_path / "q4.npz"
    assert main(["compress", "builtin:enhance_conv", "--bits", "4", "-o", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (
        res["recipe"]["bits"] == 4 and res["stored_bytes"] == res["float32_bytes"] / res["ratio_vs_float32"]
    )
    assert load_weights(out).compression["layers"]["in.weight"]["bits"] == 4
    assert main(["compress", "builtin:enhance_conv", "--bits", "1", "-o", str(out)]) == 2
    assert main(["compress", str(out), "--bits", "3", "-o", str(tmp_path / "again.npz")]) == 2
    err = capsys.readouterr().err
    assert "bits (1) must lie in 2..8" in err and "already compressed" in err and "Traceback" not in err


def test_report_only_refuses_unknown_variants(capsys):
    assert main(["compress", SRC, "--report", "--only", "3-bit QAT"]) == 2
    err = capsys.readouterr().err
    assert "unknown variant(s) 3-bit QAT" in err and "'3-bit PTQ'" in err and "Traceback" not in err


def test_int_layer_refuses_values_without_a_step():
    from hearpipe.compress.methods import int_layer

    with pytest.raises(InvalidInput, match="step <= 0"):
        int_layer("x", np.array([[1, 0], [0, 0]]), np.array([0.0, 0.0]), 3)
    assert int_layer("x", np.array([[1, 0], [0, 0]]), np.array([0.5, 0.0]), 3).ints()[0, 0] == 1
