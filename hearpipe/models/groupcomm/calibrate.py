"""Fixed-point formats of the GroupComm model and their calibration on float activations.

Formats (Qm.n: m integer bits including the sign, n fraction bits): every calibrated int16 tensor group
(features, residual stream, each TAC block) gets F = floor(log2(32767 / (max |v| * headroom))), clipped
to 0..15, from the largest |value| the float reference (`hearpipe.models.groupcomm.reference`) reaches
on calibration power frames; headroom defaults to 2 (6 dB). Formats are powers of two, so residual adds
need no rescaling. Gates, states and masks have fixed formats (`GATE_FRAC`, `H_FRAC`).

Calibration data: `calibration_signals(data_dir)` mixes `train/` speech and noise (never dev/) at
levels -40..-12 dBFS; without data it falls back to synthetic modulated noise, whose maxima are lower
(for the shipped models two TAC formats come out one bit finer). For the same device arithmetic
everywhere, pin the formats in the weight file (`hearpipe.models.groupcomm.fixed_model.pin_formats`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.errors import InvalidInput
from hearpipe.models.groupcomm.frontend import frontend_power
from hearpipe.models.groupcomm.reference import (
    GroupCommState,
    GroupCommWeights,
    group_birnn,
    heads,
    matvec,
    prelu,
)

GATE_FRAC = 12  # RNN gate pre-activations and mask logits: Q4.12 (table input)
H_FRAC = 15  # RNN states, masks: Q1.15
DEFAULT_HEADROOM = 2.0


def frac_for(max_abs: float, headroom: float = DEFAULT_HEADROOM) -> int:
    """Fraction bits of an int16 format holding max_abs * headroom: floor(log2(32767 / v)), 0..15."""
    v = float(max_abs) * float(headroom)
    if not math.isfinite(v):
        raise InvalidInput(f"calibration: activation range ({max_abs}) is not finite")
    if v <= 0:
        return 15
    return int(min(15, max(0, math.floor(math.log2(32767.0 / v)))))


@dataclass(frozen=True)
class Formats:
    """Fraction bits of the calibrated int16 tensors (see the module docstring)."""

    feat: int
    res: int
    tac: tuple[int, ...]
    alpha: int
    max_abs: dict[str, float] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        """The fraction bits as plain data (e.g. to pin them in a weight file's metadata)."""
        return {"feat": self.feat, "res": self.res, "tac": list(self.tac), "alpha": self.alpha}

    @classmethod
    def from_dict(cls, d: dict) -> Formats:
        try:
            f = cls(int(d["feat"]), int(d["res"]), tuple(int(v) for v in d["tac"]), int(d["alpha"]))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput(
                f"fixed-point formats {d!r}: need integer feat, res, tac (list), alpha ({e})"
            ) from None
        if not all(0 <= v <= 15 for v in (f.feat, f.res, f.alpha, *f.tac)):
            raise InvalidInput(f"fixed-point formats {d!r}: fraction bits must lie in 0..15")
        return f

    def describe(self) -> str:
        tac = ", ".join(f"Q{16 - f}.{f}" for f in self.tac) or "-"
        return (
            f"features Q{16 - self.feat}.{self.feat}, residual Q{16 - self.res}.{self.res}, TAC [{tac}], "
            f"PReLU slopes Q{16 - self.alpha}.{self.alpha}, gates Q4.12, states/masks Q1.15"
        )


def calibrate(w: GroupCommWeights, power_frames: list[np.ndarray]) -> dict[str, float]:
    """Largest |value| of every calibrated tensor group ("features", "res", "tac<r>"; also "mask.logits" and
    "df.logits", whose format is fixed) over streams of float power frames (features, J), each from a
    fresh state. Runs the float reference's operations (`hearpipe.models.groupcomm.reference`) and also sees the
    pre-activations the fixed path stores."""
    mx: dict[str, float] = {}

    def rec(name: str, a: np.ndarray) -> np.ndarray:
        mx[name] = max(mx.get(name, 0.0), float(np.max(np.abs(a))) if a.size else 0.0)
        return a

    for power in power_frames:
        st = GroupCommState(w)
        for j in range(power.shape[1]):
            _probe_step(st, power[:, j], rec)
    return mx


def _probe_step(st: GroupCommState, power: np.ndarray, rec) -> np.ndarray:
    """`GroupCommState.step` with every stored tensor recorded (tests check it equals `step`)."""
    hp, w = st.w.hp, st.w
    mv = matvec
    f = st.inputs(rec("features", hp.feat_scale * np.log2(power + hp.log_eps)))
    if hp.feat_ema_shift:
        rec("features", f[hp.features :])  # the deviations share the features' format
    x = rec("res", mv(w["in.weight"], w["in.bias"], f[None, :]).reshape(hp.groups, hp.group_dim))
    for r in range(hp.n_blocks):
        p = f"blocks.{r}."
        t = f"tac{r}"
        if hp.inter == "tac":
            z = prelu(rec(t, mv(w[p + "tac.w1"], w[p + "tac.b1"], x)), w[p + "tac.a1"])
            zbar = rec(t, rec(t, z).mean(axis=0, keepdims=True))
            m = rec(t, prelu(rec(t, mv(w[p + "tac.w2"], w[p + "tac.b2"], zbar)), w[p + "tac.a2"]))
            zm = np.concatenate([z, np.broadcast_to(m, z.shape)], axis=1)
            y = rec("res", prelu(rec("res", mv(w[p + "tac.w3"], w[p + "tac.b3"], zm)), w[p + "tac.a3"]))
            x = rec("res", x + y)
        elif hp.inter == "rnn":
            x = rec("res", x + rec("res", group_birnn(x, w, p, hp.inter_hidden)))
        s = x
        for layer in range(hp.rnn_layers):
            s = st.seq_layer(r, layer, s, rec)  # outputs, LSTM cells, TCN pre-activations: fixed formats
        x = rec("res", x + rec("res", mv(w[p + "out.weight"], w[p + "out.bias"], s)))
    return heads(w, x, rec)  # the heads' logits are Q4.12 (table inputs), recorded for information


def calibration_power(w: GroupCommWeights, signals: list[np.ndarray]) -> list[np.ndarray]:
    return [frontend_power(w, s) for s in signals]


def calibration_signals(
    data_dir=None, n: int = 4, seconds: float = 3.0, seed: int = 7, levels_dbfs=(-40.0, -12.0)
) -> list[np.ndarray]:
    """Mixtures of `train/` speech and noise (never dev/) at -5..10 dB SNR and levels spanning the
    training range: calibration audio for `quantize_model`. Without the data folder, speech-shaped
    modulated noise bursts (deterministic) stand in, so a device can always be built."""
    rng = np.random.default_rng(seed)
    seg = int(seconds * 16000)
    out: list[np.ndarray] = []
    root = None if data_dir is None else Path(data_dir) / "train"
    speech = sorted((root / "speech").glob("*.flac")) if root and (root / "speech").is_dir() else []
    noise = sorted((root / "noise").glob("*.flac")) if root and (root / "noise").is_dir() else []
    levels = np.linspace(levels_dbfs[0], levels_dbfs[1], n)
    for i in range(n):
        if speech and noise:
            s, _ = sf.read(speech[int(rng.integers(len(speech)))], dtype="float64")
            v, _ = sf.read(noise[int(rng.integers(len(noise)))], dtype="float64")
            s = np.resize(s, seg) if len(s) < seg else s[:seg]
            v = np.resize(v, seg) if len(v) < seg else v[:seg]
            snr = rng.uniform(-5, 10)
            mix = s / (np.std(s) + 1e-9) + v / (np.std(v) + 1e-9) * 10 ** (-snr / 20)
        else:  # pink-ish noise with a syllable-rate envelope
            wn = rng.standard_normal(seg)
            mix = np.convolve(wn, 0.9 ** np.arange(24), mode="same")
            mix *= 0.2 + np.abs(np.sin(2 * np.pi * 4 * np.arange(seg) / 16000 + rng.uniform(0, 6)))
        out.append(mix * 10 ** (levels[i] / 20) / (np.sqrt(np.mean(mix**2)) + 1e-12))
    return out
