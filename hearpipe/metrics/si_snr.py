"""Scale-invariant SNR (SI-SNR, equal to SI-SDR for a single target) and its improvement, in dB."""

from __future__ import annotations

import numpy as np


def si_snr(estimate: np.ndarray, reference: np.ndarray, eps: float = 1e-12) -> float:
    """SI-SNR of a 1-D estimate against a 1-D reference (both made zero-mean), in dB."""
    est = np.asarray(estimate, dtype=np.float64).ravel()
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if est.shape != ref.shape:
        raise ValueError(f"estimate has {est.size} samples, reference {ref.size}")
    est = est - est.mean()
    ref = ref - ref.mean()
    target = (est @ ref) / (ref @ ref + eps) * ref
    noise = est - target
    return float(10 * np.log10((target @ target + eps) / (noise @ noise + eps)))


def si_snr_improvement(estimate: np.ndarray, mixture: np.ndarray, reference: np.ndarray) -> float:
    """SI-SNR(estimate) - SI-SNR(mixture), both against the clean reference (dB)."""
    return si_snr(estimate, reference) - si_snr(mixture, reference)
