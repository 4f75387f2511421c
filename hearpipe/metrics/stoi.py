"""STOI and extended STOI through `pystoi` (the `eval`, `test` and `train` extras)."""

from __future__ import annotations

import numpy as np

from hearpipe.errors import InvalidInput


def stoi(
    estimate: np.ndarray, reference: np.ndarray, sample_rate_hz: int = 16000, extended: bool = False
) -> float:
    """Short-time objective intelligibility (0..1) of `estimate` against clean `reference`; `extended`
    gives ESTOI (Jensen & Taal 2016), which also counts modulation across bands."""
    try:
        from pystoi import stoi as _stoi
    except ModuleNotFoundError:
        raise InvalidInput("STOI needs the 'pystoi' package (pip install 'hearpipe[eval]')") from None
    est = np.asarray(estimate, dtype=np.float64).ravel()
    ref = np.asarray(reference, dtype=np.float64).ravel()
    return float(_stoi(ref, est, int(sample_rate_hz), extended=extended))
