"""PNG plots: the shared matplotlib helpers (`pyplot`, `plot_dir`, `_save`) and the test-box results
(`hearpipe.measure.measure`: I/O curves, gain-frequency responses, attack/release trace); enhancement
plots: `hearpipe.evaluation.plots`. Needs matplotlib (the `plot` extra); imported only when plotting."""

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
