"""The before/after picture of a render: spectrograms of the input and the output file on one colour scale
in dB SPL (through the graph's `full_scale_db_spl`) and below them both files' short-term level over time,
the output shifted back by the graph's latency so that the two line up. Needs matplotlib (the `plot` extra), imported when plotting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.metrics.level import mean_square_db_spl
from hearpipe.plots import plot_dir, pyplot, save, spectrogram_db

MAX_SECONDS = 30.0  # a long file is shown from its start: the picture stays readable and small
RANGE_DB = 70.0  # colour range below the loudest cell of the two spectrograms
STEP_DB = 5.0
WINDOW_MS, HOP_MS = 32.0, 8.0
LEVEL_WINDOW_MS = 125.0  # the short-term level trace: a sound level meter's "fast" time


def _spectrogram_db_spl(x: np.ndarray, fs: float, full_scale_db_spl: float) -> np.ndarray:
    n, hop = round(WINDOW_MS * fs / 1000), round(HOP_MS * fs / 1000)
    return full_scale_db_spl + spectrogram_db(x, n + n % 2, hop)


def short_term_db_spl(x: np.ndarray, fs: float, full_scale_db_spl: float) -> np.ndarray:
    """Level in dB SPL of each whole LEVEL_WINDOW_MS window of x (samples, channels), channels averaged."""
    n = round(LEVEL_WINDOW_MS * fs / 1000)
    frames = np.square(x[: len(x) // n * n]).mean(axis=1).reshape(-1, n)
    return np.array([mean_square_db_spl(ms, full_scale_db_spl) for ms in frames.mean(axis=1)])


def plot_before_after(result, graph, out_dir: str | Path, latency_compensated: bool = False) -> Path:
    """`<output name>_spectrogram.png` in out_dir for one RenderResult (`hearpipe.io`) of `graph`."""
    plt = pyplot()
    out = plot_dir(out_dir)
    fs, fs_db = graph.sample_rate_hz, graph.spec.full_scale_db_spl
    n = round(MAX_SECONDS * fs)
    x, _ = sf.read(str(result.input), frames=n, dtype="float64", always_2d=True)
    x *= 10 ** (result.gain_db / 20)  # the input as presented (render --level-db-spl)
    shift = 0 if latency_compensated else graph.latency_samples
    y, _ = sf.read(str(result.output), start=shift, frames=n, dtype="float64", always_2d=True)
    shown = min(len(x), len(y))
    specs = [_spectrogram_db_spl(s[:shown, 0], fs, fs_db) for s in (x, y)]
    top = 5 * np.ceil(max(s.max() for s in specs) / 5)
    device = graph.device.name if graph.device else "host (float)"
    arithmetic = (
        f" ({'bit-true fixed point' if graph.device.arithmetic == 'fixed' else graph.device.arithmetic})"
        if graph.device
        else ""
    )
    lag_ms = 1000 * graph.latency_samples / fs
    labels = [
        f"before: {result.input.name}, {result.input_db_spl:.1f} dB SPL"
        + (f" (scaled by {result.gain_db:+.1f} dB)" if result.gain_db else ""),
        f"after: {result.output.name}, {result.output_db_spl:.1f} dB SPL ({lag_ms:g} ms latency taken out)",
    ]
    fig, axes = plt.subplots(3, 1, figsize=(8, 8.4), sharex=True, height_ratios=(3, 3, 2))
    axes[1].sharey(axes[0])
    # colours in steps of STEP_DB: easier to read off a level, and a PNG a fraction of the size
    cmap = plt.get_cmap("magma", round(RANGE_DB / STEP_DB))
    for ax, s, label in zip(axes[:2], specs, labels):
        im = ax.imshow(s, origin="lower", aspect="auto", extent=(0, shown / fs, 0, fs / 2000), vmin=top - RANGE_DB,
                       vmax=top, cmap=cmap, interpolation="nearest")  # fmt: skip
        ax.set(ylabel="frequency (kHz)", title=label)
    t_level = (np.arange(shown // round(LEVEL_WINDOW_MS * fs / 1000)) + 0.5) * LEVEL_WINDOW_MS / 1000
    for s, label in ((x, "before (input)"), (y, "after (output)")):
        axes[2].plot(t_level, short_term_db_spl(s[:shown], fs, fs_db), label=label)
    axes[2].set(ylabel="level (dB SPL)", title=f"short-term level ({LEVEL_WINDOW_MS:g} ms windows)")
    axes[2].grid(alpha=0.3)
    axes[2].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("time (s)" + (f", first {MAX_SECONDS:g} s" if shown >= n else ""))
    name = graph.spec.name or Path(graph.source).stem
    fig.suptitle(
        f"{name} on {device}{arithmetic}: {result.input_db_spl:.1f} -> {result.output_db_spl:.1f} dB SPL"
    )
    fig.colorbar(im, ax=axes[:2], label="level in the bin (dB SPL of a sine)")
    top_box, box = axes[0].get_position(), axes[2].get_position()  # the trace as wide as the spectrograms
    axes[2].set_position([top_box.x0, box.y0, top_box.width, box.height])
    return _palette_png(save(fig, out / f"{result.output.stem}_spectrogram.png", dpi=100, tight=False))


def _palette_png(path: Path) -> Path:
    """Rewrite a PNG with 128 colours: a spectrogram's cell-to-cell texture makes a true-colour PNG of
    several hundred KB; in a palette it is a third of that and looks the same (the scale has 14 colours)."""
    from PIL import Image  # Pillow: a dependency of matplotlib

    with Image.open(path) as im:
        q = im.convert("RGB").quantize(colors=128)
    q.save(path, optimize=True)
    return path
