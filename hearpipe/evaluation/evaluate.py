"""Scoring enhancers on dev mixtures (`hearpipe evaluate`): SI-SNR improvement (and STOI) overall, per
SNR, per noise, each mixture scored by `scoring.scores` (the one scoring path, shared with `hearpipe eval`).

An enhancer is a function from a mono float array to an array of the same length, aligned with the
input: the float reference (`float_enhancer`, the models' own numpy network), the bit-true fixed point
(`fixed_enhancer`: the graph the weight file's front end implies, rendered by the graph engine on a
fixed-point device, as a device computes it), or the ideal ratio mask of an STFT (`oracle_irm`, the
ceiling of a real mask at that frequency resolution).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hearpipe.dsp import wola
from hearpipe.dsp.windows import analysis_window, dual_window
from hearpipe.evaluation.mixtures import SAMPLE_RATE, Mixture
from hearpipe.evaluation.scoring import scores
from hearpipe.graph.engine import load_graph
from hearpipe.models.groupcomm.frontend import enhance
from hearpipe.models.groupcomm.reference import read_weights
from hearpipe.models.weights import resolve_weights

Enhancer = Callable[[np.ndarray], np.ndarray]
FIXED_DEVICE = "hearing-aid-dsp"  # the fixed-point device profile the evaluation renders on


def evaluate(
    enhance: Enhancer | None,
    mixtures: Sequence[Mixture],
    with_stoi: bool = False,
    by_noise: bool = False,
    rows: list[dict] | None = None,
    oracle: int = 0,
) -> dict[str, float]:
    """Mean SI-SNR in/out/improvement (dB) and optionally STOI in/out, overall, per SNR and (by_noise)
    per dev noise recording and speech corpus (the speech file name's prefix). Per-mixture scores are
    appended to `rows` when given. `oracle` > 0 scores `oracle_irm` with that window instead of `enhance`."""
    rows = [] if rows is None else rows
    metrics = ("si_snr", "stoi") if with_stoi else ("si_snr",)
    for m in mixtures:
        y = oracle_irm(m, oracle) if oracle else enhance(m.noisy)
        y = np.asarray(y, dtype=np.float64).ravel()[: len(m.clean)]
        r = {
            "snr": m.snr_db,
            "noise": m.name.split("+")[1].rsplit("@", 1)[0],
            "corpus": m.name.split("+")[0].split("_")[0],  # speech file-name prefix: libri, vctk, ...
        }
        s_in = scores(m.noisy, m.clean, SAMPLE_RATE, metrics=metrics)
        s_out = scores(y, m.clean, SAMPLE_RATE, metrics=metrics)
        for k in metrics:
            r[f"{k}_in"], r[f"{k}_out"] = s_in[k], s_out[k]
        r["name"] = m.name
        rows.append(r)
    res: dict[str, float] = {}
    keys = [k for k in rows[0] if k not in ("snr", "noise", "corpus", "name")]
    for k in keys:
        res[k] = float(np.mean([r[k] for r in rows]))
    res["si_snri"] = res["si_snr_out"] - res["si_snr_in"]
    for snr in sorted({r["snr"] for r in rows}):
        sub = [r for r in rows if r["snr"] == snr]
        res[f"si_snri@{snr:g}dB"] = float(np.mean([r["si_snr_out"] - r["si_snr_in"] for r in sub]))
        if with_stoi:
            res[f"stoi_in@{snr:g}dB"] = float(np.mean([r["stoi_in"] for r in sub]))
            res[f"stoi_out@{snr:g}dB"] = float(np.mean([r["stoi_out"] for r in sub]))
    if by_noise:
        for field, label in (("noise", "[{}]"), ("corpus", "<speech {}>")):
            for value in sorted({r[field] for r in rows}):
                sub = [r["si_snr_out"] - r["si_snr_in"] for r in rows if r[field] == value]
                res[f"si_snri{label.format(value)} (n={len(sub)})"] = float(np.mean(sub))
    res["n"] = len(rows)
    return res


def oracle_irm(m: Mixture, window: int, hop: int = 64) -> np.ndarray:
    """The ideal ratio mask |S| / (|S| + |N|) of a Hann STFT (window, hop) applied to the mixture: the
    ceiling of a real mask on a front end of that frequency resolution (it knows the clean speech)."""
    w = analysis_window("hann", window)
    pad = np.zeros(window)  # frames past the end, so every sample of the mixture is complete

    def spec(x: np.ndarray) -> np.ndarray:
        return wola.stft(np.concatenate([x, pad]), w, hop)

    S, N, X = spec(m.clean), spec(m.noisy - m.clean), spec(m.noisy)
    mask = np.abs(S) / (np.abs(S) + np.abs(N) + 1e-12)
    return wola.istft(X * mask, dual_window(w, hop)[0], hop, len(m.clean))


def float_enhancer(ref: str) -> Enhancer:
    """The numpy float reference of a weight file (output 0)."""
    w = read_weights(ref)[1]
    return lambda x: enhance(x, w)[0]


def enhancement_graph(ref: str, weight_bits: int = 8) -> dict:
    """The graph (a mapping for `hearpipe.load_graph`) that a weight file's front end implies: stft ->
    groupcomm -> istft, or conv_encoder -> groupcomm -> conv_decoder, all reading that file."""
    path = str(Path(resolve_weights(ref)).resolve())
    hp = read_weights(path)[1].hp
    model = {
        "name": "groupcomm",
        "type": "groupcomm",
        "params": {"weights": path, "weight_bits": weight_bits},
    }
    if hp.frontend == "stft":
        ana = {"window": "sqrt_hann", "window_length": hp.window, "hop": hp.hop}
        nodes = [
            {"name": "analysis", "type": "stft", "params": ana},
            model,
            {"name": "synthesis", "type": "istft"},
        ]
    else:
        nodes = [
            {"name": "encoder", "type": "conv_encoder", "params": {"weights": path}},
            model,
            {"name": "decoder", "type": "conv_decoder", "params": {"weights": path}},
        ]
    return {"name": Path(path).stem, "sample_rate_hz": hp.sample_rate_hz, "nodes": nodes}


def fixed_enhancer(ref: str, weight_bits: int = 8, device: str = FIXED_DEVICE) -> Enhancer:
    """The bit-true fixed-point chain of a weight file (q15 audio, fixed front end, quantised model with
    its pinned or calibrated formats), rendered by the graph engine on `device`; the output is moved
    back by the graph's latency, so it is aligned with the input (the last samples are zeros)."""
    graph = load_graph(enhancement_graph(ref, weight_bits), device=device)
    d = graph.latency_samples

    def run(x: np.ndarray) -> np.ndarray:
        y = np.zeros(len(x))
        y[: len(x) - d] = graph.run(x)[0, d:]
        return y

    return run


def gap(float_rows: list[dict], fixed_rows: list[dict]) -> dict[str, float]:
    """SI-SNR of float and fixed point on the same mixtures (`evaluate`'s rows): means, improvements
    and the gap float - fixed (mean and largest magnitude), in dB."""
    s_in = np.array([r["si_snr_in"] for r in float_rows])
    s_fl = np.array([r["si_snr_out"] for r in float_rows])
    s_fx = np.array([r["si_snr_out"] for r in fixed_rows])
    return {
        "si_snr_in": float(s_in.mean()),
        "si_snr_float": float(s_fl.mean()),
        "si_snr_fixed": float(s_fx.mean()),
        "si_snri_float": float(np.mean(s_fl - s_in)),
        "si_snri_fixed": float(np.mean(s_fx - s_in)),
        "gap_mean": float(np.mean(s_fl - s_fx)),
        "gap_max_abs": float(np.max(np.abs(s_fl - s_fx))),
        "n": len(s_in),
    }
