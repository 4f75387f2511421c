"""PNG plots of test-box results (`hearpipe.testbox.measure.measure`): I/O curves, gain-frequency
responses and OSPL90, attack/release trace. Needs matplotlib (the `plot` extra), imported when plotting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearpipe.plots import plot_dir, pyplot, save


def plot_measurements(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write io_curves.png, frequency_response.png and attack_release.png into out_dir (with the ear,
    e.g. io_curves_left.png, for a result of `measure_ears` on a left/right channel); return the paths.
    Titles carry the result's label (graph, ear, arithmetic, bypassed nodes) where it has one; the gain
    plot overlays the prescription target where the result has one."""
    plt = pyplot()
    out = plot_dir(out_dir)
    title = result.get("label") or result.get("graph", "")
    ear = result.get("ear")
    suffix = "" if ear in (None, "mono") else "_" + ear.replace(" ", "")
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
        title=f"{title}\ninput/output (solid measured, dashed configured)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(save(fig, out / f"io_curves{suffix}.png"))

    # gain-frequency responses at each input level, and OSPL90
    fr = result["frequency_response"]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for key, gains in fr["gain_db"].items():
        a1.semilogx(fr["frequencies_hz"], gains, "o-", ms=3, label=f"{key} dB SPL input")
    t = result.get("target")
    if t:
        a1.semilogx(
            t["frequencies_hz"], t["target_db"], "k*--", ms=9, lw=1,
            label=f"{t['rule'].upper()} target\n(insertion gain,\nspeech at 65 dB SPL)",
        )  # fmt: skip
    a1.set(ylabel="gain (dB)", title=f"{title}\ngain-frequency response")
    a1.grid(alpha=0.3, which="both")
    a1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, not over them
    o = result["ospl90"]
    a2.semilogx(o["frequencies_hz"], o["output_db_spl"], "o-", ms=3, color="C3")
    a2.set(xlabel="frequency (Hz)", ylabel="output (dB SPL)", title="OSPL90 (90 dB SPL input)")
    a2.grid(alpha=0.3, which="both")
    ticks = [f for f in (125, 250, 500, 1000, 2000, 4000, 8000) if min(o["frequencies_hz"]) / 1.5 <= f]
    a2.set_xticks(ticks, [f"{f:g}" for f in ticks])
    a2.minorticks_off()
    paths.append(save(fig, out / f"frequency_response{suffix}.png"))

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
            title=f"{title}\nattack {ar['attack_ms']:.1f} ms, release {ar['release_ms']:.0f} ms "
            f"({ar['frequency_hz']:g} Hz tone)",
        )
        ax.grid(alpha=0.3)
        paths.append(save(fig, out / f"attack_release{suffix}.png"))
    return paths


AUDIOGRAM_STYLE = {"right": ("o", "red"), "left": ("x", "blue")}  # clinical convention: O red, X blue


def plot_audiogram(audiogram, out_dir: str | Path, ears=None) -> Path:
    """audiogram.png: thresholds on the standard form (log frequency 125-8000 Hz, dB HL increasing
    downward, O red for the right ear, X blue for the left)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    f = audiogram.frequencies_hz
    for ear in ears or audiogram.ears:
        marker, color = AUDIOGRAM_STYLE[ear]
        ax.plot(f, audiogram.thresholds(ear), marker=marker, color=color, ms=9, mfc="none", mew=2, label=ear)
    ax.set_xscale("log")
    ticks = [125, 250, 500, 1000, 2000, 4000, 8000]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(100, 10000)
    ax.set_ylim(120, -10)  # dB HL increases downward
    ax.set_yticks(range(-10, 121, 10))
    ax.grid(True, alpha=0.4)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("hearing threshold (dB HL)")
    ax.set_title(f"audiogram {audiogram.name}".strip())
    ax.legend()
    return save(fig, plot_dir(out_dir) / "audiogram.png")


def plot_insertion_gain(ear_result: dict[str, Any], rule: str, out_dir: str | Path) -> Path:
    """insertion_gain_<ear>.png: the rule's target against the achieved insertion gain (the fitted bank's
    prediction and, when measured, speech at 65 dB SPL through the graph)."""
    plt = pyplot()
    ear = ear_result["ear"]
    marker, color = AUDIOGRAM_STYLE[ear]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    f = ear_result["frequencies_hz"]
    ax.plot(f, ear_result["gain_db"], "-", color=color, marker=marker, lw=2, label=f"{rule} target")
    if ear_result.get("achieved_db") is not None:
        ax.plot(f, ear_result["achieved_db"], "--", color="0.3", marker=".", label="solved bank (predicted)")
    if ear_result.get("measured_db") is not None:
        ax.plot(
            f, ear_result["measured_db"], ":", color="green", marker="s", mfc="none", label="measured, speech"
        )
    ax.set_xscale("log")
    ticks = [250, 500, 1000, 2000, 4000, 8000]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(200, 8000)
    ax.grid(True, alpha=0.4)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("insertion gain (dB)")
    ax.set_title(f"{ear} ear: insertion gain for speech at 65 dB SPL")
    ax.legend()
    return save(fig, plot_dir(out_dir) / f"insertion_gain_{ear}.png")
