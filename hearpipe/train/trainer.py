"""Training loop: on-the-fly mixtures, negative SI-SNR, Adam + LR schedule, checkpoints, resume.

Everything a run writes lies in its run folder (`hearpipe train CONFIG --out DIR`), never in the package:
`config.yaml` (the resolved config), `train.log` (progress), `last.pt` (model, optimiser, step; written
every `checkpoint_minutes` and when SIGINT or SIGTERM stops the run), `best.pt`, `best.npz` (the best model
so far on the dev subset) and, when the run reaches its last step, `final.npz` (the model at that step: at
the end of a cosine cycle usually as good as the subset's pick, which a 16-utterance subset makes noisy -
experiments/log.md, session 7). A rerun with the same folder resumes from `last.pt`. Shipping a weight
file is a separate step (experiments/README.md).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hearpipe.datadir import default_data_dir
from hearpipe.errors import InvalidInput
from hearpipe.evaluation.evaluate import evaluate
from hearpipe.evaluation.mixtures import dev_mixtures
from hearpipe.models.groupcomm import ARCHITECTURE, GroupCommHParams, summary
from hearpipe.models.weights import load_weights, resolve_weights, save_weights
from hearpipe.train.data import MixConfig, Mixer
from hearpipe.train.model import GroupCommNet, count_params, grow, load_net
from hearpipe.train.qat import CompressConfig, Compressor, distill_loss

MAX_STEPS = 10_000_000  # training steps: weeks of CPU time at the shipped models' ~10 steps/s


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    frontend: Literal["stft", "conv"] = "stft"
    window: int = Field(
        128, ge=2, le=4096, description="STFT length or conv encoder window, samples (2..4096)"
    )
    hop: int = Field(64, ge=1, le=4096, description="hop or encoder stride in samples (1..4096)")
    enc_channels: int = Field(0, ge=0, le=4096, description="conv encoder channels (0..4096)")
    enc_window: int = Field(
        0, ge=0, le=16384
    )  # conv encoder length (0: window); longer = finer frequency resolution, same latency
    enc_complex: bool = False  # conv: channels are (re, im) pairs of bands; init_from an STFT model fits
    feat_ema_shift: int = (
        0  # k > 0: also read each feature minus its running mean (time constant 2**k frames)
    )
    n_model: int = Field(64, ge=1, le=4096, description="model width (1..4096)")
    groups: int = Field(4, ge=1, le=256, description="groups K (1..256)")
    n_blocks: int = Field(2, ge=1, le=64, description="inter-group + sequence blocks (1..64)")
    rnn: Literal["gru", "lstm", "tcn"] = "gru"
    rnn_layers: int = Field(1, ge=1, le=16, description="stacked layers per block (1..16)")
    tcn_kernel: int = 3
    hidden: int = Field(64, ge=1, le=4096, description="recurrent hidden size per group (1..4096)")
    inter: Literal["tac", "rnn", "none"] = "tac"
    inter_hidden: int = Field(32, ge=1, le=4096, description="TAC / across-group hidden width (1..4096)")
    n_outputs: int = Field(1, ge=1, le=16, description="masks C (1..16)")
    df_taps: int = Field(
        0, ge=0, le=64
    )  # L > 0 (complex bands): deep filter over this and L-1 past frames, not a real mask


class DataConfig(MixConfig):
    data_dir: str | None = None  # default $HEARPIPE_DATA or ../shared/data


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "enhance"
    init_from: str | None = Field(
        None,
        description="start a new run from this checkpoint's (.pt) or weight file's (.npz, builtin:NAME) "
        "model weights (fine-tuning)",
    )
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    seed: int = 1
    batch_size: int = Field(8, ge=1, le=4096, description="mixtures per step (1..4096)")
    lr: float = 2e-3
    lr_min: float = 5e-5
    warmup_steps: int = Field(200, ge=0, le=MAX_STEPS, description=f"warm-up steps (0..{MAX_STEPS:,})")
    schedule: Literal["cosine", "plateau", "constant"] = "cosine"
    max_steps: int = Field(  # cosine horizon; training stops here
        20000, ge=1, le=MAX_STEPS, description=f"last training step (1..{MAX_STEPS:,})"
    )
    schedule_start: int = Field(
        0, ge=0, le=MAX_STEPS
    )  # step where the warm-up + cosine cycle starts (> 0: a warm restart on resume)
    max_minutes: float = 0.0  # stop after this wall time (0: no limit)
    plateau_patience: int = 4  # evaluations without improvement before halving (plateau schedule)
    grad_clip: float = 5.0
    level_weight: float = 0.01  # x (output/clean level in dB)^2: SI-SNR alone leaves the output level free
    distortion_weight: float = Field(
        0.0,
        ge=0,
        le=100,
        description="x speech distortion (`distortion_loss`: speech the output lost, in dB below the clean "
        "speech's compressed spectrum): > 0 trades residual noise for less speech distortion, as a listener "
        "scored by HASPI/HASQI prefers",
    )
    threads: int = Field(1, ge=1, le=256, description="CPU threads (1..256)")
    log_every: int = Field(25, ge=1, le=MAX_STEPS)
    checkpoint_minutes: float = 5.0
    dev_utterances: int = Field(6, ge=1, le=10000)  # dev subset for model selection (each at 0 and 5 dB)
    dev_seconds: float = 4.0
    compress: CompressConfig | None = None  # QAT + distillation and/or pruning in training (qat.py)

    @model_validator(mode="before")
    @classmethod
    def _no_output_paths(cls, doc: Any) -> Any:
        """A config names no place to write: the run folder comes from `--out`, shipping is a separate step."""
        named = [k for k in ("out_dir", "export_path") if isinstance(doc, dict) and k in doc]
        if named:
            raise ValueError(
                f"{', '.join(named)}: a training config names no output path; a run writes only under "
                "`hearpipe train CONFIG --out DIR`, and shipping a weight file is a separate step "
                "(experiments/README.md)"
            )
        return doc


def _si_snr_loss(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Negative SI-SNR in dB, averaged over the batch (est, ref: (B, T))."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    t = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + eps) * ref
    n = est - t
    snr = 10 * torch.log10(((t * t).sum(-1) + eps) / ((n * n).sum(-1) + eps))
    return -snr.mean()


def _level_loss(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Mean squared level difference in dB between output and clean speech (keeps the gain at 0 dB)."""
    d = 10 * torch.log10(((est * est).mean(-1) + eps) / ((ref * ref).mean(-1) + eps))
    return (d * d).mean()


def distortion_loss(est: torch.Tensor, ref: torch.Tensor, n_fft: int = 256, hop: int = 64) -> torch.Tensor:
    """Speech distortion alone (est, ref: (B, T)): the energy of the clean speech's compressed magnitude
    spectrum (|S|**0.3) that the output lacks, max(|S|**0.3 - |Y|**0.3, 0), over that of |S|**0.3, in dB (an
    asymmetric loss: residual noise, where the output exceeds the speech, costs nothing here)."""
    win = torch.hann_window(n_fft, dtype=est.dtype)
    spec = [
        torch.stft(v, n_fft, hop, window=win, return_complex=True).abs().clamp_min(1e-8) ** 0.3
        for v in (est, ref)
    ]
    lost = torch.relu(spec[1] - spec[0])
    return 10 * torch.log10((lost**2).sum((-2, -1)) / (spec[1] ** 2).sum((-2, -1)) + 1e-6).mean()


def package_dir() -> Path:
    """The installed hearpipe package: no run writes into it."""
    return Path(__file__).resolve().parents[1]


def check_out_dir(out: Path) -> Path:
    """`out` resolved, refused when it lies inside the installed package (its weights are shipped files)."""
    out = Path(out).resolve()
    if out == package_dir() or package_dir() in out.parents:
        raise InvalidInput(
            f"{out}: refusing to write a training run inside the installed package; choose a folder outside "
            f"{package_dir()} (shipping a weight file is a separate step: experiments/README.md)"
        )
    return out


def duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 20 min'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@contextmanager
def _stop_requests():
    """SIGINT and SIGTERM append to the yielded list instead of killing the process, so the loop can
    finish its step and write a checkpoint (signals reach only the main thread: elsewhere, no handlers)."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    old = {
        s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield got
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class Trainer:
    """One run in the folder `out` (created; refused inside the package). `base_dir` anchors a relative
    `init_from` (the config file's folder)."""

    def __init__(self, cfg: TrainConfig, out: Path, base_dir: Path = Path(".")):
        self.cfg = cfg
        self.out = check_out_dir(out)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.hp = GroupCommHParams(**cfg.model.model_dump())
        self.net = GroupCommNet(self.hp)
        data_dir = Path(cfg.data.data_dir) if cfg.data.data_dir else default_data_dir()
        self.mixer = Mixer(data_dir, cfg.data)
        self.dev = dev_mixtures(data_dir, n=cfg.dev_utterances, seconds=cfg.dev_seconds)
        self.step = 0
        self.best = -math.inf
        self.lr_scale = 1.0  # plateau schedule
        self.bad_evals = 0
        self.history: list[dict] = []
        self.log_f = open(self.out / "train.log", "a", buffering=1)
        (self.out / "config.yaml").write_text(yaml.safe_dump(cfg.model_dump(), sort_keys=False))
        self.log(f"run folder {self.out}: config.yaml, train.log, checkpoints and weight files")
        resume = (self.out / "last.pt").is_file()
        if cfg.init_from and not resume:
            self._init_from(resolve_weights(cfg.init_from, base_dir))
        # QAT steps start from the initial weights' PTQ scales; a resumed run reads them from last.pt
        self.comp = Compressor(self.net, self.hp, cfg.compress) if cfg.compress else None
        qat = cfg.compress.qat if cfg.compress else None
        self.teacher = load_net(qat.teacher).requires_grad_(False) if qat and qat.distill else None
        self.params = list(self.net.parameters()) + (list(self.comp.parameters()) if self.comp else [])
        self.opt = torch.optim.Adam(self.params, lr=cfg.lr)
        if resume:
            self._load(self.out / "last.pt")

    def log(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        self.log_f.write(line + "\n")

    # -- schedule ---------------------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        c = self.cfg
        step = max(0, step - c.schedule_start)
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        if c.schedule == "cosine":
            span = c.max_steps - c.schedule_start - c.warmup_steps
            t = min(1.0, (step - c.warmup_steps) / max(1, span))
            return c.lr_min + 0.5 * (c.lr - c.lr_min) * (1 + math.cos(math.pi * t))
        if c.schedule == "plateau":
            return max(c.lr_min, c.lr * self.lr_scale)
        return c.lr

    # -- checkpoints --------------------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "model": self.net.state_dict(), "opt": self.opt.state_dict(), "step": self.step,
            "best": self.best, "lr_scale": self.lr_scale, "bad_evals": self.bad_evals,
            "history": self.history, "hparams": self.hp.to_dict(), "torch_rng": torch.get_rng_state(),
            "compress": self.comp.state_dict() if self.comp else None,
        }  # fmt: skip

    def _save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self._state(), tmp)
        tmp.replace(path)

    def _read(self, path: Path) -> dict:
        """A checkpoint whose model has this config's hyper-parameters; its weights loaded into the net."""
        st = torch.load(path, map_location="cpu", weights_only=False)
        if GroupCommHParams.from_dict(st["hparams"]) != self.hp:  # a field added since: its default
            raise InvalidInput(f"{path}: checkpoint hyper-parameters differ from the config; use a new --out")
        self.net.load_state_dict(st["model"])
        if self.comp and st.get("compress"):
            self.comp.load_state_dict(st["compress"])
        return st

    def _load(self, path: Path) -> None:
        st = self._read(path)
        self.opt.load_state_dict(st["opt"])
        self.step, self.best = st["step"], st["best"]
        self.lr_scale, self.bad_evals = st["lr_scale"], st["bad_evals"]
        self.history = st["history"]
        torch.set_rng_state(st["torch_rng"])
        self.log(f"resumed from {path} at step {self.step} (best dev SI-SNRi {self.best:.2f} dB)")

    def _init_from(self, path: Path) -> None:
        """Model weights only: a fine-tuning run starts its own step count, optimiser and schedule.
        `path` is a checkpoint (.pt) or a weight file (.npz; `builtin:NAME` already resolved to its file)."""
        if path.suffix == ".pt":
            st = self._read(path)
            self.log(
                f"initialised from {path} (trained {st['step']} steps, dev SI-SNRi {st['best']:.2f} dB there)"
            )
            return
        wf = load_weights(path, ARCHITECTURE)
        self.net.load_arrays(grow(wf.arrays, wf.hparams, self.hp, seed=self.cfg.seed))
        self.log(
            f"initialised from weight file {wf.source} (training info: {wf.training.get('step', '?')} steps)"
        )

    def export_npz(self, path: Path, dev: dict) -> None:
        training = {
            "name": self.cfg.name, "step": self.step, "dev": dev, "seed": self.cfg.seed,
            "config": self.cfg.model_dump(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip
        if self.comp:  # the packed file the fixed-point kernels run, exactly the trained integers
            self.comp.export(self.net, self.hp, path, training)
            return
        save_weights(path, self.net.export_arrays(), ARCHITECTURE, self.hp.to_dict(), training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The model as trained: with the compressor's fake-quantised / pruned matrices if any."""
        return self.comp(self.net, x) if self.comp else self.net(x)

    # -- evaluation --------------------------------------------------------------------------------------
    @torch.no_grad()
    def dev_eval(self) -> dict:
        self.net.eval()

        def run(x: np.ndarray) -> np.ndarray:
            return self.forward(torch.from_numpy(x.astype(np.float32))[None])[0, 0].numpy()

        res = evaluate(run, self.dev)
        self.net.train()
        return res

    def checkpoint(self) -> None:
        t0 = time.time()
        res = self.dev_eval()
        score = res["si_snri"]
        self.history.append({"step": self.step, **res})
        improved = score > self.best
        if improved:
            self.best = score
            self.bad_evals = 0
            self._save(self.out / "best.pt")
            self.export_npz(self.out / "best.npz", res)
        else:
            self.bad_evals += 1
            if self.cfg.schedule == "plateau" and self.bad_evals >= self.cfg.plateau_patience:
                self.lr_scale *= 0.5
                self.bad_evals = 0
        self._save(self.out / "last.pt")
        self.log(
            f"checkpoint step {self.step}: dev SI-SNRi {score:.2f} dB "
            f"(0 dB {res.get('si_snri@0dB', 0):.2f}, 5 dB {res.get('si_snri@5dB', 0):.2f}); "
            f"best {self.best:.2f} ({time.time() - t0:.1f} s); wrote {self.out / 'last.pt'}"
            + (f", {self.out / 'best.pt'}, {self.out / 'best.npz'}" if improved else "")
        )

    # -- loop ------------------------------------------------------------------------------------------------
    def run(self, stop_at: int | None = None) -> bool:
        """Train to `max_steps` (or to the earlier `stop_at`: a step inside the schedule). True when that
        step is reached (`final.npz` written), False when `max_minutes` ran out. SIGINT or SIGTERM: writes
        `last.pt`, then raises KeyboardInterrupt."""
        c = self.cfg
        target = min(c.max_steps, stop_at) if stop_at is not None else c.max_steps
        s = summary(self.hp)
        self.log(
            f"start {c.name}: {count_params(self.net)} trainable params, model {json.dumps(self.hp.to_dict())}, "
            f"{s['mmacs_per_s']:.1f} M MAC/s, step {self.step}/{target}; loss = -SI-SNR in dB "
            f"(+ {c.level_weight:g} x level error in dB squared, + {c.distortion_weight:g} x speech distortion in dB)"
            + (f"; compression {c.compress.model_dump_json(exclude_none=True)}" if c.compress else "")
        )
        t_start = t_ckpt = t_log = time.time()
        snr_acc, n_acc = 0.0, 0
        with _stop_requests() as stop:
            while self.step < target and not stop:
                if c.max_minutes and (time.time() - t_start) / 60 > c.max_minutes:
                    break
                noisy, clean = self.mixer.batch(c.seed, self.step, c.batch_size)
                for g in self.opt.param_groups:
                    g["lr"] = self.lr_at(self.step)
                if self.comp:
                    if pruned := self.comp.before_step(self.net, self.step):
                        share = self.comp.share_at(self.step)
                        self.log(
                            f"step {self.step}: {share:.0%} of the rows of {len(pruned)} matrices pruned"
                        )
                x = torch.from_numpy(noisy)
                est = self.forward(x)[:, 0]
                ref = torch.from_numpy(clean)
                neg_snr = _si_snr_loss(est, ref)
                loss = neg_snr + c.level_weight * _level_loss(est, ref) if c.level_weight else neg_snr
                if c.distortion_weight:
                    loss = loss + c.distortion_weight * distortion_loss(est, ref)
                if self.teacher is not None:
                    with torch.no_grad():
                        t_out = self.teacher(x)[:, 0]
                    qat = c.compress.qat
                    loss = loss + qat.distill * distill_loss(est, t_out, qat.distill_loss, _si_snr_loss)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                gn = torch.nn.utils.clip_grad_norm_(self.params, c.grad_clip)
                if torch.isfinite(gn):
                    self.opt.step()
                if self.comp:
                    self.comp.after_step(self.net)
                self.step += 1
                snr_acc += neg_snr.item()
                n_acc += 1
                if self.step % c.log_every == 0:
                    rate = n_acc / (time.time() - t_log)
                    self.log(
                        f"step {self.step}/{target} ({100 * self.step / target:.1f} %), "
                        f"loss {snr_acc / n_acc:.2f} dB (= -SI-SNR), lr {self.lr_at(self.step):.2e}, "
                        f"{rate:.1f} steps/s, ETA {duration((target - self.step) / rate)}"
                    )
                    t_log, snr_acc, n_acc = time.time(), 0.0, 0
                if (time.time() - t_ckpt) / 60 >= c.checkpoint_minutes:
                    self.checkpoint()
                    t_ckpt = time.time()
            if stop:
                self._save(self.out / "last.pt")
                self.log(
                    f"stopped by signal {signal.Signals(stop[0]).name} at step {self.step}: wrote "
                    f"{self.out / 'last.pt'}; the same command resumes from it"
                )
                raise KeyboardInterrupt
        self.checkpoint()
        if self.step >= target:
            self.export_npz(self.out / "final.npz", self.history[-1])
            self.log(f"finished at step {self.step}; wrote {self.out / 'final.npz'}")
        else:
            self.log(f"stopped for time (max_minutes) at step {self.step}/{target}; the same command resumes")
        self.log(f"best dev SI-SNRi {self.best:.2f} dB ({self.out / 'best.npz'})")
        return self.step >= target
