"""Signal-to-distortion ratio (SDR) in dB: the energy of the reference over the energy of what the
estimate gets wrong (no scaling or filtering allowed, unlike SI-SNR or BSS-eval's SDR)."""

from __future__ import annotations

import numpy as np


def sdr(estimate: np.ndarray, reference: np.ndarray, eps: float = 1e-12) -> float:
    """10 log10(|s|^2 / |s - y|^2) of a 1-D estimate y against a 1-D reference s, in dB."""
    est = np.asarray(estimate, dtype=np.float64).ravel()
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if est.shape != ref.shape:
        raise ValueError(f"estimate has {est.size} samples, reference {ref.size}")
    err = ref - est
    return float(10 * np.log10((ref @ ref + eps) / (err @ err + eps)))
