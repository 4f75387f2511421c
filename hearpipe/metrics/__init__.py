"""Quality measures, pure functions of signals: SI-SNR and its improvement, STOI (evaluation: `hearpipe.evaluation`)."""

from hearpipe.metrics.si_snr import si_snr, si_snr_improvement
from hearpipe.metrics.stoi import stoi

__all__ = ["si_snr", "si_snr_improvement", "stoi"]
