"""HASPI v2 (intelligibility) and HASQI v2 (quality) of the Clarity challenge, through the optional
`pyclarity` package (the `clarity` extra). Both model the listener's ear: they take an audiogram
(thresholds in dB HL at frequencies in Hz) and the level in dB SPL of a signal whose RMS is 1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hearpipe.errors import InvalidInput


def available() -> bool:
    """Whether pyclarity can be imported (HASPI/HASQI are skipped, not failed, without it)."""
    try:
        import clarity.evaluator.haspi  # noqa: F401
    except ImportError:
        return False
    return True


def v2(
    metric: str,
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate_hz: float,
    frequencies_hz: Sequence[float],
    thresholds_db_hl: Sequence[float],
    rms1_db_spl: float,
) -> float:
    """HASPI v2 (`metric="haspi"`: intelligibility, 0..1) or HASQI v2 (`"hasqi"`: quality, 0..1, combined)
    of `estimate` heard by the listener against clean `reference` (heard with normal hearing)."""
    try:
        from clarity.evaluator import haspi, hasqi
        from clarity.utils.audiogram import Audiogram
    except ImportError:
        raise InvalidInput(
            "HASPI/HASQI need the 'pyclarity' package (pip install 'hearpipe[clarity]')"
        ) from None
    fn = {"haspi": haspi.haspi_v2, "hasqi": hasqi.hasqi_v2}[metric]
    ag = Audiogram(levels=np.asarray(thresholds_db_hl, dtype=np.float64),
                   frequencies=np.asarray(frequencies_hz, dtype=np.float64))  # fmt: skip
    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    fs = float(sample_rate_hz)
    return float(fn(ref, fs, est, fs, ag, level1=rms1_db_spl)[0])
