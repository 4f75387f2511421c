"""The fixed-point GroupComm as a chain of `hearpipe.fixed` library kernels: the oracle of the fused one.

`LibraryGroupCommState` runs the same function as `FixedGroupCommState` frame by frame through
dense_s16, prelu_s16, mean_groups_s16, add_q15, RnnQ, conv1d_s16, sigmoid_array/tanh_array,
log2_db_array, mask_mul_s16 and deep_filter_q15 - slow; the tests compare the fused kernel with it bit
for bit, and its instrumented run is what the operation counts (`cost.fixed_ops_per_frame`, exact per
frame) are checked against. The TCN runs through conv1d_s16 with its own delay-line layout, so the
oracle is independent of the fused kernel's.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from hearpipe.fixed import count
from hearpipe.fixed.conv import conv1d_s16
from hearpipe.fixed.count import to_array
from hearpipe.fixed.elementwise import deep_filter_q15, mask_mul_s16, mean_groups_s16, prelu_s16
from hearpipe.fixed.linalg import dense_s16
from hearpipe.fixed.ops import add_q15
from hearpipe.fixed.rnn import RnnQ
from hearpipe.fixed.tables import (
    LOG2_TABLE,
    SIGMOID_TABLE,
    TANH_TABLE,
    log2_db_array,
    sigmoid_array,
    tanh_array,
)
from hearpipe.models.groupcomm import groupcomm_kernels as kr
from hearpipe.models.groupcomm.cost import past_values
from hearpipe.models.groupcomm.fixed_model import FixedGroupComm
from hearpipe.models.groupcomm.fixed_stream import FixedGroupCommState, power_format


class LibraryGroupCommState(FixedGroupCommState):
    """`FixedGroupCommState` on the library kernels (same arguments, same results, bit for bit); the
    library kernels count their own operations into `ops`."""

    engine = "kernels"

    def __init__(self, model: FixedGroupComm, channels: int = 1, output: int = 0):
        super().__init__(model, channels, output)
        self._rnn = library_rnns(model)

    def reset(self) -> None:
        super().reset()
        hp = self.model.hp
        # the TCN delay lines, conv1d_s16's own layout (oldest first): per channel, layer, group
        self._lines = [
            [np.zeros((hp.seq_inputs(i % hp.rnn_layers), hp.tcn_past(i % hp.rnn_layers)), np.int16)
             for i in range(hp.n_blocks * hp.rnn_layers) for _ in range(hp.groups)]
            for _ in range(self.channels if hp.rnn == "tcn" else 0)
        ]  # fmt: skip

    def _run(self, ch: int, a: np.ndarray, frac_bits: int, out: np.ndarray) -> np.ndarray:
        """One channel's frames a (F, J[, 2]) -> masks (J, C, F) Q15, frame by frame; writes the masked
        values to out."""
        m = self.model
        hp = m.hp
        p_frac, p_shift, eps = power_format(hp.log_eps, int(frac_bits))
        n_frames = a.shape[1]
        masks = np.empty((n_frames, hp.n_outputs, hp.features), np.int16)
        p = np.empty((n_frames, hp.features), np.int64)
        if hp.frontend == "stft":
            kr.power_stft(a, p_shift, eps, p)
        elif hp.enc_complex:  # bands (re, im) = channels (f, f + F), as an interleaved spectrum
            f_n = hp.features
            kr.power_stft(np.stack([a[:f_n], a[f_n:]], axis=-1).astype(np.int32), p_shift, eps, p)
        else:
            kr.power_real(a, p_shift, eps, p)
        v = np.empty(p.size, np.int32)
        log2_db_array(p.ravel(), p_frac, m.c24, LOG2_TABLE, v, self.ops)
        feat = np.empty((n_frames, hp.features), np.int16)
        kr.narrow16(v, 16 - m.formats.feat, feat.ravel())
        self.ops += (m.ops_features_arr - to_array(count.log2(hp.features))) * n_frames
        inp = np.zeros((n_frames, hp.n_in), np.int16)
        inp[:, : hp.features] = feat
        for j in range(n_frames):
            kr.deviation(inp[j : j + 1], hp.features, self.ema[ch], hp.feat_ema_shift)
            masks[j] = library_frame(self, ch, inp[j])
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
        self.ops += to_array(Counter(move=past_values(hp)))
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


def library_rnns(model: FixedGroupComm) -> dict[str, RnnQ]:
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
        out[pre] = RnnQ(kind, ih.ints(), hh.ints(), ih.bias, hh.bias, ih.mult, ih.shift, hh.mult, hh.shift)
    return out


def _dense_lib(st: LibraryGroupCommState, name: str, x: np.ndarray) -> np.ndarray:
    q = st.model.by_name[name]
    x = np.ascontiguousarray(x, dtype=np.int16)
    out = np.empty((x.shape[0], q.rows), np.int16)
    dense_s16(q.ints(), x, q.bias, q.mult, q.shift, -32768, 32767, out, st.ops)
    return out


def _prelu_lib(st: LibraryGroupCommState, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """PReLU per channel (columns of x (B, channels)) with prelu_s16, which takes one slope per row."""
    xt = np.ascontiguousarray(x.T)
    out = np.empty_like(xt)
    prelu_s16(xt, np.ascontiguousarray(alpha), st.model.formats.alpha, out, st.ops)
    return np.ascontiguousarray(out.T)


def _add_lib(st: LibraryGroupCommState, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.empty(x.size, np.int16)
    add_q15(np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel(), out, st.ops)
    return out.reshape(x.shape)


def _tcn_lib(st: LibraryGroupCommState, ch: int, r: int, layer: int, s: np.ndarray) -> np.ndarray:
    """TCN layer `layer` of block r on this frame's rows s (K, inputs) int16: the library's causal dilated
    convolution (`conv1d_s16`, one call per group, with its own delay-line layout: an oracle independent of
    the fused kernel's), pre-activations Q4.12, then the tanh table (Q15)."""
    hp = st.model.hp
    i, n_in, k = r * hp.rnn_layers + layer, s.shape[1], hp.tcn_kernel
    q = st.model.by_name[f"blocks.{r}.tcn.{layer}"]
    # columns [lag 0 | lag d | ...] -> PyTorch Conv1d layout (H, inputs, k), the oldest tap first
    w = np.ascontiguousarray(q.ints().reshape(q.rows, k, n_in)[:, ::-1, :].transpose(0, 2, 1))
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


def library_frame(st: LibraryGroupCommState, ch: int, feat: np.ndarray) -> np.ndarray:
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
