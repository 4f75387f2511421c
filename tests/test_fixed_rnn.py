"""LSTM/GRU cells: integer reference, float (PyTorch-equation) SQNR, chunk and batch invariance."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearpipe.errors import InvalidInput
from hearpipe.fixed.ops import quantize_multipliers
from hearpipe.fixed.qformat import float_to_fixed
from hearpipe.fixed.rnn import RnnQ

I_N, H_N, X_FRAC, W_FRAC = 6, 5, 12, 14


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _float_params(kind, seed=0):
    g = 4 if kind == "lstm" else 3
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H_N)
    return {
        n: rng.uniform(-k, k, s)
        for n, s in (("w_ih", (g * H_N, I_N)), ("w_hh", (g * H_N, H_N)), ("b_ih", g * H_N), ("b_hh", g * H_N))
    }


def _quantise(kind, p, wdt=np.int16):
    g = 4 if kind == "lstm" else 3
    wf = W_FRAC if wdt == np.int16 else 6
    bits = 16 if wdt == np.int16 else 8
    mi, si = quantize_multipliers(np.full(g * H_N, 2.0 ** (12 - wf - X_FRAC)))
    mh, sh = quantize_multipliers(np.full(g * H_N, 2.0 ** (12 - wf - 15)))
    return RnnQ(
        kind,
        float_to_fixed(p["w_ih"], wf, bits),
        float_to_fixed(p["w_hh"], wf, bits),
        np.round(p["b_ih"] * 2.0 ** (wf + X_FRAC)).astype(np.int64),
        np.round(p["b_hh"] * 2.0 ** (wf + 15)).astype(np.int64),
        mi,
        si,
        mh,
        sh,
    )


def _float_run(kind, p, x):
    """The PyTorch LSTM/GRU equations in float64 (gate order i, f, g, o / r, z, n)."""
    b_n, t_n, _ = x.shape
    h = np.zeros((b_n, H_N))
    c = np.zeros((b_n, H_N))
    ys = []
    for t in range(t_n):
        gx = x[:, t] @ p["w_ih"].T + p["b_ih"]
        gh = h @ p["w_hh"].T + p["b_hh"]
        if kind == "lstm":
            i, f, g, o = np.split(gx + gh, 4, axis=1)
            c = _sig(f) * c + _sig(i) * np.tanh(g)
            h = _sig(o) * np.tanh(c)
        else:
            xr, xz, xn = np.split(gx, 3, axis=1)
            hr, hz, hn = np.split(gh, 3, axis=1)
            r, z = _sig(xr + hr), _sig(xz + hz)
            n = np.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys, axis=1)


def _int_reference(kind, q: RnnQ, x):
    """The documented integer recipe written with numpy int64 and float-free table look-ups."""
    from hearpipe.fixed import tables

    def rq(acc, m, s):
        red = np.where(m < 0x7FFF0000, (m.astype(np.int64) + 2**15) >> 16, 0x7FFF)
        r = (acc * red) >> (14 - s.astype(np.int64))
        return np.clip((r + 1) >> 1, -32768, 32767)

    def rnd(v, s):
        return (v + (1 << (s - 1))) >> s

    def sat(v):
        return np.clip(v, -32768, 32767)

    sig = lambda v: tables.sigmoid(v.astype(np.int16)).astype(np.int64)  # noqa: E731
    tnh = lambda v: tables.tanh(v.astype(np.int16)).astype(np.int64)  # noqa: E731
    b_n, t_n, _ = x.shape
    h = np.zeros((b_n, H_N), np.int64)
    c = np.zeros((b_n, H_N), np.int64)
    ys = []
    for t in range(t_n):
        gx = rq(x[:, t].astype(np.int64) @ q.w_ih.T.astype(np.int64) + q.b_ih, q.m_ih, q.s_ih)
        gh = rq(h @ q.w_hh.T.astype(np.int64) + q.b_hh, q.m_hh, q.s_hh)
        if kind == "lstm":
            i, f, g, o = np.split(sat(gx + gh), 4, axis=1)
            i, f, g, o = sig(i), sig(f), tnh(g), sig(o)
            c = sat(rnd(8 * f * c + i * g, 18))
            h = sat(rnd(o * tnh(c), 15))
        else:
            xr, xz, xn = np.split(gx, 3, axis=1)
            hr, hz, hn = np.split(gh, 3, axis=1)
            r, z = sig(sat(xr + hr)), sig(sat(xz + hz))
            n = tnh(sat(xn + rnd(r * hn, 15)))
            h = sat(n + rnd(z * (h - n), 15))
        ys.append(h)
    return np.stack(ys, axis=1)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("wdt", [np.int16, np.int8])
def test_rnn_matches_integer_reference_and_float(kind, wdt):
    p = _float_params(kind)
    q = _quantise(kind, p, wdt)
    rng = np.random.default_rng(1)
    xf = rng.standard_normal((3, 40, I_N)) * 0.7
    x = float_to_fixed(xf, X_FRAC)
    h, c = q.new_state(3)
    y = q.run(x, h, c)
    assert np.array_equal(y, _int_reference(kind, q, x))
    ref = _float_run(kind, p, xf)
    sqnr = 10 * np.log10(np.sum(ref**2) / np.sum((y / 32768 - ref) ** 2))
    assert sqnr >= (55.0 if wdt == np.int16 else 25.0), sqnr  # int8 weights: 6 fraction bits only


@settings(max_examples=20, deadline=None)
@given(
    kind=st.sampled_from(["lstm", "gru"]), cuts=st.lists(st.integers(0, 30), max_size=4), big=st.booleans()
)
def test_rnn_chunk_and_batch_invariance(kind, cuts, big):
    q = _quantise(kind, _float_params(kind, seed=2))
    rng = np.random.default_rng(len(cuts))
    lo, hi = (-32768, 32768) if big else (-6000, 6000)  # big: saturating gate inputs everywhere
    x = rng.integers(lo, hi, (2, 30, I_N)).astype(np.int16)
    h, c = q.new_state(2)
    whole = q.run(x, h, c)
    h2, c2 = q.new_state(2)
    edges = [0, *sorted(cuts), 30]
    parts = [q.run(x[:, a:b], h2, c2) for a, b in itertools.pairwise(edges)]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    assert np.array_equal(h, h2) and (c is None or np.array_equal(c, c2))
    h3, c3 = q.new_state(1)
    assert np.array_equal(q.run(x[1:], h3, c3), whole[1:])  # a batch row does not see the others
    assert np.abs(whole.astype(np.int64)).max() <= 32767  # h = o * tanh(c) or a convex mix: |h| < 1


def test_rnn_validation_messages():
    p = _float_params("gru")
    q = _quantise("gru", p)
    with pytest.raises(InvalidInput, match="x must be int16"):
        q.run(np.zeros((1, 2, I_N + 1), np.int16), *q.new_state(1)[:1])
    with pytest.raises(InvalidInput, match="w_hh must be"):
        RnnQ("lstm", q.w_ih, q.w_hh, q.b_ih, q.b_hh, q.m_ih, q.s_ih, q.m_hh, q.s_hh)
    with pytest.raises(
        InvalidInput, match=r"y must be a C-contiguous int16 \(1, 2, "
    ):  # unchecked: out of bounds
        q.run(np.zeros((1, 2, I_N), np.int16), *q.new_state(1)[:1], y=np.empty((1, 1, 1), np.int16))
