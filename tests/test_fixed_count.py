"""Operation counts: what the kernels count while running equals the analytic count from shapes."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearpipe.budget.cost import OP_KINDS, Cost, add_ops
from hearpipe.fixed import conv, count, elementwise, linalg, ops, tables
from hearpipe.fixed.fft import FixedRfft
from hearpipe.fixed.ops import new_ops, quantize_multipliers
from hearpipe.fixed.rnn import RnnQ

RNG = np.random.default_rng(3)


def _run(fn, *args) -> Counter:
    o = new_ops()
    fn(*args, o)
    return count.from_array(o)


def _i16(shape):
    return RNG.integers(-1000, 1000, shape).astype(np.int16)


def test_kinds_are_cost_kinds():
    c = count.lstm(8, 16, 10, 4)
    assert set(c) <= set(OP_KINDS)
    add_ops(Cost().ops, **c)  # accepted by the cost model


def test_to_array_is_the_inverse_of_from_array():
    c = Counter(mac16=7, add=3, move=2)
    a = count.to_array(c)
    assert a.dtype == np.int64 and a.shape == (len(OP_KINDS),) and a[OP_KINDS.index("add")] == 3
    assert count.from_array(a) == c


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(1, 9),
    k=st.integers(1, 9),
    t=st.integers(1, 7),
    taps=st.integers(1, 4),
    d=st.integers(1, 3),
    b=st.integers(1, 3),
    int8=st.booleans(),
)
def test_counted_equals_analytic(m, k, t, taps, d, b, int8):
    wb = 8 if int8 else 16
    wdt = np.int8 if int8 else np.int16
    w2 = RNG.integers(-100, 100, (m, k)).astype(wdt)
    x = _i16(k)
    mult, shift = quantize_multipliers(np.full(max(m, k), 1e-3))
    bias = np.zeros(max(m, k), np.int64)
    assert _run(linalg.matvec_acc64, w2, x, np.empty(m, np.int64)) == count.matvec(m, k, wb)
    assert _run(linalg.matvec_acc32, w2, x, np.empty(m, np.int32)) == count.matvec(m, k, wb)
    xb = _i16((b, k))
    assert _run(
        linalg.dense_s16, w2, xb, bias[:m], mult[:m], shift[:m], -32768, 32767, np.empty((b, m), np.int16)
    ) == count.dense(m, k, b, wb)
    if not int8:
        assert _run(linalg.matvec_q15, w2, x, np.empty(m, np.int16)) == count.matvec_q15(m, k)
        assert Counter({"mac16": k}) == count.dot(k) == _run(linalg.dot_q15, x, x)
    xs = _i16((k, t))
    w3 = RNG.integers(-100, 100, (m, k, taps)).astype(wdt)
    st_ = np.zeros((k, (taps - 1) * d), np.int16)
    assert _run(
        conv.conv1d_s16,
        xs,
        st_,
        w3,
        bias[:m],
        mult[:m],
        shift[:m],
        -32768,
        32767,
        d,
        np.empty((m, t), np.int16),
    ) == count.conv1d(m, k, taps, t, d, wb)
    wd = np.ascontiguousarray(w3[0, :, :]) if m else None
    assert _run(
        conv.dwconv1d_s16,
        xs,
        st_,
        wd,
        bias[:k],
        mult[:k],
        shift[:k],
        -32768,
        32767,
        d,
        np.empty((k, t), np.int16),
    ) == count.dwconv1d(k, taps, t, d, wb)
    assert _run(
        conv.pwconv1d_s16, xs, w2, bias[:m], mult[:m], shift[:m], -32768, 32767, np.empty((m, t), np.int16)
    ) == count.pwconv1d(m, k, t, wb)
    coeffs = _i16(taps)
    assert _run(
        conv.fir_q15, xs, coeffs, np.zeros((k, taps - 1), np.int16), np.empty((k, t), np.int16)
    ) == count.fir_q15(k, t, taps)
    for kind, fn in (("lstm", count.lstm), ("gru", count.gru)):
        g = 4 if kind == "lstm" else 3
        hd = m
        q = RnnQ(
            kind,
            RNG.integers(-50, 50, (g * hd, k)).astype(wdt),
            RNG.integers(-50, 50, (g * hd, hd)).astype(wdt),
            0,
            0,
            2**30,
            -20,
            2**30,
            -20,
        )
        h, c = q.new_state(b)
        o = new_ops()
        q.run(_i16((b, t, k)), h, c, ops=o)
        assert count.from_array(o) == fn(k, hd, t, b, wb), kind


@pytest.mark.parametrize("n", [4, 8, 64, 256])
@pytest.mark.parametrize("width", ["q15", "q31"])
def test_fft_counts(n, width):
    p = FixedRfft(n, width)
    o = new_ops()
    xf = p.forward(np.zeros((3, n), p.dtype), ops=o)
    assert count.from_array(o) == count.rfft(n, 3)
    assert count.rfft(n)["butterfly"] == (n // 4) * (int(np.log2(n)) - 1)
    o = new_ops()
    p.inverse(xf, ops=o)
    assert count.from_array(o) == count.irfft(n, 3)


def test_elementwise_and_table_counts():
    x = _i16((3, 10))
    out = np.empty_like(x)
    assert _run(elementwise.relu_s16, x, out) == count.relu(30)
    assert _run(elementwise.prelu_s16, x, _i16(3), 15, out) == count.prelu(30)
    assert _run(elementwise.mean_groups_s16, x, np.empty(10, np.int16)) == count.mean_groups(3, 10)
    assert _run(elementwise.mask_mul_s16, x, x, 12, out) == count.mask_mul(30)
    xc = _i16((3, 20))
    assert _run(elementwise.mask_mul_complex_s16, xc, x, 12, np.empty_like(xc)) == count.mask_mul(30, True)
    assert _run(elementwise.cmplx_mult_s16, xc, xc, 15, np.empty_like(xc)) == count.cmplx_mult(30)
    v = _i16(50)
    assert _run(ops.add_q15, v, v, np.empty_like(v)) == count.add_q15(50)
    assert _run(ops.mult_q15, v, v, np.empty_like(v)) == count.mult_q15(50)
    o = new_ops()
    tables.sigmoid(v, ops=o)
    tables.tanh(v, ops=o)
    assert count.from_array(o) == count.sigmoid(100)
    o = new_ops()
    tables.amp_to_db(np.arange(1, 21), 15, ops=o)
    assert count.from_array(o) == count.log2(20)
    o = new_ops()
    tables.db_to_amp(np.arange(20), 15, ops=o)
    assert count.from_array(o) == count.exp2(20)
    o = new_ops()
    tables.rsqrt(np.arange(1, 21), 15, 15, ops=o)
    assert count.from_array(o) == count.rsqrt(20)
