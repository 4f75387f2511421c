"""Q formats, saturating arithmetic and requantisation: cmsisdsp and big-integer oracles."""

from fractions import Fraction

import cmsisdsp as dsp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearpipe.errors import InvalidInput
from hearpipe.fixed import ops
from hearpipe.fixed.qformat import Q15, QFormat, fixed_to_float, float_to_fixed, int_range, saturate

RNG = np.random.default_rng(1234)
I16 = st.integers(-32768, 32767)
I32 = st.integers(-(2**31), 2**31 - 1)


def _q15(n, rng=RNG):
    return rng.integers(-32768, 32768, n).astype(np.int16)


# --- Q formats -----------------------------------------------------------------------------------
def test_qformat_names_and_ranges():
    assert QFormat.parse("q15") == Q15 == QFormat(16, 15)
    q = QFormat.parse("Q4.12")
    assert (q.bits, q.frac_bits, q.int_bits, q.name) == (16, 12, 4, "Q4.12")
    assert q.max == pytest.approx(8 - 2**-12) and q.min == -8.0
    assert QFormat.parse("q31").dtype is np.int32 and QFormat.parse("q7").int_min == -128
    with pytest.raises(InvalidInput, match=r"Q format 'q17\.x'"):
        QFormat.parse("q17.x")
    assert int_range(16) == (-32768, 32767)


def test_float_to_q15_truncate_matches_cmsis():
    # float32 inputs inside the range where CMSIS's C cast is defined (|x| < 2**16); CMSIS saturates
    # the rails with SSAT. Beyond that its cast is undefined behaviour (x86 gives INT_MIN); we saturate.
    x = np.concatenate(
        [RNG.uniform(-1.5, 1.5, 2000), [0.5 / 32768, -0.5 / 32768, -1.0, 1.0, 0.99999, -0.7 / 32768]]
    )
    x = x.astype(np.float32)
    assert np.array_equal(float_to_fixed(x, 15, 16, rounding="truncate"), dsp.arm_float_to_q15(x))
    assert float_to_fixed(np.float32(1e6), 15)[()] == 32767


def test_float_to_fixed_nearest_and_floor():
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.49, -2.51]) / 2**15
    assert float_to_fixed(x, 15).tolist() == [1, -1, 2, -2, 2, -3]  # half away from zero
    assert float_to_fixed(x, 15, rounding="floor").tolist() == [0, -1, 1, -2, 2, -3]
    assert float_to_fixed(x, 15, rounding="truncate").tolist() == [0, 0, 1, -1, 2, -2]
    assert float_to_fixed([100.0, -100.0], 12, 16).tolist() == [32767, -32768]
    assert fixed_to_float(np.int16(-32768), 15) == -1.0
    assert saturate([70000, -70000, 5], 16).tolist() == [32767, -32768, 5]


# --- q15/q7/q31 arithmetic vs cmsisdsp ----------------------------------------------------------
def test_q15_add_sub_mult_scale_bit_exact_with_cmsis():
    a, b = _q15(4096), _q15(4096)
    a[:4] = [32767, -32768, -32768, 32767]
    b[:4] = [32767, -32768, 32767, -32768]
    assert np.array_equal(ops.q15_binary(ops.add_q15, a, b), dsp.arm_add_q15(a, b))
    assert np.array_equal(ops.q15_binary(ops.sub_q15, a, b), dsp.arm_sub_q15(a, b))
    assert np.array_equal(ops.q15_binary(ops.mult_q15, a, b), dsp.arm_mult_q15(a, b))
    for scale, shift in [(20000, 0), (-32768, 0), (32767, 3), (12345, -4), (-7, 15)]:
        out = np.empty_like(a)
        ops.scale_q15(a, scale, shift, out, ops.new_ops())
        assert np.array_equal(out, dsp.arm_scale_q15(a, scale, shift)), (scale, shift)


def test_q7_q31_bit_exact_with_cmsis():
    a7 = RNG.integers(-128, 128, 1000).astype(np.int8)
    b7 = RNG.integers(-128, 128, 1000).astype(np.int8)
    out7 = np.empty_like(a7)
    ops.add_q7(a7, b7, out7, ops.new_ops())
    assert np.array_equal(out7, dsp.arm_add_q7(a7, b7))
    ops.mult_q7(a7, b7, out7, ops.new_ops())
    assert np.array_equal(out7, dsp.arm_mult_q7(a7, b7))
    a = RNG.integers(-(2**31), 2**31, 1000).astype(np.int32)
    b = RNG.integers(-(2**31), 2**31, 1000).astype(np.int32)
    a[:2], b[:2] = -(2**31), -(2**31)
    out = np.empty_like(a)
    ops.add_q31(a, b, out, ops.new_ops())
    assert np.array_equal(out, dsp.arm_add_q31(a, b))
    ops.mult_q31(a, b, out, ops.new_ops())
    assert np.array_equal(out, dsp.arm_mult_q31(a, b))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(I16, I16), min_size=1, max_size=40))
def test_q15_ops_saturate_never_wrap(pairs):
    a = np.array([p[0] for p in pairs], np.int16)
    b = np.array([p[1] for p in pairs], np.int16)
    exact_sum = a.astype(np.int64) + b
    assert np.array_equal(ops.q15_binary(ops.add_q15, a, b), np.clip(exact_sum, -32768, 32767))
    prod = ops.q15_binary(ops.mult_q15, a, b).astype(np.int64)
    exact = (a.astype(np.int64) * b) >> 15
    assert np.array_equal(prod, np.clip(exact, -32768, 32767))
    assert np.all(np.sign(prod) * np.sign(exact) >= 0)  # a wrap would flip the sign


# --- requantisation vs a big-integer transcription of the formula ----------------------------------
def _wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def _round_half_away(fr: Fraction) -> int:
    n = abs(fr) + Fraction(1, 2)
    q = n.numerator // n.denominator
    return q if fr >= 0 else -q


def ref_requantize(val: int, mult: int, shift: int) -> int:
    """arm_nn_requantize in exact arithmetic: x = val * 2**max(shift, 0) (int32, wraps as C on Arm);
    y = round_half_up(x * mult / 2**31) (doubling high multiply); z = round_half_away(y / 2**max(-shift, 0))."""
    x = _wrap32(val * 2 ** max(shift, 0))
    fr = Fraction(x * mult, 2**31) + Fraction(1, 2)
    y = _wrap32(fr.numerator // fr.denominator)
    return _round_half_away(Fraction(y, 2 ** max(-shift, 0)))


def ref_requantize_s64(val: int, mult: int, shift: int) -> int:
    red = (mult + 2**15) >> 16 if mult < 0x7FFF0000 else 0x7FFF
    r = _wrap32((val * red) >> (14 - shift))
    return _wrap32(r + 1) >> 1


def _edge_values():
    vals = [0, 1, -1, 2**31 - 1, -(2**31), 2**30, -(2**30), 12345, -12345]
    mults = [2**31 - 1, 2**30, -(2**31) + 1, 1, 0, 1518500250, 1073741825]
    shifts = [-31, -30, -16, -1, 0, 1, 5, 30]
    return vals, mults, shifts


def test_requantize_matches_bigint_formula_on_extremes_and_random():
    vals, mults, shifts = _edge_values()
    cases = [(v, m, s) for v in vals for m in mults for s in shifts]
    for _ in range(3000):
        cases.append(
            (
                int(RNG.integers(-(2**31), 2**31)),
                int(RNG.integers(-(2**31) + 1, 2**31)),
                int(RNG.integers(-31, 31)),
            )
        )
    for v, m, s in cases:
        acc = np.array([[v]], np.int32)
        out = np.empty((1, 1), np.int32)
        ops.requantize_channels(
            acc, np.array([m], np.int32), np.array([s], np.int32), 0, -(2**31), 2**31 - 1, out, ops.new_ops()
        )
        assert int(out[0, 0]) == ref_requantize(v, m, s), (v, m, s)


def test_requantize_s64_matches_formula_and_real_scale():
    cases = []
    for _ in range(2000):
        cases.append(
            (int(RNG.integers(-(2**47), 2**47)), int(RNG.integers(1, 2**31)), int(RNG.integers(-31, 8)))
        )
    cases += [(2**47 - 1, 2**31 - 1, -31), (-(2**47), 2**31 - 1, 7), (0, 2**30, 0), (-1, 0x7FFF0000, 0)]
    acc = np.array([[c[0]] for c in cases], np.int64)
    m = np.array([c[1] for c in cases], np.int32)
    s = np.array([c[2] for c in cases], np.int32)
    out = np.empty(acc.shape, np.int32)
    ops.requantize_s64_channels(acc, m, s, 0, -(2**31), 2**31 - 1, out, ops.new_ops())
    assert [int(o) for o in out[:, 0]] == [ref_requantize_s64(*c) for c in cases]


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-9, 1000.0), I32)
def test_quantize_multiplier_represents_the_scale(scale, val):
    m, s = ops.quantize_multiplier(scale)
    assert 2**30 <= m < 2**31
    assert abs(m * 2.0 ** (s - 31) - scale) <= scale * 2**-30
    if s <= 0:  # the per-tensor path reproduces val * scale to within rounding (+ the multiplier's error)
        got = ref_requantize(val, m, s)
        assert abs(got - val * scale) <= 1.0 + abs(val) * scale * 2**-29


def test_requantize_array_per_channel_and_clamp():
    acc = np.array([[1000, -1000, 40000], [7, -7, 3]], np.int32)
    m, s = ops.quantize_multipliers([0.5, 2.0])
    out = ops.requantize_array(acc, m, s, out_offset=0, act_min=-600, act_max=20000)
    assert out.tolist() == [[500, -500, 20000], [14, -14, 6]]
    with pytest.raises(InvalidInput, match="finite"):
        ops.quantize_multiplier(float("nan"))


def test_activation_ranges_cannot_make_stores_wrap():
    out = ops.requantize_array(np.array([[1000, -1000]], np.int32), 2**30, 1, out_dtype=np.int8)
    assert out.tolist() == [[127, -128]]  # clamp narrowed to int8, not wrapped
    with pytest.raises(InvalidInput, match="activation range"):
        ops.check_act_range(0, 40000)
