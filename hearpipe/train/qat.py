"""Compression-aware fine-tuning (issue 17, docs/compression.md): quantisation-aware training with learned
step sizes and distillation from a float teacher, and row pruning with the pruned rows held at zero,
staged; exported through `hearpipe.compress` as the version-2 file that the fixed-point kernels run.

- **LSQ** (Esser et al. 2020): each mask-estimator matrix (`hearpipe.compress.pipeline.matrices`) is used
  in the forward pass as q * s, q = clamp(floor(w / s + 1/2), -qmax, qmax) per row (the rounding of
  `hearpipe.fixed.qformat.quantize_rows`), with a straight-through gradient for the rounding and a
  learned step s per row whose gradient is scaled by 1 / sqrt(cols * qmax). The steps start at the row
  scales that post-training quantisation (`quantize_layer`, its clipping search) picks: QAT starts
  where PTQ is; each stays at or above 0.1 x its start (a step driven to 0 saturated a row's integers,
  which the float twin hid and the fixed-point runtime did not: docs/compression.md). The export stores exactly these integers and steps (`integers`).
- **Distillation**: loss += distill x (negative SI-SNR, or MSE relative to the teacher's power, between
  the student's and the teacher's outputs); the teacher is the shipped float model by default.
- **Pruning in training**: at step i x `every` the rows of stage i are pruned by Wu's criterion
  (`prune_rows`, earlier stages kept); pruned rows are masked in the forward pass and set to zero after
  every optimiser step, so the fine-tuning between stages adapts the rest of the network.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn
from torch.func import functional_call

from hearpipe.compress.methods import cluster_layer, int_layer, prune_rows, quantize_layer
from hearpipe.compress.pipeline import Recipe, compress_arrays, matrices, source_file
from hearpipe.models.groupcomm import ARCHITECTURE, GroupCommHParams
from hearpipe.models.weights import checksum, save_weights


class QATConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bits: int = Field(3, ge=2, le=8, description="weight bits per value (2..8), one learned step per row")
    distill: float = Field(0.5, ge=0.0, le=100.0, description="weight of the distillation term (0: none)")
    distill_loss: Literal["sisnr", "mse"] = "sisnr"
    teacher: str = "builtin:enhance_conv"  # the float model whose output the student follows


class PruneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stages: list[float] = Field(min_length=1, description="share of each matrix's rows pruned, rising")
    every: int = Field(500, ge=1, le=10_000_000, description="steps of fine-tuning between stages")

    @field_validator("stages")
    @classmethod
    def _rising(cls, v: list[float]) -> list[float]:
        if any(not 0 <= s < 1 for s in v) or v != sorted(v):
            raise ValueError(f"prune stages {v} must rise within [0, 1)")
        return v


class CompressConfig(BaseModel):
    """The trainer config's `compress:` section."""

    model_config = ConfigDict(extra="forbid")
    qat: QATConfig | None = None
    prune: PruneConfig | None = None
    cluster: int = Field(0, ge=0, le=127, description="export: k-means centroids per sign (no QAT)")
    formats_from: str = Field(
        "builtin:enhance_conv",
        description="float weight file whose pinned fixed-point formats the export keeps",
    )

    def recipe(self, share: float = 1.0) -> Recipe:
        """What the exported file records as its compression: the pruning stages up to `share` (the ones
        applied by the step exported)."""
        return Recipe(
            bits=self.qat.bits if self.qat else 8,
            prune=tuple(s for s in self.prune.stages if s <= share) if self.prune else (),
            cluster=self.cluster,
        )


STEP_FLOOR = 0.1  # a learned step stays >= this x its start (Adam drove small rows' steps to 0)


def _round_half_up(v: torch.Tensor) -> torch.Tensor:
    return torch.floor(v + 0.5)


class Compressor(nn.Module):
    """The fake-quantisation steps (parameters) and row masks (buffers) of a GroupComm net's matrices;
    the net stays outside (its weights are the trainer's)."""

    def __init__(self, net: nn.Module, hp: GroupCommHParams, cfg: CompressConfig):
        super().__init__()
        if cfg.qat and cfg.cluster:
            raise ValueError("compress: QAT quantises the matrices; clustering them as well is not supported")
        self.cfg = cfg
        self.names = matrices(hp)
        ids = {id(p): n for n, p in net.named_parameters()}
        self.param_names = {n: ids[id(net._param_for(n))] for n in self.names}
        self.qmax = (1 << (cfg.qat.bits - 1)) - 1 if cfg.qat else 0
        self.steps = nn.ParameterDict()
        for n in self.names:
            w = net._param_for(n).detach().numpy()
            self.register_buffer(self._key(n, "kept"), torch.ones(w.shape[0], dtype=torch.bool))
            if cfg.qat:  # the row scales post-training quantisation picks (clipping search included)
                s = quantize_layer(n, w, cfg.qat.bits).scale.astype(np.float32)
                s[s == 0] = s.max() if s.any() else 1.0  # an all-zero row: any step (its weights may grow)
                self.steps[self._key(n)] = nn.Parameter(torch.from_numpy(s))
                self.register_buffer(self._key(n, "floor"), torch.from_numpy(STEP_FLOOR * s))

    @staticmethod
    def _key(name: str, suffix: str = "step") -> str:
        return name.replace(".", "__") + "__" + suffix

    def kept(self, name: str) -> torch.Tensor:
        return getattr(self, self._key(name, "kept"))

    # -- quantisation --------------------------------------------------------------------------------
    def _step(self, name: str) -> torch.Tensor:
        return self.steps[self._key(name)][:, None]  # kept >= its floor by `after_step`

    def integers(self, net: nn.Module, name: str) -> torch.Tensor:
        """The integer weights the forward pass uses now (float32 holding integers; pruned rows 0)."""
        w = net._param_for(name).detach()
        q = _round_half_up(w / self._step(name).detach()).clamp(-self.qmax, self.qmax)
        return q * self.kept(name)[:, None]

    def weight(self, net: nn.Module, name: str) -> torch.Tensor:
        w = net._param_for(name)
        keep = self.kept(name)[:, None].to(w.dtype)
        if not self.cfg.qat:
            return w * keep
        g = 1.0 / math.sqrt(w.shape[1] * self.qmax)
        s = self._step(name)
        s = s.detach() + (s * g - (s * g).detach())  # LSQ gradient scale: value exactly s, gradient x g
        v = (w / s).clamp(-self.qmax, self.qmax)
        q = v + (_round_half_up(v) - v).detach()  # straight-through rounding
        return q * s * keep

    def forward(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The net's output with its matrices fake-quantised / masked."""
        return functional_call(net, {self.param_names[n]: self.weight(net, n) for n in self.names}, (x,))

    # -- pruning -------------------------------------------------------------------------------------
    def share_at(self, step: int) -> float:
        p = self.cfg.prune
        return p.stages[min(step // p.every, len(p.stages) - 1)] if p else 0.0

    @torch.no_grad()
    def before_step(self, net: nn.Module, step: int) -> list[str]:
        """Prune the stage that starts at `step` (if any); the layers whose masks changed."""
        share, changed = self.share_at(step), []
        for n in self.names if share else []:
            old = self.kept(n).numpy()
            kept = prune_rows(net._param_for(n).detach().numpy(), share, old)
            if (kept != old).any():
                self.kept(n).copy_(torch.from_numpy(kept))
                changed.append(n)
        self.after_step(net)
        return changed

    @torch.no_grad()
    def after_step(self, net: nn.Module) -> None:
        """Pruned rows back to zero (the optimiser's momentum moves them); steps back to their floor."""
        for n in self.names:
            net._param_for(n)[~self.kept(n)] = 0.0
            if self.cfg.qat:
                step = self.steps[self._key(n)]
                step.copy_(torch.maximum(step, getattr(self, self._key(n, "floor"))))

    # -- export --------------------------------------------------------------------------------------
    def export(self, net: nn.Module, hp: GroupCommHParams, path: Path, training: dict) -> Path:
        """A version-2 weight file holding exactly what the forward pass uses: the integers and steps
        (QAT), the masks (pruning), the fine-tuned float weights clustered or as int8 (pruning alone)."""
        src = source_file(self.cfg.formats_from)
        arrays = net.export_arrays()
        layers = {}
        for n in self.names:
            kept = self.kept(n).numpy()
            if self.cfg.qat:
                q = self.integers(net, n).numpy().astype(np.int64)
                s = self.steps[self._key(n)].detach().numpy()
                layers[n] = int_layer(n, q, s, self.cfg.qat.bits, kept)
            elif self.cfg.cluster:
                layers[n] = cluster_layer(n, arrays[n], self.cfg.cluster, kept)
            else:
                layers[n] = quantize_layer(n, arrays[n], 8, kept)
        recipe = self.cfg.recipe(self.share_at(training["step"]))
        stored, comp = compress_arrays(arrays, hp, recipe, layers)
        info = {
            **training,
            "fixed_formats": src.training["fixed_formats"],
            "compressed_from": {"source": self.cfg.formats_from, "sha256": checksum(src.arrays)},
            "compression": recipe.to_dict(),
        }
        return save_weights(path, stored, ARCHITECTURE, hp.to_dict(), info, comp)


def distill_loss(est: torch.Tensor, teacher: torch.Tensor, kind: str, si_snr_loss) -> torch.Tensor:
    """The distillation term between student and teacher outputs (B, T): negative SI-SNR in dB, or the
    MSE relative to the teacher's power (scale-free, like the SI-SNR term it is added to)."""
    if kind == "sisnr":
        return si_snr_loss(est, teacher)
    return ((est - teacher) ** 2).mean() / ((teacher * teacher).mean() + 1e-10)
