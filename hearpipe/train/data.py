"""On-the-fly noisy-speech mixtures for training (numpy only; no torch here).

Speech comes from `<data>/train/speech`, noise from `<data>/train/noise` plus synthetic kinds that
the recorded noise lacks: babble summed from other train talkers (optionally low-passed, as distant
talkers), speech-shaped noise (white noise through the long-term speech spectrum), coloured noise
(power-law spectra 1/f^beta), impulsive noise (clicks, knocks and clinks: trains of decaying
resonances, as typing or dishes) and tonal noise (harmonic notes with glides and vibrato, as
instruments, animals or alarms). Recorded noise is played at a random speed (0.8-1.25x) so its 25
minutes yield more spectra, and so may speech (`speech_speed`, e.g. 0.9-1.1x: speed perturbation moves
the 146 train talkers' pitch and formants); every noise gets a random spectral tilt; the mixture gets a
random SNR and level. `dev/` is never read here.
Every batch is a pure function of (seed, step), so a resumed run sees the same data as an unbroken one.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hearpipe.errors import InvalidInput
from hearpipe.evaluation.mixtures import mix_at_snr

SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=8)
def read_folder(folder: Path, min_seconds: float = 0.5) -> tuple[np.ndarray, ...]:
    """All FLAC/WAV files in a folder as int16 arrays (mono, 16 kHz; others refused). Cached: a recipe's
    stages read the same folders."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder}: data folder not found (set HEARPIPE_DATA or data_dir)")
    out = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in (".flac", ".wav"):
            continue
        x, sr = sf.read(p, dtype="int16", always_2d=True)
        if sr != SAMPLE_RATE:
            raise InvalidInput(f"{p}: sample rate {sr} Hz, expected {SAMPLE_RATE}")
        x = x[:, 0]
        x.setflags(write=False)  # shared through the cache
        if len(x) >= min_seconds * SAMPLE_RATE:
            out.append(x)
    if not out:
        raise InvalidInput(f"{folder}: no audio files")
    return tuple(out)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


class MixConfig(BaseModel):
    """How training mixtures are drawn (the `data:` section of a training config)."""

    model_config = ConfigDict(extra="forbid")
    segment_s: float = 4.0
    snr_db: tuple[float, float] = (-5.0, 10.0)
    level_dbfs: tuple[float, float] = (-40.0, -12.0)  # mixture rms
    p_real: float = 0.45  # recorded train noise
    p_babble: float = 0.25
    p_speech_shaped: float = 0.1
    p_coloured: float = 0.2
    p_impulsive: float = 0.0
    p_tonal: float = 0.0
    p_second_noise: float = 0.3  # add a second, quieter noise of another kind
    noise_speed: tuple[float, float] = (1.0, 1.0)  # playback-speed range of recorded noise
    speech_speed: tuple[float, float] = (1.0, 1.0)  # playback-speed range of train speech (more voices)
    noise_tilt_db_per_oct: tuple[float, float] = (-3.0, 3.0)  # about 1 kHz; negative: low-frequency heavy
    speech_tilt_db_per_oct: float = 1.5  # speech tilt, uniform in +-this
    p_babble_distant: float = Field(0.0, ge=0.0, le=1.0)  # share of babble low-passed: distant talkers
    babble_talkers: tuple[int, int] = (3, 8)  # talkers summed into one babble, inclusive

    @field_validator("babble_talkers")
    @classmethod
    def _talker_range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1]:
            raise ValueError("babble_talkers must be [min, max] with 1 <= min <= max")
        return v


class Mixer:
    """Makes (noisy, clean) float32 pairs of `segment_s` seconds."""

    def __init__(self, data_dir: Path | str, cfg: MixConfig):
        data_dir = Path(data_dir)
        self.cfg = cfg
        self.speech = read_folder(data_dir / "train" / "speech")
        self.noise = read_folder(data_dir / "train" / "noise")
        self.n = round(cfg.segment_s * SAMPLE_RATE)
        self.ltas = self._long_term_spectrum()

    def _long_term_spectrum(self) -> np.ndarray:
        """Average speech magnitude spectrum on the rfft grid of one segment (for speech-shaped noise)."""
        nfft = 512
        acc = np.zeros(nfft // 2 + 1)
        for s in self.speech[::4]:
            x = s.astype(np.float64)
            frames = np.lib.stride_tricks.sliding_window_view(x, nfft)[::nfft]
            acc += (np.abs(np.fft.rfft(frames * np.hanning(nfft), axis=1)) ** 2).sum(axis=0)
        mag = np.sqrt(acc / acc.max())
        grid = np.linspace(0, 1, self.n // 2 + 1)
        return np.interp(grid, np.linspace(0, 1, nfft // 2 + 1), mag)

    # -- pieces ---------------------------------------------------------------------------------------
    def _crop(self, x: np.ndarray, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
        n = n or self.n
        if len(x) >= n:
            i = rng.integers(0, len(x) - n + 1)
            return x[i : i + n].astype(np.float64)
        reps = -(-n // len(x)) + 1
        y = np.tile(x, reps).astype(np.float64)
        i = rng.integers(0, len(x))
        return y[i : i + n]

    def _speech_segment(self, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        for _ in range(20):  # avoid nearly silent crops
            k = int(rng.integers(len(self.speech)))
            if self.cfg.speech_speed == (1.0, 1.0):  # no draw: older configs keep their random stream
                s = self._crop(self.speech[k], rng)
            else:
                s = self._at_speed(self.speech[k], rng, self.cfg.speech_speed)
            if rms(s) > 100.0:  # int16 units
                return s, k
        return s, k

    @staticmethod
    def _shape(x: np.ndarray, gain_db) -> np.ndarray:
        """x through the zero-phase gain `gain_db(f_hz)` dB (rfft domain, along the last axis)."""
        n = x.shape[-1]
        g = 10 ** (gain_db(np.fft.rfftfreq(n, 1 / SAMPLE_RATE)) / 20)
        return np.fft.irfft(np.fft.rfft(x) * g, n=n)

    def _tilt(self, x: np.ndarray, db_per_oct: float) -> np.ndarray:
        """Spectral tilt about 1 kHz by db_per_oct dB per octave."""
        return self._shape(x, lambda f: db_per_oct * np.log2(np.maximum(f, 50.0) / 1000.0))

    def _at_speed(self, x: np.ndarray, rng: np.random.Generator, speed: tuple[float, float]) -> np.ndarray:
        """A crop played at a random speed in `speed` (log-uniform; linear interpolation): pitch, formants
        and tempo move together, so recorded noise yields more spectra and talkers more voices."""
        lo, hi = speed
        r = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        if r == 1.0:
            return self._crop(x, rng)
        y = self._crop(x, rng, int(np.ceil(self.n * r)) + 2)
        return np.interp(np.arange(self.n) * r, np.arange(len(y)), y)

    def _impulsive(self, rng: np.random.Generator) -> np.ndarray:
        """Clicks, knocks, clinks: Poisson trains of events, each a noise burst through a few damped modes."""
        n, t_ev = self.n, np.arange(int(0.25 * SAMPLE_RATE)) / SAMPLE_RATE
        templates = []
        for _ in range(3):  # a small "instrument" per segment (one keyboard, one set of dishes)
            modes = int(rng.integers(1, 5))
            f = np.exp(rng.uniform(np.log(200), np.log(7000), modes))
            tau = np.exp(rng.uniform(np.log(0.002), np.log(0.08), modes))
            ev = (
                np.exp(-t_ev[:, None] / tau)
                * np.sin(2 * np.pi * f * t_ev[:, None] + rng.uniform(0, 6.3, modes))
            ).sum(1)
            burst_tau = np.exp(rng.uniform(np.log(0.0005), np.log(0.01)))
            ev += rng.uniform(0, 2) * rng.standard_normal(len(t_ev)) * np.exp(-t_ev / burst_tau)
            templates.append(ev / (np.max(np.abs(ev)) + 1e-9))
        x = np.zeros(n + len(t_ev))
        rate = rng.uniform(1, 20)  # events per second
        for i in rng.integers(0, n, rng.poisson(rate * n / SAMPLE_RATE) + 1):
            x[i : i + len(t_ev)] += templates[int(rng.integers(3))] * 10 ** (rng.uniform(-15, 0) / 20)
        return x[:n]

    def _tonal(self, rng: np.random.Generator) -> np.ndarray:
        """Harmonic notes with onsets, decays, glides and vibrato (instruments, animals, alarms)."""
        n = self.n
        x = np.zeros(n)
        for _ in range(rng.poisson(rng.uniform(1, 6) * n / SAMPLE_RATE) + 1):
            length = int(rng.uniform(0.05, 1.0) * SAMPLE_RATE)
            t = np.arange(length) / SAMPLE_RATE
            f0 = np.exp(rng.uniform(np.log(80), np.log(1200)))
            glide = rng.uniform(-1.5, 1.5) if rng.random() < 0.4 else 0.0  # octaves per second
            vib = rng.uniform(0, 0.03) * np.sin(2 * np.pi * rng.uniform(3, 8) * t)
            phase = 2 * np.pi * np.cumsum(f0 * 2 ** (glide * t) * (1 + vib)) / SAMPLE_RATE
            env = (1 - np.exp(-t / rng.uniform(0.002, 0.05))) * np.exp(-t / rng.uniform(0.05, 2.0))
            rolloff = rng.uniform(0.5, 2.5)
            note = np.zeros(length)
            for h in range(1, int(min(20, 7500 / (f0 * 2 ** max(glide, 0)))) + 1):
                note += h**-rolloff * np.sin(h * phase + rng.uniform(0, 6.3))
            start = int(rng.integers(0, n))
            seg = min(length, n - start)
            x[start : start + seg] += (note * env)[:seg] * 10 ** (rng.uniform(-12, 0) / 20)
        return x

    def _babble(self, rng: np.random.Generator, exclude: int) -> np.ndarray:
        """Other train talkers summed; `p_babble_distant` of them low-passed above a random corner
        (400-2000 Hz, 12-30 dB/octave): talkers across a room or a cafeteria reach the ear with little
        energy above 1 kHz, the hardest noise for a mask (VoiceBank-DEMAND's babble is of this kind)."""
        lo, hi = self.cfg.babble_talkers
        x = np.zeros(self.n)
        for _ in range(int(rng.integers(lo, hi + 1))):
            k = int(rng.integers(len(self.speech)))
            if k == exclude:
                continue
            s = self._crop(self.speech[k], rng)
            x += s / rms(s) * 10 ** (rng.uniform(-6, 0) / 20)
        if self.cfg.p_babble_distant and rng.random() < self.cfg.p_babble_distant:
            x = self._lowpass(x, np.exp(rng.uniform(np.log(400), np.log(2000))), rng.uniform(12, 30))
        return x

    def _lowpass(self, x: np.ndarray, corner_hz: float, db_per_oct: float) -> np.ndarray:
        """Flat below `corner_hz`, falling by `db_per_oct` dB per octave above it."""
        return self._shape(x, lambda f: -db_per_oct * np.log2(np.maximum(f, corner_hz) / corner_hz))

    def _noise(self, rng: np.random.Generator, exclude: int) -> np.ndarray:
        c = self.cfg
        p = np.array([c.p_real, c.p_babble, c.p_speech_shaped, c.p_coloured, c.p_impulsive, c.p_tonal])
        kind = rng.choice(len(p), p=p / p.sum())
        n = self.n
        if kind == 0:
            x = self._at_speed(self.noise[int(rng.integers(len(self.noise)))], rng, self.cfg.noise_speed)
        elif kind == 1:
            x = self._babble(rng, exclude)
        elif kind == 4:
            x = self._impulsive(rng)
        elif kind == 5:
            x = self._tonal(rng)
        else:
            spec = np.fft.rfft(rng.standard_normal(n))
            if kind == 2:
                spec *= self.ltas
            else:
                f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
                beta = rng.uniform(-0.5, 2.0)  # blue-ish .. white .. pink .. brown
                spec *= np.maximum(f, 20.0) ** (-beta / 2)
            x = np.fft.irfft(spec, n=n)
            if rng.random() < 0.3:  # slow amplitude modulation (non-stationary)
                t = np.arange(n) / SAMPLE_RATE
                x *= 1 + 0.7 * np.sin(2 * np.pi * rng.uniform(0.2, 4) * t + rng.uniform(0, 6.3))
        x = self._tilt(x, rng.uniform(*self.cfg.noise_tilt_db_per_oct))
        return x

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        c = self.cfg
        s, k = self._speech_segment(rng)
        if c.speech_tilt_db_per_oct:
            s = self._tilt(s, rng.uniform(-c.speech_tilt_db_per_oct, c.speech_tilt_db_per_oct))
        v = self._noise(rng, k)
        v = v / rms(v)
        if rng.random() < c.p_second_noise:
            v2 = self._noise(rng, k)
            v = v + v2 / rms(v2) * 10 ** (rng.uniform(-12, -3) / 20)
            v = v / rms(v)
        snr = rng.uniform(*c.snr_db)
        noisy, clean = mix_at_snr(s / rms(s), v, snr, 10 ** (rng.uniform(*c.level_dbfs) / 20))
        return noisy.astype(np.float32), clean.astype(np.float32)

    def batch(self, seed: int, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, step])
        pairs = [self.example(rng) for _ in range(size)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
