"""The before/after picture of a render: spectrograms of the input and the output file on one colour scale
in dB SPL (through the graph's `full_scale_db_spl`), the output shifted back by the graph's latency so that
the two line up. Needs matplotlib (the `plot` extra), imported when plotting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.plots import plot_dir, pyplot, save, spectrogram_db

MAX_SECONDS = 30.0  # a long file is shown from its start: the picture stays readable and small
RANGE_DB = 70.0  # colour range below the loudest cell of the two spectrograms
STEP_DB = 5.0
WINDOW_MS, HOP_MS = 32.0, 8.0


def _spectrogram_db_spl(x: np.ndarray, fs: float, full_scale_db_spl: float) -> np.ndarray:
    n, hop = round(WINDOW_MS * fs / 1000), round(HOP_MS * fs / 1000)
    return full_scale_db_spl + spectrogram_db(x, n + n % 2, hop)


def plot_before_after(result, graph, out_dir: str | Path, latency_compensated: bool = False) -> Path:
    """`<output name>_spectrogram.png` in out_dir for one RenderResult (`hearpipe.io`) of `graph`."""
    plt = pyplot()
    out = plot_dir(out_dir)
    fs, fs_db = graph.sample_rate_hz, graph.spec.full_scale_db_spl
    n = round(MAX_SECONDS * fs)
    x, _ = sf.read(str(result.input), frames=n, dtype="float64", always_2d=True)
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
        f"before: {result.input.name}, {result.input_db_spl:.1f} dB SPL",
        f"after: {result.output.name}, {result.output_db_spl:.1f} dB SPL (shifted back by the {lag_ms:g} ms "
        "latency)",
    ]
    fig, axes = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True, sharey=True)
    # colours in steps of STEP_DB: easier to read off a level, and a PNG a fraction of the size
    cmap = plt.get_cmap("magma", round(RANGE_DB / STEP_DB))
    for ax, s, label in zip(axes, specs, labels):
        im = ax.imshow(s, origin="lower", aspect="auto", extent=(0, shown / fs, 0, fs / 2000), vmin=top - RANGE_DB,
                       vmax=top, cmap=cmap, interpolation="nearest")  # fmt: skip
        ax.set(ylabel="frequency (kHz)", title=label)
    axes[-1].set_xlabel("time (s)" + (f", first {MAX_SECONDS:g} s" if shown >= n else ""))
    name = graph.spec.name or Path(graph.source).stem
    fig.suptitle(
        f"{name} on {device}{arithmetic}: {result.input_db_spl:.1f} -> {result.output_db_spl:.1f} dB SPL"
    )
    fig.colorbar(im, ax=axes, label="level in the bin (dB SPL of a sine)")
    return _palette_png(save(fig, out / f"{result.output.stem}_spectrogram.png", dpi=100, tight=False))


def _palette_png(path: Path) -> Path:
    """Rewrite a PNG with 128 colours: a spectrogram's cell-to-cell texture makes a true-colour PNG of
    several hundred KB; in a palette it is a third of that and looks the same (the scale has 14 colours)."""
    from PIL import Image  # Pillow: a dependency of matplotlib

    with Image.open(path) as im:
        q = im.convert("RGB").quantize(colors=128)
    q.save(path, optimize=True)
    return path
