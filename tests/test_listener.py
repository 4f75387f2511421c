"""Issue 23: the noise reducer's attenuation limit (`max_attenuation_db`) in float and bit-true fixed point,
its cost, and the listener-weighted training objective."""

from __future__ import annotations

import numpy as np
import pytest

from hearpipe.errors import InvalidInput
from hearpipe.fixed.qformat import float_to_fixed
from hearpipe.graph.engine import AUDIO_FRAC_BITS, load_graph

NR = {"name": "analysis", "type": "stft", "params": {"window": "sqrt_hann", "window_length": 128, "hop": 64}}


def _graph(max_att=None, weights="builtin:enhance_stft", device=None):
    gcp = {"weights": weights} | ({"max_attenuation_db": max_att} if max_att is not None else {})
    spec = {"sample_rate_hz": 16000, "full_scale_db_spl": 110,
            "nodes": [NR, {"name": "nr", "type": "groupcomm", "params": gcp}, {"name": "syn", "type": "istft"}]}  # fmt: skip
    return load_graph(spec, device=device)


def _noisy(rng, n=8000):
    t = np.arange(n) / 16000
    speechy = 0.1 * np.sin(2 * np.pi * 300 * t) * (1 + np.sin(2 * np.pi * 4 * t))
    return speechy + 0.03 * rng.standard_normal(n)


@pytest.mark.parametrize("device", [None, "hearing-aid-dsp"])
def test_floor_limits_the_attenuation_and_costs_one_compare_per_bin(rng, device):
    x = _noisy(rng)
    free, lim = _graph(device=device), _graph(6.0, device=device)
    m_free, m_lim = _masks(free, x), _masks(lim, x)
    floor = 10 ** (-6 / 20)
    assert m_free.min() < 0.3  # the model attenuates some bins by more than 10 dB here...
    assert m_lim.min() >= floor - 2**-14  # ...the floor stops it at 6 dB
    mask_err = 2**-14 if device else 1e-9  # q15 rounding of the applied mask
    np.testing.assert_allclose(m_lim, np.maximum(m_free, floor), atol=mask_err + 2**-10 * bool(device))
    c_free, c_lim = free.blocks["nr"].cost(), lim.blocks["nr"].cost()
    assert c_lim.ops["cmp"] - c_free.ops["cmp"] == 65  # one compare per bin and frame
    rest = [{k: v for k, v in c.ops.items() if k != "cmp"} for c in (c_free, c_lim)]
    assert rest[0] == rest[1]


def _masks(g, x):
    """|output bin| / |input bin| of the groupcomm node over the frames of x: the mask it applied."""
    g.reset()
    a = g._check_audio(x)
    if g.ctx.fixed:
        a = float_to_fixed(a, AUDIO_FRAC_BITS, 16, rounding="nearest")
    X = g.blocks["analysis"].process(a)
    Y = g.blocks["nr"].process(X)
    if g.ctx.fixed:
        X, Y = X[..., 0] + 1j * X[..., 1], Y[..., 0] + 1j * Y[..., 1]
    ok = np.abs(X) > (2**14 if g.ctx.fixed else 1e-4) * np.abs(X).max() / 2**20
    return np.abs(Y[ok]) / np.abs(X[ok])


def test_fixed_floor_follows_the_float_floor_and_any_chunking(rng):
    x = _noisy(rng, 6400)
    fl, fx = _graph(8.0), _graph(8.0, device="hearing-aid-dsp")
    yf = fl.run(x)
    yx = fx.run(np.round(x * 32767) / 32767)
    err = yx[0] - yf[0]
    assert 10 * np.log10(np.sum(yf**2) / np.sum(err**2)) > 30  # fixed tracks float with the floor applied
    fx.reset()
    parts = [fx.process(np.round(c * 32767) / 32767) for c in np.array_split(x, [7, 100, 1000, 4000])]
    np.testing.assert_array_equal(np.concatenate([p for p in parts] + [fx.flush()], axis=-1)[0], yx[0])


def test_floor_on_a_deep_filter_model_is_refused_with_a_reason():
    spec = {"sample_rate_hz": 16000, "nodes": [
        {"name": "enc", "type": "conv_encoder", "params": {"weights": "builtin:enhance_conv"}},
        {"name": "nr", "type": "groupcomm", "params": {"weights": "builtin:enhance_conv", "max_attenuation_db": 10}},
        {"name": "dec", "type": "conv_decoder", "params": {"weights": "builtin:enhance_conv"}}]}  # fmt: skip
    with pytest.raises(InvalidInput, match=r"max_attenuation_db needs a mask model.*dry `mix`"):
        load_graph(spec)


def test_distortion_loss_charges_lost_speech_not_residual_noise(rng):
    torch = pytest.importorskip("torch")
    from hearpipe.train.trainer import _si_snr_loss, distortion_loss

    s = torch.from_numpy(_noisy(rng, 8000)[None, :])
    n = torch.from_numpy(0.05 * rng.standard_normal((1, 8000)))
    quiet = 0.5 * s  # speech attenuated by 6 dB, no noise
    noisy = s + n  # speech intact, noise left in
    assert distortion_loss(noisy, s) < distortion_loss(quiet, s) - 5
    assert _si_snr_loss(quiet, s) < _si_snr_loss(noisy, s)  # SI-SNR prefers the opposite (it is scale-free)
    assert distortion_loss(s, s) < -50


@pytest.mark.torch
def test_training_with_the_distortion_term_runs_and_logs_it(tmp_path, rng):
    pytest.importorskip("torch")
    from hearpipe.train.trainer import Trainer

    from .test_train_runs import _cfg

    cfg = _cfg(tmp_path, rng, max_steps=2, distortion_weight=0.5)
    t = Trainer(cfg, tmp_path / "run")
    assert t.run()
    assert "0.5 x speech distortion" in (tmp_path / "run" / "train.log").read_text()
