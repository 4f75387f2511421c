"""What `hearpipe eval` scores: seeded mixtures of a speech and a noise folder at given SNRs, with the
speech at a level in dB SPL through the graph's calibration, or existing noisy/clean pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.errors import InvalidInput
from hearpipe.evaluation.mixtures import Mixture

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def audio_files(folder: str | Path, what: str) -> list[Path]:
    d = Path(folder)
    if not d.is_dir():
        raise InvalidInput(f"{d}: {what} folder does not exist")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InvalidInput(f"{d}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in the {what} folder")
    return files


def _read_mono(path: Path, sample_rate_hz: float) -> np.ndarray:
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


def mixtures(
    speech_dir: str | Path,
    noise_dir: str | Path,
    snrs_db: Sequence[float],
    *,
    sample_rate_hz: float,
    full_scale_db_spl: float,
    level_db_spl: float = 65.0,
    seconds: float | None = None,
    seed: int = 0,
) -> list[Mixture]:
    """Every speech file (its first `seconds` s when given) with a noise drawn for it by a generator
    seeded with `seed` (a random file, a random start, looped when shorter), at every SNR (speech RMS
    over noise RMS). The speech is at `level_db_spl`; the noise is scaled to the SNR, so the mixture is
    louder than the speech at low SNRs, as in a room. The same arguments give the same mixtures."""
    speech = audio_files(speech_dir, "speech")
    noise = audio_files(noise_dir, "noise")
    if seconds is not None and seconds <= 0:
        raise InvalidInput(f"--seconds must be positive, got {seconds:g}")
    rng = np.random.default_rng(seed)
    rms = speech_rms(level_db_spl, full_scale_db_spl)
    out = []
    for sp in speech:
        s = _read_mono(sp, sample_rate_hz)
        if seconds is not None:
            s = s[: round(seconds * sample_rate_hz)]
        k = int(rng.integers(len(noise)))
        v = _read_mono(noise[k], sample_rate_hz)
        if len(v) < len(s):
            v = np.tile(v, -(-len(s) // len(v)))
        start = int(rng.integers(0, len(v) - len(s) + 1))
        v = v[start : start + len(s)]
        s_rms, v_rms = np.sqrt(np.mean(s**2)), np.sqrt(np.mean(v**2))
        if s_rms == 0 or v_rms == 0:
            raise InvalidInput(f"{sp if s_rms == 0 else noise[k]}: silent; cannot set its level")
        clean = s * (rms / s_rms)
        for snr in snrs_db:
            noisy = clean + v * (rms / v_rms) * 10 ** (-snr / 20)
            out.append(Mixture(noisy, clean, float(snr), f"{sp.stem}+{noise[k].stem}@{snr:g}dB"))
    return out


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
        x, s = _read_mono(n, sample_rate_hz), _read_mono(c, sample_rate_hz)
        if len(x) != len(s):
            raise InvalidInput(f"{n}: {len(x)} samples but its clean {c.name} has {len(s)}")
        out.append(Mixture(x, s, float("nan"), n.stem.removesuffix("_noisy")))
    return out
