"""The evaluation package: the oracle mask on the graph's STFT, and the `evaluate` command."""

import argparse
import json

import numpy as np
import pytest

from hearpipe.evaluation.evaluate import oracle_irm
from hearpipe.evaluation.mixtures import Mixture


def test_oracle_mask_of_a_clean_mixture_returns_it_whole(rng):
    """No noise: the mask is 1 everywhere and the STFT pair gives back every sample, the last ones too."""
    x = rng.standard_normal(4000)
    y = oracle_irm(Mixture(x, x, 0.0, "s+n@0dB"), window=256, hop=64)
    np.testing.assert_allclose(y, x, atol=1e-9)


@pytest.mark.data
def test_evaluate_command_gap_as_json(capsys):
    evaluate = pytest.importorskip("hearpipe.cli.evaluate")  # the cli package (merged with issue 16)
    ap = argparse.ArgumentParser()
    evaluate.add_parser(ap.add_subparsers(dest="command"))
    args = ap.parse_args(
        ["evaluate", "builtin:enhance_stft", "--gap", "--n", "1", "--seconds", "1.5", "--json"]
    )
    assert args.run(args) == 0
    g = json.loads(capsys.readouterr().out)["gap"]
    assert g["n"] == 2 and abs(g["gap_mean"]) < 0.3
