"""numba kernels of the fixed-point GroupComm inference (`fixed_model`, `fixed_stream`, `codec`).

Fused versions of the `hearpipe.fixed` kernels for one model: the whole per-frame network runs in
one call (a hearing aid calls it once per hop), built from the same scalar arithmetic as the
library (`requantize_s64`, `sat16`, `rshift_round`, `sigmoid_q15`, `tanh_q15`, `log2_q16`), so every
output equals what `dense_s16`, `gru_s16`/`lstm_s16`, `prelu_s16`, `mean_groups_s16`, `add_q15` and
`mask_mul_s16` compute in sequence (tests/test_groupcomm_fixed.py runs both paths and compares).

Speed (results unchanged, all integer sums exact in any order): `_dense` runs the K groups of a
frame through one call; acc32-safe layers (int8 weights: sum |w| * 32768 < 2**31,
`hearpipe.fixed.linalg.acc32_is_safe`) accumulate in int32 lanes - a row-major dot product for
K >= 32, else transposed weights with the loop over outputs vectorised - other layers in int64; the
requantisation runs in a separate loop (inside the dot loop it blocks vectorisation). The
interpolated sigmoid/tanh tables are expanded once to all 65536 int16 inputs (`expand_tables`,
evaluated with the library's `sigmoid_q15` / `tanh_q15`, so the values are identical); the device
keeps the 257/513-entry tables (the operation counts and ROM figures are those of the device).

Layer table `lay` (n_layers, 9) int64: offset of the transposed weights in `wt` (flat int16; int8
values widened), rows M (outputs), cols K (inputs), offset of the layer's rows in `bias` (int64,
accumulator scale), `mq` (Q15 reduced multipliers, CMSIS `REDUCE_MULTIPLIER` applied once) and `sh`
(shifts), offset of the row-major copy, loop mode (0 int64, 1 int32 dot, 2 int32 transposed, 3 packed),
and for packed layers (compressed files, `hearpipe.models.weights.PackedLayer`) the bits per value, the
offsets of the codebook (-1: none) and of the row mask (-1: no pruned rows).

numba caches this file's kernels keyed on this file only: after editing `hearpipe/fixed/ops.py` or
`tables.py`, delete the cache (docs/fixed_point.md section 10). The conv encoder/decoder kernels
(`encode_stream`, `decode_ola`) live here too, so they share `_dense` within one cached file.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hearpipe.fixed.elementwise import deep_filter_frame
from hearpipe.fixed.ops import requantize_s64, rshift_round, sat16, sat32
from hearpipe.fixed.packing import read_bits
from hearpipe.fixed.tables import log2_q16, sigmoid_q15, tanh_q15

# dims indices
(D_K, D_D, D_H, D_HI, D_C, D_P, D_F, D_BLOCKS, D_LAYERS, D_INTER, D_RNN, D_ACC32, D_EMA, D_DF,
 D_TCNK) = range(15)  # fmt: skip
INTER_NONE, INTER_TAC, INTER_RNN = 0, 1, 2
RNN_GRU, RNN_LSTM, RNN_TCN = 0, 1, 2
# fmts indices: feature frac, residual frac, PReLU slope frac, then one TAC frac per block
F_FEAT, F_RES, F_ALPHA, F_TAC0 = 0, 1, 2, 3


@njit(cache=True)
def _dense(wt, lay, li, xs, nb, bias, mq, sh, lo, hi, outs, acc):
    """outs[b, m] = clamp(requantize_s64(sum_k w[m, k] xs[b, k] + bias[m]), lo, hi) for b < nb, layer li
    (dense_s16 on nb independent vectors sharing the weights, e.g. the K groups).

    Loop order and accumulator by lay[li, 5], all exact: 0 - weights transposed (K, M) at lay[li, 0]
    in `wt`, int64 accumulators (any weights); 2 - the same with int32 accumulators (layers proven
    acc32-safe: sum |w| * 32768 < 2**31); 1 - acc32-safe layers with K >= 32: a row-major (M, K) copy
    at lay[li, 4], a 32-bit dot product per row (SIMD multiply-add of int16 pairs); 3 - a packed layer
    as stored (`hearpipe.fixed.packing`): each kept row's values are read from the bit stream (codebook
    indices looked up) into a row buffer, then dotted with every input in int32; pruned rows (row mask
    bit 0) are skipped and give the bias alone. `wt` is int16
    (int8 weights held widened: the same values); acc = (int64 (>= nb, >= M), int32 (>= nb, >= M))
    accumulator scratch - both passed, so one compiled variant serves every model."""
    woff, m_n, k_n, boff = lay[li, 0], lay[li, 1], lay[li, 2], lay[li, 3]
    mode = lay[li, 5]
    a64, a32 = acc
    if mode == 1:
        wr = wt[lay[li, 4] : lay[li, 4] + m_n * k_n].reshape((m_n, k_n))
        for b in range(nb):
            xb = xs[b]
            ab = a32[b]
            for m in range(m_n):
                wm = wr[m]
                s = np.int32(0)
                for k in range(k_n):  # written this way numba/LLVM emit SIMD multiply-adds (measured)
                    s += np.int32(wm[k]) * np.int32(xb[k])
                ab[m] = s
    elif mode == 3:
        bits, cb, mo = lay[li, 6], lay[li, 7], lay[li, 8]
        row = np.empty(k_n, np.int32)
        pos = 0
        for m in range(m_n):
            if mo >= 0 and read_bits(wt, mo, m, 1, False) == 0:
                for b in range(nb):
                    a32[b, m] = 0
                continue
            for k in range(k_n):
                v = read_bits(wt, woff, pos, bits, cb < 0)
                row[k] = wt[cb + v] if cb >= 0 else v
                pos += bits
            for b in range(nb):
                xb = xs[b]
                s = np.int32(0)
                for k in range(k_n):
                    s += row[k] * np.int32(xb[k])
                a32[b, m] = s
    elif mode == 2:
        w = wt[woff : woff + k_n * m_n].reshape((k_n, m_n))  # a 2-D view: the loop over m vectorises
        for b in range(nb):
            ab = a32[b]
            for m in range(m_n):
                ab[m] = 0
        for k in range(k_n):
            wk = w[k]
            for b in range(nb):
                xk = np.int32(xs[b, k])
                ab = a32[b]
                for m in range(m_n):
                    ab[m] += np.int32(wk[m]) * xk
    else:
        w = wt[woff : woff + k_n * m_n].reshape((k_n, m_n))
        for b in range(nb):
            ab = a64[b]
            for m in range(m_n):
                ab[m] = 0
        for k in range(k_n):
            wk = w[k]
            for b in range(nb):
                xk = np.int64(xs[b, k])
                ab = a64[b]
                for m in range(m_n):
                    ab[m] += np.int64(wk[m]) * xk
    # requantisation in its own loop: inside the dot loop it stops the vectorisation (measured 2x)
    for b in range(nb):
        ob = outs[b]
        if mode == 0:
            ab64 = a64[b]
            for m in range(m_n):
                v = requantize_s64(ab64[m] + bias[boff + m], mq[boff + m], sh[boff + m])
                ob[m] = min(max(v, lo), hi)
        else:
            ab32 = a32[b]
            for m in range(m_n):
                v = requantize_s64(np.int64(ab32[m]) + bias[boff + m], mq[boff + m], sh[boff + m])
                ob[m] = min(max(v, lo), hi)


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
def _gru(wt, lay, li, xs, nb, hs, bias, mq, sh, gx, gh, sig_f, tanh_f, acc):
    """One GRU step (gru_s16 arithmetic) of nb sequences: xs (nb, I) int16, hs (nb, H) Q15 updated in
    place; gx, gh (nb, 3H) scratch."""
    hd = lay[li + 1, 2]
    _dense(wt, lay, li, xs, nb, bias, mq, sh, -32768, 32767, gx, acc)
    _dense(wt, lay, li + 1, hs, nb, bias, mq, sh, -32768, 32767, gh, acc)
    for b in range(nb):
        gxb, ghb, h = gx[b], gh[b], hs[b]
        for j in range(hd):
            r = np.int64(sig_f[sat16(np.int64(gxb[j]) + ghb[j]) + 32768])
            z = np.int64(sig_f[sat16(np.int64(gxb[hd + j]) + ghb[hd + j]) + 32768])
            npre = sat16(np.int64(gxb[2 * hd + j]) + rshift_round(r * np.int64(ghb[2 * hd + j]), 15))
            n = np.int64(tanh_f[npre + 32768])
            h[j] = sat16(n + rshift_round(z * (np.int64(h[j]) - n), 15))


@njit(cache=True)
def _lstm(wt, lay, li, xs, nb, hs, cs, bias, mq, sh, gx, gh, sig_f, tanh_f, acc):
    """One LSTM step (lstm_s16 arithmetic) of nb sequences: hs (nb, H) Q15 and cs (nb, H) Q4.12 updated
    in place; gx, gh (nb, 4H) scratch."""
    hd = lay[li + 1, 2]
    _dense(wt, lay, li, xs, nb, bias, mq, sh, -32768, 32767, gx, acc)
    _dense(wt, lay, li + 1, hs, nb, bias, mq, sh, -32768, 32767, gh, acc)
    for b in range(nb):
        gxb, ghb, h, c = gx[b], gh[b], hs[b], cs[b]
        for j in range(hd):
            ig = np.int64(sig_f[sat16(np.int64(gxb[j]) + ghb[j]) + 32768])
            fg = np.int64(sig_f[sat16(np.int64(gxb[hd + j]) + ghb[hd + j]) + 32768])
            gg = np.int64(tanh_f[sat16(np.int64(gxb[2 * hd + j]) + ghb[2 * hd + j]) + 32768])
            og = np.int64(sig_f[sat16(np.int64(gxb[3 * hd + j]) + ghb[3 * hd + j]) + 32768])
            cn = sat16(rshift_round(8 * fg * np.int64(c[j]) + ig * gg, 18))
            c[j] = cn
            h[j] = sat16(rshift_round(og * np.int64(tanh_f[cn + 32768]), 15))


@njit(cache=True)
def _tcn(wt, lay, li, xs, n_in, nb, past, dil, taps, hs, bias, mq, sh, u, pre, tanh_f, acc):
    """One causal dilated conv layer (TCN) of nb sequences on one frame: xs (nb, >= I) int16, inputs in
    the first I = n_in columns; past (nb, >= (taps-1) dil I) their earlier values, newest first (lag j at
    [(j-1) I, j I)), moved on one frame; hs (nb, H) Q15 <- tanh(W [x_t; x_{t-dil}; ...; x_{t-(taps-1) dil}] + b) (pre-activation
    Q4.12, saturating). u (nb, taps I) and pre (nb, H) scratch."""
    hd = lay[li, 1]
    n_past = (taps - 1) * dil
    for b in range(nb):
        for i in range(n_in):
            u[b, i] = xs[b, i]
        for j in range(1, taps):
            o = (j * dil - 1) * n_in
            for i in range(n_in):
                u[b, j * n_in + i] = past[b, o + i]
    _dense(wt, lay, li, u, nb, bias, mq, sh, -32768, 32767, pre, acc)
    for b in range(nb):
        for k in range((n_past - 1) * n_in - 1, -1, -1):
            past[b, k + n_in] = past[b, k]
        for i in range(n_in):
            past[b, i] = xs[b, i]
        for j in range(hd):
            hs[b, j] = tanh_f[np.int64(pre[b, j]) + 32768]


@njit(cache=True)
def _net_frame(
    feat, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st, sig_f, tanh_f, scr, acc, masks, dfc
):
    """The mask estimator on one frame: inputs feat (1, n_in) int16 (format fmts[F_FEAT]) -> masks (C, F)
    Q15 and, with L = dims[D_DF] > 0 deep-filter taps, its tanh terms dfc (C, L, 2, F) Q15. h_st
    (blocks * layers, K, H) int16: recurrent state (TCN: the layers' outputs); c_st (blocks * layers, K,
    >= H): LSTM cell states or the TCN layers' earlier inputs; both updated in place. scr (9, >= K,
    width) int16 scratch; acc (int64, int32) accumulator scratch, each (>= K, width) (see `_dense`)."""
    kk, d, hi, cc, pp, ff = dims[D_K], dims[D_D], dims[D_HI], dims[D_C], dims[D_P], dims[D_F]
    n_blocks, n_layers, inter, rnn = dims[D_BLOCKS], dims[D_LAYERS], dims[D_INTER], dims[D_RNN]
    afrac = fmts[F_ALPHA]
    lo, hi16 = -32768, 32767
    x = scr[0]  # (K, width): residual stream x_g in [:, :D]
    z = scr[1]  # TAC z_g / GRNN forward states
    zm = scr[2]  # TAC [z_g; m] / GRNN [h_fwd; h_bwd]
    y = scr[3]  # branch outputs
    misc = scr[4]
    tmp = misc[0:1]  # (1, width) single vectors
    tmp2 = misc[1:2]
    hb = scr[6]  # GRNN backward states
    gx = scr[7]  # gate pre-activations (K, G*H)
    gh = scr[8]
    # typed int64: a literal 0 or 1 would compile one more version of _dense, _gru or _prelu (first-run time)
    li, aoff, one = np.int64(0), np.int64(0), np.int64(1)
    # input projection: (F,) -> n_model values = K groups of D
    _dense(wt, lay, li, feat, one, bias, mq, sh, lo, hi16, tmp, acc)
    li += 1
    for g in range(kk):
        for i in range(d):
            x[g, i] = tmp[0, g * d + i]
    for r in range(n_blocks):
        if inter == INTER_TAC:
            _dense(wt, lay, li, x, kk, bias, mq, sh, lo, hi16, z, acc)
            for g in range(kk):
                _prelu(z[g], alpha, aoff, afrac, hi)
            # mean over groups (mean_groups_s16: rounding half away from zero)
            half = kk // 2
            for i in range(hi):
                tot = np.int64(0)
                for g in range(kk):
                    tot += z[g, i]
                tot = tot + half if tot > 0 else tot - half
                q = abs(tot) // kk
                tmp[0, i] = sat16(q if tot >= 0 else -q)
            _dense(wt, lay, li + 1, tmp, one, bias, mq, sh, lo, hi16, tmp2, acc)
            _prelu(tmp2[0], alpha, aoff + hi, afrac, hi)
            for g in range(kk):
                for i in range(hi):
                    zm[g, i] = z[g, i]
                    zm[g, hi + i] = tmp2[0, i]
            _dense(wt, lay, li + 2, zm, kk, bias, mq, sh, lo, hi16, y, acc)
            for g in range(kk):
                _prelu(y[g], alpha, aoff + 2 * hi, afrac, d)
                for i in range(d):
                    x[g, i] = sat16(np.int64(x[g, i]) + y[g, i])
            li += 3
            aoff += 2 * hi + d
        elif inter == INTER_RNN:
            # bidirectional GRU across the groups of this frame, from a zero state every frame
            for i in range(hi):
                tmp2[0, i] = 0
            for g in range(kk):
                _gru(wt, lay, li, x[g : g + 1], one, tmp2, bias, mq, sh, gx, gh, sig_f, tanh_f, acc)
                for i in range(hi):
                    z[g, i] = tmp2[0, i]
            for i in range(hi):
                tmp2[0, i] = 0
            for g in range(kk - 1, -1, -1):
                _gru(wt, lay, li + 2, x[g : g + 1], one, tmp2, bias, mq, sh, gx, gh, sig_f, tanh_f, acc)
                for i in range(hi):
                    hb[g, i] = tmp2[0, i]
            for g in range(kk):
                for i in range(hi):
                    zm[g, i] = z[g, i]
                    zm[g, hi + i] = hb[g, i]
            _dense(wt, lay, li + 4, zm, kk, bias, mq, sh, lo, hi16, y, acc)
            for g in range(kk):
                for i in range(d):
                    x[g, i] = sat16(np.int64(x[g, i]) + y[g, i])
            li += 5
        # sequence module over the K groups (shared weights, state per block, layer and group)
        for layer in range(n_layers):
            st = r * n_layers + layer
            inp = x if layer == 0 else h_st[st - 1]
            if rnn == RNN_TCN:
                n_in = d if layer == 0 else dims[D_H]
                _tcn(wt, lay, li, inp, n_in, kk, c_st[st], 2**layer, dims[D_TCNK], h_st[st], bias, mq, sh, gh,
                     gx, tanh_f, acc)  # fmt: skip
                li += 1
                continue
            if rnn == RNN_GRU:
                _gru(wt, lay, li, inp, kk, h_st[st], bias, mq, sh, gx, gh, sig_f, tanh_f, acc)
            else:
                _lstm(wt, lay, li, inp, kk, h_st[st], c_st[st], bias, mq, sh, gx, gh, sig_f, tanh_f, acc)
            li += 2
        _dense(wt, lay, li, h_st[r * n_layers + n_layers - 1], kk, bias, mq, sh, lo, hi16, y, acc)
        for g in range(kk):
            for i in range(d):
                x[g, i] = sat16(np.int64(x[g, i]) + y[g, i])
        li += 1
    # mask head: logits in Q4.12, sigmoid table -> Q15; group g holds features g*P .. g*P+P-1
    _dense(wt, lay, li, x, kk, bias, mq, sh, lo, hi16, y, acc)
    for g in range(kk):
        for c in range(cc):
            for p in range(pp):
                f = g * pp + p
                if f < ff:
                    masks[c, f] = sig_f[np.int64(y[g, c * pp + p]) + 32768]
    taps = dims[D_DF]
    if taps:  # deep-filter head (the next layer): logits Q4.12 per (output, tap, re/im, band), tanh table
        _dense(wt, lay, li + 1, x, kk, bias, mq, sh, lo, hi16, y, acc)
        for g in range(kk):
            for c in range(cc):
                for t in range(2 * taps):
                    for p in range(pp):
                        f = g * pp + p
                        if f < ff:
                            dfc[c, t // 2, t % 2, f] = tanh_f[
                                np.int64(y[g, (c * 2 * taps + t) * pp + p]) + 32768
                            ]


@njit(inline="always", cache=True)
def _push_frame(dline):
    """The deep filter's delay line (L, ...), C-contiguous: rows move one frame older; row 0 is then
    rewritten. Element by element: a row assignment would compile numba's shape-mismatch error message
    (string formatting), seconds of the first run's compile time for a check that cannot fail here."""
    flat = dline.reshape(-1)
    row = flat.shape[0] // dline.shape[0]
    for i in range(flat.shape[0] - 1, row - 1, -1):
        flat[i] = flat[i - row]


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
    """Power of real int16 features e (F, J) -> out (J, F) int64 = sat(e^2 << p_shift) + eps."""
    f_n, j_n = e.shape
    lim = np.int64(1) << (62 - p_shift)
    for f in range(f_n):
        for j in range(j_n):
            v = np.int64(e[f, j])
            p = v * v
            out[j, f] = ((np.int64(1) << 62) if p >= lim else p << p_shift) + eps


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
def narrow16(v, shift, out):
    """out = sat16(round(v / 2**shift)) (Q16 log values -> int16 features)."""
    for i in range(v.shape[0]):
        out[i] = sat16(rshift_round(np.int64(v[i]), shift))


@njit(inline="always", cache=True)
def _log_feature(p, p_shift, lim, eps, p_frac, c24, log_t, ffrac):
    """One input feature: the power p (int64) aligned by p_shift (saturating at 2**62), log2 by table,
    times c24 (the feature scale, Q24), narrowed to the int16 feature format."""
    if p_shift > 0:
        p = (np.int64(1) << 62) if p >= lim else p << p_shift
    v = sat32(rshift_round(log2_q16(p + eps, p_frac, log_t) * c24, 24))
    return sat16(rshift_round(v, 16 - ffrac))


@njit(inline="always", cache=True)
def _n_in(dims):
    """Inputs of the projection: F features, doubled by the running-mean deviations (`deviation`)."""
    return dims[D_F] * (2 if dims[D_EMA] else 1)


@njit(cache=True)
def deviation(feat, f_n, ema, k):
    """feat (1, 2F): feat[0, F + f] = sat16(f - mean_f), after mean += round((f - mean) / 2**k) (the first
    frame sets mean = f). ema (F + 1,) int64: means with 16 more fraction bits than the features, and a
    started flag. k = 0: nothing (no such input)."""
    if k == 0:
        return
    first = ema[f_n] == 0
    for f in range(f_n):
        v = np.int64(feat[0, f]) << 16
        ema[f] = v if first else ema[f] + rshift_round(v - ema[f], k)
        feat[0, f_n + f] = sat16(np.int64(feat[0, f]) - rshift_round(ema[f], 16))
    ema[f_n] = 1


@njit(cache=True)
def run_stft(
    xc, p_shift, eps, p_frac, c24, log_t, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st, ema, dline, dfc,
    sig_f, tanh_f, scr, acc, out_idx, masks, out, ops, ops_frame,
):  # fmt: skip
    """Frames of an int32 spectrum xc (F, J, 2), one at a time: power (`power_stft`), log features
    (`log_features`), the network (`_net_frame`) -> masks (J, C, F) Q15, and out (F, J, 2) =
    round(X * masks[:, out_idx] / 2**15) or, with deep-filter taps, `deep_filter_frame` over the delay
    line dline (L, F, 2) int32 (state; dfc scratch). ops += ops_frame * J."""
    f_n, j_n = xc.shape[0], xc.shape[1]
    feat = np.empty((1, _n_in(dims)), np.int16)
    lim = np.int64(1) << (62 - p_shift)
    ffrac = fmts[F_FEAT]
    for j in range(j_n):
        for f in range(f_n):
            re = max(np.int64(xc[f, j, 0]), -2147483647)
            im = max(np.int64(xc[f, j, 1]), -2147483647)
            feat[0, f] = _log_feature(re * re + im * im, p_shift, lim, eps, p_frac, c24, log_t, ffrac)
        deviation(feat, f_n, ema, dims[D_EMA])
        _net_frame(
            feat,
            dims,
            fmts,
            lay,
            wt,
            bias,
            mq,
            sh,
            alpha,
            h_st,
            c_st,
            sig_f,
            tanh_f,
            scr,
            acc,
            masks[j],
            dfc,
        )
        if dims[D_DF]:
            _push_frame(dline)
            for f in range(f_n):
                dline[0, f, 0], dline[0, f, 1] = xc[f, j, 0], xc[f, j, 1]
            deep_filter_frame(
                dline[:, :, 0], dline[:, :, 1], masks[j, out_idx], dfc[out_idx, :, 0], dfc[out_idx, :, 1],
                -2147483648, 2147483647, out[:, j, 0], out[:, j, 1],
            )  # fmt: skip
        else:
            for f in range(f_n):
                m = np.int64(masks[j, out_idx, f])
                out[f, j, 0] = sat32(rshift_round(np.int64(xc[f, j, 0]) * m, 15))
                out[f, j, 1] = sat32(rshift_round(np.int64(xc[f, j, 1]) * m, 15))
    for k in range(ops.shape[0]):
        ops[k] += ops_frame[k] * j_n


@njit(cache=True)
def _conv_mask_frame(
    e, feat, p_shift, lim, eps, p_frac, c24, log_t, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st,
    ema, dline, dfc, sig_f, tanh_f, scr, acc, out_idx, masks, out,
):  # fmt: skip
    """One encoder frame e (N,) int16 -> F = dims[D_F] features: power e^2 (`power_real`), or with
    N = 2F complex bands e[f]^2 + e[f + F]^2; log features (and `deviation`), the network -> masks (C, F) Q15,
    out (N,) = sat16(round(e * mask / 2**15)) (`mask_mul_s16`, mask_frac 15; a band's mask on both) or,
    with deep-filter taps, `deep_filter_frame` over the delay line dline (L, N) int16 (state)."""
    n_n, f_n = e.shape[0], dims[D_F]
    ffrac = fmts[F_FEAT]
    for f in range(f_n):
        x = np.int64(e[f])
        p = x * x
        if n_n > f_n:
            y = np.int64(e[f + f_n])
            p += y * y
        feat[0, f] = _log_feature(p, p_shift, lim, eps, p_frac, c24, log_t, ffrac)
    deviation(feat, f_n, ema, dims[D_EMA])
    _net_frame(
        feat, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st, sig_f, tanh_f, scr, acc, masks, dfc
    )
    if dims[D_DF]:
        _push_frame(dline)
        for i in range(n_n):
            dline[0, i] = e[i]
        deep_filter_frame(
            dline[:, :f_n], dline[:, f_n:], masks[out_idx], dfc[out_idx, :, 0], dfc[out_idx, :, 1], -32768, 32767,
            out[:f_n], out[f_n:],
        )  # fmt: skip
        return
    for i in range(n_n):
        out[i] = sat16(rshift_round(np.int64(e[i]) * masks[out_idx, i % f_n], 15))


@njit(cache=True)
def run_conv(
    e, p_shift, eps, p_frac, c24, log_t, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st, ema, dline, dfc,
    sig_f, tanh_f, scr, acc, out_idx, masks, out, ops, ops_frame,
):  # fmt: skip
    """As `run_stft` for real int16 encoder frames e (N, J): `_conv_mask_frame` per frame, out (N, J)."""
    j_n = e.shape[1]
    feat = np.empty((1, _n_in(dims)), np.int16)
    lim = np.int64(1) << (62 - p_shift)
    for j in range(j_n):
        _conv_mask_frame(
            e[:, j], feat, p_shift, lim, eps, p_frac, c24, log_t, dims, fmts, lay, wt, bias, mq, sh, alpha,
            h_st, c_st, ema, dline, dfc, sig_f, tanh_f, scr, acc, out_idx, masks[j], out[:, j],
        )  # fmt: skip
    for k in range(ops.shape[0]):
        ops[k] += ops_frame[k] * j_n


# -- learned conv encoder / decoder (hearpipe.models.groupcomm.codec) -------------------------------
@njit(cache=True)
def _encode_frame(x, hist, wt, lay, bias, mq, sh, acc, frame, col):
    """One hop x (hop,) int16 q15 after the delay line hist (W - hop,) (updated): col (1, N) = the
    requantised frame (`dense_s16` arithmetic)."""
    hop = x.shape[0]
    keep = frame.shape[1] - hop
    for i in range(keep):
        frame[0, i] = hist[i]
    for i in range(hop):
        frame[0, keep + i] = x[i]
    _dense(wt, lay, np.int64(0), frame, np.int64(1), bias, mq, sh, -32768, 32767, col, acc)
    for i in range(keep):
        hist[i] = frame[0, hop + i]


@njit(cache=True)
def _decode_frame(col, wt, lay, mq, sh, acc, bias, carry, out_shift, y, out):
    """One frame col (1, N) int16: the W positions y_i = requantize_s64(sum_n dec[n, i] e[n]) in int32
    with acc_frac bits (`_dense`, one scale per position), added to carry (W,) int32 with saturation;
    then out (hop,) = q15 sat16(round(carry / 2**out_shift)) and the carry shifts by hop."""
    w_n, hop = carry.shape[0], out.shape[0]
    _dense(wt, lay, np.int64(0), col, np.int64(1), bias, mq, sh, -2147483648, 2147483647, y, acc)
    for i in range(w_n):
        carry[i] = sat32(np.int64(carry[i]) + y[0, i])
    for i in range(hop):
        out[i] = sat16(rshift_round(np.int64(carry[i]), out_shift))
    for i in range(w_n - hop):
        carry[i] = carry[i + hop]
    for i in range(w_n - hop, w_n):
        carry[i] = 0


@njit(cache=True)
def encode_stream(x, hist, wt, lay, bias, mq, sh, acc, frame, hop, out, ops, ops_frame):
    """Conv1d(1, N, W, stride hop) of one channel: x (k*hop,) int16 q15, hist (W - hop,) the delay line
    (updated), out (N, k) (`_encode_frame` per hop). ops += ops_frame * k."""
    k_n = x.shape[0] // hop
    col = np.empty((1, out.shape[0]), np.int16)
    for j in range(k_n):
        _encode_frame(x[j * hop : (j + 1) * hop], hist, wt, lay, bias, mq, sh, acc, frame, col)
        for n in range(out.shape[0]):
            out[n, j] = col[0, n]
    for i in range(ops.shape[0]):
        ops[i] += ops_frame[i] * k_n


@njit(cache=True)
def decode_ola(e, wt, lay, mq, sh, acc, bias, carry, hop, out_shift, out, ops, ops_frame):
    """Transposed conv + overlap-add of one channel: e (N, J) int16 -> out (J * hop,) int16 q15
    (`_decode_frame` per frame)."""
    n_n, j_n = e.shape
    col = np.empty((1, n_n), np.int16)
    y = np.empty((1, carry.shape[0]), np.int32)
    for j in range(j_n):
        for n in range(n_n):
            col[0, n] = e[n, j]
        _decode_frame(col, wt, lay, mq, sh, acc, bias, carry, out_shift, y, out[j * hop : (j + 1) * hop])
    for i in range(ops.shape[0]):
        ops[i] += ops_frame[i] * j_n


@njit(cache=True)
def run_conv_chain(
    x, hist, ewt, elay, ebias, emq, esh, eacc, frame,
    p_shift, eps, p_frac, c24, log_t, dims, fmts, lay, wt, bias, mq, sh, alpha, h_st, c_st, ema, dline, dfc,
    sig_f, tanh_f, scr, acc, out_idx, masks,
    dwt, dlay, dmq, dsh, dacc, dbias, carry, out_shift, out, ops, ops_frame,
):  # fmt: skip
    """Encoder, mask estimator and decoder of one channel in one call, hop by hop: x (k*hop,) int16 q15
    -> out (k*hop,) int16 q15, the same integers as `encode_stream`, `run_conv` and `decode_ola` in
    sequence (one call instead of three per hop: a hearing aid's loop). masks (C, F) scratch."""
    hop = frame.shape[1] - hist.shape[0]
    k_n = x.shape[0] // hop
    n_n = elay[0, 1]  # encoder channels (= features, or 2 per complex band)
    col = np.empty((1, n_n), np.int16)
    res = np.empty((1, n_n), np.int16)
    feat = np.empty((1, _n_in(dims)), np.int16)
    y = np.empty((1, carry.shape[0]), np.int32)
    lim = np.int64(1) << (62 - p_shift)
    for j in range(k_n):
        _encode_frame(x[j * hop : (j + 1) * hop], hist, ewt, elay, ebias, emq, esh, eacc, frame, col)
        _conv_mask_frame(
            col[0], feat, p_shift, lim, eps, p_frac, c24, log_t, dims, fmts, lay, wt, bias, mq, sh, alpha,
            h_st, c_st, ema, dline, dfc, sig_f, tanh_f, scr, acc, out_idx, masks, res[0],
        )  # fmt: skip
        _decode_frame(
            res, dwt, dlay, dmq, dsh, dacc, dbias, carry, out_shift, y, out[j * hop : (j + 1) * hop]
        )
    for i in range(ops.shape[0]):
        ops[i] += ops_frame[i] * k_n
