"""PyTorch twin == numpy reference; export -> load -> render; trainer pieces (loss, schedule)."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import hearpipe  # noqa: E402
from hearpipe.metrics.si_snr import si_snr  # noqa: E402
from hearpipe.models import groupcomm as gc  # noqa: E402
from hearpipe.models.weights import load_weights, save_weights  # noqa: E402
from hearpipe.train.model import GroupCommNet, grow, load_net  # noqa: E402

pytestmark = pytest.mark.torch

SMALL = dict(n_model=16, groups=4, hidden=12, inter_hidden=8, n_blocks=2)
VARIANTS = [
    dict(frontend="stft", window=32, hop=16, **SMALL),
    dict(frontend="conv", window=32, hop=16, enc_channels=32, **SMALL),
    dict(frontend="conv", window=32, hop=16, enc_channels=20, enc_window=80, **SMALL),
    dict(frontend="stft", window=32, hop=16, rnn="lstm", rnn_layers=2, inter="rnn", n_outputs=2, **SMALL),
    dict(frontend="conv", window=16, hop=8, enc_channels=12, inter="none", n_model=12, groups=1, hidden=8),
    dict(frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, enc_window=24, **SMALL),
    dict(frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, feat_ema_shift=2, **SMALL),
    dict(frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, df_taps=3, **SMALL),
    dict(frontend="stft", window=32, hop=16, df_taps=2, n_outputs=2, **SMALL),
    dict(frontend="stft", window=32, hop=16, rnn="tcn", rnn_layers=3, **SMALL),
    dict(
        frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, rnn="tcn", tcn_kernel=4, **SMALL
    ),
]


def _random_net(hp, seed=0):
    torch.manual_seed(seed)
    net = GroupCommNet(hp).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))  # move PReLU slopes and biases off their defaults
    return net


@pytest.mark.parametrize("kw", VARIANTS)
def test_torch_equals_numpy_reference(kw, rng):
    hp = gc.GroupCommHParams(**kw)
    net = _random_net(hp)
    x = 0.1 * rng.standard_normal((2, 1000))
    with torch.no_grad():
        yt = net(torch.from_numpy(x)).numpy()
    w = gc.GroupCommWeights.from_arrays(hp, net.export_arrays(np.float64))
    for b in range(2):
        yn = gc.enhance(x[b], w)
        assert yn.shape == yt[b].shape == (hp.n_outputs, 1000)
        np.testing.assert_allclose(yt[b], yn, rtol=0, atol=1e-5 * np.abs(yn).max())
        assert np.abs(yt[b] - yn).max() < 1e-7  # in double precision they agree far better than 1e-5


def test_load_arrays_inverts_export():
    hp = gc.GroupCommHParams(**VARIANTS[2])
    a = _random_net(hp, seed=1)
    b = _random_net(hp, seed=2)
    b.load_arrays(a.export_arrays(np.float64))
    for k, v in a.export_arrays(np.float64).items():
        np.testing.assert_array_equal(b.export_arrays(np.float64)[k], v)


def test_export_load_render_smoke(tmp_path, rng):
    """Train-side export -> .npz -> graph blocks render synthetic audio like the torch model."""
    hp = gc.GroupCommHParams(**VARIANTS[1])
    net = _random_net(hp).float()
    p = save_weights(tmp_path / "m.npz", net.export_arrays(), gc.ARCHITECTURE, hp.to_dict(), {"step": 0})
    assert load_weights(p).hparams == hp.to_dict()
    t = np.arange(4000) / 16000
    x = 0.1 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.standard_normal(4000)
    g = hearpipe.load_graph({"sample_rate_hz": 16000, "nodes": [
        {"name": "enc", "type": "conv_encoder", "params": {"weights": str(p)}},
        {"name": "gc", "type": "groupcomm", "params": {"weights": str(p)}},
        {"name": "dec", "type": "conv_decoder", "params": {"weights": str(p)}},
    ]})  # fmt: skip
    y = g.run(x)[0]
    assert y.shape == x.shape and np.all(np.isfinite(y))
    with torch.no_grad():
        yt = net(torch.from_numpy(x.astype(np.float32))[None])[0, 0].double().numpy()
    d = g.latency_samples
    assert si_snr(y[d:], yt[: len(x) - d]) > 60  # float32 torch vs float64 numpy


def test_si_snr_loss_matches_metric(rng):
    from hearpipe.train.trainer import _si_snr_loss

    ref = rng.standard_normal((3, 2000))
    est = ref + 0.3 * rng.standard_normal((3, 2000))
    loss = float(_si_snr_loss(torch.from_numpy(est), torch.from_numpy(ref)))
    expected = -np.mean([si_snr(est[i], ref[i]) for i in range(3)])
    assert loss == pytest.approx(expected, abs=1e-6)


def test_lr_schedule_warms_up_and_decays():
    from hearpipe.train.trainer import TrainConfig

    cfg = TrainConfig(lr=1e-3, lr_min=1e-5, warmup_steps=10, max_steps=110)

    class T:  # only the schedule is exercised
        lr_scale = 1.0

    from hearpipe.train.trainer import Trainer

    t = T()
    t.cfg = cfg
    lr = [Trainer.lr_at(t, s) for s in (0, 9, 10, 60, 110)]
    assert lr[0] == pytest.approx(1e-4) and lr[1] == pytest.approx(1e-3) and lr[2] == pytest.approx(1e-3)
    assert lr[3] == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * 0.5)))
    assert lr[4] == pytest.approx(1e-5)
    t.cfg = cfg.model_copy(update={"schedule_start": 110, "max_steps": 220})  # a warm restart
    assert Trainer.lr_at(t, 110) == pytest.approx(1e-4) and Trainer.lr_at(t, 120) == pytest.approx(1e-3)
    assert Trainer.lr_at(t, 220) == pytest.approx(1e-5)


def test_level_loss_is_the_squared_level_error_in_db(rng):
    from hearpipe.train.trainer import _level_loss

    ref = torch.from_numpy(rng.standard_normal((2, 1000)))
    assert float(_level_loss(ref, ref)) == pytest.approx(0.0, abs=1e-9)
    assert float(_level_loss(2 * ref, ref)) == pytest.approx((20 * np.log10(2)) ** 2, rel=1e-6)


@pytest.mark.parametrize("rnn,layers", [("gru", 1), ("lstm", 2)])
def test_grow_keeps_the_function(rng, rnn, layers):
    """Weights moved into a model with a longer encoder and wider sequence modules compute the same output,
    and the new units are live (they receive gradient), so fine-tuning can use them."""
    hp = gc.GroupCommHParams(
        frontend="conv", window=32, hop=16, enc_channels=20, **{**SMALL, "rnn": rnn, "rnn_layers": layers}
    )
    hp_big = gc.GroupCommHParams(**{**hp.to_dict(), "enc_window": 64, "hidden": hp.hidden + 5})
    net, big = _random_net(hp), GroupCommNet(hp_big).double()
    big.load_arrays(grow(net.export_arrays(np.float64), hp.to_dict(), hp_big))
    x = torch.from_numpy(0.1 * rng.standard_normal((2, 800)))
    with torch.no_grad():
        np.testing.assert_allclose(big(x).numpy(), net(x).numpy(), rtol=0, atol=1e-12)
    big(x).square().sum().backward()
    out_w = big.blocks[0].out.weight.grad[:, hp.hidden :]
    assert float(out_w.abs().sum()) > 0  # the new units' outputs get gradient
    with pytest.raises(ValueError, match="do not fit"):
        grow(net.export_arrays(), hp.to_dict(), gc.GroupCommHParams(**{**hp.to_dict(), "groups": 1}))
    with pytest.raises(ValueError, match="only grow"):
        grow(big.export_arrays(), hp_big.to_dict(), hp)


def test_grow_refuses_to_widen_a_tcn():
    hp = gc.GroupCommHParams(frontend="stft", window=32, hop=16, rnn="tcn", **SMALL)
    with pytest.raises(ValueError, match="TCN"):
        grow(
            _random_net(hp).export_arrays(),
            hp.to_dict(),
            gc.GroupCommHParams(**{**hp.to_dict(), "hidden": 16}),
        )


def test_grow_adds_deep_filter_taps_that_start_silent_and_learn(rng):
    """A mask model grown into a deep-filter model (and 2 taps into 3) computes the same output in torch
    and in the numpy reference, and the new head gets gradient."""
    hp = gc.GroupCommHParams(frontend="conv", window=16, hop=8, enc_channels=18, enc_complex=True, **SMALL)
    hp2, hp3 = (gc.GroupCommHParams(**{**hp.to_dict(), "df_taps": k}) for k in (2, 3))
    net, two, three = _random_net(hp), GroupCommNet(hp2).double(), GroupCommNet(hp3).double()
    two.load_arrays(grow(net.export_arrays(np.float64), hp.to_dict(), hp2))
    x = torch.from_numpy(0.1 * rng.standard_normal((2, 800)))
    with torch.no_grad():
        np.testing.assert_allclose(two(x).numpy(), net(x).numpy(), rtol=0, atol=1e-12)
        two.df.weight.normal_(), two.df.bias.normal_()  # a trained 2-tap filter
        three.load_arrays(grow(two.export_arrays(np.float64), hp2.to_dict(), hp3))
        np.testing.assert_allclose(three(x).numpy(), two(x).numpy(), rtol=0, atol=1e-12)
    w3 = gc.GroupCommWeights.from_arrays(hp3, three.export_arrays(np.float64))
    with torch.no_grad():
        np.testing.assert_allclose(gc.enhance(x[0].numpy(), w3), three(x)[0].numpy(), atol=1e-9)
    fresh = GroupCommNet(hp3).double()
    fresh.load_arrays(grow(net.export_arrays(np.float64), hp.to_dict(), hp3))
    fresh(x).square().sum().backward()
    assert float(fresh.df.weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="more deep-filter taps"):
        grow(three.export_arrays(), hp3.to_dict(), hp2)


def test_stft_model_initialises_a_complex_band_conv_model_exactly(rng):
    """`grow` turns an STFT model into a conv model with complex bands (the STFT as its starting filter
    bank, longer analysis window, wider GRU, running-mean inputs): the same output in torch and in the
    numpy reference, and the encoder and decoder are trainable parameters."""
    hp = gc.GroupCommHParams(frontend="stft", window=32, hop=16, **SMALL)
    hp_conv = gc.GroupCommHParams(
        **{**hp.to_dict(), "frontend": "conv", "enc_channels": 34, "enc_complex": True, "enc_window": 48,
           "hidden": hp.hidden + 4, "feat_ema_shift": 3}
    )  # fmt: skip
    net, conv = _random_net(hp), GroupCommNet(hp_conv).double()
    arrays = grow(net.export_arrays(np.float64), hp.to_dict(), hp_conv)
    conv.load_arrays(arrays)
    x = 0.1 * rng.standard_normal((2, 800))
    with torch.no_grad():
        y = conv(torch.from_numpy(x)).numpy()
        # 1e-7: the STFT net's fixed basis buffers were built in float32
        np.testing.assert_allclose(y, net(torch.from_numpy(x)).numpy(), rtol=0, atol=1e-7)
    ref = gc.enhance(x[0], gc.GroupCommWeights.from_arrays(hp_conv, arrays))
    np.testing.assert_allclose(y[0], ref, rtol=0, atol=1e-9)
    assert conv.enc.requires_grad and conv.dec.requires_grad
    with pytest.raises(ValueError, match="normalised differently"):
        grow(arrays, hp_conv.to_dict(), gc.GroupCommHParams(**{**hp_conv.to_dict(), "feat_ema_shift": 5}))
    with pytest.raises(ValueError, match="enc_channels 34"):
        grow(
            net.export_arrays(),
            hp.to_dict(),
            gc.GroupCommHParams(**{**hp_conv.to_dict(), "enc_channels": 30}),
        )


def _data_folder(root, rng):
    import soundfile as sf

    t = np.arange(16000) / 16000
    for split in ("train", "dev"):
        for kind in ("speech", "noise"):
            (root / split / kind).mkdir(parents=True)
            for i in range(2):
                x = 0.1 * rng.standard_normal(len(t)) * (1 + np.sin(2 * np.pi * 4 * t + i))
                sf.write(root / split / kind / f"{kind}{i}.flac", x, 16000, subtype="PCM_16")
    return root


def test_trainer_starts_from_a_weight_file_with_a_longer_encoder(tmp_path, rng):
    """init_from a .npz: the extended model computes what the file's model computes; training exports."""
    from hearpipe.train.trainer import TrainConfig, Trainer

    hp = gc.GroupCommHParams(frontend="conv", window=32, hop=16, enc_channels=20, **SMALL)
    src = _random_net(hp).float()
    save_weights(tmp_path / "src.npz", src.export_arrays(), gc.ARCHITECTURE, hp.to_dict(), {})
    model = {k: v for k, v in hp.to_dict().items() if k not in ("log_eps", "feat_scale", "sample_rate_hz")}
    cfg = TrainConfig.model_validate({
        "init_from": "src.npz", "model": {**model, "enc_window": 48},
        "data": {"data_dir": str(_data_folder(tmp_path / "data", rng)), "segment_s": 0.5},
        "batch_size": 2, "max_steps": 2, "warmup_steps": 1, "dev_utterances": 1, "dev_seconds": 0.5,
    })  # fmt: skip
    tr = Trainer(cfg, tmp_path / "run", base_dir=tmp_path)
    assert tr.net.enc.shape[-1] == 48
    x = torch.from_numpy(0.1 * rng.standard_normal((1, 800)).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(tr.net(x).numpy(), src(x).numpy(), atol=1e-6)
    tr.run()
    wf = load_weights(tmp_path / "run" / "best.npz", gc.ARCHITECTURE)
    assert wf.hparams["enc_window"] == 48 and wf.arrays["enc.weight"].shape == (20, 48)
    assert tr.step == 2
    final = load_weights(tmp_path / "run" / "final.npz", gc.ARCHITECTURE)  # the last step's model
    assert final.training["step"] == 2
    for k, v in tr.net.export_arrays().items():
        np.testing.assert_array_equal(final.arrays[k], v)


def test_average_of_checkpoints_is_the_mean_of_their_weights(tmp_path):
    from hearpipe.train.average import average_checkpoints

    hp = gc.GroupCommHParams(frontend="stft", window=32, hop=16, **SMALL)
    nets = [_random_net(hp, seed=s).float() for s in (1, 2)]
    paths = []
    for i, net in enumerate(nets):
        paths.append(tmp_path / f"c{i}.pt")
        torch.save({"model": net.state_dict(), "hparams": hp.to_dict(), "step": 10 * (i + 1)}, paths[-1])
    wf = load_weights(average_checkpoints(paths, tmp_path / "mean.npz"), gc.ARCHITECTURE)
    a, b = (n.export_arrays() for n in nets)
    for name in a:
        np.testing.assert_allclose(wf.arrays[name], (a[name].astype(np.float64) + b[name]) / 2, atol=1e-6)
    assert wf.training["steps"] == [10, 20]
    other = gc.GroupCommHParams(**{**hp.to_dict(), "hidden": 4})
    torch.save(
        {"model": GroupCommNet(other).state_dict(), "hparams": other.to_dict(), "step": 1}, tmp_path / "x.pt"
    )
    with pytest.raises(ValueError, match="hyper-parameters differ"):
        average_checkpoints([paths[0], tmp_path / "x.pt"], tmp_path / "bad.npz")
    # load_net (evaluate --torch) reads a checkpoint and a weight file to the same model
    one = average_checkpoints(paths[:1], tmp_path / "one.npz")
    x = torch.from_numpy(0.1 * np.random.default_rng(0).standard_normal((1, 640)).astype(np.float32))
    with torch.no_grad():
        ref = nets[0].eval()(x)
        np.testing.assert_array_equal(load_net(str(paths[0]))(x), ref)
        np.testing.assert_allclose(load_net(str(one))(x), ref, atol=1e-6)


CONV_STREAM = dict(frontend="conv", enc_channels=34, enc_complex=True)


@pytest.mark.parametrize(
    "front,ema,taps,rnn",
    [(CONV_STREAM, 0, 0, "gru"), (CONV_STREAM, 3, 0, "gru"), (CONV_STREAM, 0, 3, "gru"),
     (CONV_STREAM, 0, 0, "tcn"), (dict(frontend="stft"), 0, 0, "gru"), (dict(frontend="stft"), 0, 3, "gru")],
)  # fmt: skip
def test_benchmark_torch_stream_is_the_model(rng, front, ema, taps, rnn):
    """The benchmarks' hop-by-hop PyTorch loop (their baseline) computes what the whole-sequence model does,
    on either front end."""
    import importlib.util

    from .conftest import REPO

    spec = importlib.util.spec_from_file_location("twins", REPO / "benchmarks" / "twins.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    hp = gc.GroupCommHParams(
        window=32, hop=16, feat_ema_shift=ema, df_taps=taps, rnn=rnn, rnn_layers=2, **front, **SMALL
    )
    net = _random_net(hp).float()
    x = torch.from_numpy(0.1 * rng.standard_normal(800).astype(np.float32))
    ts = bench.TorchStream(net)
    with torch.no_grad():
        y = torch.cat([ts.audio_hop(x[i : i + 16]) for i in range(0, 800, 16)]).numpy()
        ref = net(x[None])[0, 0].numpy()
    d = hp.window - hp.hop
    np.testing.assert_allclose(y[d:], ref[:-d], atol=1e-5)


def test_training_configs_are_valid():
    """Every training config a user starts from (examples/, one per front end) and every experiment's
    (experiments/configs/) loads as the trainer reads it, and builds its model."""
    from hearpipe.config import load_model
    from hearpipe.train.trainer import TrainConfig

    from .conftest import REPO

    examples = sorted((REPO / "examples").glob("train_*.yaml"))
    assert {f.name for f in examples} >= {"train_enhance.yaml", "train_enhance_stft.yaml"}
    files = examples + sorted((REPO / "experiments" / "configs").glob("*.yaml"))
    assert len(files) > 20
    for f in files:
        cfg = load_model(TrainConfig, f)
        gc.GroupCommHParams(**cfg.model.model_dump())
