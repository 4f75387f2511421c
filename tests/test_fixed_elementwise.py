"""ReLU/PReLU, mean over groups, masks and complex multiply against direct references and cmsisdsp."""

import cmsisdsp as dsp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hearpipe.fixed import count
from hearpipe.fixed import elementwise as ew
from hearpipe.fixed.ops import new_ops

RNG = np.random.default_rng(11)


def _i16(shape):
    return RNG.integers(-32768, 32768, shape).astype(np.int16)


def _round_half_up(num: np.ndarray, shift: int) -> np.ndarray:
    return np.floor(num / 2.0**shift + 0.5).astype(np.int64)  # exact: |num| < 2**52


def test_relu_prelu():
    x = _i16((4, 50))
    out = np.empty_like(x)
    ew.relu_s16(x, out, new_ops())
    assert np.array_equal(out, np.maximum(x, 0))
    alpha = np.array([8192, -16384, 32767, 0], np.int16)  # 0.25, -0.5, ~1, 0 in q15
    ew.prelu_s16(x, alpha, 15, out, new_ops())
    ref = np.where(x >= 0, x, np.clip(_round_half_up(x.astype(np.int64) * alpha[:, None], 15), -32768, 32767))
    assert np.array_equal(out, ref)
    assert out[1][x[1] == -32768].tolist() == [16384] * int(np.sum(x[1] == -32768))


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 16), vals=st.lists(st.integers(-32768, 32767), min_size=16, max_size=16))
def test_mean_groups_rounds_half_away_and_never_wraps(k, vals):
    x = np.tile(np.array(vals, np.int16), (k, 1))
    x[0, :] = vals[::-1]
    out = np.empty(16, np.int16)
    ew.mean_groups_s16(x, out, new_ops())
    s = x.astype(np.int64).sum(axis=0)
    ref = np.sign(s) * ((np.abs(s) * 2 + k) // (2 * k))  # round half away from zero of s / k
    assert np.array_equal(out, ref)


def test_mask_multiply_real_and_complex():
    x, m = _i16((3, 40)), RNG.integers(0, 4 * 4096, (3, 40)).astype(np.int16)  # mask up to 4 in Q4.12
    out = np.empty_like(x)
    ew.mask_mul_s16(x, m, 12, out, new_ops())
    assert np.array_equal(out, np.clip(_round_half_up(x.astype(np.int64) * m, 12), -32768, 32767))
    xc = _i16((3, 80))
    outc = np.empty_like(xc)
    ew.mask_mul_complex_s16(xc, m, 12, outc, new_ops())
    ref = np.clip(_round_half_up(xc.astype(np.int64) * np.repeat(m, 2, axis=1), 12), -32768, 32767)
    assert np.array_equal(outc, ref)


def test_complex_multiply_cmsis_and_general():
    a, b = _i16(200), _i16(200)
    a[:2], b[:2] = -32768, -32768
    out = np.empty_like(a)
    ew.cmplx_mult_q15(a, b, out, new_ops())
    assert np.array_equal(out, dsp.arm_cmplx_mult_cmplx_q15(a, b))
    a2, b2 = a.reshape(2, 100), b.reshape(2, 100)
    out2 = np.empty_like(a2)
    ew.cmplx_mult_s16(a2, b2, 16, out2, new_ops())
    ar, ai, br, bi = a2[:, 0::2].astype(np.int64), a2[:, 1::2], b2[:, 0::2], b2[:, 1::2]
    re = np.clip(_round_half_up(ar * br - ai.astype(np.int64) * bi, 16), -32768, 32767)
    im = np.clip(_round_half_up(ar * bi + ai.astype(np.int64) * br, 16), -32768, 32767)
    assert np.array_equal(out2[:, 0::2], re) and np.array_equal(out2[:, 1::2], im)


def test_deep_filter_is_the_rounded_complex_fir():
    """deep_filter_q15 against complex arithmetic in exact integers (Python ints), int16 and int32
    band values, with saturation at the rails and the op count of `count.deep_filter`."""
    taps, f_n = 3, 40
    for dt, wide in ((np.int16, False), (np.int32, True)):
        info = np.iinfo(dt)
        xr = RNG.integers(info.min, info.max, (taps, f_n), endpoint=True).astype(dt)
        xi = RNG.integers(info.min, info.max, (taps, f_n), endpoint=True).astype(dt)
        mask = RNG.integers(0, 32768, f_n).astype(np.int16)
        tr, ti = _i16((taps, f_n)), _i16((taps, f_n))
        yr, yi = np.empty(f_n, dt), np.empty(f_n, dt)
        ops = new_ops()
        ew.deep_filter_q15(xr, xi, mask, tr, ti, info.min, info.max, yr, yi, ops)
        for f in range(f_n):
            a = [int(tr[t, f]) + (int(mask[f]) if t == 0 else 0) for t in range(taps)]
            sr = sum(a[t] * int(xr[t, f]) - int(ti[t, f]) * int(xi[t, f]) for t in range(taps))
            si = sum(a[t] * int(xi[t, f]) + int(ti[t, f]) * int(xr[t, f]) for t in range(taps))
            for s, y in ((sr, yr[f]), (si, yi[f])):
                assert int(y) == min(max((s + (1 << 14)) >> 15, info.min), info.max)
        assert count.from_array(ops) == count.deep_filter(f_n, taps, wide=wide)
