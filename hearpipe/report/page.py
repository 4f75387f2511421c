"""The report page: a graph's diagram (inline SVG), its budget against a device, test-box measurements, the
prescription target when an audiogram is known, and before/after spectrograms and players for a sound file.
Everything is inlined, so the one file can be mailed or archived and viewed without a network."""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.dsp.audiogram import load_audiogram
from hearpipe.dsp.prescription import prescribe
from hearpipe.errors import InvalidInput
from hearpipe.evaluation.scoring import rendered
from hearpipe.graph.edit import bypass
from hearpipe.graph.engine import Graph
from hearpipe.graph.spec import INPUT
from hearpipe.report import figures
from hearpipe.testbox.measure import band_frequencies, frequency_response, io_curve

NOISE_REDUCERS = ("groupcomm", "spectral_subtraction", "wiener")
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
.sub{color:#555}table{border-collapse:collapse;font-size:.9em}td,th{padding:3px 8px;border-bottom:1px solid #e3e3e3;
text-align:right}td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}
.bar{background:#eee;width:320px;height:14px;display:inline-block;vertical-align:middle;position:relative}
.fill{height:14px;display:block}.ok{background:#3a8f5a}.over{background:#c0392b}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid img{max-width:520px;width:100%;border:1px solid #ddd}
audio{width:360px}.fig{margin:0}.fig figcaption{font-size:.85em;color:#555}"""


def diagram(graph: Graph) -> str:
    """Nodes left to right in processing order, an arrow per connection (arcs over skipped nodes)."""
    names = [INPUT, *graph.order]
    w, h, gap = 120, 44, 36
    x = {n: 10 + i * (w + gap) for i, n in enumerate(names)}
    y = 50
    parts = []
    for n in names:
        label = "input" if n == INPUT else n
        kind = "" if n == INPUT else graph.blocks[n].type_name
        parts.append(f'<rect x="{x[n]}" y="{y}" width="{w}" height="{h}" rx="6" fill="#eef4fb" stroke="#4a78a8"/>'
                     f'<text x="{x[n] + w / 2}" y="{y + 18}" text-anchor="middle" font-size="13">{html.escape(label)}'
                     f'</text><text x="{x[n] + w / 2}" y="{y + 34}" text-anchor="middle" font-size="11" fill="#666">'
                     f"{html.escape(kind)}</text>")  # fmt: skip
    for n in graph.order:
        for src in graph.inputs[n]:
            x0, x1 = x[src] + w, x[n]
            if names.index(n) - names.index(src) == 1:
                parts.append(f'<line x1="{x0}" y1="{y + h / 2}" x2="{x1 - 2}" y2="{y + h / 2}" stroke="#333" '
                             'marker-end="url(#a)"/>')  # fmt: skip
            else:
                xm = (x[src] + w / 2 + x[n] + w / 2) / 2
                parts.append(f'<path d="M{x[src] + w / 2},{y} Q{xm},{y - 45} {x[n] + w / 2 - 4},{y - 2}" fill="none" '
                             'stroke="#333" marker-end="url(#a)"/>')  # fmt: skip
    width = x[names[-1]] + w + 10
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + h + 10}" role="img" '
            'aria-label="graph diagram"><defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" '
            'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>' + "".join(parts) + "</svg>")  # fmt: skip


def budget_section(graph: Graph) -> str:
    b = graph.budget().to_dict()
    units = {"mips": "MIPS", "ram_kib": "KiB RAM", "rom_kib": "KiB ROM", "latency_ms": "ms latency"}
    bars = []
    for key, unit in units.items():
        v, lim = b["totals"][key], b["limits"][key]
        frac = min(1.0, v / lim) if lim else 1.0
        cls = "ok" if v <= lim + 1e-9 else "over"
        bars.append(f"<tr><td>{unit}</td><td><span class='bar'><span class='fill {cls}' style='width:{100 * frac:.1f}%'>"
                    f"</span></span></td><td>{v:.2f} of {lim:.2f} ({100 * v / lim if lim else 0:.0f} %)</td></tr>")  # fmt: skip
    rows = "".join(
        f"<tr><td>{html.escape(r['name'])}</td><td>{html.escape(r['type'])}</td><td>{r['mips']:.2f}</td>"
        f"<td>{r['ram_persistent_bytes'] / 1024:.2f}</td><td>{r['ram_scratch_bytes'] / 1024:.2f}</td>"
        f"<td>{r['rom_bytes'] / 1024:.2f}</td><td>{1000 * r['latency_samples'] / b['sample_rate_hz']:.2f}</td></tr>"
        for r in b["blocks"]
    )
    verdict = "fits" if b["fits"] else "is OVER the budget of"
    return (f"<h2>Budget on {html.escape(b['device'])}</h2><p>The graph {verdict} this device "
            f"(block size {b['block_size']} samples).</p><table>{''.join(bars)}</table>"
            "<p></p><table><tr><th>block</th><th>type</th><th>MIPS</th><th>RAM KiB</th><th>scratch KiB</th>"
            f"<th>ROM KiB</th><th>latency ms</th></tr>{rows}</table>")  # fmt: skip


def _target(graph: Graph, audiogram: str | None):
    if audiogram is None:
        return None, ""
    ag = load_audiogram(audiogram)
    node = next((n for n in graph.spec.nodes if n.params.get("rule")), None)
    rule = node.params["rule"] if node else "nal-r"
    ear = ag.pick_ear(node.params.get("ear") if node else None)
    return prescribe(
        ag, rule, ear
    ), f"{rule.upper()} target for the {ear} ear of {html.escape(str(audiogram))}"


def _img(uri: str, caption: str) -> str:
    return f"<figure class='fig'><img src='{uri}' alt='{html.escape(caption)}'><figcaption>{html.escape(caption)}</figcaption></figure>"


def _wav_uri(x: np.ndarray, fs: float) -> str:
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), int(fs), format="WAV", subtype="PCM_16")
    return figures.data_uri(buf.getvalue(), "audio/wav")


def audio_section(graph: Graph, audio: str, max_seconds: float = 20.0) -> str:
    """Spectrograms and players of the file (its first `max_seconds` s, channel 0) before and after."""
    p = Path(audio)
    try:
        x, fs = sf.read(
            str(p), dtype="float64", always_2d=True, frames=int(max_seconds * sf.info(str(p)).samplerate)
        )
    except (sf.LibsndfileError, RuntimeError) as e:
        raise InvalidInput(f"{p}: not a readable audio file ({e})") from None
    x = x[:, 0]
    y = rendered(graph, x)
    cells = [(x, "before (input)"), (y, "after (output, latency compensated)")]
    figs = "".join(
        f"<div>{_img(figures.spectrogram(s, fs, label.split(' (')[0]), label)}<br>"
        f"<audio controls src='{_wav_uri(s, fs)}'></audio></div>"
        for s, label in cells
    )
    return f"<h2>Sound: {html.escape(p.name)} ({len(x) / fs:.1f} s)</h2><div class='grid'>{figs}</div>"


def build(graph: Graph, audiogram: str | None = None, audio: str | None = None) -> str:
    """The whole page for a graph prepared for a device."""
    if graph.device is None:
        raise InvalidInput("the report needs a device (--device): the budget is measured against it")
    # test mode, as on a real test box: a noise reducer takes steady tones for noise and would hide the gain
    nr = [n for n, b in graph.blocks.items() if b.type_name in NOISE_REDUCERS]
    box = bypass(graph, nr) if nr else graph
    freqs = band_frequencies(box) or [1000.0]
    curves = [io_curve(box, f) for f in freqs[:5]]
    fr = frequency_response(box, figures.LEVELS_DB_SPL)
    target, target_note = _target(graph, audiogram)
    title = html.escape(graph.spec.name or graph.source)
    desc = html.escape(graph.spec.description or "")
    measured = (
        "<h2>Test box (steady tones, dB SPL through the graph's calibration: a full-scale sine is "
        f"{graph.spec.full_scale_db_spl:g} dB SPL)</h2>"
        + (f"<p>Measured in test mode: noise reduction ({', '.join(nr)}) bypassed.</p>" if nr else "")
        + "<div class='grid'>"
        + _img(figures.io_curves(curves), "Input/output curves at the compressor's band frequencies")
        + _img(figures.gain_frequency(fr, target), "Gain at 50, 65 and 80 dB SPL input" + (f"; {target_note}" if target_note else ""))
        + "</div>"
    )  # fmt: skip
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hearpipe report: {title}</title>"
        f"<style>{STYLE}</style></head><body><h1>{title}</h1><p class='sub'>{desc}<br>{html.escape(graph.source)}, "
        f"{graph.sample_rate_hz:g} Hz, latency {graph.latency_ms:.2f} ms, device {html.escape(graph.device.name)}</p>"
        f"<h2>Graph</h2>{diagram(graph)}{budget_section(graph)}{measured}"
        + (audio_section(graph, audio) if audio else "")
        + "</body></html>"
    )  # fmt: skip
