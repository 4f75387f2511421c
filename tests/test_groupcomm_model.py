"""numpy GroupComm reference: streaming == whole sequence (bit-identical), shapes, front ends, cost."""

import numpy as np
import pytest

from hearpipe.dsp import wola
from hearpipe.errors import InvalidInput
from hearpipe.models import groupcomm as gc
from hearpipe.models.groupcomm.frontend import conv_decode, conv_encode, stft_codec, stft_windows
from hearpipe.models.groupcomm.reference import activation_ranges, apply_estimate, band_power

SMALL = dict(n_model=16, groups=4, hidden=12, inter_hidden=8, n_blocks=2)
VARIANTS = [
    dict(frontend="stft", window=32, hop=16, **SMALL),
    dict(frontend="conv", window=16, hop=8, enc_channels=20, **SMALL),
    dict(frontend="stft", window=32, hop=16, rnn="lstm", rnn_layers=2, inter="rnn", n_outputs=2, **SMALL),
    dict(frontend="conv", window=16, hop=8, enc_channels=12, inter="none", n_model=12, groups=1, hidden=8),
    dict(frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, **SMALL),
    dict(frontend="stft", window=32, hop=16, feat_ema_shift=3, **SMALL),
    dict(
        frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, df_taps=3, n_outputs=2, **SMALL
    ),
    dict(frontend="stft", window=32, hop=16, rnn="tcn", rnn_layers=3, **SMALL),  # causal dilated TCN
    dict(frontend="conv", window=16, hop=8, enc_channels=20, rnn="tcn", rnn_layers=2, tcn_kernel=2, **SMALL),
]


@pytest.mark.parametrize("kw", VARIANTS)
def test_streaming_any_chunking_is_bit_identical(kw, rng):
    hp = gc.GroupCommHParams(**kw)
    w = gc.random_weights(hp, seed=3)
    power = np.exp(rng.standard_normal((hp.features, 40)))
    whole = gc.GroupCommState(w).process(power)
    st = gc.GroupCommState(w)
    parts, j = [], 0
    for k in [1, 3, 7, 2, 11, 16]:
        parts.append(st.process(power[:, j : j + k]))
        j += k
    assert j == 40
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), whole)
    if hp.df_taps:  # deep-filter coefficients: tanh terms, plus the sigmoid mask on tap 0's real part
        assert whole.shape == (hp.n_outputs, hp.df_taps, 2, hp.features, 40)
        assert np.all((whole > -1) & (whole < 1 + (np.arange(hp.df_taps) == 0)[:, None, None, None]))
    else:
        assert whole.shape == (hp.n_outputs, hp.features, 40)
        assert np.all((whole > 0) & (whole < 1))  # sigmoid masks are bounded


def test_reset_restores_the_initial_state(rng):
    hp = gc.GroupCommHParams(**VARIANTS[2])
    w = gc.random_weights(hp, seed=1)
    power = np.exp(rng.standard_normal((hp.features, 12)))
    st = gc.GroupCommState(w)
    first = st.process(power)
    assert not np.array_equal(st.process(power), first)  # the state carries over
    st.reset()
    np.testing.assert_array_equal(st.process(power), first)


@pytest.mark.parametrize("kw", [VARIANTS[0], VARIANTS[7]])
def test_state_makes_the_model_causal(rng, kw):
    """Changing frame 10 changes no mask before it (GRU; TCN)."""
    hp = gc.GroupCommHParams(**kw)
    w = gc.random_weights(hp, seed=2)
    power = np.exp(rng.standard_normal((hp.features, 20)))
    a = gc.GroupCommState(w).process(power)
    power[:, 10] *= 50
    b = gc.GroupCommState(w).process(power)
    np.testing.assert_array_equal(a[..., :10], b[..., :10])
    assert not np.allclose(a[..., 10:], b[..., 10:])


def test_stft_front_end_matches_numpy_fft(rng):
    n, hop = 32, 16
    x = rng.standard_normal(160)
    ana, syn = stft_windows(n, hop)
    X = wola.stft(x, ana, hop)
    w = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))
    xp = np.concatenate([np.zeros(n - hop), x])
    j = 4  # frame j covers x[(j+1)hop - n, (j+1)hop)
    np.testing.assert_allclose(X[:, j], np.fft.rfft(w * xp[j * hop : j * hop + n]), atol=1e-12)
    y = wola.istft(X, syn, hop, len(x))
    np.testing.assert_allclose(y[: len(x) - (n - hop)], x[: len(x) - (n - hop)], atol=1e-12)


def test_fourier_conv_basis_reconstructs_perfectly(rng):
    torch = pytest.importorskip("torch")  # init_conv_basis lives with the trainer
    del torch
    from hearpipe.train.model import init_conv_basis

    enc, dec = init_conv_basis(32, 32)
    x = rng.standard_normal(320)
    y = conv_decode(conv_encode(x, enc, 16), dec, 16, len(x))
    np.testing.assert_allclose(y[:-16], x[:-16], atol=1e-12)


def test_identity_mask_model_passes_audio_through(rng):
    """With mask logits forced very high the model is (almost) the analysis-synthesis identity."""
    hp = gc.GroupCommHParams(**VARIANTS[0])
    w = gc.random_weights(hp, seed=0)
    w.arrays["mask.weight"][:] = 0
    w.arrays["mask.bias"][:] = 40.0
    x = rng.standard_normal(400)
    y = gc.enhance(x, w)[0]
    np.testing.assert_allclose(y[: 400 - 16], x[: 400 - 16], atol=1e-9)


def test_hparams_validation_names_the_field():
    with pytest.raises(InvalidInput, match=r"df_taps \(2\) needs complex bands"):
        gc.GroupCommHParams(frontend="conv", enc_channels=16, df_taps=2)
    with pytest.raises(InvalidInput, match=r"df_taps \(9\) must be 0"):
        gc.GroupCommHParams(df_taps=9)
    with pytest.raises(InvalidInput, match=r"n_model \(30\) must be divisible by groups \(4\)"):
        gc.GroupCommHParams(n_model=30, groups=4)
    with pytest.raises(InvalidInput, match="enc_channels"):
        gc.GroupCommHParams(frontend="conv", enc_channels=0)
    with pytest.raises(InvalidInput, match=r"enc_complex \(True\) needs the conv front end with an even"):
        gc.GroupCommHParams(frontend="conv", enc_channels=13, enc_complex=True)
    with pytest.raises(InvalidInput, match="enc_complex"):
        gc.GroupCommHParams(frontend="stft", enc_complex=True)
    with pytest.raises(InvalidInput, match=r"feat_ema_shift \(16\) must be 0 \(off\) or 1\.\.15"):
        gc.GroupCommHParams(feat_ema_shift=16)
    with pytest.raises(InvalidInput, match="tcn_kernel"):
        gc.GroupCommHParams(rnn="tcn", tcn_kernel=1)
    with pytest.raises(InvalidInput, match="'tcn'"):
        gc.GroupCommHParams(rnn="conv")
    with pytest.raises(InvalidInput, match="unknown groupcomm hyper-parameter"):
        gc.GroupCommHParams.from_dict({"groups": 4, "colour": "red"})


def test_weight_shape_mismatch_is_reported():
    hp = gc.GroupCommHParams(**VARIANTS[0])
    arrays = dict(gc.random_weights(hp).arrays)
    arrays["in.weight"] = arrays["in.weight"][:, :-1]
    with pytest.raises(InvalidInput, match=r"'in.weight' has shape"):
        gc.GroupCommWeights.from_arrays(hp, arrays)
    del arrays["mask.bias"]
    with pytest.raises(InvalidInput, match=r"'mask\.bias' is missing"):
        gc.GroupCommWeights.from_arrays(
            hp,
            {k: v for k, v in arrays.items() if k != "in.weight"}
            | {"in.weight": np.zeros((hp.n_model, hp.features))},
        )


def test_mac_count_matches_a_hand_count():
    hp = gc.GroupCommHParams(
        frontend="stft", window=128, hop=64, n_model=64, groups=4, n_blocks=2, hidden=64, inter_hidden=32
    )
    K, D, H, T = 4, 16, 64, 32
    per_block = (K * T * D + T * T + K * D * 2 * T) + K * 3 * H * (D + H) + K * D * H
    expected = 64 * 65 + 2 * per_block + K * 17 * D
    assert gc.ops_per_frame(hp)["mac"] == expected
    assert gc.n_params(hp) == sum(np.prod(s) for s in gc.expected_shapes(hp).values())
    assert gc.summary(hp)["mmacs_per_s"] < 50.0


def test_tcn_receptive_field_mac_and_state_counts(rng):
    """A TCN layer l reads (k-1) 2**l earlier frames: the receptive field of 3 layers of 3 taps is 15 frames
    (a change at frame 10 reaches frames 10..24 and not 25), and the counts follow the layer shapes."""
    hp = gc.GroupCommHParams(
        frontend="stft", window=32, hop=16, n_model=16, groups=4, hidden=12, inter="none", n_blocks=1,
        rnn="tcn", rnn_layers=3,
    )  # fmt: skip
    w = gc.random_weights(hp, seed=6)
    power = np.exp(rng.standard_normal((hp.features, 40)))
    a = gc.GroupCommState(w).process(power)
    power[:, 10] *= 50
    b = gc.GroupCommState(w).process(power)
    changed = np.flatnonzero(np.abs(a - b).max(axis=(0, 1)) > 0)
    assert changed.min() == 10 and changed.max() == 10 + 2 + 4 + 8
    K, D, H = 4, 4, 12
    seq = K * H * 3 * D + K * H * 3 * H * 2  # the layers' taps x inputs -> H
    assert gc.ops_per_frame(hp)["mac"] == 16 * 17 + seq + K * D * H + K * 5 * D
    assert gc.state_values(hp) == K * (2 * D + 4 * H + 8 * H)
    assert gc.n_params(hp) == sum(np.prod(s) for s in gc.expected_shapes(hp).values())


def test_activation_ranges_cover_the_intermediates(rng):
    hp = gc.GroupCommHParams(**VARIANTS[2])
    w = gc.random_weights(hp, seed=4)
    power = np.exp(3 * rng.standard_normal((hp.features, 15)))
    r = activation_ranges(w, [power])
    f = hp.feat_scale * np.log2(power + hp.log_eps)
    assert r["features"] == (f.min(), f.max())
    assert {"blocks.0.grnn.y", "blocks.1.rnn.1.h", "blocks.1.rnn.0.c", "mask.logits"} <= set(r)
    lo, hi = r["blocks.1.rnn.1.h"]
    assert -1 < lo <= hi < 1  # LSTM outputs are tanh-bounded
    # probing does not change the result
    np.testing.assert_array_equal(gc.GroupCommState(w).process(power), gc.GroupCommState(w).process(power))


def test_stft_codec_is_the_stft(rng):
    """The conv encoder/decoder of `stft_codec` compute the graph's STFT / inverse STFT: Re rows, then Im."""
    x = rng.standard_normal(800)
    enc, dec = stft_codec(32, 16)
    ana, syn = stft_windows(32, 16)
    X = wola.stft(x, ana, 16)
    e = conv_encode(x, enc, 16)
    np.testing.assert_allclose(e, np.concatenate([X.real, X.imag]), atol=1e-12)
    np.testing.assert_allclose(conv_decode(e, dec, 16, len(x)), wola.istft(X, syn, 16, len(x)), atol=1e-12)
    hp = gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=34, enc_complex=True, **SMALL)
    np.testing.assert_allclose(band_power(hp, e), X.real**2 + X.imag**2, atol=1e-12)
    m = rng.uniform(size=X.shape)
    np.testing.assert_allclose(
        apply_estimate(hp, e, m[None])[0], np.concatenate([(X * m).real, (X * m).imag]), atol=1e-12
    )
