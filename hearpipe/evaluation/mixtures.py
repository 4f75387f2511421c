"""What an evaluation scores: seeded mixtures of a speech and a noise folder at given SNRs (one
generator), named presets of it (`DEV`: the dev protocol that the recorded figures use), and existing
noisy/clean pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.errors import InvalidInput

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SAMPLE_RATE = 16000  # the recorded data's rate (the GroupComm models' rate)


@dataclass
class Mixture:
    noisy: np.ndarray
    clean: np.ndarray
    snr_db: float
    name: str


@dataclass(frozen=True)
class Preset:
    """A named mixture protocol: the arguments of `mixtures` fixed, so a figure names its data by name."""

    name: str
    snrs_db: tuple[float, ...]
    seconds: float
    seed: int
    level_dbfs: float  # RMS of each mixture in dB re full scale (1.0)
    shuffle: bool


# The dev protocol: 45 dev utterances in a seeded order, first 6 s, each with a random dev noise at 0 and
# 5 dB SNR, every mixture at -25 dBFS RMS (90 mixtures). Never used for training.
DEV = Preset("dev", snrs_db=(0.0, 5.0), seconds=6.0, seed=20260, level_dbfs=-25.0, shuffle=True)
PRESETS = {p.name: p for p in (DEV,)}


def audio_files(folder: str | Path, what: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        raise InvalidInput(f"{d}: {what} folder does not exist")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InvalidInput(f"{d}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in the {what} folder")
    return files


def read_mono(path: Path, sample_rate_hz: float) -> np.ndarray:
    try:
        x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise InvalidInput(f"{path}: not a readable audio file ({e})") from None
    if abs(sr - sample_rate_hz) > 1e-6:
        raise InvalidInput(f"{path}: sample rate {sr} Hz differs from the graph's {sample_rate_hz:g} Hz")
    if not len(x):
        raise InvalidInput(f"{path}: the file holds no audio samples")
    return x[:, 0]


def speech_rms(level_db_spl: float, full_scale_db_spl: float) -> float:
    """RMS amplitude of a signal at `level_db_spl` (the calibration: a full-scale sine, RMS 1/sqrt 2, is
    `full_scale_db_spl`; the same convention as the test box's level_db_spl)."""
    return 10 ** ((level_db_spl - full_scale_db_spl) / 20) / np.sqrt(2)


def mix_at_snr(
    s0: np.ndarray, v0: np.ndarray, snr_db: float, rms: float, level_of: str = "mixture"
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) of unit-RMS speech `s0` and noise `v0` at `snr_db`, scaled so that the mixture
    (`level_of="mixture"`) or the speech (`"speech"`) has RMS `rms` (full scale 1.0). The one mixing step
    of the evaluation's mixtures and the training data."""
    mix = s0 + v0 * 10 ** (-snr_db / 20)
    g = rms / np.sqrt(np.mean(mix**2)) if level_of == "mixture" else rms
    return mix * g, s0 * g


def mixtures(
    speech_dir: str | Path,
    noise_dir: str | Path,
    snrs_db: Sequence[float],
    *,
    sample_rate_hz: float,
    rms: float,
    level_of: str = "speech",
    seconds: float | None = None,
    seed: int = 0,
    n: int | None = None,
    shuffle: bool = False,
) -> list[Mixture]:
    """Speech files (sorted, or in an order drawn by the generator when `shuffle`; the first `n`; each its
    first `seconds` s when given), each with a noise drawn for it by a generator seeded with `seed` (a
    random file, a random start, looped when shorter), at every SNR (speech RMS over noise RMS). `rms`
    (full scale 1.0) is set on the speech (`level_of="speech"`: the mixture is louder at low SNRs, as in
    a room) or on the whole mixture (`"mixture"`). The same arguments give the same mixtures, and the
    first n of a larger set are the set of size n."""
    if level_of not in ("speech", "mixture"):
        raise ValueError(f"level_of ({level_of!r}) must be 'speech' or 'mixture'")
    if seconds is not None and seconds <= 0:
        raise InvalidInput(f"--seconds must be positive, got {seconds:g}")
    speech = audio_files(speech_dir, "speech")
    noise = audio_files(noise_dir, "noise")
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(speech))[:n] if shuffle else range(len(speech))[:n]
    out = []
    for i in picks:
        s = read_mono(speech[i], sample_rate_hz)
        if seconds is not None:
            s = s[: round(seconds * sample_rate_hz)]
        k = int(rng.integers(len(noise)))
        v = read_mono(noise[k], sample_rate_hz)
        if len(v) < len(s):
            v = np.tile(v, -(-len(s) // len(v)))
        start = int(rng.integers(0, len(v) - len(s) + 1))
        v = v[start : start + len(s)]
        s_rms, v_rms = np.sqrt(np.mean(s**2)), np.sqrt(np.mean(v**2))
        if s_rms == 0 or v_rms == 0:
            raise InvalidInput(f"{speech[i] if s_rms == 0 else noise[k]}: silent; cannot set its level")
        s0, v0 = s / s_rms, v / v_rms
        for snr in snrs_db:
            noisy, clean = mix_at_snr(s0, v0, snr, rms, level_of)
            out.append(Mixture(noisy, clean, float(snr), f"{speech[i].stem}+{noise[k].stem}@{snr:g}dB"))
    return out


def preset_mixtures(
    preset: Preset,
    speech_dir: str | Path,
    noise_dir: str | Path,
    n: int | None = None,
    snrs_db: Sequence[float] | None = None,
    seconds: float | None = None,
    seed: int | None = None,
) -> list[Mixture]:
    """`mixtures` with a preset's arguments (each but the level may be overridden)."""
    return mixtures(speech_dir, noise_dir, preset.snrs_db if snrs_db is None else snrs_db,
                    sample_rate_hz=SAMPLE_RATE, rms=10 ** (preset.level_dbfs / 20), level_of="mixture",
                    seconds=preset.seconds if seconds is None else seconds,
                    seed=preset.seed if seed is None else seed, n=n, shuffle=preset.shuffle)  # fmt: skip


def dev_mixtures(
    data_dir: Path | str,
    n: int | None = None,
    snrs_db: Sequence[float] = DEV.snrs_db,
    seconds: float = DEV.seconds,
    seed: int = DEV.seed,
    split: str = "dev",
) -> list[Mixture]:
    """The `DEV` protocol on `data_dir`/dev (all 45 utterances when n is None). `split="train"` mixes the
    train speech and recorded train noise the same way: the same score on data the model was trained on
    tells over-fitting (train far above dev) from a model too small for the task (both alike)."""
    if split not in ("dev", "train"):
        raise ValueError(f"split ({split!r}) must be 'dev' or 'train'")
    d = Path(data_dir) / split
    return preset_mixtures(DEV, d / "speech", d / "noise", n=n, snrs_db=snrs_db, seconds=seconds, seed=seed)


def pairs(pairs_dir: str | Path, sample_rate_hz: float, clean_dir: str | Path | None = None) -> list[Mixture]:
    """Existing pairs, as recorded (levels untouched): `noisy/` and `clean/` subfolders with the same file
    names, or `NAME_noisy.*` files whose `NAME_clean.*` lies in `clean_dir` (default: the same folder)."""
    d = Path(pairs_dir)
    if (d / "noisy").is_dir() and (d / "clean").is_dir():
        noisy = audio_files(d / "noisy", "noisy")
        found = [(n, d / "clean" / n.name) for n in noisy]
    else:
        cd = Path(clean_dir) if clean_dir is not None else d
        noisy = [p for p in audio_files(d, "pairs") if p.stem.endswith("_noisy")]
        if not noisy:
            raise InvalidInput(f"{d}: neither noisy/ + clean/ subfolders nor files named NAME_noisy.*")
        found = []
        for n in noisy:
            base = n.stem.removesuffix("_noisy")
            matches = [
                cd / f"{base}_clean{suf}" for suf in AUDIO_SUFFIXES if (cd / f"{base}_clean{suf}").exists()
            ]
            found.append((n, matches[0] if matches else cd / f"{base}_clean{n.suffix}"))
    out = []
    for n, c in found:
        if not c.exists():
            raise InvalidInput(f"{n}: no clean file {c} to pair it with")
        x, s = read_mono(n, sample_rate_hz), read_mono(c, sample_rate_hz)
        if len(x) != len(s):
            raise InvalidInput(f"{n}: {len(x)} samples but its clean {c.name} has {len(s)}")
        out.append(Mixture(x, s, float("nan"), n.stem.removesuffix("_noisy")))
    return out
