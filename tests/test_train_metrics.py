"""SI-SNR against closed forms; STOI wrapper sanity; dev mixtures have the asked SNR."""

import numpy as np
import pytest

from hearpipe.metrics.si_snr import si_snr, si_snr_improvement

from .conftest import data_dir


def test_si_snr_closed_form_and_scale_invariance(rng):
    ref = rng.standard_normal(8000)
    ref -= ref.mean()
    noise = rng.standard_normal(8000)
    noise -= noise.mean()
    noise -= (noise @ ref) / (ref @ ref) * ref  # orthogonal to the reference
    noise *= np.sqrt(ref @ ref / (noise @ noise)) * 10 ** (-7 / 20)  # exactly 7 dB below
    est = ref + noise
    assert si_snr(est, ref) == pytest.approx(7.0, abs=1e-9)
    assert si_snr(-3.5 * est + 0.2, ref) == pytest.approx(7.0, abs=1e-9)  # scale and offset invariant
    assert si_snr_improvement(ref + 0.5 * noise, est, ref) == pytest.approx(20 * np.log10(2), abs=1e-9)
    with pytest.raises(ValueError, match="samples"):
        si_snr(est[:-1], ref)


def test_stoi_orders_clean_above_noisy(rng):
    pytest.importorskip("pystoi")
    from hearpipe.metrics.stoi import stoi

    t = np.arange(32000) / 16000
    clean = np.sin(2 * np.pi * 300 * t) * (1 + np.sin(2 * np.pi * 3 * t)) * (rng.random(32000) + 0.5)
    noisy = clean + 2 * rng.standard_normal(32000) * np.std(clean)
    assert stoi(clean, clean) > 0.99
    assert stoi(noisy, clean) < stoi(clean, clean)


@pytest.mark.data
def test_dev_mixtures_are_fixed_and_at_the_asked_snr():
    from hearpipe.evaluation.evaluate import evaluate
    from hearpipe.evaluation.mixtures import dev_mixtures

    a = dev_mixtures(data_dir(), n=2, seconds=2.0)
    b = dev_mixtures(data_dir(), n=2, seconds=2.0)
    assert [m.name for m in a] == [m.name for m in b] and len(a) == 4
    for m in a:
        snr = 10 * np.log10(np.sum(m.clean**2) / np.sum((m.noisy - m.clean) ** 2))
        assert snr == pytest.approx(m.snr_db, abs=1e-6)
    res = evaluate(lambda x: x, a)  # the identity improves nothing
    assert res["si_snri"] == pytest.approx(0.0, abs=1e-9)
    train = dev_mixtures(data_dir(), n=2, seconds=2.0, split="train")  # the same protocol on train data
    train_names = {p.stem for p in (data_dir() / "train" / "speech").glob("*.flac")}
    assert len(train) == 4 and all(m.name.split("+")[0] in train_names for m in train)
    with pytest.raises(ValueError, match="split"):
        dev_mixtures(data_dir(), n=1, split="test")


def test_enhancement_plots_are_written(tmp_path, rng):
    from hearpipe.evaluation.evaluate import evaluate
    from hearpipe.evaluation.mixtures import Mixture
    from hearpipe.evaluation.plots import plot_enhancement

    t = np.arange(16000) / 16000
    clean = 0.1 * np.sin(2 * np.pi * 440 * t)
    mixes = [
        Mixture(clean + 0.05 * rng.standard_normal(16000), clean, snr, f"tone+white@{snr:g}dB")
        for snr in (0, 5)
    ]
    rows: list[dict] = []
    res = evaluate(lambda x: 0.5 * x, mixes, by_noise=True, rows=rows)
    assert len(rows) == 2 and res["si_snri[white] (n=2)"] == pytest.approx(0.0, abs=1e-9)
    assert res["si_snri<speech tone> (n=2)"] == pytest.approx(0.0, abs=1e-9)
    paths = plot_enhancement(mixes[0], mixes[0].noisy, rows, tmp_path / "plots", "test")
    assert [p.name for p in paths] == ["spectrograms.png", "si_snri_by_noise.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_oracle_mask_ceiling_grows_with_frequency_resolution(rng):
    """Two close tones (125 Hz apart) in white noise: an 8 ms window cannot separate a tone from the noise
    between them as well as a 24 ms one; both masks improve the SI-SNR a lot (they know the speech)."""
    from hearpipe.evaluation.evaluate import evaluate
    from hearpipe.evaluation.mixtures import Mixture

    t = np.arange(16000) / 16000
    clean = 0.1 * (np.sin(2 * np.pi * 500 * t) + np.sin(2 * np.pi * 625 * t))
    noisy = clean + 0.1 * rng.standard_normal(len(t))
    mixes = [Mixture(noisy, clean, 0.0, "tones+white@0dB")]
    short, long = (evaluate(None, mixes, oracle=w)["si_snri"] for w in (128, 384))
    assert 10 < short < long, (short, long)
