"""Quality measures, pure functions of signals: SI-SNR and its improvement, SDR, wide-band PESQ, STOI and
ESTOI, HASPI v2 / HASQI v2 (optional pyclarity). Scoring a graph on a corpus: `hearpipe.evaluation`."""

from hearpipe.metrics.pesq import pesq_wb
from hearpipe.metrics.sdr import sdr
from hearpipe.metrics.si_snr import si_snr, si_snr_improvement
from hearpipe.metrics.stoi import stoi

__all__ = ["pesq_wb", "sdr", "si_snr", "si_snr_improvement", "stoi"]
