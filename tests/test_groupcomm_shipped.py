"""The shipped models (builtin weights, graphs/enhance*.yaml) improve SI-SNR on dev mixtures."""

import numpy as np
import pytest

import hearpipe
from hearpipe.models.weights import BUILTIN_DIR

from .conftest import REPO, data_dir

pytestmark = pytest.mark.data


@pytest.mark.parametrize(
    "graph, name", [("enhance.yaml", "enhance_conv"), ("enhance_stft.yaml", "enhance_stft")]
)
def test_shipped_model_improves_dev_mixtures(graph, name):
    if not (BUILTIN_DIR / f"{name}.npz").is_file():
        pytest.skip(f"builtin weights {name}.npz not trained/exported yet")
    from hearpipe.evaluation.mixtures import dev_mixtures
    from hearpipe.metrics.si_snr import si_snr_improvement

    g = hearpipe.load_graph(REPO / "graphs" / graph)
    d = g.latency_samples
    gains = []
    for m in dev_mixtures(data_dir(), n=2, seconds=3.0, snrs_db=(0.0,)):
        y = g.run(m.noisy)[0]
        gains.append(si_snr_improvement(y[d:], m.noisy[:-d], m.clean[:-d]))
    assert np.mean(gains) > 2.0, gains
