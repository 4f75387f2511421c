"""Wide-band PESQ (ITU-T P.862.2, MOS-LQO 1.04..4.64) through the `pesq` package (the `eval` extra)."""

from __future__ import annotations

import numpy as np

from hearpipe.errors import InvalidInput


def pesq_wb(estimate: np.ndarray, reference: np.ndarray, sample_rate_hz: int = 16000) -> float:
    """Wide-band PESQ of `estimate` against clean `reference`; P.862.2 is defined at 16 kHz only."""
    try:
        from pesq import pesq as _pesq
    except ModuleNotFoundError:
        raise InvalidInput("PESQ needs the 'pesq' package (pip install 'hearpipe[eval]')") from None
    if int(sample_rate_hz) != 16000:
        raise InvalidInput(f"wide-band PESQ is defined at 16000 Hz, not {sample_rate_hz:g} Hz")
    ref = np.asarray(reference, dtype=np.float64).ravel()
    est = np.asarray(estimate, dtype=np.float64).ravel()
    return float(_pesq(16000, ref, est, "wb"))
