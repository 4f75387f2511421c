"""Cost model, memory planner and budget verdicts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hearpipe
from hearpipe.budget.memory import Buffer, plan
from hearpipe.budget.profiles import load_device
from hearpipe.errors import OverBudget

from .conftest import REPO, chain

buffers = st.lists(
    st.tuples(st.integers(1, 4096), st.integers(0, 8), st.integers(0, 4)).map(
        lambda t: Buffer(f"b{t}", t[0], t[1], t[1] + t[2])
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(buffers)
def test_planner_never_overlaps_live_buffers(bufs):
    for i, b in enumerate(bufs):
        b.name = f"b{i}"
    arena = plan(bufs)
    for a in bufs:
        assert a.offset >= 0 and a.offset % 4 == 0
        for b in bufs:
            if a is not b and a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    # never worse than no sharing (plus alignment), never better than the busiest step
    assert arena <= sum(-(-b.size // 4) * 4 for b in bufs)
    steps = range(min(b.first for b in bufs), max(b.last for b in bufs) + 1)
    assert arena >= max(sum(b.size for b in bufs if b.first <= s <= b.last) for s in steps)


def test_sequential_chain_shares_memory():
    g = hearpipe.load_graph(REPO / "graphs" / "stft_gain.yaml")
    rep = g.budget(load_device("desktop"))
    assert rep.totals["arena_kib"] < rep.totals["arena_unshared_kib"]


def test_stft_cost_counts():
    g = hearpipe.load_graph(chain(("stft", {"window_length": 256, "hop": 64, "n_fft": 512}), ("istft", {})))
    rep = g.budget(load_device("desktop"))
    stft = rep.rows[0]
    # 512-point real FFT = 256-point complex FFT (128 * 8 butterflies) + 128 split butterflies
    assert stft.cost.ops["butterfly"] == 128 * 8 + 128
    assert stft.cost.ops["mul"] == 256
    assert stft.cost.frame_rate_hz == 16000 / 64
    assert rep.totals["latency_ms"] == pytest.approx(1000 * ((512 + 256) / 2 - 64 + 64) / 16000)


def test_mips_is_cycles_per_second():
    dev = load_device("cortex-m4f")
    g = hearpipe.load_graph(REPO / "graphs" / "passthrough.yaml")
    rep = g.budget(dev)
    cycles = sum(dev.cycles_per_s(r.cost)[0] for r in rep.rows)
    assert rep.totals["mips"] == pytest.approx(cycles / 1e6)
    assert rep.totals["mips_low"] <= rep.totals["mips"] <= rep.totals["mips_high"]


def test_latency_limit_violation_names_latency():
    g = hearpipe.load_graph(
        chain(("stft", {"window_length": 1024, "hop": 256, "window": "hann"}), ("istft", {}))
    )
    rep = g.budget(load_device("hearing-aid-dsp"))
    assert not rep.fits
    with pytest.raises(OverBudget, match=r"latency 64\.00 ms > 10\.00 ms limit"):
        rep.check()


def test_q31_spectrum_edges_are_costed_at_32_bits_on_a_16_bit_device():
    """The fixed stft's q31 spectrum is int32 whatever the device word: the plan must not halve it."""
    g = hearpipe.load_graph(chain(("stft", {"fixed_fft": "q31"}), ("istft", {})))
    rep = g.budget(load_device("cortex-m4f"))
    assert load_device("cortex-m4f").word_bits == 16
    edge = {b.name: b.size for b in rep.buffers}["edge:n0"]
    assert edge == 65 * 2 * 4  # 65 complex bins, one frame per 64-sample block, 4 bytes a value
    q15 = hearpipe.load_graph(chain(("stft", {"fixed_fft": "q15"}), ("istft", {}))).budget(
        load_device("cortex-m4f")
    )
    assert {b.name: b.size for b in q15.buffers}["edge:n0"] == 65 * 2 * 2
