"""Write examples/speech_in_street_noise.flac: one LibriSpeech utterance in recorded street noise, 5 dB SNR,
calibrated for graphs/hearing_aid.yaml (speech 70 dB SPL, noise 65 dB SPL through its full_scale_db_spl).

HEARPIPE_DATA=/path/to/data python examples/make_speech_in_noise.py [OUT]   (data default: ../shared/data)

Only train material is used (never dev). Sources and licences: examples/README.md. The output is
deterministic: fixed files, a fixed noise excerpt, no random draw.
"""

import sys
from pathlib import Path

import soundfile as sf
import yaml

from hearpipe.datadir import default_data_dir
from hearpipe.metrics.level import level_db_spl

HERE = Path(__file__).resolve().parent
SPEECH = "train/speech/libri_F_6385-220959-0000.flac"  # LibriSpeech 6385-220959-0000, reader Novella Serena
NOISE = "train/noise/bn_street_cars_potsdam.flac"  # Berlin Noise 1CDCDA78: car traffic, bicycle
NOISE_START_S = 20.0  # where the noise excerpt starts in NOISE
LEAD_S, TAIL_S = 0.6, 0.3  # noise alone before and after the utterance: the noise reduction settles
SPEECH_DB_SPL, NOISE_DB_SPL = 70.0, 65.0  # raised voice in a street: 5 dB SNR
SR = 16000


def main(out: Path = HERE / "speech_in_street_noise.flac") -> None:
    data = default_data_dir()
    full_scale = float(
        yaml.safe_load((HERE.parent / "graphs" / "hearing_aid.yaml").read_text())["full_scale_db_spl"]
    )
    speech, sr = sf.read(data / SPEECH, dtype="float64")
    noise, sr_n = sf.read(data / NOISE, dtype="float64")
    assert sr == sr_n == SR, (sr, sr_n)
    lead, tail = round(LEAD_S * SR), round(TAIL_S * SR)
    n = lead + len(speech) + tail
    start = round(NOISE_START_S * SR)
    noise = noise[start : start + n]
    # levels over the utterance itself (LibriSpeech utterances are trimmed) and over the whole noise excerpt
    speech *= 10 ** ((SPEECH_DB_SPL - level_db_spl(speech, full_scale)) / 20)
    noise *= 10 ** ((NOISE_DB_SPL - level_db_spl(noise, full_scale)) / 20)
    mix = noise.copy()
    mix[lead : lead + len(speech)] += speech
    sf.write(out, mix, SR, subtype="PCM_16")
    print(
        f"{out}: {n / SR:.2f} s, {level_db_spl(mix, full_scale):.1f} dB SPL ({full_scale:g} dB SPL full scale)"
    )


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:2]))
