"""On-the-fly mixing: SNR and level as asked, deterministic per (seed, step), train folder only."""

import numpy as np
import pytest

from hearpipe.train.data import MixConfig, Mixer, rms

from .conftest import data_dir

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def mixer():
    return Mixer(data_dir(), MixConfig(segment_s=1.0))


def test_batches_are_deterministic_and_varied(mixer):
    a = mixer.batch(seed=1, step=5, size=3)
    b = mixer.batch(seed=1, step=5, size=3)
    c = mixer.batch(seed=1, step=6, size=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (3, 16000) and a[0].dtype == np.float32


def test_snr_and_level_within_the_configured_ranges(mixer):
    noisy, clean = mixer.batch(seed=2, step=0, size=16)
    for x, s in zip(noisy, clean):
        snr = 20 * np.log10(rms(s) / rms(x - s))
        level = 20 * np.log10(rms(x))
        assert -5.05 <= snr <= 10.05
        assert -40.05 <= level <= -11.95


def test_mixer_reads_only_the_train_folder(mixer):
    assert len(mixer.speech) == len(list((data_dir() / "train" / "speech").glob("*.flac")))
    assert len(mixer.noise) == len(list((data_dir() / "train" / "noise").glob("*.flac")))
