"""The report's figures as PNG data URIs: test-box I/O curves and gain-frequency responses, prescription
target against achieved insertion gain, spectrograms before and after."""

from __future__ import annotations

import base64
import io

import numpy as np

from hearpipe.plots import pyplot, save, spectrogram_db

LEVELS_DB_SPL = (50.0, 65.0, 80.0)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _png(fig) -> str:
    buf = io.BytesIO()
    save(fig, buf, dpi=100)
    return data_uri(buf.getvalue(), "image/png")


def io_curves(curves: list[dict]) -> str:
    """Output against input level (dB SPL) of steady tones, one line per tone frequency."""
    fig, ax = pyplot().subplots(figsize=(5.2, 4))
    for c in curves:
        ax.plot(c["input_db_spl"], c["output_db_spl"], marker=".", label=f"{c['frequency_hz']:.0f} Hz")
    lo, hi = min(curves[0]["input_db_spl"]), max(curves[0]["input_db_spl"])
    ax.plot([lo, hi], [lo, hi], "k:", lw=0.8, label="unity (0 dB gain)")
    top = max(max(c["output_db_spl"]) for c in curves)
    ax.set_ylim(max(0.0, lo - 40), max(hi, top) + 5)  # silence below the expansion knee would squash the rest
    ax.set(xlabel="input level (dB SPL)", ylabel="output level (dB SPL)", title="Input/output (steady tones)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def gain_frequency(fr: dict, target: tuple[np.ndarray, np.ndarray] | None) -> str:
    """Gain (dB) against frequency at each input level; with `target`, the prescription's insertion gain."""
    fig, ax = pyplot().subplots(figsize=(5.2, 4))
    for lv in fr["gain_db"]:
        ax.semilogx(fr["frequencies_hz"], fr["gain_db"][lv], marker=".", label=f"achieved, {lv} dB SPL input")
    if target is not None:
        ax.semilogx(target[0], target[1], "k--o", ms=4, label="prescribed target")
    ticks = [f for f in (250, 500, 1000, 2000, 4000, 8000) if f <= max(fr["frequencies_hz"]) * 1.05]
    ax.set_xticks(ticks, [f"{f:g}" for f in ticks])
    ax.minorticks_off()
    ax.set(xlabel="frequency (Hz)", ylabel="insertion gain (dB)", title="Gain-frequency response")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _png(fig)


def spectrogram(x: np.ndarray, fs: float, title: str) -> str:
    """dB re full scale of a Hann STFT (512 samples, hop 128)."""
    S = spectrogram_db(x, 512, 128)
    fig, ax = pyplot().subplots(figsize=(5.2, 3))
    im = ax.imshow(S, origin="lower", aspect="auto", extent=(0, len(x) / fs, 0, fs / 2000), vmin=-100, vmax=-10,
                   cmap="magma")  # fmt: skip
    ax.set(xlabel="time (s)", ylabel="frequency (kHz)", title=title)
    fig.colorbar(im, ax=ax, label="dB re full scale")
    return _png(fig)
