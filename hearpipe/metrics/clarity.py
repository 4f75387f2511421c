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


def _args(estimate, reference, frequencies_hz, thresholds_db_hl):
    try:
        from clarity.utils.audiogram import Audiogram
    except ImportError:
        raise InvalidInput(
            "HASPI/HASQI need the 'pyclarity' package (pip install 'hearpipe[clarity]')"
        ) from None
    f = np.asarray(frequencies_hz, dtype=np.float64)
    hl = np.asarray(thresholds_db_hl, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    return ref, est, Audiogram(levels=hl, frequencies=f)


def haspi_v2(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate_hz: float,
    frequencies_hz: Sequence[float],
    thresholds_db_hl: Sequence[float],
    rms1_db_spl: float,
) -> float:
    """HASPI v2 (0..1) of `estimate` heard by the listener against clean `reference` (normal hearing)."""
    from clarity.evaluator.haspi import haspi_v2 as _haspi

    ref, est, ag = _args(estimate, reference, frequencies_hz, thresholds_db_hl)
    fs = float(sample_rate_hz)
    return float(_haspi(ref, fs, est, fs, ag, level1=rms1_db_spl)[0])


def hasqi_v2(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate_hz: float,
    frequencies_hz: Sequence[float],
    thresholds_db_hl: Sequence[float],
    rms1_db_spl: float,
) -> float:
    """HASQI v2 (0..1, combined) of `estimate` heard by the listener against clean `reference`."""
    from clarity.evaluator.hasqi import hasqi_v2 as _hasqi

    ref, est, ag = _args(estimate, reference, frequencies_hz, thresholds_db_hl)
    fs = float(sample_rate_hz)
    return float(_hasqi(ref, fs, est, fs, ag, level1=rms1_db_spl)[0])
