"""Shared matplotlib helpers for PNG plots (`pyplot`, `plot_dir`, `save`), used by the test box's plots
(`hearpipe.testbox.plots`) and the enhancement plots. Needs matplotlib (the `plot` extra), imported
only when plotting."""

from __future__ import annotations

import os
from pathlib import Path

from hearpipe.errors import InvalidInput


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - depends on the installation
        raise InvalidInput("plotting needs matplotlib: pip install 'hearpipe[plot]'") from None
    return plt


def plot_dir(out_dir: str | Path) -> Path:
    """Create (if needed) and check the folder plots go to; callers may check it before measuring."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # an existing file of that name, no permission, ...
        raise InvalidInput(f"--plot {out}: cannot create the plot folder ({e.strerror})") from None
    if not os.access(out, os.W_OK):
        raise InvalidInput(f"--plot {out}: the plot folder is not writable")
    return out


def save(fig, path: Path, dpi: int = 120, tight: bool = True) -> Path:
    """Write one figure and free it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def plot_enhancement(mixture, enhanced, rows: list[dict], out_dir: str | Path, title: str) -> list[Path]:
    """spectrograms.png (noisy, enhanced, clean of one dev mixture, dB re full scale) and
    si_snri_by_noise.png (mean SI-SNR improvement per dev noise and SNR) into out_dir."""
    import numpy as np
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    plt = pyplot()
    out = plot_dir(out_dir)
    fs, n_fft = 16000, 512
    sft = ShortTimeFFT(hann(n_fft, sym=False), hop=128, fs=fs, scale_to="magnitude")
    sigs = [("noisy", mixture.noisy), ("enhanced", np.asarray(enhanced)[: len(mixture.clean)]),
            ("clean", mixture.clean)]  # fmt: skip
    fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True, sharey=True)
    for ax, (label, x) in zip(axes, sigs):
        S = 20 * np.log10(np.abs(sft.stft(x)) + 1e-7)
        im = ax.imshow(S, origin="lower", aspect="auto", extent=sft.extent(len(x)), vmin=-100, vmax=-20,
                       cmap="magma")  # fmt: skip
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
