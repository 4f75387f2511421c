"""Graph building: validation errors name the file and field; DAGs; latency bookkeeping."""

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hearpipe
from hearpipe.errors import FormatMismatch, HearpipeError, InvalidInput

from .conftest import GRAPHS, chain


def write(tmp_path, doc, name="g.yaml"):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.name)
def test_shipped_graphs_load(path):
    g = hearpipe.load_graph(path)
    assert g.latency_samples >= 0
    y = g.run(np.zeros(g.block_size * 4))
    assert y.shape == (g.channels, g.block_size * 4)


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = write(tmp_path, "nodes:\n  - name: a\n    type: [stft\n")
    with pytest.raises(InvalidInput, match=r"g\.yaml: malformed document \(line \d+, column \d+\)"):
        hearpipe.load_graph(p)


def test_unknown_block_type_suggests_nearest(tmp_path):
    p = write(tmp_path, chain(("sftf", {}), ("istft", {})))
    with pytest.raises(
        InvalidInput, match=r"g\.yaml: nodes\[0\]\.type: unknown block type 'sftf'; did you mean 'stft'"
    ):
        hearpipe.load_graph(p)


def test_unknown_field_named(tmp_path):
    p = write(tmp_path, chain(("stft", {"hopp": 64}), ("istft", {})))
    with pytest.raises(InvalidInput, match=r"nodes\[0\]\.params\.hopp: unknown field"):
        hearpipe.load_graph(p)


def test_mistyped_field_named(tmp_path):
    p = write(tmp_path, chain(("stft", {"hop": "sixty-four"}), ("istft", {})))
    with pytest.raises(InvalidInput, match=r"nodes\[0\]\.params\.hop: .*integer.*'sixty-four'"):
        hearpipe.load_graph(p)


def test_unknown_top_level_field(tmp_path):
    doc = chain(("gain", {}))
    doc["smaple_rate_hz"] = 16000
    with pytest.raises(InvalidInput, match=r"smaple_rate_hz: unknown field"):
        hearpipe.load_graph(write(tmp_path, doc))


def test_cycle_detected(tmp_path):
    doc = {
        "nodes": [
            {"name": "a", "type": "gain", "inputs": ["c"]},
            {"name": "b", "type": "gain", "inputs": ["a"]},
            {"name": "c", "type": "gain", "inputs": ["b"]},
        ]
    }
    with pytest.raises(InvalidInput, match=r"cycle: a -> c -> b -> a|cycle: .*a.*b.*c"):
        hearpipe.load_graph(write(tmp_path, doc))


def test_incompatible_formats_name_both_nodes(tmp_path):
    # istft straight on time-domain audio
    doc = {"nodes": [{"name": "vol", "type": "gain"}, {"name": "synth", "type": "istft"}]}
    with pytest.raises(FormatMismatch, match=r"'synth' \(istft\).*spectrum.*time.*fed by 'vol'"):
        hearpipe.load_graph(write(tmp_path, doc))


def test_output_must_be_time_domain(tmp_path):
    with pytest.raises(FormatMismatch, match=r"must be time-domain audio"):
        hearpipe.load_graph(write(tmp_path, chain(("stft", {}))))


def test_unknown_input_reference(tmp_path):
    doc = {"nodes": [{"name": "a", "type": "gain", "inputs": ["nowhere"]}]}
    with pytest.raises(InvalidInput, match=r"nodes\[0\]\.inputs 'a' \(gain\): unknown input 'nowhere'"):
        hearpipe.load_graph(write(tmp_path, doc))


def test_mix_of_paths_with_different_delays_rejected():
    doc = {
        "nodes": [
            {"name": "an", "type": "stft", "inputs": ["input"]},
            {"name": "syn", "type": "istft"},
            {"name": "dry", "type": "gain", "inputs": ["input"]},
            {"name": "out", "type": "mix", "inputs": ["syn", "dry"]},
        ]
    }
    with pytest.raises(FormatMismatch, match=r"different delays \('syn' 64 samples, 'dry' 0 samples\)"):
        hearpipe.load_graph(doc)


def test_dry_wet_mix_with_delay_alignment(rng):
    """A DAG: processed path and a delayed dry path mixed; output = 0.5 x(t-64) + 0.5 x(t-64)."""
    doc = {
        "nodes": [
            {"name": "an", "type": "stft", "inputs": ["input"]},
            {"name": "syn", "type": "istft"},
            {"name": "dry", "type": "delay", "params": {"samples": 64}, "inputs": ["input"]},
            {"name": "out", "type": "mix", "params": {"weights": [0.5, 0.5]}, "inputs": ["syn", "dry"]},
        ]
    }
    g = hearpipe.load_graph(doc)
    x = rng.standard_normal(3000)
    y = g.run(x)[0]
    assert g.latency_samples == 64
    np.testing.assert_allclose(y[64:], x[:-64], atol=1e-12)


def test_nan_audio_rejected():
    g = hearpipe.load_graph(chain(("gain", {})))
    x = np.zeros(100)
    x[42] = np.nan
    with pytest.raises(InvalidInput, match=r"NaN or Inf \(first at channel 0, sample 42\)"):
        g.process(x)


def test_wrong_channel_count_rejected():
    g = hearpipe.load_graph(chain(("gain", {}), channels=2))
    with pytest.raises(InvalidInput, match=r"2 channel\(s\)"):
        g.process(np.zeros((3, 10)))


@pytest.mark.parametrize(
    "spec,where",
    [
        (chain(("mix", {"weights": [float("nan")]})), r"nodes\[0\]\.params\.weights\[0\]: .*finite"),
        (chain(("gain", {"gain_db": float("inf")})), r"nodes\[0\]\.params\.gain_db: .*finite"),
        (
            chain(
                ("stft", {}),
                ("band_gain", {"frequencies_hz": [float("nan")], "gains_db": [3]}),
                ("istft", {}),
            ),
            r"nodes\[1\]\.params\.frequencies_hz\[0\]: .*finite",
        ),
        (chain(("gain", {}), sample_rate_hz=float("inf")), r"sample_rate_hz: .*finite"),
    ],
    ids=["nan-weight", "inf-gain", "nan-frequency", "inf-rate"],
)
def test_nan_and_inf_parameters_rejected(spec, where):
    """YAML `.nan`/`.inf` pass comparisons-based range checks; they must be refused by name."""
    with pytest.raises(InvalidInput, match=where):
        hearpipe.load_graph(spec)


def test_mix_weights_bounded_even_on_a_fixed_device():
    """A huge weight used to reach the fixed path as a negative shift (an internal error)."""
    for device in (None, "cortex-m4f"):
        with pytest.raises(InvalidInput, match=r"weights\[1\] = 1e\+12 must lie within -1000\.\.1000"):
            hearpipe.load_graph(
                {
                    "nodes": [
                        {
                            "name": "m",
                            "type": "mix",
                            "params": {"weights": [1, 1e12]},
                            "inputs": ["input"] * 2,
                        }
                    ]
                },
                device=device,
            )


def test_audio_that_is_not_numbers_rejected():
    g = hearpipe.load_graph(chain(("gain", {})))
    with pytest.raises(InvalidInput, match="array of numbers"):
        g.process(["a", "b"])


def test_split_selects_channels(rng):
    g = hearpipe.load_graph(chain(("split", {"channels": [1]}), channels=2))
    x = rng.standard_normal((2, 256))
    assert np.array_equal(g.run(x), x[1:])
    with pytest.raises(InvalidInput, match=r"channels \[5\] do not exist"):
        hearpipe.load_graph(chain(("split", {"channels": [5]}), channels=2))


def test_band_gain_applies_interpolated_gain_to_a_tone():
    g = hearpipe.load_graph(
        chain(
            ("stft", {"window": "hann", "window_length": 256, "hop": 64}),
            ("band_gain", {"frequencies_hz": [500, 2000], "gains_db": [0, 12]}),
            ("istft", {}),
        )
    )
    t = np.arange(32000) / 16000
    for f, expect_db in ((250, 0.0), (1250, 6.0), (4000, 12.0)):  # 1250 Hz: half way in linear frequency
        x = 0.1 * np.sin(2 * np.pi * f * t)
        y = g.run(x)[0][4000:-4000]
        gain_db = 20 * np.log10(np.std(y) / np.std(x[4000:-4000]))
        assert abs(gain_db - expect_db) < 0.3, (f, gain_db)


# -- random documents never produce a traceback -------------------------------------------------------
values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
node = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b", "c", "input", "x y"]),
        "type": st.sampled_from(["stft", "istft", "gain", "band_gain", "mix", "split", "delay", "nope"]),
    },
    optional={
        "params": st.dictionaries(
            st.sampled_from(
                [
                    "hop",
                    "window_length",
                    "n_fft",
                    "window",
                    "gain_db",
                    "samples",
                    "channels",
                    "weights",
                    "frequencies_hz",
                    "gains_db",
                    "zzz",
                ]
            ),
            values,
            max_size=3,
        ),
        "inputs": st.lists(st.sampled_from(["a", "b", "c", "input", "q"]), max_size=3),
    },
)
documents = st.fixed_dictionaries(
    {"nodes": st.lists(node, max_size=4)},
    optional={"sample_rate_hz": values, "channels": values, "block_size": values, "output": values},
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_give_clear_errors_not_tracebacks(doc):
    try:
        g = hearpipe.load_graph(doc)
    except HearpipeError as e:
        assert str(e)
        return
    g.run(np.zeros((g.channels, 3 * g.block_size)))


def test_mix_empty_weights_is_an_error_not_the_default():
    with pytest.raises(InvalidInput, match=r"weights has 0 values for 1 inputs"):
        hearpipe.load_graph(chain(("mix", {"weights": []})))


def test_fixed_fft_too_short_names_the_node():
    spec = chain(("stft", {"window_length": 2, "hop": 1}), ("istft", {}))
    with pytest.raises(
        InvalidInput, match=r"'n0' \(stft\): the fixed-point FFT needs a power-of-two length >= 4"
    ):
        hearpipe.load_graph(spec, device="cortex-m4f")
