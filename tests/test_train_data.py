"""On-the-fly mixing: SNR and level as asked, deterministic per (seed, step), train folder only."""

import numpy as np
import pytest

from hearpipe.train.data import MixConfig, Mixer, rms

from .conftest import data_dir


@pytest.fixture(scope="module")
def mixer():
    return Mixer(data_dir(), MixConfig(segment_s=1.0))


@pytest.mark.data
def test_batches_are_deterministic_and_varied(mixer):
    a = mixer.batch(seed=1, step=5, size=3)
    b = mixer.batch(seed=1, step=5, size=3)
    c = mixer.batch(seed=1, step=6, size=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (3, 16000) and a[0].dtype == np.float32


@pytest.mark.data
def test_snr_and_level_within_the_configured_ranges(mixer):
    noisy, clean = mixer.batch(seed=2, step=0, size=16)
    for x, s in zip(noisy, clean):
        snr = 20 * np.log10(rms(s) / rms(x - s))
        level = 20 * np.log10(rms(x))
        assert -5.05 <= snr <= 10.05
        assert -40.05 <= level <= -11.95


@pytest.mark.data
def test_mixer_reads_only_the_train_folder(mixer):
    assert len(mixer.speech) == len(list((data_dir() / "train" / "speech").glob("*.flac")))
    assert len(mixer.noise) == len(list((data_dir() / "train" / "noise").glob("*.flac")))


# -- augmentation kinds, on a synthetic data folder (no shared data needed) --------------------------------
@pytest.fixture(scope="module")
def synthetic_mixer(tmp_path_factory):
    import soundfile as sf

    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    for folder in ("speech", "noise"):
        (root / "train" / folder).mkdir(parents=True)
    for i in range(3):  # "talkers": syllable-rate modulated noise
        x = 0.1 * rng.standard_normal(len(t)) * (1 + np.sin(2 * np.pi * 4 * t + i))
        sf.write(root / "train" / "speech" / f"s{i}.flac", x, 16000, subtype="PCM_16")
    sf.write(
        root / "train" / "noise" / "tone1k.flac", 0.3 * np.sin(2 * np.pi * 1000 * t), 16000, subtype="PCM_16"
    )
    return root, MixConfig(segment_s=1.0, p_impulsive=1, p_tonal=1, noise_speed=(1.2, 1.2))


def _mixer(synthetic_mixer, **kw):
    root, cfg = synthetic_mixer
    return Mixer(root, cfg.model_copy(update=kw))


def _frame_db(x, n=160):
    e = np.square(x[: len(x) // n * n].reshape(-1, n)).mean(1)
    return 10 * np.log10(e + 1e-12)


def test_impulsive_noise_is_sparse_in_time(synthetic_mixer):
    m = _mixer(synthetic_mixer)
    for seed in range(5):
        x = m._impulsive(np.random.default_rng(seed))
        assert x.shape == (16000,) and np.all(np.isfinite(x)) and rms(x) > 0
        db = _frame_db(x)
        assert np.percentile(db, 95) - np.percentile(db, 20) > 15  # events well above the gaps


def test_tonal_noise_is_harmonic(synthetic_mixer):
    m = _mixer(synthetic_mixer)
    for seed in range(5):
        x = m._tonal(np.random.default_rng(seed))
        assert x.shape == (16000,) and np.all(np.isfinite(x)) and rms(x) > 0
        p = np.sort(np.abs(np.fft.rfft(x)) ** 2)[::-1]
        assert p[: len(p) // 20].sum() > 0.8 * p.sum()  # energy in few bins, unlike white noise (~0.14)


def test_recorded_noise_speed_shifts_its_spectrum(synthetic_mixer):
    m = _mixer(synthetic_mixer)
    x = m._at_speed(m.noise[0], np.random.default_rng(1), m.cfg.noise_speed)
    f = np.fft.rfftfreq(len(x), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x)))))]
    assert f == pytest.approx(1200, abs=2)  # the 1 kHz tone played at 1.2x speed


def _modulation_hz(x, sr=16000):
    env = np.abs(x).reshape(-1, 160).mean(1)  # 100 Hz envelope
    spec = np.abs(np.fft.rfft(env - env.mean()))
    return np.fft.rfftfreq(len(env), 1 / 100)[np.argmax(spec)]


def test_speech_speed_moves_the_talkers_syllable_rate(synthetic_mixer):
    """The synthetic talkers are 4 Hz modulated noise: at 1.25x speed their rhythm is 5 Hz; the default
    range (1, 1) leaves the speech (and the random stream) as it was."""
    fast = _mixer(synthetic_mixer, speech_speed=(1.25, 1.25))._speech_segment(np.random.default_rng(2))[0]
    plain = _mixer(synthetic_mixer)
    assert _modulation_hz(fast) == pytest.approx(5.0, abs=0.5)
    assert _modulation_hz(plain._speech_segment(np.random.default_rng(2))[0]) == pytest.approx(4.0, abs=0.5)
    a = plain._speech_segment(np.random.default_rng(5))[0]
    rng = np.random.default_rng(5)
    k = int(rng.integers(len(plain.speech)))
    np.testing.assert_array_equal(a, plain._crop(plain.speech[k], rng))


def test_batches_of_every_kind_are_deterministic_and_finite(synthetic_mixer):
    m = _mixer(synthetic_mixer, p_real=1, p_babble=1, p_speech_shaped=1, p_coloured=1, p_second_noise=0.5)
    a, b = m.batch(3, 7, 24), m.batch(3, 7, 24)
    np.testing.assert_array_equal(a[0], b[0])
    assert np.all(np.isfinite(a[0])) and np.all(np.isfinite(a[1]))


def test_noise_tilt_range_moves_the_spectral_centroid(synthetic_mixer):
    def centroid(tilt):
        kinds = dict(p_real=0, p_babble=0, p_speech_shaped=0, p_impulsive=0, p_tonal=0, p_coloured=1)
        m = _mixer(synthetic_mixer, noise_tilt_db_per_oct=(tilt, tilt), **kinds)
        rng = np.random.default_rng(4)
        p = np.mean([np.abs(np.fft.rfft(m._noise(rng, -1))) ** 2 for _ in range(8)], axis=0)
        f = np.fft.rfftfreq(16000, 1 / 16000)
        return (p * f).sum() / p.sum()

    assert centroid(-8.0) < 0.5 * centroid(4.0)


def test_distant_babble_is_low_passed_and_off_by_default(synthetic_mixer):
    """The synthetic talkers are full-band: plain babble keeps ~1/8 of its power below 1 kHz, distant
    babble (corner 400-2000 Hz, 12-30 dB/octave) most of it. With p_babble_distant = 0 the babble (and the
    random stream) is the talker sum of older configs."""

    def below_1k(x):
        p = np.abs(np.fft.rfft(x)) ** 2
        return p[np.fft.rfftfreq(len(x), 1 / 16000) < 1000].sum() / p.sum()

    plain = _mixer(synthetic_mixer)
    distant = _mixer(synthetic_mixer, p_babble_distant=1.0)
    for seed in range(4):
        assert below_1k(plain._babble(np.random.default_rng(seed), -1)) < 0.2
        assert below_1k(distant._babble(np.random.default_rng(seed), -1)) > 0.5
    rng = np.random.default_rng(9)
    expect = np.zeros(16000)
    for _ in range(int(rng.integers(3, 9))):
        s = plain._crop(plain.speech[int(rng.integers(len(plain.speech)))], rng)
        expect += s / rms(s) * 10 ** (rng.uniform(-6, 0) / 20)
    np.testing.assert_array_equal(plain._babble(np.random.default_rng(9), -1), expect)
    tones = np.sin(2 * np.pi * np.array([[250.0], [4000.0]]) * np.arange(16000) / 16000)
    low = distant._lowpass(tones, 1000, 20)
    assert rms(low[0]) == pytest.approx(rms(tones[0]), rel=1e-6)
    assert 20 * np.log10(rms(low[1]) / rms(tones[1])) == pytest.approx(-40.0, abs=0.01)  # 2 octaves x 20 dB


def test_bad_babble_settings_are_refused_clearly():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="babble_talkers"):
        MixConfig(babble_talkers=(5, 2))
    with pytest.raises(ValidationError, match="p_babble_distant"):
        MixConfig(p_babble_distant=1.5)
