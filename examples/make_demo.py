"""Write examples/demo.wav: 3 s of a synthetic vowel-like harmonic sound with a level step, in pink-ish noise.

python examples/make_demo.py
"""

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def main() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(3 * SR) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)  # gliding pitch
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 25))  # harmonics falling 6 dB/octave
    envelope = np.where(t < 1.5, 0.05, 0.25) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t) ** 2)
    noise = np.cumsum(rng.standard_normal(len(t)))  # brown noise, high-passed below
    noise = np.diff(noise, prepend=0) * 0.3 + 0.02 * noise / np.max(np.abs(noise))
    x = envelope * voice / np.max(np.abs(voice)) + 0.01 * noise / np.std(noise)
    sf.write(
        Path(__file__).with_name("demo.wav"),
        (0.3 * x / np.max(np.abs(x))).astype(np.float32),
        SR,
        subtype="PCM_16",
    )


if __name__ == "__main__":
    main()
