"""Dot/matvec/dense and causal convolutions: cmsisdsp, exact integer references, chunk invariance."""

import itertools
from collections import Counter

import cmsisdsp as dsp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearpipe.errors import InvalidInput
from hearpipe.fixed import conv, count, linalg
from hearpipe.fixed.ops import new_ops, quantize_multipliers

RNG = np.random.default_rng(7)


def _i16(shape, lo=-32768, hi=32768):
    return RNG.integers(lo, hi, shape).astype(np.int16)


def _rq_s64(acc: int, mult: int, shift: int) -> int:
    """arm_nn_requantize_s64 in Python integers (the oracle of every s16 layer's output stage)."""
    red = (mult + 2**15) >> 16 if mult < 0x7FFF0000 else 0x7FFF
    r = (acc * red) >> (14 - shift)
    r = (r + 2**31) % 2**32 - 2**31
    return (r + 1) >> 1


def test_dot_q15_bit_exact_with_cmsis():
    for n in (1, 7, 64, 1000):
        a, b = _i16(n), _i16(n)
        assert linalg.dot_q15(a, b, new_ops()) == dsp.arm_dot_prod_q15(a, b)
    full = np.full(4096, -32768, np.int16)  # the worst case: 2**42, exact in the 64-bit accumulator
    assert linalg.dot_q15(full, full, new_ops()) == 4096 * 2**30 == dsp.arm_dot_prod_q15(full, full)


@pytest.mark.parametrize("wdt", [np.int8, np.int16])
def test_matvec_exact_and_acc32_guard(wdt):
    info = np.iinfo(wdt)
    w = RNG.integers(info.min, info.max + 1, (13, 37)).astype(wdt)
    x = _i16(37)
    exact = w.astype(np.int64) @ x.astype(np.int64)
    assert np.array_equal(linalg.matvec(w, x), exact)
    w[0] = info.min
    x[:] = -32768
    assert np.array_equal(linalg.matvec(w, x), w.astype(np.int64) @ x.astype(np.int64))
    small = (w // 64).astype(wdt) if wdt == np.int16 else w[:, :31]
    xs = x[: small.shape[1]]
    if linalg.acc32_is_safe(small):
        assert np.array_equal(
            linalg.matvec(small, xs, acc_bits=32), small.astype(np.int64) @ xs.astype(np.int64)
        )
    with pytest.raises(InvalidInput, match="acc_bits=32 could overflow"):
        linalg.matvec(np.full((2, 600), -128, np.int8), np.zeros(600, np.int16), acc_bits=32)


def test_matvec_q15_matches_cmsis_semantics():
    w, x = _i16((9, 21)), _i16(21)
    out = np.empty(9, np.int16)
    linalg.matvec_q15(w, x, out, new_ops())
    exact = (w.astype(np.int64) @ x.astype(np.int64)) >> 15
    assert np.array_equal(out, np.clip(exact, -32768, 32767))
    assert np.array_equal(out, dsp.arm_mat_vec_mult_q15(w, x))


@pytest.mark.parametrize("wdt", [np.int8, np.int16])
def test_dense_matches_integer_reference(wdt):
    m_n, k_n, b_n = 11, 19, 4
    info = np.iinfo(wdt)
    w = RNG.integers(info.min, info.max + 1, (m_n, k_n)).astype(wdt)
    x = _i16((b_n, k_n))
    bias = RNG.integers(-(2**30), 2**30, m_n)
    mult, shift = quantize_multipliers(RNG.uniform(1e-6, 1e-3, m_n))
    y = linalg.dense(w, x, bias, mult, shift, act_min=-20000, act_max=30000)
    for b in range(b_n):
        for m in range(m_n):
            acc = int(bias[m]) + sum(int(w[m, k]) * int(x[b, k]) for k in range(k_n))
            assert y[b, m] == min(max(_rq_s64(acc, int(mult[m]), int(shift[m])), -20000), 30000)
    # rows of a batch are independent: one frame at a time gives the same result
    assert np.array_equal(
        np.stack([linalg.dense(w, x[b], bias, mult, shift, -20000, 30000) for b in range(b_n)]), y
    )


def test_fir_q15_bit_exact_with_cmsis_across_calls():
    taps = 10
    b = _i16(taps, -20000, 20000)
    x = _i16(300)
    inst = dsp.arm_fir_instance_q15()
    block = 50
    dsp.arm_fir_init_q15(inst, taps, b[::-1].copy(), np.zeros(taps + block - 1, np.int16))  # CMSIS: reversed
    ref = np.concatenate([dsp.arm_fir_q15(inst, x[i : i + block]) for i in range(0, 300, block)])
    state = np.zeros((1, taps - 1), np.int16)
    ours = []
    for lo, hi in [(0, 1), (1, 5), (5, 130), (130, 131), (131, 300)]:  # awkward, unrelated splits
        y = np.empty((1, hi - lo), np.int16)
        conv.fir_q15(np.ascontiguousarray(x[None, lo:hi]), b, state, y, new_ops())
        ours.append(y[0])
    assert np.array_equal(np.concatenate(ours), ref)


def test_fir_q15_shifted_per_channel_taps_and_post_shift():
    """One tap row per channel stored as q15 * 2**-post_shift: exact sum >> (15 - post_shift), saturated,
    the same for any split of the signal; its op count is arm_fir_q15's."""
    taps, post_shift = _i16((2, 7)), 3
    x = _i16((2, 60))
    ref = np.empty_like(x)
    for c in range(2):
        for t in range(60):
            acc = sum(int(taps[c, k]) * int(x[c, t - k]) for k in range(7) if t - k >= 0)
            ref[c, t] = min(max(acc >> (15 - post_shift), -32768), 32767)
    state, ops, ours, chunks = np.zeros((2, 6), np.int16), new_ops(), [], [(0, 3), (3, 41), (41, 60)]
    for lo, hi in chunks:
        y = np.empty((2, hi - lo), np.int16)
        conv.fir_q15_shifted(np.ascontiguousarray(x[:, lo:hi]), taps, state, post_shift, y, ops)
        ours.append(y)
    assert np.array_equal(np.concatenate(ours, axis=1), ref)
    assert count.from_array(ops) == sum((count.fir_q15(2, hi - lo, 7) for lo, hi in chunks), Counter())


def _conv_ref(x, w, bias, mult, shift, dilation, lo, hi):
    """Direct causal convolution with zero history, Python integers."""
    o_n, i_n, k_n = w.shape
    t_n = x.shape[1]
    y = np.zeros((o_n, t_n), np.int64)
    for o in range(o_n):
        for t in range(t_n):
            acc = int(bias[o])
            for i in range(i_n):
                for k in range(k_n):
                    idx = t - (k_n - 1 - k) * dilation
                    if idx >= 0:
                        acc += int(w[o, i, k]) * int(x[i, idx])
            y[o, t] = min(max(_rq_s64(acc, int(mult[o]), int(shift[o])), lo), hi)
    return y


def _run_chunks(fn, x, state, cuts, out_rows, *args):
    ys = []
    edges = [0, *sorted(cuts), x.shape[1]]
    for a, b in itertools.pairwise(edges):
        y = np.empty((out_rows, b - a), np.int16)
        fn(np.ascontiguousarray(x[:, a:b]), state, *args, y, new_ops())
        ys.append(y)
    return np.concatenate(ys, axis=1)


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(1, 4),
    d=st.integers(1, 3),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    int8=st.booleans(),
)
def test_conv1d_causal_dilated_chunk_invariant(k, d, cuts, int8):
    rng = np.random.default_rng(k * 100 + d)
    i_n, o_n, t_n = 3, 4, 40
    wdt = np.int8 if int8 else np.int16
    info = np.iinfo(wdt)
    w = rng.integers(info.min, info.max + 1, (o_n, i_n, k)).astype(wdt)
    x = rng.integers(-32768, 32768, (i_n, t_n)).astype(np.int16)
    bias = rng.integers(-(2**20), 2**20, o_n)
    mult, shift = quantize_multipliers(rng.uniform(1e-5, 1e-3, o_n))
    ref = _conv_ref(x, w, bias, mult, shift, d, -32768, 32767)
    state = np.zeros((i_n, (k - 1) * d), np.int16)
    y = _run_chunks(conv.conv1d_s16, x, state, cuts, o_n, w, bias, mult, shift, -32768, 32767, d)
    assert np.array_equal(y, ref)
    # depthwise = the diagonal of a full convolution; pointwise = k = 1
    wd = w[:, 0, :].copy()[:i_n]
    state = np.zeros((i_n, (k - 1) * d), np.int16)
    yd = _run_chunks(
        conv.dwconv1d_s16, x, state, cuts, i_n, wd, bias[:i_n], mult[:i_n], shift[:i_n], 0, 32767, d
    )
    full = np.zeros((i_n, i_n, k), wdt)
    for c in range(i_n):
        full[c, c] = wd[c]
    assert np.array_equal(yd, _conv_ref(x, full, bias, mult, shift, d, 0, 32767))
    yp = np.empty((o_n, t_n), np.int16)
    conv.pwconv1d_s16(x, np.ascontiguousarray(w[:, :, 0]), bias, mult, shift, -32768, 32767, yp, new_ops())
    assert np.array_equal(yp, _conv_ref(x, w[:, :, :1], bias, mult, shift, 1, -32768, 32767))


def test_conv1d_full_scale_never_wraps():
    # worst-case inputs and weights: the int64 accumulator is exact, the output saturates at the rails
    w = np.full((2, 8, 5), -32768, np.int16)
    w[1] = 32767
    x = np.full((8, 30), -32768, np.int16)
    mult, shift = quantize_multipliers([2.0**-10, 2.0**-10])
    y = np.empty((2, 30), np.int16)
    conv.conv1d_s16(
        x, np.zeros((8, 8), np.int16), w, np.zeros(2, np.int64), mult, shift, -32768, 32767, 2, y, new_ops()
    )
    assert np.all(y[0] == 32767) and np.all(y[1, 8:] == -32768)


def test_conv_wrappers_validate_and_agree_with_kernels():
    w = RNG.integers(-100, 100, (2, 3, 3)).astype(np.int16)
    x = _i16((3, 12))
    mult, shift = quantize_multipliers([1e-3, 2e-3])
    y = conv.conv1d(x, np.zeros((3, 4), np.int16), w, 0, mult, shift, dilation=2)
    assert np.array_equal(y, _conv_ref(x, w, np.zeros(2), mult, shift, 2, -32768, 32767))
    with pytest.raises(InvalidInput, match=r"state must be a C-contiguous int16 array of shape \(3, 4\)"):
        conv.conv1d(x, np.zeros((3, 2), np.int16), w, 0, mult, shift, dilation=2)
    with pytest.raises(InvalidInput, match="shift must be in"):
        conv.pwconv1d(x, w[:, :, 0], 0, mult, [9, 0])
    st_ = np.zeros((3, 4), np.int16)
    assert np.array_equal(conv.fir(x, _i16(5), st_).shape, (3, 12))


def test_conv_wrappers_refuse_inputs_the_weights_do_not_fit():
    """The numba kernels read rows without bounds checks: a mismatched input must be refused first."""
    x = np.zeros((2, 8), np.int16)
    mult, shift = quantize_multipliers([0.5] * 4)
    with pytest.raises(InvalidInput, match="x has 2 channels but the weights expect 3"):
        conv.conv1d(x, np.zeros((3, 2), np.int16), np.zeros((4, 3, 3), np.int16), 0, mult, shift)
    with pytest.raises(InvalidInput, match="x has 2 channels but the weights expect 4"):
        conv.dwconv1d(x, np.zeros((4, 2), np.int16), np.zeros((4, 3), np.int16), 0, mult, shift)
    with pytest.raises(InvalidInput, match="x has 2 channels but the weights expect 3"):
        conv.pwconv1d(x, np.zeros((4, 3), np.int16), 0, mult, shift)
    with pytest.raises(InvalidInput, match=r"weights must be 3-D"):
        conv.conv1d(x, np.zeros((2, 2), np.int16), np.zeros((4, 2), np.int16), 0, mult, shift)
