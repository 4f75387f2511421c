"""PNG plots: test-box results (`hearpipe.measure.measure`: I/O curves, gain-frequency responses,
attack/release trace) and enhancement results (`hearpipe.metrics.evaluate`: spectrograms, SI-SNR
improvement per noise). Needs matplotlib (the `plot` extra); imported only when plotting."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def _save(fig, path: Path, dpi: int = 120, tight: bool = True) -> Path:
    """Write one figure and free it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


def plot_measurements(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write io_curves.png, frequency_response.png and attack_release.png into out_dir; return the paths."""
    plt = pyplot()
    out = plot_dir(out_dir)
    title = result.get("graph", "")
    paths = []

    # I/O curves: 1 kHz and per band, measured (solid) and configured (dashed)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    curves = [result["io_curve"], *result.get("io_curves_per_band", [])]
    for i, c in enumerate(curves):
        color = f"C{i}"
        ax.plot(
            c["input_db_spl"],
            c["output_db_spl"],
            "o-",
            ms=3,
            color=color,
            label=f"{c['frequency_hz']:.0f} Hz" + (" (ANSI)" if i == 0 else ""),
        )
        if c.get("configured_output_db_spl") is not None:
            ax.plot(c["input_db_spl"], c["configured_output_db_spl"], "--", color=color, lw=1)
    lo = min(curves[0]["input_db_spl"])
    hi = max(curves[0]["input_db_spl"])
    ax.plot([lo, hi], [lo, hi], ":", color="gray", lw=1, label="unity gain")
    ax.set(
        xlabel="input level (dB SPL)",
        ylabel="output level (dB SPL)",
        title=f"{title}: input/output (solid measured, dashed configured)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(_save(fig, out / "io_curves.png"))

    # gain-frequency responses at each input level, and OSPL90
    fr = result["frequency_response"]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.5, 7), sharex=True)
    for key, gains in fr["gain_db"].items():
        a1.semilogx(fr["frequencies_hz"], gains, "o-", ms=3, label=f"{key} dB SPL input")
    a1.set(ylabel="gain (dB)", title=f"{title}: gain-frequency response")
    a1.grid(alpha=0.3, which="both")
    a1.legend(fontsize=8)
    o = result["ospl90"]
    a2.semilogx(o["frequencies_hz"], o["output_db_spl"], "o-", ms=3, color="C3")
    a2.set(xlabel="frequency (Hz)", ylabel="output (dB SPL)", title="OSPL90 (90 dB SPL input)")
    a2.grid(alpha=0.3, which="both")
    ticks = [f for f in (125, 250, 500, 1000, 2000, 4000, 8000) if min(o["frequencies_hz"]) / 1.5 <= f]
    a2.set_xticks(ticks, [f"{f:g}" for f in ticks])
    a2.minorticks_off()
    paths.append(_save(fig, out / "frequency_response.png"))

    # attack / release trace
    ar = result["attack_release"]
    tr = ar.get("trace")
    if tr:
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(tr["time_ms"], tr["output_db_spl"], lw=1)
        seg_ms = 1000.0 * ar["segment_s"]
        end_ms = tr["time_ms"][-1]
        for t0, t1, ss in (
            (0.0, seg_ms, ar["steady_high_db_spl"]),
            (seg_ms, end_ms, ar["steady_low_db_spl"]),
        ):
            ax.fill_between([t0, t1], ss - 3, ss + 3, color="gray", alpha=0.15, lw=0)  # the +-3 dB band
            ax.axvline(t0, color="k", lw=0.8)
        ax.set(
            xlabel="time after the 55 -> 90 dB SPL step (ms)",
            ylabel="output (dB SPL)",
            title=f"{title}: attack {ar['attack_ms']:.1f} ms, release {ar['release_ms']:.0f} ms "
            f"({ar['frequency_hz']:g} Hz tone)",
        )
        ax.grid(alpha=0.3)
        paths.append(_save(fig, out / "attack_release.png"))
    return paths


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
    paths = [_save(fig, out / "spectrograms.png", dpi=110, tight=False)]  # the colorbar spans the axes

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
    paths.append(_save(fig, out / "si_snri_by_noise.png", dpi=110))
    return paths
