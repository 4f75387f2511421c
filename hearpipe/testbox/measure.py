"""A virtual hearing-aid test box: ANSI S3.22-style measurements on any prepared graph.

Signals are built and read in dB SPL through the graph's calibration (`full_scale_db_spl` = level of a
full-scale sine). Every measurement runs the graph from a fresh state (`Graph.run`) and compensates its
reported latency, so outputs are compared with the inputs that caused them. Simplifications against the
standard (a digital graph has no volume control and no acoustic coupler): full-on gain is the gain at the
graph's settings for a 50 dB SPL input, reference-test gain the gain for a 60 dB SPL input, both as the
high-frequency average (HFA) of 1000, 1600 and 2500 Hz. One channel is driven and measured, `channel`
(default 0; channels run with their own state and, in a fitted stereo graph, their own ear).

`measure(graph)` returns a JSON-able dict; `plot_measurements(result, out_dir)` (in
`hearpipe.testbox.plots`) draws it. To measure in a hearing aid's test mode, bypass nodes first
(`hearpipe.graph.edit.bypass`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hearpipe.dsp.fitting import SPEECH_LEVEL_DB_SPL, scale_to_level, speech_shaped_noise
from hearpipe.dsp.spectral import interpolate_gain_db
from hearpipe.dsp.wdrc import band_centers_hz, table_lookup
from hearpipe.errors import InvalidInput

HFA_FREQUENCIES_HZ = (1000.0, 1600.0, 2500.0)
ANSI_TONE_HZ = 2000.0  # attack/release test tone (ANSI S3.22)
ANSI_LOW_DB_SPL, ANSI_HIGH_DB_SPL = 55.0, 90.0
SETTLE_DB = 3.0
THD_POINTS = ((500.0, 70.0), (800.0, 70.0), (1600.0, 65.0))  # (frequency, input level) as ANSI S3.22
SILENT_DB_SPL = -150.0
WELCH_SEGMENT = 1024  # samples per segment of the long-term spectra (15.6 Hz bins at 16 kHz)
SPEECH_SETTLE_S = 0.25
GUARD_S = 0.02  # steady tones continue this long past what is measured (look-ahead of the graph)


# -- signals --------------------------------------------------------------------------------------------
def tone_amplitude(level_db_spl: float, full_scale_db_spl: float) -> float:
    """Peak amplitude of a sine at `level_db_spl` (a full-scale sine, amplitude 1, is full_scale_db_spl)."""
    return 10.0 ** ((level_db_spl - full_scale_db_spl) / 20.0)


def level_db_spl(x: np.ndarray, full_scale_db_spl: float) -> float:
    """Level of a signal in dB SPL from its mean square (full-scale sine: mean square 1/2)."""
    ms = float(np.mean(np.square(x)))
    return full_scale_db_spl + 10.0 * math.log10(2.0 * ms) if ms > 0 else SILENT_DB_SPL


def third_octave_frequencies(sample_rate_hz: float, lo: float = 200.0, hi: float = 8000.0) -> list[float]:
    """Preferred 1/3-octave centres from lo to min(hi, 0.45 fs)."""
    nominal = [200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000]
    top = min(hi, 0.45 * sample_rate_hz)
    return [float(f) for f in nominal if lo <= f <= top]


class _Box:
    """Drives one graph: builds calibrated inputs, runs from a fresh state, aligns by the latency."""

    def __init__(self, graph, channel: int = 0):
        if not 0 <= channel < graph.channels:
            raise InvalidInput(f"channel {channel} does not exist: the graph has {graph.channels} channel(s)")
        self.g, self.channel = graph, channel
        self.fs = float(graph.sample_rate_hz)
        self.fs_db = float(graph.spec.full_scale_db_spl)
        self.lat = int(graph.latency_samples)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Mono input (n,) into the measured channel -> its output aligned with the input (n samples)."""
        xin = np.zeros((self.g.channels, x.size + self.lat))
        xin[self.channel, : x.size] = x
        y = self.g.run(xin)[self.channel]
        return y[self.lat : self.lat + x.size]

    def tone(self, freq_hz: float, levels_db_spl, seconds_each: float) -> np.ndarray:
        """A tone whose level steps through `levels_db_spl`, each held `seconds_each` (phase-continuous)."""
        n = round(seconds_each * self.fs)
        amp = np.repeat([tone_amplitude(v, self.fs_db) for v in np.atleast_1d(levels_db_spl)], n)
        return amp * np.sin(2 * np.pi * freq_hz * np.arange(amp.size) / self.fs)

    def steady_levels(self, freq_hz: float, levels_db_spl, settle_s: float, hold_s: float) -> list[float]:
        """Output level for each input level of a rising staircase (only attacks between steps)."""
        order = np.argsort(levels_db_spl)
        lv = np.asarray(levels_db_spl, dtype=float)[order]
        each = settle_s + hold_s + GUARD_S  # the guard keeps the next step out of a look-ahead's reach
        y = self.guarded(self.tone(freq_hz, lv, each), freq_hz)
        n, skip, hold = round(each * self.fs), round(settle_s * self.fs), round(hold_s * self.fs)
        out = np.empty(lv.size)
        for i in range(lv.size):
            out[i] = level_db_spl(y[i * n + skip : i * n + skip + hold], self.fs_db)
        res = np.empty_like(out)
        res[order] = out
        return res.tolist()

    def tone_response(self, freqs, level: float, seconds: float, hold_s: float) -> list[float]:
        """Output level for separate steady tones at one input level (each from a fresh state)."""
        out = []
        for f in freqs:
            y = self.guarded(self.tone(f, [level], seconds), f)
            out.append(level_db_spl(y[-round(hold_s * self.fs) :], self.fs_db))
        return out

    def guarded(self, x: np.ndarray, freq_hz: float) -> np.ndarray:
        """Run a tone continued for GUARD_S beyond its end and return the output for the tone's own span:
        a graph that looks ahead (an STFT) would otherwise see the tone stop while it is still measured."""
        n = x.size
        t = np.arange(n, n + round(GUARD_S * self.fs))
        amp = abs(x[-round(self.fs / freq_hz) * 4 :]).max()  # the last level's peak amplitude
        tail = amp * np.sin(2 * np.pi * freq_hz * t / self.fs)
        return self.run(np.concatenate([x, tail]))[:n]


# -- individual measurements ----------------------------------------------------------------------------
def io_curve(
    graph,
    freq_hz: float = 1000.0,
    levels_db_spl=None,
    settle_s: float = 0.15,
    hold_s: float = 0.05,
    channel: int = 0,
):
    """Static input/output curve for a tone: {'frequency_hz', 'input_db_spl', 'output_db_spl',
    'configured_output_db_spl'} (the last from the blocks' settings, None if unknown)."""
    levels = [float(v) for v in (np.arange(30.0, 111.0, 5.0) if levels_db_spl is None else levels_db_spl)]
    out = _Box(graph, channel).steady_levels(freq_hz, levels, settle_s, hold_s)
    return {
        "frequency_hz": float(freq_hz),
        "input_db_spl": levels,
        "output_db_spl": out,
        "configured_output_db_spl": configured_io(graph, freq_hz, levels, channel),
    }


def frequency_response(
    graph,
    levels_db_spl=(50.0, 65.0, 80.0),
    freqs=None,
    seconds: float = 0.2,
    hold_s: float = 0.05,
    channel: int = 0,
) -> dict[str, Any]:
    """Output level and gain per frequency at several input levels (steady tones)."""
    box = _Box(graph, channel)
    f = third_octave_frequencies(box.fs) if freqs is None else [float(v) for v in freqs]
    res: dict[str, Any] = {
        "frequencies_hz": f,
        "input_db_spl": [float(v) for v in levels_db_spl],
        "output_db_spl": {},
        "gain_db": {},
    }
    for lv in levels_db_spl:
        o = box.tone_response(f, lv, seconds, hold_s)
        res["output_db_spl"][f"{lv:g}"] = o
        res["gain_db"][f"{lv:g}"] = [v - lv for v in o]
    return res


def _hfa(freqs, values) -> float:
    return float(np.mean(np.interp(np.log(HFA_FREQUENCIES_HZ), np.log(freqs), values)))


def tone_envelope(y: np.ndarray, freq_hz: float, fs: float) -> np.ndarray:
    """Amplitude envelope of a tone: demodulate at `freq_hz`, average over one period (centred).

    Unlike the analytic signal (whose 1/t kernel lets a loud segment leak tens of dB into a quiet
    neighbour), this is local: each value depends only on the surrounding period.
    """
    n = np.arange(y.size)
    z = y * np.exp(-2j * np.pi * freq_hz * n / fs)
    p = max(1, round(fs / freq_hz))
    c = np.concatenate([[0.0], np.cumsum(z)])
    lo = np.clip(n - p // 2, 0, y.size - p)
    return 2.0 * np.abs((c[lo + p] - c[lo]) / p)


def _settling_ms(env_db: np.ndarray, steady_db: float, fs: float) -> float:
    """Time from the start of `env_db` until it stays within SETTLE_DB of `steady_db`, in ms."""
    bad = np.nonzero(np.abs(env_db - steady_db) > SETTLE_DB)[0]
    return 0.0 if bad.size == 0 else 1000.0 * (bad[-1] + 1) / fs


def attack_release(
    graph,
    freq_hz: float = ANSI_TONE_HZ,
    segment_s: float = 0.5,
    max_segment_s: float = 8.0,
    trace_step_ms: float = 0.5,
    channel: int = 0,
) -> dict[str, Any]:
    """ANSI S3.22 attack and release: 55 -> 90 -> 55 dB SPL tone steps, output within 3 dB of steady state.

    The output envelope comes from `tone_envelope` (one-period demodulation). Each segment is lengthened (doubling,
    up to `max_segment_s`) until the settling time is under a quarter of it, so the steady state is real.
    """
    box = _Box(graph, channel)
    seg = segment_s
    while True:
        n = round(seg * box.fs)
        x = box.tone(freq_hz, [ANSI_LOW_DB_SPL, ANSI_HIGH_DB_SPL, ANSI_LOW_DB_SPL], seg)
        y = box.run(x)
        env = box.fs_db + 20.0 * np.log10(np.maximum(tone_envelope(y, freq_hz, box.fs), 1e-12))
        edge = max(1, n // 20)
        tail = slice(-n // 4 - edge, -edge)
        ss_high = float(np.median(env[n : 2 * n][tail]))
        ss_low = float(np.median(env[2 * n : 3 * n - edge][-n // 4 :]))
        att = _settling_ms(env[n : 2 * n - edge], ss_high, box.fs)
        rel = _settling_ms(env[2 * n : 3 * n - edge], ss_low, box.fs)
        if max(att, rel) < 250.0 * seg or seg * 2 > max_segment_s:
            break
        seg *= 2
    step = max(1, round(trace_step_ms * 1e-3 * box.fs))
    t0 = n - int(0.1 * n)
    idx = np.arange(t0, 3 * n - edge, step)
    return {
        "attack_ms": att,
        "release_ms": rel,
        "frequency_hz": float(freq_hz),
        "steady_high_db_spl": ss_high,
        "steady_low_db_spl": ss_low,
        "segment_s": seg,
        "settled": bool(max(att, rel) < 250.0 * seg),  # False: the output never became steady
        "trace": {"time_ms": (1000.0 * (idx - n) / box.fs).tolist(), "output_db_spl": env[idx].tolist()},
    }


def equivalent_input_noise(graph, gain_db: float, seconds: float = 0.5, channel: int = 0) -> float | None:
    """Output level with no input minus the gain (ANSI EIN); None when the output is exactly silent."""
    box = _Box(graph, channel)
    y = box.run(np.zeros(int(seconds * box.fs)))
    lv = level_db_spl(y[y.size // 2 :], box.fs_db)
    return None if lv <= SILENT_DB_SPL else lv - gain_db


def harmonic_distortion(
    graph, points=THD_POINTS, seconds: float = 0.3, channel: int = 0
) -> list[dict[str, float]]:
    """Total harmonic distortion in percent for steady tones (harmonics up to Nyquist)."""
    box = _Box(graph, channel)
    res = []
    for f, lv in points:
        y = box.guarded(box.tone(f, [lv], seconds), f)
        # an integer number of periods (approximately) with a Hann window; read each harmonic's peak bin
        seg = y[y.size // 3 :]
        w = np.hanning(seg.size)
        spec = np.abs(np.fft.rfft(seg * w))
        df = box.fs / seg.size

        def peak(fh, spec=spec, df=df):
            k = round(fh / df)
            lo, hi = max(0, k - 3), min(spec.size, k + 4)
            return float(np.sum(spec[lo:hi] ** 2))

        p1 = peak(f)
        ph = sum(peak(h * f) for h in range(2, int(box.fs / 2 // f) + 1) if h * f < box.fs / 2 - 3 * df)
        res.append(
            {
                "frequency_hz": f,
                "input_db_spl": lv,
                "thd_percent": 100.0 * math.sqrt(ph / p1)
                if p1 > 0
                else None,  # silent output: undefined (JSON null)
            }
        )
    return res


def measured_latency(
    graph, seconds: float = 0.5, level: float = 65.0, seed: int = 0, channel: int = 0
) -> int:
    """Delay in samples that maximises the cross-correlation of white noise in and out."""
    fs = float(graph.sample_rate_hz)
    rng = np.random.default_rng(seed)
    x = (
        rng.standard_normal(int(seconds * fs))
        * tone_amplitude(level, graph.spec.full_scale_db_spl)
        / math.sqrt(2)
    )
    xin = np.tile(x, (graph.channels, 1))
    y = graph.run(xin)[channel]
    n = 2 * x.size
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)[: x.size]
    return int(np.argmax(np.abs(c)))


def band_frequencies(graph) -> list[float]:
    """Centre frequencies of the first multiband block's bands (wdrc, gain_table), else octave centres."""
    for name in graph.order:
        b = graph.blocks[name]
        if hasattr(b, "crossovers_hz") and len(getattr(b, "crossovers_hz", [])):
            return [float(v) for v in band_centers_hz(b.crossovers_hz, graph.sample_rate_hz)]
    return [f for f in (250.0, 500.0, 1000.0, 2000.0, 4000.0) if f < 0.45 * graph.sample_rate_hz]


def configured_io(graph, freq_hz: float, levels_db_spl, channel: int = 0) -> list[float] | None:
    """Static output levels the graph's settings promise for a steady tone (no measurement).

    Composes, along the graph, the static curves of the blocks it knows (stft/istft pass, gain,
    band_gain, prescription, wdrc, gain_table, limiter) for the band that holds `freq_hz`; None when the
    graph holds any other block (its static behaviour is unknown here). For one channel (default 0).
    """
    lv = np.asarray(levels_db_spl, dtype=np.float64)
    for name in graph.order:
        b = graph.blocks[name]
        t = b.type_name
        if t in ("stft", "istft", "delay"):
            continue
        if t == "gain":
            lv = lv + b.params.gain_db
        elif t == "band_gain":
            lv = lv + float(interpolate_gain_db(b.params.frequencies_hz, b.params.gains_db, freq_hz))
        elif t in ("prescription", "prescription_fir"):
            f, g = b.points[channel]
            lv = lv + float(interpolate_gain_db(f, g, freq_hz))
        elif t in ("wdrc", "gain_table", "limiter"):
            band = int(np.searchsorted(b.crossovers_hz, freq_hz, side="right"))
            table = b.table[channel, band : band + 1]
            lv = lv + table_lookup(table, lv[:, None], b.table_min, b.table_step)[:, 0]
        else:
            return None
    return lv.tolist()


def long_term_spectrum(x: np.ndarray, n: int = WELCH_SEGMENT) -> np.ndarray:
    """Welch power spectrum (rfft bins of n samples): the mean of Hann-windowed, half-overlapping segments."""
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[:: n // 2]
    return np.mean(np.abs(np.fft.rfft(frames * np.hanning(n), axis=1)) ** 2, axis=0)


def speech_insertion_gain(
    graph,
    frequencies_hz,
    level_db_spl: float = SPEECH_LEVEL_DB_SPL,
    speech: np.ndarray | None = None,
    seconds: float = 4.0,
    channel: int = 0,
    seed: int = 0,
) -> list[float]:
    """Insertion gain (dB) for speech as a clinician verifies a fitting: the long-term output spectrum
    minus the input spectrum (Welch), at `frequencies_hz`. The input is `speech` (a recording, mono,
    scaled to `level_db_spl` overall) or, by default, `seconds` of noise with the ANSI S3.5 speech
    spectrum at that level. The first SPEECH_SETTLE_S are left out (the level detectors start at silence)."""
    box = _Box(graph, channel)
    if speech is None:
        x = speech_shaped_noise(round(seconds * box.fs), box.fs, box.fs_db, level_db_spl, seed)
    else:
        x = scale_to_level(np.asarray(speech, dtype=np.float64), box.fs_db, level_db_spl)
    skip = round(SPEECH_SETTLE_S * box.fs)
    y = box.run(x)[skip:]
    ratio = long_term_spectrum(y) / np.maximum(long_term_spectrum(x[skip:]), 1e-30)
    f = np.fft.rfftfreq(WELCH_SEGMENT, 1 / box.fs)
    return (10 * np.log10(np.interp(np.asarray(frequencies_hz, dtype=np.float64), f, ratio))).tolist()


# -- the whole test box -----------------------------------------------------------------------------------
def measure(graph, *, quick: bool = False, per_band: bool = True, channel: int = 0) -> dict[str, Any]:
    """Run all measurements on one channel (default 0) of a prepared Graph; returns a JSON-able dict.

    Keys: graph, sample_rate_hz, full_scale_db_spl, latency_samples (reported and measured), ospl90,
    frequency_response, full_on_gain_db (HFA, 50 dB SPL), reference_test_gain_db (HFA, 60 dB SPL),
    io_curve (1 kHz), io_curves_per_band, attack_ms, release_ms, attack_release (with trace),
    equivalent_input_noise_db_spl, harmonic_distortion, channel. `quick` uses fewer frequencies.
    """
    box = _Box(graph, channel)
    on = {"channel": channel}
    freqs = third_octave_frequencies(box.fs)
    if quick:
        freqs = freqs[::2]
    ospl = frequency_response(graph, (90.0,), freqs, **on)
    fr = frequency_response(graph, (50.0, 60.0, 65.0, 80.0), freqs, **on)
    full_on = _hfa(freqs, fr["gain_db"]["50"])
    rtg = _hfa(freqs, fr["gain_db"]["60"])
    ar = attack_release(graph, **on)
    result: dict[str, Any] = {
        "graph": graph.spec.name or graph.source,
        "sample_rate_hz": box.fs,
        "full_scale_db_spl": box.fs_db,
        "channel": channel,
        "latency_samples": {"reported": box.lat, "measured": measured_latency(graph, **on)},
        "ospl90": {
            "frequencies_hz": freqs,
            "output_db_spl": ospl["output_db_spl"]["90"],
            "max_db_spl": max(ospl["output_db_spl"]["90"]),
            "hfa_db_spl": _hfa(freqs, ospl["output_db_spl"]["90"]),
        },
        "frequency_response": fr,
        "full_on_gain_db": full_on,
        "reference_test_gain_db": rtg,
        "io_curve": io_curve(graph, 1000.0, **on),
        "attack_ms": ar["attack_ms"],
        "release_ms": ar["release_ms"],
        "attack_release": ar,
        "equivalent_input_noise_db_spl": equivalent_input_noise(graph, full_on, **on),
        "harmonic_distortion": harmonic_distortion(graph, **on),
    }
    if per_band:
        result["io_curves_per_band"] = [io_curve(graph, f, **on) for f in band_frequencies(graph)]
    return result
