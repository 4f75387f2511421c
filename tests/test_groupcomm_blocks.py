"""conv_encoder / groupcomm / conv_decoder / stft blocks in a graph == the numpy reference."""

import numpy as np
import pytest

import hearpipe
from hearpipe.errors import FormatMismatch, InvalidInput
from hearpipe.models import groupcomm as gc
from hearpipe.models.weights import save_weights

SMALL = dict(n_model=16, groups=4, hidden=12, inter_hidden=8, n_blocks=2)


def _save(tmp_path, hp, seed=0, name="m.npz"):
    w = gc.random_weights(hp, seed=seed)
    arrays = {k: v.astype(np.float32) for k, v in w.arrays.items()}
    p = save_weights(tmp_path / name, arrays, gc.ARCHITECTURE, hp.to_dict(), {"note": "random"})
    return p, gc.GroupCommWeights.from_arrays(hp, arrays)


def _conv_graph(p):
    return {"sample_rate_hz": 16000, "nodes": [
        {"name": "enc", "type": "conv_encoder", "params": {"weights": str(p)}},
        {"name": "gc", "type": "groupcomm", "params": {"weights": str(p)}},
        {"name": "dec", "type": "conv_decoder", "params": {"weights": str(p)}},
    ]}  # fmt: skip


def _stft_graph(p, n, hop):
    return {"sample_rate_hz": 16000, "nodes": [
        {"name": "ana", "type": "stft", "params": {"window": "sqrt_hann", "window_length": n, "hop": hop}},
        {"name": "gc", "type": "groupcomm", "params": {"weights": str(p)}},
        {"name": "syn", "type": "istft"},
    ]}  # fmt: skip


KINDS = [
    "conv",
    "conv-long-analysis",
    "conv-complex-bands",
    "conv-deep-filter",
    "conv-tcn",
    "stft",
    "stft-ema",
    "stft-deep-filter",
]


@pytest.mark.parametrize("kind", KINDS)
def test_graph_matches_reference_and_any_chunking(tmp_path, rng, kind):
    taps = 3 if kind.endswith("deep-filter") else 0  # frames carried across chunks
    if kind.startswith("conv"):
        ana = 56 if kind == "conv-long-analysis" else 0  # encoder longer than the decoder: same delay
        cplx = kind in ("conv-complex-bands", "conv-deep-filter")
        hp = gc.GroupCommHParams(
            frontend="conv",
            window=32,
            hop=16,
            enc_channels=24,
            enc_window=ana,
            enc_complex=cplx,
            df_taps=taps,
            rnn="tcn" if kind == "conv-tcn" else "gru",
            rnn_layers=2,
            **SMALL,
        )
        p, w = _save(tmp_path, hp)
        spec = _conv_graph(p)
    else:
        ema = 3 if kind == "stft-ema" else 0  # the running-mean input
        hp = gc.GroupCommHParams(
            frontend="stft", window=32, hop=16, feat_ema_shift=ema, df_taps=taps, **SMALL
        )
        p, w = _save(tmp_path, hp)
        spec = _stft_graph(p, 32, 16)
    g = hearpipe.load_graph(spec)
    assert g.latency_samples == hp.window - hp.hop
    x = 0.1 * rng.standard_normal(1600)
    y = g.run(x)[0]
    ref = gc.enhance(x, w)[0]
    d = g.latency_samples
    np.testing.assert_allclose(y[d:], ref[: len(x) - d], rtol=0, atol=1e-10)
    # chunked streaming gives exactly the same samples
    g.reset()
    parts, i = [], 0
    for k in [1, 17, 16, 200, 5, 361]:
        parts.append(g.process(x[i : i + k]))
        i += k
    parts.append(g.process(x[i:]))
    parts.append(g.flush())
    np.testing.assert_array_equal(np.concatenate(parts, axis=1)[0], y)


def test_output_index_selects_a_source(tmp_path, rng):
    hp = gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=24, n_outputs=2, **SMALL)
    p, w = _save(tmp_path, hp)
    spec = _conv_graph(p)
    spec["nodes"][1]["params"]["output"] = 1
    x = 0.1 * rng.standard_normal(800)
    y = hearpipe.load_graph(spec).run(x)[0]
    np.testing.assert_allclose(y[16:], gc.enhance(x, w)[1][:-16], atol=1e-10)
    spec["nodes"][1]["params"]["output"] = 2
    with pytest.raises(InvalidInput, match=r"output \(2\) must be below the model's n_outputs \(2\)"):
        hearpipe.load_graph(spec)


def test_stereo_channels_have_their_own_state(tmp_path, rng):
    hp = gc.GroupCommHParams(frontend="stft", window=32, hop=16, **SMALL)
    p, w = _save(tmp_path, hp)
    spec = _stft_graph(p, 32, 16) | {"channels": 2}
    x = 0.1 * rng.standard_normal((2, 640))
    y = hearpipe.load_graph(spec).run(x)
    for c in range(2):
        np.testing.assert_allclose(y[c, 16:], gc.enhance(x[c], w)[0][:-16], atol=1e-10)


def test_mismatched_front_end_names_both_sides(tmp_path):
    hp = gc.GroupCommHParams(frontend="stft", window=32, hop=16, **SMALL)
    p, _ = _save(tmp_path, hp)
    with pytest.raises(
        FormatMismatch, match=r"expect complex STFT frames of 17 bins.*the input is spectrum.*33"
    ):
        hearpipe.load_graph(_stft_graph(p, 64, 32))
    hpc = gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=24, **SMALL)
    pc, _ = _save(tmp_path, hpc, name="c.npz")
    spec = _conv_graph(pc)
    spec["nodes"][1]["params"]["weights"] = str(p)  # STFT model behind a conv encoder
    with pytest.raises(FormatMismatch, match="expect complex STFT frames"):
        hearpipe.load_graph(spec)


def test_missing_weights_file_is_an_invalid_input(tmp_path):
    spec = _conv_graph(tmp_path / "absent.npz")
    with pytest.raises(
        InvalidInput, match=r"'enc' \(conv_encoder\): weights: .*absent.npz: weight file not found"
    ):
        hearpipe.load_graph(spec)


def test_cost_counts_macs_state_and_weights(tmp_path):
    hp = gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=24, **SMALL)
    p, _ = _save(tmp_path, hp)
    g = hearpipe.load_graph(_conv_graph(p))
    enc, node, dec = (g.blocks[n].cost() for n in ("enc", "gc", "dec"))
    assert enc.ops["mac_f32"] == 24 * 32 and dec.ops["mac_f32"] == 24 * 32
    assert node.ops["mac_f32"] == gc.ops_per_frame(hp)["mac"] + 24  # + applying the mask
    assert node.frame_rate_hz == 1000.0
    assert node.ram_persistent == gc.state_values(hp) * 4  # float32 words without a device
    assert node.rom == (gc.n_params(hp) - 2 * 24 * 32) * 4
    assert enc.rom == dec.rom == 24 * 32 * 4


def test_cost_of_complex_bands_and_the_running_mean_input(tmp_path):
    """24 channels = 12 bands: 12 features, the mask on all 24 values; the running mean adds 12 inputs
    to the projection (16 x 12 MACs) and 12 state values."""
    kw = dict(frontend="conv", window=32, hop=16, enc_channels=24, enc_complex=True, **SMALL)
    plain, hp = gc.GroupCommHParams(**kw), gc.GroupCommHParams(**kw, feat_ema_shift=4)
    assert (plain.features, hp.n_in) == (12, 24)
    p, _ = _save(tmp_path, hp)
    g = hearpipe.load_graph(_conv_graph(p))
    node = g.blocks["gc"].cost()
    assert node.ops["mac_f32"] == gc.ops_per_frame(hp)["mac"] + 24
    assert gc.ops_per_frame(hp)["mac"] - gc.ops_per_frame(plain)["mac"] == 16 * 12
    assert node.ram_persistent == (gc.state_values(plain) + 12) * 4


def test_long_analysis_window_costs_encoder_macs_only(tmp_path):
    hp = gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=24, enc_window=64, **SMALL)
    p, _ = _save(tmp_path, hp)
    g = hearpipe.load_graph(_conv_graph(p))
    assert g.latency_samples == 32 - 16  # set by the synthesis window
    enc, node, dec = (g.blocks[n].cost() for n in ("enc", "gc", "dec"))
    assert enc.ops["mac_f32"] == 24 * 64 and dec.ops["mac_f32"] == 24 * 32
    assert enc.ram_persistent == (64 - 16) * 4
    assert node.rom == (gc.n_params(hp) - 24 * (64 + 32)) * 4
    with pytest.raises(InvalidInput, match="enc_window"):
        gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=24, enc_window=16)
