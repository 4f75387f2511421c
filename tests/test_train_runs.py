"""Training runs write only under their folder, report progress, checkpoint on SIGINT/SIGTERM, resume; recipes."""

import os
import signal

import numpy as np
import pytest

pytest.importorskip("torch")

from hearpipe.cli import main
from hearpipe.errors import InvalidInput
from hearpipe.models.weights import load_weights

from .conftest import REPO
from .test_train_model import _data_folder

pytestmark = pytest.mark.torch

TINY = {
    "model": {"frontend": "stft", "window": 32, "hop": 16, "n_model": 8, "groups": 2, "hidden": 4,
              "inter_hidden": 4, "n_blocks": 1},
    "data": {"segment_s": 0.25},
    "batch_size": 2, "warmup_steps": 1, "dev_utterances": 1, "dev_seconds": 0.25, "log_every": 2,
}  # fmt: skip


def _cfg(tmp_path, rng, **fields):
    from hearpipe.train.trainer import TrainConfig

    data = str(_data_folder(tmp_path / "data", rng))
    return TrainConfig.model_validate({**TINY, "data": {**TINY["data"], "data_dir": data}, **fields})


def test_a_run_refuses_the_package_and_configs_name_no_output(tmp_path, rng):
    from hearpipe.train.trainer import TrainConfig, Trainer

    with pytest.raises(InvalidInput, match="inside the installed package"):
        Trainer(_cfg(tmp_path, rng, max_steps=1), REPO / "hearpipe" / "models" / "weights")
    with pytest.raises(ValueError, match="names no output path"):
        TrainConfig.model_validate({"export_path": "../hearpipe/models/weights/enhance_stft.npz"})


def test_progress_signal_checkpoint_and_resume(tmp_path, rng, capsys):
    """Progress says step of total, the loss's meaning and an ETA; SIGTERM writes last.pt and stops; the
    same folder resumes at that step and ends with final.npz."""
    from hearpipe.train.trainer import Trainer

    cfg = _cfg(tmp_path, rng, max_steps=6)
    out = tmp_path / "run"
    tr = Trainer(cfg, out)
    batch = tr.mixer.batch

    def batch_then_sigterm(seed, step, size):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return batch(seed, step, size)

    tr.mixer.batch = batch_then_sigterm
    with pytest.raises(KeyboardInterrupt):
        tr.run()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    log = capsys.readouterr().out
    assert "step 2/6 (33.3 %), loss " in log and " dB (= -SI-SNR), lr " in log and "steps/s, ETA " in log
    assert f"wrote {out / 'last.pt'}" in log and not (out / "final.npz").exists()
    tr = Trainer(cfg, out)
    assert tr.step == 4  # the step under way when the signal came is finished
    assert tr.run()
    assert load_weights(out / "final.npz").training["step"] == 6
    assert sorted(p.name for p in out.iterdir()) == [
        "best.npz", "best.pt", "config.yaml", "final.npz", "last.pt", "train.log"
    ]  # fmt: skip


def test_train_command_writes_under_out(tmp_path, rng, capsys):
    import yaml

    cfg = _cfg(tmp_path, rng, max_steps=2).model_dump()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "o"), "--set", "lr=1e-3"]) == 0
    assert (tmp_path / "o" / "final.npz").is_file()
    assert str(tmp_path / "o" / "final.npz") in capsys.readouterr().out
    pkg = REPO / "hearpipe" / "runs"
    assert main(["train", str(tmp_path / "c.yaml"), "--out", str(pkg)]) == 2 and not pkg.exists()


def test_recipe_stages_chain_and_resume(tmp_path, rng):
    import yaml

    from hearpipe.train.recipe import run_recipe

    cfg = _cfg(tmp_path, rng, max_steps=3).model_dump()
    recipe = {
        "name": "r", "result": "b/final.npz",
        "stages": [
            {"name": "a", "train": cfg},
            {"name": "a2", "continue_from": "a", "train": {"max_steps": 6, "schedule": "constant"}, "stop_at": 5},
            {"name": "b", "train": cfg, "init_from": "a2/final.npz"},
        ],
    }  # fmt: skip
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = run_recipe(path, tmp_path / "out")
    assert load_weights(tmp_path / "out" / "a2" / "final.npz").training["step"] == 5
    assert result == tmp_path / "out" / "b" / "final.npz"
    mtime = result.stat().st_mtime
    assert run_recipe(path, tmp_path / "out") == result and result.stat().st_mtime == mtime  # all done
    with pytest.raises(InvalidInput, match="another recipe or other options"):
        run_recipe(path, tmp_path / "out", smoke=True)
    recipe["stages"][2]["train"] = {**cfg, "init_from": "builtin:enhance_stft"}
    del recipe["stages"][2]["init_from"]
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(InvalidInput, match="starts from random weights or an earlier stage"):
        run_recipe(path, tmp_path / "out2")


@pytest.mark.data
@pytest.mark.parametrize("recipe", ["enhance_stft", "enhance_conv"])
def test_shipped_recipe_smoke_run(tmp_path, recipe):
    """Each shipped weight file's recipe runs end to end, 2 steps per stage, writing only under --out."""
    from hearpipe.train.recipe import load_recipe

    path = REPO / "experiments" / "recipes" / f"{recipe}.yaml"
    assert main(["train", str(path), "--out", str(tmp_path / "out"), "--smoke"]) == 0
    names = [st.name for st, _ in load_recipe(path)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*names, "recipe.json"])
    final = load_weights(tmp_path / "out" / names[-1] / "final.npz")
    shipped = load_weights(REPO / "hearpipe" / "models" / "weights" / f"{recipe}.npz")
    assert {k: v.shape for k, v in final.arrays.items()} == {k: v.shape for k, v in shipped.arrays.items()}
    assert np.all([np.isfinite(v).all() for v in final.arrays.values()])
