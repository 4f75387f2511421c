"""GroupComm mask estimator in bit-true fixed point: quantisation by calibration, streaming inference.

The third implementation of `hearpipe.models.groupcomm` (numpy float reference) and
`hearpipe.train.model` (PyTorch): the same function in the integer arithmetic of the
`hearpipe.fixed` kernels (CMSIS-NN s16 conventions: int8 or int16 weights with one scale per output
row, int16 activations, int64/exact accumulators, `arm_nn_requantize_s64`, table sigmoid/tanh).

Formats, frame by frame (Qm.n: m integer bits including the sign, n fraction bits; "F_x" = n):

| stage | tensor | format |
| --- | --- | --- |
| input, STFT front end | spectrum X (bins, frames, 2) [re, im] | int32, `frac_bits` given by the caller |
| input, conv front end | encoder output e (N, frames) | int16, `frac_bits` given by the caller |
| power | re^2 + im^2 or e^2, shifted to p_frac = max(2 frac_bits, e_eps + 8), + eps | int64, p_frac |
| log | log2(p) by table (`log2_q16`), times feat_scale (Q24 constant) | int32 Q16.16 |
| features f | rounded from Q16 | int16, F_feat (calibrated) |
| input projection, residual stream x | every x_g of every block, TAC/GRNN/out branch outputs before the add | int16, F_res (calibrated), adds saturate |
| TAC z = PReLU(W1 x_g + b1), mean, m | pre- and post-PReLU | int16, F_tac[block] (calibrated) |
| PReLU slopes | per channel | int16, F_alpha = largest n with max|a| 2**n < 2**15 |
| RNN gate pre-activations | W x + b, W h + b, each requantised then added | int16 Q4.12 (saturating, +-8) |
| RNN hidden state h, GRNN states, TCN outputs | sigmoid/tanh outputs | int16 Q1.15 |
| TCN pre-activations (`rnn: tcn`) | W [x_t; x_{t-d}; ...] + b, tanh table input | int16 Q4.12 (saturating) |
| LSTM cell state c | | int16 Q4.12 (saturating) |
| mask logits | W_m x_g + b_m | int16 Q4.12 (sigmoid input; saturate at +-8) |
| masks | sigmoid table | int16 Q1.15 in [0, 32767] |
| deep-filter logits, terms (`df_taps`) | W_df x_g + b_df, tanh table | int16 Q4.12, Q1.15 |
| output | X * mask (STFT, int32) or e * mask (conv, int16), rounded | the input's format |
| deep-filter output | sum over taps of complex products in int64, rounded (`deep_filter_q15`) | the input's format |

Weights: per output row w[m] = w_int[m] * s[m], s[m] = max|w[m]| / 127 (int8) or / 32767 (int16),
rounded to nearest; biases int64 in the accumulator's scale s[m] 2**-F_in; one Q31 multiplier and
shift per row for s[m] 2**(F_out - F_in) (`quantize_multiplier`; CMSIS reduces it to Q15 for s16).

Calibration (`quantize_model`): the float reference runs on calibration power frames (a few seconds
of mixtures); for each tensor group above the largest |value| times `headroom` (default 2, 6 dB)
gives the format: F = floor(log2(32767 / (max |v| * headroom))), clipped to 0..15. Formats are powers
of two, so residual adds need no rescaling; only the dense layers' multipliers carry scales.

Calibration data: `calibration_signals(data_dir)` mixes `train/` speech and noise (never dev/) at
levels -40..-12 dBFS; without data it falls back to synthetic modulated noise, whose maxima are lower
(for the shipped models two TAC formats come out one bit finer). For the same device arithmetic
everywhere, pin the formats: `quantize_model(..., formats=Formats.to_dict())`.

Streaming: `FixedGroupCommState` keeps the recurrent state of every audio channel between calls
(int16 h, c) and runs its frames one at a time inside one numba call (`groupcomm_fixed_kernels`:
power, log2 features, network, mask), so any split of a stream into calls gives bit-identical output.
`engine="kernels"` runs the same function as a sequence of `hearpipe.fixed` library kernels
(dense_s16, prelu_s16, mean_groups_s16, add_q15, RnnQ, sigmoid_array, log2_db_array, mask_mul_s16) -
slow; the oracle the tests compare the fused kernel with bit for bit, and the instrumented run the
operation counts (`ops_per_frame`, exact per frame) are checked against.

Memory (`FixedGroupComm.weight_bytes`, `state_bytes`, `scratch_bytes`, `cost_summary`): weights at
their stored width, int64 bias + int32 multiplier + int32 shift per output row, int16 PReLU slopes,
int32 tables; int16 recurrent state per channel; the live buffers of one frame.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from hearpipe.errors import InvalidInput
from hearpipe.fixed import count
from hearpipe.fixed.conv import conv1d_s16
from hearpipe.fixed.elementwise import deep_filter_q15, mask_mul_s16, mean_groups_s16, prelu_s16
from hearpipe.fixed.linalg import acc32_is_safe, dense_s16
from hearpipe.fixed.ops import add_q15, new_ops, quantize_multiplier
from hearpipe.fixed.rnn import RnnQ
from hearpipe.fixed.tables import (
    LOG2_TABLE,
    SIGMOID_TABLE,
    TANH_TABLE,
    log2_db_array,
    sigmoid_array,
    tanh_array,
)
from hearpipe.models import groupcomm as gc
from hearpipe.models import groupcomm_fixed_kernels as kr

GATE_FRAC = 12  # RNN gate pre-activations and mask logits: Q4.12 (table input)
H_FRAC = 15  # RNN states, masks: Q1.15
DEFAULT_HEADROOM = 2.0


# -- formats ----------------------------------------------------------------------------------------
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


def calibrate(w: gc.GroupCommWeights, power_frames: list[np.ndarray]) -> dict[str, float]:
    """Largest |value| of every calibrated tensor group ("features", "res", "tac<r>"; also "mask.logits" and
    "df.logits", whose format is fixed) over streams of float power frames (features, J), each from a
    fresh state. Runs the float reference's operations (`hearpipe.models.groupcomm`) and also sees the
    pre-activations the fixed path stores."""
    mx: dict[str, float] = {}

    def rec(name: str, a: np.ndarray) -> np.ndarray:
        mx[name] = max(mx.get(name, 0.0), float(np.max(np.abs(a))) if a.size else 0.0)
        return a

    for power in power_frames:
        st = gc.GroupCommState(w)
        for j in range(power.shape[1]):
            _probe_step(st, power[:, j], rec)
    return mx


def _probe_step(st: gc.GroupCommState, power: np.ndarray, rec) -> np.ndarray:
    """`GroupCommState.step` with every stored tensor recorded (tests check it equals `step`)."""
    hp, w = st.w.hp, st.w
    mv, prelu = gc.matvec, gc.prelu
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
            x = rec("res", x + rec("res", gc._group_birnn(x, w, p, hp.inter_hidden)))
        s = x
        for layer in range(hp.rnn_layers):
            s = st.seq_layer(r, layer, s, rec)  # outputs, LSTM cells, TCN pre-activations: fixed formats
        x = rec("res", x + rec("res", mv(w[p + "out.weight"], w[p + "out.bias"], s)))
    return gc.heads(w, x, rec)  # the heads' logits are Q4.12 (table inputs), recorded for information


# -- quantised layers -------------------------------------------------------------------------------
@dataclass
class QDense:
    """One quantised matrix: y = requantize(w_int x + bias) from F_in to F_out (dense_s16 arguments)."""

    name: str
    w: np.ndarray  # (M, K) int8/int16
    scale: np.ndarray  # (M,) float: w ~= w_int * scale
    bias: np.ndarray  # (M,) int64, accumulator scale
    mult: np.ndarray  # (M,) int32 Q31
    shift: np.ndarray  # (M,) int32
    in_frac: int
    out_frac: int

    @property
    def rows(self) -> int:
        return self.w.shape[0]

    @property
    def cols(self) -> int:
        return self.w.shape[1]


def quantize_dense(
    name: str, w: np.ndarray, b: np.ndarray | None, in_frac: int, out_frac: int, bits: int
) -> QDense:
    """Per-row symmetric quantisation of w (M, K) and its bias for inputs in F_in and outputs in F_out."""
    w = np.asarray(w, dtype=np.float64)
    qmax = 127 if bits == 8 else 32767
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / qmax, 1.0)
    wq = np.clip(np.floor(w / scale[:, None] + 0.5), -qmax, qmax).astype(np.int8 if bits == 8 else np.int16)
    acc_scale = scale * 2.0**-in_frac
    bq = (
        np.zeros(w.shape[0], np.int64)
        if b is None
        else np.floor(np.asarray(b) / acc_scale + 0.5).astype(np.int64)
    )
    mult = np.empty(w.shape[0], np.int32)
    shift = np.empty(w.shape[0], np.int32)
    for m in range(w.shape[0]):
        mm, ss = quantize_multiplier(float(scale[m] * 2.0 ** (out_frac - in_frac)))
        if ss > 7:
            raise InvalidInput(
                f"{name}: row {m} needs a requantisation scale beyond 2**7 (weights too large)"
            )
        if ss < -31:
            mm, ss = 0, 0
        mult[m], shift[m] = mm, ss
    worst = np.abs(wq.astype(np.int64)).sum(axis=1) * 32768 + np.abs(bq)
    if worst.max(initial=0) >= 2**47:
        raise InvalidInput(f"{name}: accumulator could exceed 2**47 (arm_nn_requantize_s64 limit)")
    return QDense(name, wq, scale, bq, mult, shift, in_frac, out_frac)


def _reduce(m: np.ndarray) -> np.ndarray:
    """CMSIS-NN REDUCE_MULTIPLIER, applied once at load time (the kernels apply it per call)."""
    m = m.astype(np.int64)
    return np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)


@dataclass
class FixedGroupComm:
    """A quantised GroupComm model: layers in execution order, formats and the packed kernel arrays."""

    hp: gc.GroupCommHParams
    weight_bits: int
    formats: Formats
    layers: list[QDense]
    alpha: np.ndarray  # int16 PReLU slopes, per block [a1 (HI), a2 (HI), a3 (D)]

    def __post_init__(self):
        hp = self.hp
        self.by_name = {q.name: q for q in self.layers}
        self.acc32 = all(acc32_is_safe(q.w) for q in self.layers)
        # kernel layout: per layer the transposed weights and, for the dot-product loop order (K >= 32,
        # acc32-safe), a row-major copy; held as int16 (int8 values widened, identical results)
        offs, wt, rows, woff = [], [], 0, 0
        for q in self.layers:
            safe = acc32_is_safe(q.w)
            mode = (1 if q.cols >= 32 else 2) if safe else 0  # see groupcomm_fixed_kernels._dense
            t = np.ascontiguousarray(q.w.T).ravel().astype(np.int16)
            r = np.ascontiguousarray(q.w).ravel().astype(np.int16) if mode == 1 else np.zeros(0, np.int16)
            offs.append((woff, q.rows, q.cols, rows, woff + t.size, mode))
            wt += [t, r]
            woff += t.size + r.size
            rows += q.rows
        self.lay = np.array(offs, dtype=np.int64)
        self.wt = np.concatenate(wt)
        self.bias = np.concatenate([q.bias for q in self.layers])
        self.mq = _reduce(np.concatenate([q.mult for q in self.layers]))
        self.sh = np.concatenate([q.shift for q in self.layers]).astype(np.int64)
        g = 4 if hp.rnn == "lstm" else 3
        self.dims = np.array(
            [hp.groups, hp.group_dim, hp.hidden, hp.inter_hidden, hp.n_outputs, hp.mask_per_group, hp.features,
             hp.n_blocks, hp.rnn_layers, {"none": 0, "tac": 1, "rnn": 2}[hp.inter],
             {"gru": kr.RNN_GRU, "lstm": kr.RNN_LSTM, "tcn": kr.RNN_TCN}[hp.rnn],
             int(self.acc32), hp.feat_ema_shift, hp.df_taps, hp.tcn_kernel],
            dtype=np.int64,
        )  # fmt: skip
        f = self.formats
        self.fmts = np.array([f.feat, f.res, f.alpha, *f.tac], dtype=np.int64)
        self.width = max(q.rows for q in self.layers)
        self.width = max(self.width, 2 * hp.inter_hidden, hp.group_dim, hp.hidden, g * hp.hidden)
        if hp.rnn == "tcn":  # the taps a TCN layer reads
            self.width = max(self.width, hp.tcn_kernel * max(hp.seq_inputs(i) for i in range(hp.rnn_layers)))
        self.ops_network = ops_per_frame(self, parts=("network",))
        self.ops_network_arr = _as_array(self.ops_network)
        self.ops_features_arr = _as_array(features_ops(hp))
        self.ops_mask_arr = _as_array(ops_per_frame(self, parts=("mask",)))
        self.ops_frame_arr = self.ops_features_arr + self.ops_network_arr + self.ops_mask_arr
        self.c24 = round(hp.feat_scale * 2**24)  # feat_scale as a Q24 constant

    # -- memory, bytes ------------------------------------------------------------------------------
    def weight_bytes(self) -> dict[str, int]:
        """Stored sizes: weights at their width, int64 biases + int32 multipliers and shifts per row,
        PReLU slopes, and the sigmoid/tanh/log2 tables (int32)."""
        rows = sum(q.rows for q in self.layers)
        return {
            "weights": sum(q.w.size for q in self.layers) * (self.weight_bits // 8),
            "requant": rows * (8 + 4 + 4),
            "prelu": self.alpha.size * 2,
            "tables": (SIGMOID_TABLE.size + TANH_TABLE.size + LOG2_TABLE.size) * 4,
        }

    def state_bytes(self, channels: int = 1) -> int:
        """State kept between frames: int16 h (and c for LSTM) or the TCN's earlier inputs; with
        feat_ema_shift, int32 running means and a started flag (one word); with df_taps L, the L-1 previous
        input frames (conv: int16, STFT: int32 values)."""
        hp = self.hp
        means = hp.features if hp.feat_ema_shift else 0
        past = gc.past_values(hp) * (4 if hp.frontend == "stft" else 2)
        rnn = (gc.state_values(hp) - means - gc.past_values(hp)) * 2
        return (rnn + (means * 4 + 4 if means else 0) + past) * channels

    def scratch_bytes(self) -> int:
        """Live buffers while one frame runs (per channel, reusable between channels): power (int64) and
        features of one frame, residual stream, branch buffers, gate pre-activations, accumulators, masks."""
        hp = self.hp
        k, d, hi = hp.groups, hp.group_dim, hp.inter_hidden
        g = 4 if hp.rnn == "lstm" else 3
        inter = {"tac": k * hi + hi + 2 * hi + d, "rnn": 2 * k * hi + 2 * hi + d, "none": 0}[hp.inter]
        seq = 2 * g * hp.hidden + hp.hidden  # one group: gate pre-activations and the new state
        if hp.rnn == "tcn":  # one group: the taps read, pre-activations, outputs
            seq = hp.tcn_kernel * max(d, hp.hidden) + 2 * hp.hidden
        int16 = (
            hp.n_in + hp.n_model + max(inter, seq, d) + hp.n_outputs * hp.features
            + hp.n_outputs * 2 * hp.df_taps * hp.features  # deep-filter terms
        )  # fmt: skip
        return 8 * hp.features + 2 * int16 + 4 * self.width


def _op_kinds():
    from hearpipe.budget.cost import OP_KINDS

    return OP_KINDS


def quantize_model(
    weights: gc.GroupCommWeights | dict[str, np.ndarray],
    hparams: gc.GroupCommHParams | None = None,
    calibration_frames: list[np.ndarray] | None = None,
    weight_bits: int = 8,
    headroom: float = DEFAULT_HEADROOM,
    formats: Formats | dict | None = None,
) -> FixedGroupComm:
    """Quantise a float GroupComm model.

    weights: checked float weights (or a dict of arrays with `hparams`); calibration_frames: list of
    float power arrays (features, J) - per-bin |X|^2 (STFT), e^2 (conv encoder) or band powers
    (enc_complex) of calibration audio, e.g. from `calibration_power`; weight_bits 8 or 16; headroom:
    factor over the calibrated maxima;
    formats: fixed formats (`Formats` or its `to_dict()`) instead of calibrating - the same device
    arithmetic whatever calibration data is at hand (calibration_frames may then be None).
    """
    if weight_bits not in (8, 16):
        raise InvalidInput(f"weight_bits ({weight_bits}) must be 8 or 16")
    if not isinstance(weights, gc.GroupCommWeights):
        if hparams is None:
            raise InvalidInput("quantize_model: hparams are needed with a plain dict of arrays")
        weights = gc.GroupCommWeights.from_arrays(hparams, weights)
    hp = weights.hp
    if hparams is not None and hparams != hp:
        raise InvalidInput("quantize_model: hparams differ from the weights' hyper-parameters")
    if formats is None:
        if not calibration_frames:
            raise InvalidInput(
                "quantize_model: calibration_frames must hold at least one (features, J) array"
            )
        for i, p in enumerate(calibration_frames):
            if np.ndim(p) != 2 or np.shape(p)[0] != hp.features:
                raise InvalidInput(f"calibration_frames[{i}] must be ({hp.features}, J), got {np.shape(p)}")
    mx = calibrate(weights, calibration_frames) if formats is None else {}
    w = weights
    alphas = (
        [w[f"blocks.{r}.tac.a{i}"] for r in range(hp.n_blocks) for i in (1, 2, 3)]
        if hp.inter == "tac"
        else []
    )
    amax = max((float(np.abs(a).max()) for a in alphas), default=0.0)
    f_alpha = 15 if amax == 0 else int(min(15, max(0, math.floor(math.log2(32767.0 / amax)))))
    if formats is None:
        n_tac = hp.n_blocks if hp.inter == "tac" else 0
        tac = tuple(frac_for(mx.get(f"tac{r}", 0.0), headroom) for r in range(n_tac))
        fm = Formats(frac_for(mx["features"], headroom), frac_for(mx["res"], headroom), tac, f_alpha, mx)
    else:
        fm = formats if isinstance(formats, Formats) else Formats.from_dict(formats)
        if len(fm.tac) != (hp.n_blocks if hp.inter == "tac" else 0):
            raise InvalidInput(f"fixed-point formats: tac needs one entry per TAC block, got {list(fm.tac)}")
        if fm.alpha != f_alpha:
            raise InvalidInput(
                f"fixed-point formats: alpha ({fm.alpha}) must be {f_alpha} for these PReLU slopes"
            )
    b = weight_bits
    L: list[QDense] = [quantize_dense("in", w["in.weight"], w["in.bias"], fm.feat, fm.res, b)]
    for r in range(hp.n_blocks):
        p = f"blocks.{r}."
        if hp.inter == "tac":
            ft = fm.tac[r]
            L.append(quantize_dense(p + "tac.w1", w[p + "tac.w1"], w[p + "tac.b1"], fm.res, ft, b))
            L.append(quantize_dense(p + "tac.w2", w[p + "tac.w2"], w[p + "tac.b2"], ft, ft, b))
            L.append(quantize_dense(p + "tac.w3", w[p + "tac.w3"], w[p + "tac.b3"], ft, fm.res, b))
        elif hp.inter == "rnn":
            for tag in ("fwd", "bwd"):
                q = f"{p}grnn.{tag}."
                L.append(quantize_dense(q + "ih", w[q + "weight_ih"], w[q + "bias_ih"], fm.res, GATE_FRAC, b))
                L.append(quantize_dense(q + "hh", w[q + "weight_hh"], w[q + "bias_hh"], H_FRAC, GATE_FRAC, b))
            L.append(
                quantize_dense(
                    p + "grnn.proj", w[p + "grnn.proj.weight"], w[p + "grnn.proj.bias"], H_FRAC, fm.res, b
                )
            )
        for layer in range(hp.rnn_layers):
            f_in = fm.res if layer == 0 else H_FRAC
            if hp.rnn == "tcn":
                t = f"{p}tcn.{layer}"
                L.append(quantize_dense(t, w[t + ".weight"], w[t + ".bias"], f_in, GATE_FRAC, b))
                continue
            q = f"{p}rnn.{layer}."
            L.append(quantize_dense(q + "ih", w[q + "weight_ih"], w[q + "bias_ih"], f_in, GATE_FRAC, b))
            L.append(quantize_dense(q + "hh", w[q + "weight_hh"], w[q + "bias_hh"], H_FRAC, GATE_FRAC, b))
        L.append(quantize_dense(p + "out", w[p + "out.weight"], w[p + "out.bias"], H_FRAC, fm.res, b))
    L.append(quantize_dense("mask", w["mask.weight"], w["mask.bias"], fm.res, GATE_FRAC, b))
    if hp.df_taps:
        L.append(quantize_dense("df", w["df.weight"], w["df.bias"], fm.res, GATE_FRAC, b))
    if alphas:
        alpha = np.floor(np.concatenate(alphas) * 2.0**f_alpha + 0.5).astype(np.int64)
        alpha = np.clip(alpha, -32768, 32767).astype(np.int16)
    else:
        alpha = np.zeros(1, np.int16)
    return FixedGroupComm(hp, weight_bits, fm, L, alpha)


@functools.lru_cache(maxsize=8)
def _quantize_file(path: str, mtime: float, weight_bits: int, data_dir: str | None) -> tuple:
    from hearpipe.models.weights import load_weights

    wf = load_weights(path, gc.ARCHITECTURE)
    hp = gc.GroupCommHParams.from_dict(wf.hparams, wf.source)
    w = gc.GroupCommWeights.from_arrays(hp, wf.arrays, wf.source)
    pinned = wf.training.get("fixed_formats") if isinstance(wf.training, dict) else None
    if pinned:
        return w, quantize_model(w, weight_bits=weight_bits, formats=pinned)
    cal = calibration_power(w, calibration_signals(data_dir))
    return w, quantize_model(w, calibration_frames=cal, weight_bits=weight_bits)


def quantize_weight_file(ref, base_dir=None, weight_bits: int = 8, data_dir=None):
    """(float weights, FixedGroupComm) for a weight file or builtin:NAME, cached per file version: the
    blocks' entry point. Formats come from the file's metadata `training.fixed_formats` when present
    (pinned), else from calibration on `data_dir` (train/ mixtures; synthetic without data)."""
    from pathlib import Path

    from hearpipe.models.weights import resolve_weights

    p = Path(resolve_weights(ref, base_dir))
    if not p.is_file():
        raise InvalidInput(f"{p}: weight file not found")
    return _quantize_file(
        str(p), p.stat().st_mtime, int(weight_bits), None if data_dir is None else str(data_dir)
    )


# -- calibration data -------------------------------------------------------------------------------
def frontend_power(w: gc.GroupCommWeights, x: np.ndarray) -> np.ndarray:
    """Float power frames (features, J) of mono audio x (float, full scale 1) through the model's front end."""
    hp = w.hp
    if hp.frontend == "stft":
        X = gc.stft_frames(np.asarray(x, dtype=np.float64), hp.window, hp.hop)
        return X.real**2 + X.imag**2
    return gc.band_power(hp, gc.conv_encode(np.asarray(x, dtype=np.float64), w["enc.weight"], hp.hop))


def calibration_power(w: gc.GroupCommWeights, signals: list[np.ndarray]) -> list[np.ndarray]:
    return [frontend_power(w, s) for s in signals]


def calibration_signals(
    data_dir=None, n: int = 4, seconds: float = 3.0, seed: int = 7, levels_dbfs=(-40.0, -12.0)
) -> list[np.ndarray]:
    """Mixtures of `train/` speech and noise (never dev/) at -5..10 dB SNR and levels spanning the
    training range: calibration audio for `quantize_model`. Without the data folder, speech-shaped
    modulated noise bursts (deterministic) stand in, so a device can always be built."""
    from pathlib import Path

    import soundfile as sf

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


# -- operation counts -------------------------------------------------------------------------------
def ops_per_frame(model: FixedGroupComm, parts=("features", "network", "mask")) -> Counter:
    """Exact operations of one frame (one audio channel): "features" (power, log2 table, narrowing),
    "network" (every layer, from `hearpipe.fixed.count`), "mask" (multiplying the front-end values).
    Equal to the `ops` counters of the instrumented kernels (tests)."""
    hp, bits = model.hp, model.weight_bits
    k, d, h, hi, F = hp.groups, hp.group_dim, hp.hidden, hp.inter_hidden, hp.features
    c = Counter()
    if "features" in parts:
        c += features_ops(hp)
    if "network" in parts:
        c += count.dense(hp.n_model, hp.n_in, 1, bits)
        rnn = count.lstm if hp.rnn == "lstm" else count.gru
        for _ in range(hp.n_blocks):
            if hp.inter == "tac":
                c += count.dense(hi, d, k, bits) + count.prelu(k * hi) + count.mean_groups(k, hi)
                c += count.dense(hi, hi, 1, bits) + count.prelu(hi)
                c += count.dense(d, 2 * hi, k, bits) + count.prelu(k * d) + count.add_q15(k * d)
            elif hp.inter == "rnn":
                c += count.gru(d, hi, k, 1, bits) + count.gru(d, hi, k, 1, bits)
                c += count.dense(d, 2 * hi, k, bits) + count.add_q15(k * d)
            for layer in range(hp.rnn_layers):
                if hp.rnn == "tcn":  # a causal dilated convolution per group (conv1d_s16), tanh table
                    for _ in range(k):
                        c += count.conv1d(h, hp.seq_inputs(layer), hp.tcn_kernel, 1, 2**layer, bits)
                    c += count.sigmoid(k * h)
                    continue
                c += rnn(d if layer == 0 else h, h, 1, k, bits)
            c += count.dense(d, h, k, bits) + count.add_q15(k * d)
        c += count.dense(hp.n_outputs * hp.mask_per_group, d, k, bits) + count.sigmoid(hp.n_outputs * F)
        if hp.df_taps:
            c += count.dense(hp.df_per_group, d, k, bits) + count.sigmoid(hp.n_outputs * 2 * hp.df_taps * F)
    if "mask" in parts and hp.df_taps:  # the delay line moves, then the filter runs
        c += Counter(move=gc.past_values(hp)) + count.deep_filter(F, hp.df_taps, wide=hp.frontend == "stft")
    elif "mask" in parts:
        c += count.mask_mul(F, complex_input=hp.complex_bands)
    return c


def features_ops(hp: gc.GroupCommHParams) -> Counter:
    """Power (STFT: 2 mul, 3 add, 3 cmp per bin (int32 clamps); conv: 1 mul, 2 add; conv with complex
    bands: 2 mul, 3 add), log2 table (count.log2) and the rounding narrowing to int16 (2 add, 2 cmp)."""
    n = hp.features
    if hp.frontend == "stft":
        c = Counter(mul=2 * n, add=3 * n, cmp=3 * n)
    else:
        c = Counter(mul=2 * n, add=3 * n) if hp.enc_complex else Counter(mul=n, add=2 * n)
    if hp.feat_ema_shift:
        # `deviation`: f << 16, sub, rounding shift (2), add; rounding shift (2), sub; sat16
        c += Counter(add=8 * n, cmp=2 * n)
    return c + count.log2(n) + Counter(add=2 * n, cmp=2 * n)


def _as_array(c: Counter) -> np.ndarray:
    return np.array([c.get(k, 0) for k in _op_kinds()], dtype=np.int64)


# -- streaming inference ----------------------------------------------------------------------------
class FixedGroupCommState:
    """Streaming fixed-point GroupComm for `channels` audio channels (state per channel).

    STFT front end: `process(X, frac_bits)` with X int32 (channels, bins, frames, 2) [re, im] returns
    the masked spectrum in the same format (mask output `output`); conv front end: e int16
    (channels, N, frames) -> masked int16 (channels, N, frames). `masks(...)` returns all C masks,
    int16 Q1.15 (channels, C, features, frames). `step` = one frame ((channels, bins, 2) or
    (channels, N)). Output is bit-identical for any split of the frames into calls.
    `engine`: "fused" (one numba call per channel and call) or "kernels" (library kernels, slow oracle).
    `ops` (int64, OP_KINDS order) accumulates the operations executed.
    """

    def __init__(self, model: FixedGroupComm, channels: int = 1, output: int = 0, engine: str = "fused"):
        if engine not in ("fused", "kernels"):
            raise InvalidInput(f"engine ({engine!r}) must be 'fused' or 'kernels'")
        if not 0 <= output < model.hp.n_outputs:
            raise InvalidInput(
                f"output ({output}) must be below the model's n_outputs ({model.hp.n_outputs})"
            )
        if channels < 1:
            raise InvalidInput(f"channels ({channels}) must be >= 1")
        self.model, self.channels, self.output, self.engine = model, int(channels), int(output), engine
        self.ops = new_ops()
        hp = model.hp
        w = model.width
        self._scr = np.zeros((9, max(hp.groups, 2), w), np.int16)
        self._acc = (np.zeros((hp.groups, w), np.int64), np.zeros((hp.groups, w), np.int32))
        self.reset()
        if engine == "kernels":
            self._rnn = _library_rnns(model)

    def reset(self) -> None:
        hp = self.model.hp
        n = hp.n_blocks * hp.rnn_layers
        self.h = np.zeros((self.channels, n, hp.groups, hp.hidden), np.int16)
        # LSTM cell states, or each TCN layer's earlier inputs, newest first (lag j at (j-1)*inputs); every
        # layer's row is as long as the longest (a simulator convenience: `state_bytes` counts the device's)
        aux = max(hp.tcn_past(i) * hp.seq_inputs(i) for i in range(hp.rnn_layers)) if hp.rnn == "tcn" else 0
        self.c = np.zeros((self.channels, n, hp.groups, max(aux, hp.hidden)), np.int16)
        # the library path's TCN delay lines, conv1d_s16's own layout (oldest first): per channel, layer, group
        self._lines = [
            [np.zeros((hp.seq_inputs(i % hp.rnn_layers), hp.tcn_past(i % hp.rnn_layers)), np.int16)
             for i in range(n) for _ in range(hp.groups)]
            for _ in range(self.channels if self.engine == "kernels" and hp.rnn == "tcn" else 0)
        ]  # fmt: skip
        self.ema = np.zeros((self.channels, hp.features + 1), np.int64)  # running means (feat_ema_shift)
        taps = max(hp.df_taps, 1)  # the deep filter's delay line: this frame and the L-1 before it
        self.hist = (
            np.zeros((self.channels, taps, hp.features, 2), np.int32)
            if hp.frontend == "stft"
            else np.zeros((self.channels, taps, hp.enc_channels), np.int16)
        )
        self._dfc = np.zeros((hp.n_outputs, taps, 2, hp.features), np.int16)
        m = self.model
        sig_f, tanh_f = full_tables()
        self._args = [  # the kernel's per-channel arguments, built once (a hop-by-hop call is short)
            (m.c24, LOG2_TABLE, m.dims, m.fmts, m.lay, m.wt, m.bias, m.mq, m.sh, m.alpha, self.h[ch], self.c[ch],
             self.ema[ch], self.hist[ch], self._dfc, sig_f, tanh_f, self._scr, self._acc, self.output)
            for ch in range(self.channels)
        ]  # fmt: skip

    # -- front end ----------------------------------------------------------------------------------
    def _check(self, data, frac_bits: int) -> np.ndarray:
        hp = self.model.hp
        a = np.asarray(data)
        stft = hp.frontend == "stft"
        if stft and a.dtype == np.int16:  # a q15 FFT's spectrum: computed in int32, same values
            a = a.astype(np.int32)
        dt = np.int32 if stft else np.int16
        n = hp.features if stft else hp.enc_channels
        ok = a.dtype == dt and a.ndim == (4 if stft else 3) and a.shape[:2] == (self.channels, n)
        if not ok or (stft and a.shape[3] != 2):
            shape = f"{self.channels}, {n}, frames" + (", 2" if stft else "")
            raise InvalidInput(
                f"groupcomm fixed input must be {np.dtype(dt).name} ({shape}), got {a.dtype} {a.shape}"
            )
        if not 0 <= frac_bits <= 31:
            raise InvalidInput(f"frac_bits ({frac_bits}) must be within 0..31")
        return a if a.flags.c_contiguous else np.ascontiguousarray(a)

    def _run(self, ch: int, a: np.ndarray, frac_bits: int, out: np.ndarray) -> np.ndarray:
        """One channel's frames a (F, J[, 2]) -> masks (J, C, F) Q15; writes the masked values to out."""
        m = self.model
        hp = m.hp
        p_frac, p_shift, eps = power_format(hp.log_eps, int(frac_bits))
        c24 = m.c24
        n_frames = a.shape[1]
        masks = np.empty((n_frames, hp.n_outputs, hp.features), np.int16)
        if self.engine == "fused":
            run = kr.run_stft if hp.frontend == "stft" else kr.run_conv
            run(a, p_shift, eps, p_frac, *self._args[ch], masks, out, self.ops, m.ops_frame_arr)
            return masks
        # library kernels, frame by frame (oracle); the library kernels count their own operations
        p = np.empty((n_frames, hp.features), np.int64)
        if hp.frontend == "stft":
            kr.power_stft(a, p_shift, eps, p)
        elif hp.enc_complex:  # bands (re, im) = channels (f, f + F), as an interleaved spectrum
            f_n = hp.features
            kr.power_stft(np.stack([a[:f_n], a[f_n:]], axis=-1).astype(np.int32), p_shift, eps, p)
        else:
            kr.power_real(a, p_shift, eps, p)
        v = np.empty(p.size, np.int32)
        log2_db_array(p.ravel(), p_frac, c24, LOG2_TABLE, v, self.ops)
        feat = np.empty((n_frames, hp.features), np.int16)
        kr.narrow16(v, 16 - m.formats.feat, feat.ravel())
        self.ops += (m.ops_features_arr - _as_array(count.log2(hp.features))) * n_frames
        inp = np.zeros((n_frames, hp.n_in), np.int16)
        inp[:, : hp.features] = feat
        for j in range(n_frames):
            kr.deviation(inp[j : j + 1], hp.features, self.ema[ch], hp.feat_ema_shift)
            masks[j] = _library_frame(self, ch, inp[j])
            if hp.df_taps:
                self._filter_lib(ch, a[:, j], masks[j, self.output], out[:, j])
        if hp.df_taps:
            return masks
        if hp.frontend == "stft":
            kr.apply_mask_stft(a, masks, self.output, out)
            self.ops += m.ops_mask_arr * n_frames
        else:
            res = np.empty((n_frames, a.shape[0]), np.int16)
            mk = masks[:, self.output, :]
            mk = np.ascontiguousarray(np.concatenate([mk, mk], axis=1) if hp.enc_complex else mk)
            mask_mul_s16(np.ascontiguousarray(a.T), mk, 15, res, self.ops)
            out[:] = res.T
        return masks

    def _filter_lib(self, ch: int, frame: np.ndarray, mask: np.ndarray, out: np.ndarray) -> None:
        """The deep filter on one frame (library path): the delay line moves (counted), then
        `deep_filter_q15`; frame and out (N,) int16 or (F, 2) int32."""
        hp, hist, f_n = self.model.hp, self.hist[ch], self.model.hp.features
        hist[1:] = hist[:-1].copy()
        hist[0] = frame
        self.ops += _as_array(Counter(move=gc.past_values(hp)))
        t = self._dfc[self.output]
        if hp.frontend == "stft":
            lim = (-(2**31), 2**31 - 1)
            xr, xi, yr, yi = hist[:, :, 0], hist[:, :, 1], out[:, 0], out[:, 1]
        else:
            lim = (-32768, 32767)
            xr, xi, yr, yi = hist[:, :f_n], hist[:, f_n:], out[:f_n], out[f_n:]
        rr, ri = np.empty_like(yr), np.empty_like(yi)
        deep_filter_q15(
            np.ascontiguousarray(xr), np.ascontiguousarray(xi), np.ascontiguousarray(mask),
            np.ascontiguousarray(t[:, 0]), np.ascontiguousarray(t[:, 1]), *lim, rr, ri, self.ops,
        )  # fmt: skip
        yr[:], yi[:] = rr, ri

    def masks(self, data, frac_bits: int) -> np.ndarray:
        """All C masks, int16 Q1.15 (channels, C, features, frames); advances the state."""
        a = self._check(data, frac_bits)
        out = np.empty_like(a)
        return np.stack(
            [self._run(ch, a[ch], frac_bits, out[ch]).transpose(1, 2, 0) for ch in range(self.channels)]
        )

    def process(self, data, frac_bits: int) -> np.ndarray:
        """Masked front-end values (the model's output `output`), same dtype, shape and format as data
        (an int16 spectrum comes back int16, saturated: a mask <= 1 never grows a value, a deep filter can)."""
        a = self._check(data, frac_bits)
        out = np.empty_like(a)
        for ch in range(self.channels):
            self._run(ch, a[ch], frac_bits, out[ch])
        return np.clip(out, -32768, 32767).astype(np.int16) if np.asarray(data).dtype == np.int16 else out

    def step(self, frame, frac_bits: int) -> np.ndarray:
        """One frame: (channels, bins, 2) int32 or (channels, N) int16 -> masked frame, same format."""
        a = np.asarray(frame)
        return self.process(a[:, :, None], frac_bits)[:, :, 0]


@functools.cache
def full_tables() -> tuple[np.ndarray, np.ndarray]:
    """The sigmoid/tanh tables expanded to every int16 input (`kr.expand_tables`), built once."""
    return kr.expand_tables(SIGMOID_TABLE, TANH_TABLE)


@functools.lru_cache(maxsize=64)
def power_format(log_eps: float, frac_bits: int) -> tuple[int, int, int]:
    """(p_frac, left shift of the squared input, eps as an integer) for inputs with frac_bits: eps =
    log_eps is held with at least 8 significant bits (exact for a power of two such as 2**-27)."""
    e_eps = math.ceil(-math.log2(log_eps)) if log_eps > 0 else 0
    p_frac = max(2 * int(frac_bits), e_eps + 8)
    if p_frac - 2 * int(frac_bits) > 48:
        raise InvalidInput(f"log_eps ({log_eps:g}) is too small for inputs with {frac_bits} fraction bits")
    eps = round(log_eps * 2.0**p_frac)
    return p_frac, p_frac - 2 * int(frac_bits), eps


# -- the same network as a sequence of library kernels (oracle, instrumented) ----------------------
def _library_rnns(model: FixedGroupComm) -> dict[str, RnnQ]:
    out = {}
    hp = model.hp
    names = []
    for r in range(hp.n_blocks):
        if hp.inter == "rnn":
            names += [(f"blocks.{r}.grnn.{t}.", "gru") for t in ("fwd", "bwd")]
        if hp.rnn != "tcn":
            names += [(f"blocks.{r}.rnn.{layer}.", hp.rnn) for layer in range(hp.rnn_layers)]
    for pre, kind in names:
        ih, hh = model.by_name[pre + "ih"], model.by_name[pre + "hh"]
        out[pre] = RnnQ(kind, ih.w, hh.w, ih.bias, hh.bias, ih.mult, ih.shift, hh.mult, hh.shift)
    return out


def _dense_lib(st: FixedGroupCommState, name: str, x: np.ndarray) -> np.ndarray:
    q = st.model.by_name[name]
    x = np.ascontiguousarray(x, dtype=np.int16)
    out = np.empty((x.shape[0], q.rows), np.int16)
    dense_s16(q.w, x, q.bias, q.mult, q.shift, -32768, 32767, out, st.ops)
    return out


def _prelu_lib(st: FixedGroupCommState, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """PReLU per channel (columns of x (B, channels)) with prelu_s16, which takes one slope per row."""
    xt = np.ascontiguousarray(x.T)
    out = np.empty_like(xt)
    prelu_s16(xt, np.ascontiguousarray(alpha), st.model.formats.alpha, out, st.ops)
    return np.ascontiguousarray(out.T)


def _add_lib(st: FixedGroupCommState, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.empty(x.size, np.int16)
    add_q15(np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel(), out, st.ops)
    return out.reshape(x.shape)


def _tcn_lib(st: FixedGroupCommState, ch: int, r: int, layer: int, s: np.ndarray) -> np.ndarray:
    """TCN layer `layer` of block r on this frame's rows s (K, inputs) int16: the library's causal dilated
    convolution (`conv1d_s16`, one call per group, with its own delay-line layout: an oracle independent of
    the fused kernel's), pre-activations Q4.12, then the tanh table (Q15)."""
    hp = st.model.hp
    i, n_in, k = r * hp.rnn_layers + layer, s.shape[1], hp.tcn_kernel
    q = st.model.by_name[f"blocks.{r}.tcn.{layer}"]
    # columns [lag 0 | lag d | ...] -> PyTorch Conv1d layout (H, inputs, k), the oldest tap first
    w = np.ascontiguousarray(q.w.reshape(q.rows, k, n_in)[:, ::-1, :].transpose(0, 2, 1))
    pre = np.empty((hp.groups, q.rows), np.int16)
    y = np.empty((q.rows, 1), np.int16)
    for g in range(hp.groups):
        line = st._lines[ch][i * hp.groups + g]
        x = np.ascontiguousarray(s[g][:, None])
        conv1d_s16(x, line, w, q.bias, q.mult, q.shift, -32768, 32767, 2**layer, y, st.ops)
        pre[g] = y[:, 0]
    h = np.empty(pre.size, np.int16)
    tanh_array(pre.ravel(), TANH_TABLE, h, st.ops)
    st.h[ch, i] = h.reshape(pre.shape)
    return st.h[ch, i]


def _library_frame(st: FixedGroupCommState, ch: int, feat: np.ndarray) -> np.ndarray:
    """One frame through the library kernels: features (F,) int16 -> masks (C, F) int16 Q15."""
    m = st.model
    hp = m.hp
    k, d, hi = hp.groups, hp.group_dim, hp.inter_hidden
    x = _dense_lib(st, "in", feat[None, :]).reshape(k, d)
    aoff = 0
    for r in range(hp.n_blocks):
        p = f"blocks.{r}."
        if hp.inter == "tac":
            z = _prelu_lib(st, _dense_lib(st, p + "tac.w1", x), m.alpha[aoff : aoff + hi])
            zbar = np.empty(hi, np.int16)
            mean_groups_s16(z, zbar, st.ops)
            mm = _prelu_lib(
                st, _dense_lib(st, p + "tac.w2", zbar[None, :]), m.alpha[aoff + hi : aoff + 2 * hi]
            )
            zm = np.concatenate([z, np.repeat(mm, k, axis=0)], axis=1)
            y = _prelu_lib(st, _dense_lib(st, p + "tac.w3", zm), m.alpha[aoff + 2 * hi : aoff + 2 * hi + d])
            x = _add_lib(st, x, y)
            aoff += 2 * hi + d
        elif hp.inter == "rnn":
            hs = []
            for tag, xs in (("fwd", x), ("bwd", x[::-1])):
                h0, _ = st._rnn[f"{p}grnn.{tag}."].new_state(1)
                ys = st._rnn[f"{p}grnn.{tag}."].run(np.ascontiguousarray(xs)[None], h0, ops=st.ops)[0]
                hs.append(ys if tag == "fwd" else ys[::-1])
            x = _add_lib(st, x, _dense_lib(st, p + "grnn.proj", np.concatenate(hs, axis=1)))
        s = x
        for layer in range(hp.rnn_layers):
            i = r * hp.rnn_layers + layer
            if hp.rnn == "tcn":
                s = _tcn_lib(st, ch, r, layer, s)
                continue
            rq = st._rnn[f"{p}rnn.{layer}."]
            c = st.c[ch, i] if hp.rnn == "lstm" else None
            s = rq.run(np.ascontiguousarray(s)[:, None, :], st.h[ch, i], c, ops=st.ops)[:, 0, :]
        x = _add_lib(st, x, _dense_lib(st, p + "out", s))
    logits = _dense_lib(st, "mask", x).reshape(k, hp.n_outputs, hp.mask_per_group)
    logits = np.ascontiguousarray(logits.transpose(1, 0, 2).reshape(hp.n_outputs, -1)[:, : hp.features])
    out = np.empty(logits.size, np.int16)
    sigmoid_array(logits.ravel(), SIGMOID_TABLE, out, st.ops)
    if hp.df_taps:  # deep-filter terms into st._dfc (C, L, 2, F)
        n = 2 * hp.df_taps
        y = _dense_lib(st, "df", x).reshape(k, hp.n_outputs, n, hp.mask_per_group).transpose(1, 2, 0, 3)
        y = np.ascontiguousarray(y.reshape(hp.n_outputs, n, -1)[:, :, : hp.features])
        t = np.empty(y.size, np.int16)
        tanh_array(y.ravel(), TANH_TABLE, t, st.ops)
        st._dfc[:] = t.reshape(st._dfc.shape)
    return out.reshape(hp.n_outputs, hp.features)


# -- cost summary -----------------------------------------------------------------------------------
def cost_summary(model: FixedGroupComm, channels: int = 1) -> dict:
    """Per-frame operations (all parts, all channels), frame rate and memory in bytes, for `cost()`."""
    ops = ops_per_frame(model)
    ops = Counter({k: v * channels for k, v in ops.items()})
    wb = model.weight_bytes()
    return {
        "ops": ops,
        "frame_rate_hz": model.hp.frame_rate_hz,
        "ram_persistent": model.state_bytes(channels),
        "ram_scratch": model.scratch_bytes(),
        "rom": sum(wb.values()),
        "rom_parts": wb,
    }


# -- whole-signal helper and evaluation -------------------------------------------------------------
def enhance_fixed(
    w: gc.GroupCommWeights, model: FixedGroupComm, x: np.ndarray, output: int = 0
) -> np.ndarray:
    """Mono float audio (T,) -> float output (T,) aligned with the input, all in fixed point: q15 audio,
    conv: `FixedConvEncoder` -> model -> `FixedConvDecoder` (int8 codec weights, as `FixedConvChain`); stft: the fixed
    `stft` block (q31 FFT, int32 spectrum in Q(30 - log2 N)) -> model -> fixed `istft` block, on the
    "hearing-aid-dsp" device profile. The last partial hop of the input is not rendered (zeros)."""
    from hearpipe.models.conv_fixed import FixedConvChain, FixedConvDecoder, FixedConvEncoder

    hp = w.hp
    T = len(x)
    n = T // hp.hop * hp.hop
    xq = np.clip(np.round(np.asarray(x, dtype=np.float64)[:n] * 32768), -32768, 32767).astype(np.int16)[None]
    st = FixedGroupCommState(model, output=output)
    if hp.frontend == "stft":
        from hearpipe.blocks.base import Context
        from hearpipe.blocks.stft import Istft, IstftParams, Stft, StftParams
        from hearpipe.budget.profiles import load_device
        from hearpipe.graph.format import SignalFormat

        ctx = Context(hp.sample_rate_hz, hp.hop, device=load_device("hearing-aid-dsp"))
        ana = Stft(StftParams(window="sqrt_hann", window_length=hp.window, hop=hp.hop), "analysis")
        fmt = ana.prepare([SignalFormat("time", 1, hp.sample_rate_hz, 1, numeric="q15", frac_bits=15)], ctx)
        syn = Istft(IstftParams(), "synthesis")
        syn.prepare([fmt], ctx)
        ana.reset(), syn.reset()
        y = syn.process(st.process(ana.process(xq), fmt.frac_bits))[0] / 32768.0
        d = syn.latency_samples
    else:
        enc = FixedConvEncoder(w["enc.weight"], hp.hop)
        chain = FixedConvChain(enc, st, FixedConvDecoder(w["dec.weight"], hp.hop, enc.out_frac))
        y = chain.process(xq)[0] / 32768.0
        d = chain.latency_samples
    out = np.zeros(T)
    out[: n - d] = y[d:n]
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m hearpipe.models.groupcomm_fixed WEIGHTS`: SI-SNR of the float reference and of the
    fixed-point model on dev mixtures (0 and 5 dB), and the gap."""
    import argparse

    from hearpipe.metrics.evaluate import dev_mixtures
    from hearpipe.metrics.si_snr import si_snr
    from hearpipe.models.weights import load_weights, resolve_weights

    ap = argparse.ArgumentParser(prog="python -m hearpipe.models.groupcomm_fixed", description=main.__doc__)
    ap.add_argument("weights", help="weight file or builtin:NAME")
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=None, help="dev utterances, each at 0 and 5 dB (default: all)")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--weight-bits", type=int, default=8)
    ap.add_argument(
        "--pin",
        action="store_true",
        help="calibrate on train/ data and store the formats in the weight file (training.fixed_formats), "
        "so devices get the same arithmetic with or without the data folder",
    )
    a = ap.parse_args(argv)
    wf = load_weights(resolve_weights(a.weights), gc.ARCHITECTURE)
    hp = gc.GroupCommHParams.from_dict(wf.hparams, wf.source)
    w = gc.GroupCommWeights.from_arrays(hp, wf.arrays, wf.source)
    import os
    from pathlib import Path

    data = (
        a.data or os.environ.get("HEARPIPE_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
    )
    if a.pin:
        from hearpipe.models.weights import save_weights

        model = quantize_model(
            w, calibration_frames=calibration_power(w, calibration_signals(data)), weight_bits=a.weight_bits
        )
        print(f"{a.weights}: {model.weight_bits}-bit weights; {model.formats.describe()}")

        training = {**wf.training, "fixed_formats": model.formats.to_dict()}
        path = save_weights(resolve_weights(a.weights), wf.arrays, wf.architecture, wf.hparams, training)
        print(f"pinned the formats in {path}")
        return 0
    w, model = quantize_weight_file(a.weights, weight_bits=a.weight_bits, data_dir=data)  # pinned if present
    print(f"{a.weights}: {model.weight_bits}-bit weights; {model.formats.describe()}")
    rows = []
    for mix in dev_mixtures(data, n=a.n, seconds=a.seconds):
        s_in = si_snr(mix.noisy, mix.clean)
        s_fl = si_snr(gc.enhance(mix.noisy, w)[0], mix.clean)
        s_fx = si_snr(enhance_fixed(w, model, mix.noisy), mix.clean)
        rows.append((s_in, s_fl, s_fx))
    r = np.array(rows)
    print(f"mixtures {len(r)}: SI-SNR in {r[:, 0].mean():.2f} dB, float {r[:, 1].mean():.3f} dB, "
          f"fixed {r[:, 2].mean():.3f} dB; SI-SNRi float {np.mean(r[:, 1] - r[:, 0]):.3f}, "
          f"fixed {np.mean(r[:, 2] - r[:, 0]):.3f}; gap float - fixed: mean {np.mean(r[:, 1] - r[:, 2]):.3f} dB, "
          f"max |gap| {np.max(np.abs(r[:, 1] - r[:, 2])):.3f} dB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
