"""numba kernels of the fixed-point GroupComm inference (`hearpipe.models.groupcomm_fixed`).

Fused versions of the `hearpipe.fixed` kernels for one model: the whole per-frame network runs in
one call (a hearing aid calls it once per hop), built from the same scalar arithmetic as the
library (`requantize_s64`, `sat16`, `rshift_round`, `sigmoid_q15`, `tanh_q15`, `log2_q16`), so every
output equals what `dense_s16`, `gru_s16`/`lstm_s16`, `prelu_s16`, `mean_groups_s16`, `add_q15` and
`mask_mul_s16` compute in sequence (tests/test_groupcomm_fixed.py runs both paths and compares).

Speed: weights are stored transposed (inputs, outputs) so the inner loop runs over outputs and
vectorises; with int8 weights the accumulator is int32 (exact: the caller proves per layer that
sum |w| * 32768 < 2**31, `hearpipe.fixed.linalg.acc32_is_safe`), else int64. Integer sums are exact
in any order, so the results equal the library's int64 row-by-row loops bit for bit.

Layer table `lay` (n_layers, 4) int64: weight offset in `wt` (flat, transposed), rows M (outputs),
cols K (inputs), offset of the layer's rows in `bias` (int64, accumulator scale), `mq` (Q15 reduced
multipliers, CMSIS `REDUCE_MULTIPLIER` applied once) and `sh` (shifts).

numba caches this file's kernels keyed on this file only: after editing `hearpipe/fixed/ops.py` or
`tables.py`, delete the cache (docs/fixed_point.md section 10).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.fixed.ops import requantize_s64, rshift_round, sat16, sat32
from hearpipe.fixed.tables import log2_q16, sigmoid_q15, tanh_q15

# dims indices
D_K, D_D, D_H, D_HI, D_C, D_P, D_F, D_BLOCKS, D_LAYERS, D_INTER, D_RNN, D_ACC32 = range(12)
INTER_NONE, INTER_TAC, INTER_RNN = 0, 1, 2
RNN_GRU, RNN_LSTM = 0, 1
# fmts indices: feature frac, residual frac, PReLU slope frac, then one TAC frac per block
F_FEAT, F_RES, F_ALPHA, F_TAC0 = 0, 1, 2, 3


@njit(cache=True)
def _dense(wt, lay, li, x, bias, mq, sh, lo, hi, out, acc32, acc64, use32):
    """out[m] = clamp(requantize_s64(sum_k w[m, k] x[k] + bias[m]), lo, hi) for layer li (dense_s16)."""
    woff, m_n, k_n, boff = lay[li, 0], lay[li, 1], lay[li, 2], lay[li, 3]
    w = wt[woff : woff + k_n * m_n].reshape((k_n, m_n))  # a 2-D view: loops over it vectorise
    if use32:
        for m in range(m_n):
            acc32[m] = 0
        for k in range(k_n):
            xk = np.int32(x[k])
            for m in range(m_n):
                acc32[m] = np.int32(acc32[m] + np.int32(w[k, m]) * xk)
        for m in range(m_n):
            v = requantize_s64(np.int64(acc32[m]) + bias[boff + m], mq[boff + m], sh[boff + m])
            out[m] = min(max(v, lo), hi)
    else:
        for m in range(m_n):
            acc64[m] = 0
        for k in range(k_n):
            xk = np.int64(x[k])
            for m in range(m_n):
                acc64[m] += np.int64(w[k, m]) * xk
        for m in range(m_n):
            v = requantize_s64(acc64[m] + bias[boff + m], mq[boff + m], sh[boff + m])
            out[m] = min(max(v, lo), hi)


@njit(cache=True)
def _prelu(v, alpha, aoff, afrac, n):
    """In place: v[i] = v[i] if v[i] >= 0 else sat16(round(alpha[aoff + i] v[i] / 2**afrac)) (prelu_s16)."""
    for i in range(n):
        x = np.int64(v[i])
        if x < 0:
            v[i] = sat16(rshift_round(np.int64(alpha[aoff + i]) * x, afrac))


@njit(cache=True)
def expand_tables(sig_t, tanh_t):
    """sigmoid_q15 / tanh_q15 evaluated at all 65536 int16 inputs (index x + 32768). A simulation
    speed-up only: the values are those of the interpolated tables, so results are identical."""
    sig = np.empty(65536, np.int16)
    tnh = np.empty(65536, np.int16)
    for i in range(65536):
        sig[i] = sigmoid_q15(i - 32768, sig_t)
        tnh[i] = tanh_q15(i - 32768, tanh_t)
    return sig, tnh


@njit(cache=True)
def _gru(wt, lay, li, x, h, bias, mq, sh, gx, gh, sig_f, tanh_f, acc32, acc64, use32):
    """One GRU step (gru_s16 arithmetic) of one sequence: x (I,) int16, h (H,) Q15 updated in place."""
    hd = h.shape[0]
    _dense(wt, lay, li, x, bias, mq, sh, -32768, 32767, gx, acc32, acc64, use32)
    _dense(wt, lay, li + 1, h, bias, mq, sh, -32768, 32767, gh, acc32, acc64, use32)
    for j in range(hd):
        r = np.int64(sig_f[sat16(np.int64(gx[j]) + gh[j]) + 32768])
        z = np.int64(sig_f[sat16(np.int64(gx[hd + j]) + gh[hd + j]) + 32768])
        npre = sat16(np.int64(gx[2 * hd + j]) + rshift_round(r * np.int64(gh[2 * hd + j]), 15))
        n = np.int64(tanh_f[npre + 32768])
        h[j] = sat16(n + rshift_round(z * (np.int64(h[j]) - n), 15))


@njit(cache=True)
def _lstm(wt, lay, li, x, h, c, bias, mq, sh, gx, gh, sig_f, tanh_f, acc32, acc64, use32):
    """One LSTM step (lstm_s16 arithmetic): h (H,) Q15 and c (H,) Q4.12 updated in place."""
    hd = h.shape[0]
    _dense(wt, lay, li, x, bias, mq, sh, -32768, 32767, gx, acc32, acc64, use32)
    _dense(wt, lay, li + 1, h, bias, mq, sh, -32768, 32767, gh, acc32, acc64, use32)
    for j in range(hd):
        ig = np.int64(sig_f[sat16(np.int64(gx[j]) + gh[j]) + 32768])
        fg = np.int64(sig_f[sat16(np.int64(gx[hd + j]) + gh[hd + j]) + 32768])
        gg = np.int64(tanh_f[sat16(np.int64(gx[2 * hd + j]) + gh[2 * hd + j]) + 32768])
        og = np.int64(sig_f[sat16(np.int64(gx[3 * hd + j]) + gh[3 * hd + j]) + 32768])
        cn = sat16(rshift_round(8 * fg * np.int64(c[j]) + ig * gg, 18))
        c[j] = cn
        h[j] = sat16(rshift_round(og * np.int64(tanh_f[cn + 32768]), 15))


@njit(cache=True)
def groupcomm_frames(
    feat, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st, sig_t, tanh_t, scr, masks, ops, ops_frame
):
    """Run the mask estimator over feat (J, F) int16 (format fmts[F_FEAT]) -> masks (J, C, F) Q15.

    h_st / c_st (blocks * layers, K, H) int16: recurrent state, read and updated in place.
    scr: int16 scratch (rows >= 12, cols >= max layer width) and the accumulators come from `scr`-sized
    int32/int64 buffers allocated here once per call. ops += ops_frame * J (the per-frame count of the
    composed library kernels, `hearpipe.models.groupcomm_fixed.ops_per_frame`)."""
    kk, d, hd, hi, cc, pp, ff = dims[D_K], dims[D_D], dims[D_H], dims[D_HI], dims[D_C], dims[D_P], dims[D_F]
    n_blocks, n_layers, inter, rnn, use32 = (
        dims[D_BLOCKS],
        dims[D_LAYERS],
        dims[D_INTER],
        dims[D_RNN],
        dims[D_ACC32] != 0,
    )
    afrac = fmts[F_ALPHA]
    width = scr.shape[2]
    acc32 = np.empty(width, np.int32)
    acc64 = np.empty(width, np.int64)
    x = scr[0]  # (K, width): residual stream x_g in [:, :D]
    z = scr[1]  # TAC z_g / GRNN forward states
    zm = scr[2]  # TAC [z_g; m] / GRNN [h_fwd; h_bwd]
    y = scr[3]  # branch outputs
    s = scr[4]  # sequence-module input per group
    gx = scr[5, 0]
    gh = scr[5, 1]
    tmp = scr[5, 2]
    tmp2 = scr[5, 3]
    hb = scr[6]  # GRNN backward states
    n_frames = feat.shape[0]
    for j in range(n_frames):
        li = 0
        # input projection: (F,) -> n_model values = K groups of D
        _dense(wt, lay, li, feat[j], bias, mq, sh, -32768, 32767, tmp, acc32, acc64, use32)
        li += 1
        for g in range(kk):
            for i in range(d):
                x[g, i] = tmp[g * d + i]
        aoff = 0
        for r in range(n_blocks):
            if inter == INTER_TAC:
                for g in range(kk):
                    _dense(wt, lay, li, x[g], bias, mq, sh, -32768, 32767, z[g], acc32, acc64, use32)
                    _prelu(z[g], alpha, aoff, afrac, hi)
                # mean over groups (mean_groups_s16: rounding half away from zero)
                half = kk // 2
                for i in range(hi):
                    acc = np.int64(0)
                    for g in range(kk):
                        acc += z[g, i]
                    acc = acc + half if acc > 0 else acc - half
                    q = abs(acc) // kk
                    tmp[i] = sat16(q if acc >= 0 else -q)
                _dense(wt, lay, li + 1, tmp, bias, mq, sh, -32768, 32767, tmp2, acc32, acc64, use32)
                _prelu(tmp2, alpha, aoff + hi, afrac, hi)
                for g in range(kk):
                    for i in range(hi):
                        zm[g, i] = z[g, i]
                        zm[g, hi + i] = tmp2[i]
                    _dense(wt, lay, li + 2, zm[g], bias, mq, sh, -32768, 32767, y[g], acc32, acc64, use32)
                    _prelu(y[g], alpha, aoff + 2 * hi, afrac, d)
                    for i in range(d):
                        x[g, i] = sat16(np.int64(x[g, i]) + y[g, i])
                li += 3
                aoff += 2 * hi + d
            elif inter == INTER_RNN:
                for i in range(hi):  # forward across groups, from a zero state every frame
                    tmp2[i] = 0
                for g in range(kk):
                    _gru(
                        wt, lay, li, x[g], tmp2[:hi], bias, mq, sh, gx, gh, sig_t, tanh_t, acc32, acc64, use32
                    )
                    for i in range(hi):
                        z[g, i] = tmp2[i]
                for i in range(hi):
                    tmp2[i] = 0
                for g in range(kk - 1, -1, -1):
                    _gru(
                        wt,
                        lay,
                        li + 2,
                        x[g],
                        tmp2[:hi],
                        bias,
                        mq,
                        sh,
                        gx,
                        gh,
                        sig_t,
                        tanh_t,
                        acc32,
                        acc64,
                        use32,
                    )
                    for i in range(hi):
                        hb[g, i] = tmp2[i]
                for g in range(kk):
                    for i in range(hi):
                        zm[g, i] = z[g, i]
                        zm[g, hi + i] = hb[g, i]
                    _dense(wt, lay, li + 4, zm[g], bias, mq, sh, -32768, 32767, y[g], acc32, acc64, use32)
                    for i in range(d):
                        x[g, i] = sat16(np.int64(x[g, i]) + y[g, i])
                li += 5
            # sequence module: per group, weights shared; state per (block, layer, group)
            for g in range(kk):
                for i in range(d):
                    s[g, i] = x[g, i]
            for layer in range(n_layers):
                st = r * n_layers + layer
                for g in range(kk):
                    inp = s[g, :d] if layer == 0 else s[g, :hd]
                    if rnn == RNN_GRU:
                        _gru(
                            wt,
                            lay,
                            li,
                            inp,
                            h_st[st, g],
                            bias,
                            mq,
                            sh,
                            gx,
                            gh,
                            sig_t,
                            tanh_t,
                            acc32,
                            acc64,
                            use32,
                        )
                    else:
                        _lstm(
                            wt, lay, li, inp, h_st[st, g], c_st[st, g], bias, mq, sh, gx, gh, sig_t, tanh_t,
                            acc32, acc64, use32,
                        )  # fmt: skip
                    for i in range(hd):
                        s[g, i] = h_st[st, g, i]
                li += 2
            for g in range(kk):
                _dense(wt, lay, li, s[g], bias, mq, sh, -32768, 32767, y[g], acc32, acc64, use32)
                for i in range(d):
                    x[g, i] = sat16(np.int64(x[g, i]) + y[g, i])
            li += 1
        # mask head: logits in Q4.12, sigmoid table -> Q15; group g holds features g*P .. g*P+P-1
        for g in range(kk):
            _dense(wt, lay, li, x[g], bias, mq, sh, -32768, 32767, y[g], acc32, acc64, use32)
            for c in range(cc):
                for p in range(pp):
                    f = g * pp + p
                    if f < ff:
                        masks[j, c, f] = sigmoid_q15(y[g, c * pp + p], sig_t)
    for k in range(ops.shape[0]):
        ops[k] += ops_frame[k] * n_frames


@njit(cache=True)
def power_stft(xc, p_shift, eps, out):
    """Per-bin power of an interleaved int32 spectrum: xc (F, J, 2) -> out (J, F) int64 =
    sat(re^2 + im^2 (frac 2*frac_bits) << p_shift) + eps. Inputs are clamped to +-(2**31 - 1) so the
    sum of squares stays below 2**63; a saturating left shift keeps it below 2**62."""
    f_n, j_n = xc.shape[0], xc.shape[1]
    lim = np.int64(1) << (62 - p_shift)
    for f in range(f_n):
        for j in range(j_n):
            re = max(np.int64(xc[f, j, 0]), -2147483647)
            im = max(np.int64(xc[f, j, 1]), -2147483647)
            p = re * re + im * im
            if p_shift > 0:
                p = (np.int64(1) << 62) if p >= lim else p << p_shift
            out[j, f] = p + eps


@njit(cache=True)
def power_real(e, p_shift, eps, out):
    """Power of real int16 features e (F, J) -> out (J, F) int64 = (e^2 << p_shift) + eps."""
    f_n, j_n = e.shape
    for f in range(f_n):
        for j in range(j_n):
            v = np.int64(e[f, j])
            out[j, f] = ((v * v) << p_shift) + eps


@njit(cache=True)
def log_features(p, p_frac, c_q24, feat_frac, table, out):
    """out (J, F) int16 = sat16(round(round(log2_q16(p, p_frac) * c_q24 / 2**24) / 2**(16 - feat_frac))):
    feat_scale * log2(power) in Q16 (`log2_db_array` with c_q24 = feat_scale * 2**24), then to int16."""
    j_n, f_n = p.shape
    for j in range(j_n):
        for f in range(f_n):
            v = sat32(rshift_round(log2_q16(p[j, f], p_frac, table) * c_q24, 24))
            out[j, f] = sat16(rshift_round(v, 16 - feat_frac))


@njit(cache=True)
def apply_mask_stft(xc, masks, c, out):
    """out (F, J, 2) int32 = round(X * mask / 2**15) with masks (J, C, F) Q15 (mask output c)."""
    f_n, j_n = xc.shape[0], xc.shape[1]
    for f in range(f_n):
        for j in range(j_n):
            m = np.int64(masks[j, c, f])
            out[f, j, 0] = sat32(rshift_round(np.int64(xc[f, j, 0]) * m, 15))
            out[f, j, 1] = sat32(rshift_round(np.int64(xc[f, j, 1]) * m, 15))


@njit(cache=True)
def apply_mask_real(e, masks, c, out):
    """out (F, J) int16 = sat16(round(e * mask / 2**15)) (mask_mul_s16 with mask_frac 15)."""
    f_n, j_n = e.shape
    for f in range(f_n):
        for j in range(j_n):
            out[f, j] = sat16(rshift_round(np.int64(e[f, j]) * masks[j, c, f], 15))


@njit(cache=True)
def narrow16(v, shift, out):
    """out = sat16(round(v / 2**shift)) (Q16 log values -> int16 features)."""
    for i in range(v.shape[0]):
        out[i] = sat16(rshift_round(np.int64(v[i]), shift))
