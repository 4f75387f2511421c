"""Fixed dev mixtures: dev speech + dev noise at 0 and 5 dB SNR (seeded, reproducible; never used for
training). `split="train"` mixes the train data the same way (the over-fitting check)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
DEV_SEED = 20260
DEV_LEVEL_DBFS = -25.0


@dataclass
class Mixture:
    noisy: np.ndarray
    clean: np.ndarray
    snr_db: float
    name: str


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".flac", ".wav"))


def dev_mixtures(
    data_dir: Path | str,
    n: int | None = None,
    snrs_db: Sequence[float] = (0.0, 5.0),
    seconds: float = 6.0,
    seed: int = DEV_SEED,
    split: str = "dev",
) -> list[Mixture]:
    """`n` dev utterances (all when None; first `seconds` s), each mixed with a random dev noise at
    every SNR. The draw is seeded, and the first n of a larger set are the set of size n. `split="train"`
    mixes the train speech and recorded train noise the same way: the same score on data the model was
    trained on tells over-fitting (train far above dev) from a model too small for the task (both alike)."""
    if split not in ("dev", "train"):
        raise ValueError(f"split ({split!r}) must be 'dev' or 'train'")
    data_dir = Path(data_dir)
    speech = _files(data_dir / split / "speech")
    noise = _files(data_dir / split / "noise")
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(speech))[:n]
    out = []
    seg = int(seconds * SAMPLE_RATE)
    for i in picks:
        s, sr = sf.read(speech[i], dtype="float64")
        assert sr == SAMPLE_RATE, speech[i]
        s = s[:seg]
        k = int(rng.integers(len(noise)))
        v, _ = sf.read(noise[k], dtype="float64")
        if len(v) < len(s):
            v = np.tile(v, -(-len(s) // len(v)))
        start = int(rng.integers(0, len(v) - len(s) + 1))
        v = v[start : start + len(s)]
        s0 = s / np.sqrt(np.mean(s**2))
        v0 = v / np.sqrt(np.mean(v**2))
        for snr in snrs_db:
            mix = s0 + v0 * 10 ** (-snr / 20)
            g = 10 ** (DEV_LEVEL_DBFS / 20) / np.sqrt(np.mean(mix**2))
            out.append(Mixture(mix * g, s0 * g, float(snr), f"{speech[i].stem}+{noise[k].stem}@{snr:g}dB"))
    return out
