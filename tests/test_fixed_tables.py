"""Look-up tables: maximum errors against numpy over the whole input range."""

import numpy as np

from hearpipe.fixed import tables as T

ALL_Q4_12 = np.arange(-32768, 32768).astype(np.int16)


def test_sigmoid_tanh_max_error_over_every_q4_12_input():
    xf = ALL_Q4_12 / 4096.0
    s = T.sigmoid(ALL_Q4_12).astype(np.float64)
    t = T.tanh(ALL_Q4_12).astype(np.float64)
    err_s = np.abs(s - 32768.0 / (1.0 + np.exp(-xf))).max()
    err_t = np.abs(t - 32768.0 * np.tanh(xf)).max()
    assert err_s <= 1.25 and err_t <= 1.55  # LSB of q15; documented in tables.py and docs/fixed_point.md
    assert s.min() >= 0 and s.max() <= 32767 and np.all(np.diff(s) >= 0)  # bounded, monotonic
    assert np.array_equal(t[32769:], -t[32767:0:-1]) and t[32768] == 0  # odd
    assert np.array_equal(s[32769:], 32768 - s[32767:0:-1])  # s(-x) = 1 - s(x)
    assert T.SIGMOID_TABLE.size == 257 and T.TANH_TABLE.size == 513


def test_log2_and_db_errors():
    v = np.unique(np.round(np.exp(np.linspace(0, 42, 30000))).astype(np.int64))
    l2 = T.log2(v, 15).astype(np.float64)
    assert np.abs(l2 - (np.log2(v) - 15) * 65536).max() <= 1.05  # LSB of Q16.16
    db = T.amp_to_db(v, 15) / 65536.0
    assert np.abs(db - 20 * np.log10(v / 32768.0)).max() <= 1e-4
    dbp = T.power_to_db(v, 30) / 65536.0
    assert np.abs(dbp - 10 * np.log10(v / 2.0**30)).max() <= 1e-4
    assert T.log2(np.array([0, -5]), 15).tolist() == [-15 * 65536] * 2  # floor: 1 LSB


def test_exp2_and_db_to_gain_errors():
    q = np.arange(-20 * 65536, 10 * 65536, 37, dtype=np.int64)
    e = T.exp2(q, 20).astype(np.float64)
    ref = 2.0 ** (q / 65536.0) * 2**20
    assert np.all(np.abs(e - ref) <= 0.5 + 2e-6 * ref)
    db = np.arange(-80 * 65536, 40 * 65536, 1013, dtype=np.int64)
    g = T.db_to_amp(db, 16).astype(np.float64)
    ref = 10 ** (db / 65536.0 / 20) * 2**16
    assert np.all(np.abs(g - ref) <= 0.5 + 1e-5 * ref)  # + the dB -> log2 constant's rounding
    assert T.exp2(np.array([40 * 65536]), 0)[0] == 2**31 - 1  # saturates, never wraps
    # round trip through the dB domain: amplitude -> dB -> amplitude
    a = np.array([1, 10, 1000, 32767, 2**24])
    back = T.db_to_amp(T.amp_to_db(a, 0), 0)
    assert np.all(np.abs(back - a) <= 0.5 + 2e-4 * a)


def test_rsqrt_error():
    v = np.unique(np.round(np.exp(np.linspace(0, 42, 30000))).astype(np.int64))
    r = T.rsqrt(v, 15, 20).astype(np.float64)
    ref = 1.0 / np.sqrt(v / 32768.0) * 2**20
    assert np.all(np.abs(r - ref) <= 0.5 + 2e-6 * ref)
    assert T.rsqrt(np.array([0]), 15, 20)[0] == 2**31 - 1
