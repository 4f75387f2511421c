"""Recipes: the chain of training stages that makes a weight file from a random start, run in order.

A recipe (YAML, `experiments/recipes/`) lists stages; each stage is a training config (`config:` a file
relative to the recipe, `train:` fields merged over it, or both; a continuation without `config` takes
its source's) that starts from random weights, from an
earlier stage's weights (`init_from: STAGE/final.npz` or `STAGE/best.npz`: weights only, a new step count,
optimiser and schedule), or continues an earlier stage (`continue_from: STAGE`: its `last.pt` with step
count and optimiser state, as a warm restart or a constant-rate tail). `stop_at` ends a stage at a step
inside its schedule (a checkpoint that was picked). `include:` runs another recipe's stages first.

    hearpipe train experiments/recipes/enhance_conv.yaml --out DIR

Each stage trains in `DIR/<stage>/` and is done when its `final.npz` holds the stage's last step, so a
rerun resumes at the first unfinished stage, from its `last.pt`. `DIR/recipe.json` records the resolved
stages; a rerun with another recipe or options into the same folder is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearpipe.config import load_model, read_document, validate
from hearpipe.errors import InvalidInput
from hearpipe.models.weights import load_weights
from hearpipe.train.trainer import TrainConfig, Trainer, check_out_dir

SMOKE_STEPS = 2  # --smoke: steps per stage
SMOKE_DEV = {"dev_utterances": 1, "dev_seconds": 1.0}  # --smoke: a one-utterance dev subset


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9_]+$", description="its folder under --out")
    config: str | None = Field(None, description="training config file, relative to the recipe")
    train: dict = Field(default_factory=dict, description="config fields, merged over `config`'s")
    init_from: str | None = Field(None, pattern=r"^[a-z0-9_]+/(final|best)\.npz$")
    continue_from: str | None = Field(None, pattern=r"^[a-z0-9_]+$")
    stop_at: int | None = Field(None, gt=0, description="last step, inside the schedule (default max_steps)")
    note: str = ""

    @model_validator(mode="after")
    def _one_start(self) -> Stage:
        if self.init_from and self.continue_from:
            raise ValueError("a stage starts from init_from or continue_from, not both")
        if not self.config and not self.train:
            raise ValueError("a stage needs `config`, `train` or both")
        return self


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    include: str | None = Field(None, description="a recipe whose stages run first, relative to this one")
    result: str = Field(pattern=r"^[a-z0-9_]+/final\.npz$", description="the stage output this recipe makes")
    stages: list[Stage]


def is_recipe(doc: dict) -> bool:
    return "stages" in doc


def _merge(base: dict, over: dict) -> dict:
    """`over` on `base`; the `model` and `data` sections field by field."""
    out = dict(base)
    for k, v in over.items():
        out[k] = {**base.get(k, {}), **v} if k in ("model", "data") and isinstance(v, dict) else v
    return out


def load_recipe(path: Path) -> list[tuple[Stage, TrainConfig]]:
    """The stages of a recipe and its includes, in order, each with its resolved config."""
    recipe = load_model(Recipe, path)
    out = load_recipe(path.parent / recipe.include) if recipe.include else []
    for st in recipe.stages:
        if st.config:
            doc = read_document(path.parent / st.config)
        elif st.continue_from:  # a continuation keeps its source's config unless it names one
            doc = next((c.model_dump() for s, c in out if s.name == st.continue_from), {})
        else:
            doc = {}
        doc = _merge(doc, st.train)
        if st.init_from or st.continue_from:
            doc["init_from"] = None  # the stage's start replaces the config's
        elif doc.get("init_from"):
            raise InvalidInput(
                f"{path}: stage {st.name}: its config starts from {doc['init_from']!r}; a recipe stage starts "
                "from random weights or an earlier stage (init_from: STAGE/final.npz, continue_from: STAGE)"
            )
        cfg = validate(TrainConfig, doc, f"{path}: stage {st.name}")
        out.append((st, cfg))
    names = [st.name for st, _ in out]
    for i, (st, _) in enumerate(out):
        source = (st.init_from or "").split("/")[0] or st.continue_from
        if names.count(st.name) > 1:
            raise InvalidInput(f"{path}: stage name {st.name!r} is used twice")
        if source and source not in names[:i]:
            raise InvalidInput(f"{path}: stage {st.name} starts from {source!r}, not an earlier stage")
    if recipe.result.split("/")[0] not in names:
        raise InvalidInput(f"{path}: result {recipe.result!r} names no stage")
    return out


def _targets(stages: list[tuple[Stage, TrainConfig]], smoke: bool) -> dict[str, int]:
    """Each stage's last step; with `smoke`, SMOKE_STEPS after its start."""
    out: dict[str, int] = {}
    for st, cfg in stages:
        start = out[st.continue_from] if st.continue_from else 0
        last = min(cfg.max_steps, st.stop_at or cfg.max_steps)
        out[st.name] = min(last, start + SMOKE_STEPS) if smoke else last
    return out


def _finished(folder: Path, step: int) -> bool:
    f = folder / "final.npz"
    return f.is_file() and load_weights(f).training.get("step") == step


def run_recipe(path: Path, out: Path, smoke: bool = False) -> Path | None:
    """Run (or resume) the recipe at `path` in `out`; its result's path, or None when a stage stopped
    for time (`max_minutes`: rerun to resume). SIGINT/SIGTERM: the running stage checkpoints and the
    KeyboardInterrupt passes through."""
    stages = load_recipe(path)
    result = load_model(Recipe, path).result
    targets = _targets(stages, smoke)
    plan = [{"stage": st.name, **st.model_dump(exclude={"note"}), "last_step": targets[st.name],
             "config": cfg.model_dump(), "smoke": smoke} for st, cfg in stages]  # fmt: skip
    out = check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    record = out / "recipe.json"
    if record.is_file() and json.loads(record.read_text()) != json.loads(json.dumps(plan)):
        raise InvalidInput(
            f"{out}: holds a run of another recipe or other options ({record}); use a new --out"
        )
    record.write_text(json.dumps(plan, indent=1))
    for i, (st, cfg) in enumerate(stages):
        folder = out / st.name
        if _finished(folder, targets[st.name]):
            print(f"stage {i + 1}/{len(stages)} {st.name}: done ({folder / 'final.npz'})", flush=True)
            continue
        print(f"stage {i + 1}/{len(stages)} {st.name}: {st.note or cfg.name}".rstrip(), flush=True)
        if smoke:
            cfg = cfg.model_copy(update=SMOKE_DEV)
        if st.init_from:
            cfg = cfg.model_copy(update={"init_from": str(out / st.init_from)})
        if st.continue_from and not (folder / "last.pt").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / st.continue_from / "last.pt", folder / "last.pt")
        if not Trainer(cfg, folder).run(stop_at=targets[st.name]):
            return None
    return out / result
