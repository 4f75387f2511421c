"""Compression-aware training (issue 17): LSQ fake quantisation + distillation, pruning held in training,
exported through hearpipe.compress as exactly what the torch model used."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import yaml  # noqa: E402

from hearpipe.compress.pipeline import Recipe, compress_arrays  # noqa: E402
from hearpipe.fixed.packing import unpack_bits  # noqa: E402
from hearpipe.models.groupcomm.fixed_model import quantize_weight_file  # noqa: E402
from hearpipe.models.weights import load_weights  # noqa: E402
from tests.conftest import REPO, data_dir  # noqa: E402

pytestmark = pytest.mark.torch
SRC = "builtin:enhance_conv"
MODEL = yaml.safe_load((REPO / "experiments/configs/train_enhance_df3_real.yaml").read_text())["model"]


def _comp(cfg):
    from hearpipe.train.model import load_net
    from hearpipe.train.qat import CompressConfig, Compressor

    net = load_net(SRC).train()
    return net, Compressor(net, net.hp, CompressConfig.model_validate(cfg))


def test_qat_starts_where_ptq_is():
    """At the start, the fake quantiser's integers and steps are the 3-bit PTQ file's."""
    net, comp = _comp({"qat": {"bits": 3}})
    stored, _ = compress_arrays(net.export_arrays(), net.hp, Recipe(bits=3))
    for name in comp.names:
        assert np.array_equal(stored[name + ".scale"], comp.steps[comp._key(name)].detach().numpy())
        ptq = unpack_bits(stored[name + ".packed"], 3, stored[name + ".packed"].size * 8 // 3, signed=True)
        q = comp.integers(net, name).numpy().ravel()
        assert np.array_equal(ptq[: q.size], q) and len(np.unique(q)) > 2


def test_exported_integers_are_the_fake_quantisers(tmp_path):
    """After the steps and weights moved, the file stores the integers, steps and masks the forward pass
    used; the runtime's float weights are those integers times the steps."""
    net, comp = _comp({"qat": {"bits": 3}, "prune": {"stages": [0.25], "every": 10}})
    assert comp.before_step(net, 0)  # every matrix loses a quarter of its rows
    with torch.no_grad():
        for p in comp.steps.values():
            p.mul_(torch.from_numpy(np.random.default_rng(1).uniform(0.7, 1.3, p.shape).astype(np.float32)))
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    comp.after_step(net)
    used = {n: comp.weight(net, n).detach().numpy() for n in comp.names}
    path = comp.export(net, net.hp, tmp_path / "q.npz", {"step": 0})
    wf = load_weights(path)
    assert wf.compression["recipe"]["prune"] == [0.25] and wf.compression["recipe"]["bits"] == 3
    fl = wf.float_arrays()
    for name, layer in wf.packed_layers().items():
        q = comp.integers(net, name).numpy()
        assert layer.bits == 3 and np.array_equal(layer.ints(), q)
        assert np.array_equal(layer.scale, comp.steps[comp._key(name)].detach().numpy())
        assert np.array_equal(layer.kept, comp.kept(name).numpy()) and not layer.kept.all()
        np.testing.assert_allclose(fl[name], used[name], rtol=1e-6, atol=1e-9)
    _, m = quantize_weight_file(path)  # the fixed-point runtime loads it packed
    assert all(q.w is None and q.packed is not None for q in m.layers)


def test_pruned_rows_stay_zero_through_training_and_stages():
    net, comp = _comp({"prune": {"stages": [0.25, 0.5], "every": 2}})
    opt = torch.optim.Adam(list(net.parameters()), lr=1e-2)
    x = torch.randn(1, 4000) * 0.1
    for step in range(5):
        comp.before_step(net, step)
        loss = comp(net, x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        comp.after_step(net)
        for n in comp.names:
            w, kept = net._param_for(n).detach().numpy(), comp.kept(n).numpy()
            assert not w[~kept].any()
            assert (~kept).sum() == min(round(comp.share_at(step) * len(kept)), len(kept) - 1)
    assert comp.share_at(4) == 0.5


def test_steps_stay_above_their_floor():
    """A step pushed to 0 or below comes back to 0.1 x its start after the optimiser step."""
    net, comp = _comp({"qat": {"bits": 3}})
    start = {k: p.detach().clone() for k, p in comp.steps.items()}
    with torch.no_grad():
        for p in comp.steps.values():
            p[::2] = -1.0
    comp.after_step(net)
    for k, p in comp.steps.items():
        assert torch.equal(p[::2], 0.1 * start[k][::2]) and torch.equal(p[1::2], start[k][1::2])


def test_config_errors():
    from pydantic import ValidationError

    from hearpipe.train.qat import CompressConfig

    with pytest.raises(ValidationError, match="must rise"):
        CompressConfig.model_validate({"prune": {"stages": [0.5, 0.25]}})
    with pytest.raises(ValidationError):
        CompressConfig.model_validate({"qat": {"bits": 1}})
    with pytest.raises(ValueError, match="clustering"):
        _comp({"qat": {"bits": 3}, "cluster": 15})


@pytest.mark.data
@pytest.mark.parametrize(
    "section",
    [{"qat": {"bits": 3, "distill": 0.5}}, {"prune": {"stages": [0.25, 0.5], "every": 1}, "cluster": 15}],
)
def test_smoke_run_exports_a_packed_file(tmp_path, section):
    """Two steps of QAT + distillation (or staged pruning) from the shipped float model, through the
    trainer: final.npz is a version-2 file the fixed-point runtime runs."""
    from hearpipe.train.trainer import TrainConfig, Trainer

    cfg = TrainConfig.model_validate({
        "init_from": SRC, "model": MODEL, "data": {"segment_s": 0.5, "data_dir": str(data_dir())},
        "batch_size": 2, "max_steps": 2, "warmup_steps": 1, "dev_utterances": 1, "dev_seconds": 1.0,
        "lr": 1e-4, "compress": section,
    })  # fmt: skip
    tr = Trainer(cfg, tmp_path / "run")
    assert tr.run()
    wf = load_weights(tmp_path / "run" / "final.npz")
    assert wf.compression and wf.training["step"] == 2 and wf.training["fixed_formats"]
    _, m = quantize_weight_file(tmp_path / "run" / "final.npz")
    assert all(q.packed is not None for q in m.layers)
    if "prune" in section:  # stage 2 (50 %) starts at step 1: both applied by step 2
        assert all(not q.packed.kept.all() for q in m.layers) and wf.compression["recipe"]["prune"] == [
            0.25,
            0.5,
        ]
