"""Enhancement plots: spectrograms of one dev mixture and SI-SNR improvement per noise (matplotlib,
the `plot` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hearpipe.evaluation.mixtures import SAMPLE_RATE, Mixture
from hearpipe.plots import plot_dir, pyplot, save, spectrogram_db


def plot_enhancement(
    mixture: Mixture, enhanced: np.ndarray, rows: list[dict], out_dir: str | Path, title: str
) -> list[Path]:
    """spectrograms.png (noisy, enhanced, clean of one dev mixture, dB re full scale) and
    si_snri_by_noise.png (mean SI-SNR improvement per dev noise and SNR) into out_dir."""
    plt = pyplot()
    out = plot_dir(out_dir)
    fs = SAMPLE_RATE
    sigs = [("noisy", mixture.noisy), ("enhanced", np.asarray(enhanced)[: len(mixture.clean)]),
            ("clean", mixture.clean)]  # fmt: skip
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True, sharey=True)
    for ax, (label, x) in zip(axes, sigs):
        im = ax.imshow(spectrogram_db(x, 512, 128), origin="lower", aspect="auto", extent=(0, len(x) / fs, 0, fs / 2), vmin=-100,
                       vmax=-20, cmap="magma")  # fmt: skip
        ax.set(ylabel="frequency (Hz)", title=label)
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"{title}: {mixture.name}")
    fig.colorbar(im, ax=axes, label="level (dB re full scale)")
    paths = [save(fig, out / "spectrograms.png", dpi=110, tight=False)]  # the colorbar spans the axes

    noises = sorted({r["noise"] for r in rows})
    snrs = sorted({r["snr"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(noises) * len(snrs) + 1.5))
    height = 0.8 / len(snrs)
    for i, snr in enumerate(snrs):
        vals = [np.mean([r["si_snr_out"] - r["si_snr_in"] for r in rows if r["noise"] == nz and r["snr"] == snr]
                        or [np.nan]) for nz in noises]  # fmt: skip
        ax.barh(np.arange(len(noises)) + i * height, vals, height, label=f"input SNR {snr:g} dB")
    ax.set_yticks(np.arange(len(noises)) + 0.4 - height / 2, noises)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="SI-SNR improvement (dB)", title=f"{title}: by dev noise")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    paths.append(save(fig, out / "si_snri_by_noise.png", dpi=110))
    return paths
