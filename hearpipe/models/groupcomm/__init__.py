"""The GroupComm mask estimator, split by concern (imports run down this list):

- `hparams`: hyper-parameters and the weight layout they imply
- `reference`: the float network in numpy, frame by frame (the specification)
- `frontend`: float front ends (the graph's STFT, the learned conv codec) and the whole-signal `enhance`
- `cost`: operation counts, state and scratch sizes (float and fixed point)
- `calibrate`: fixed-point formats and their calibration on float activations
- `fixed_model`: quantisation (`quantize_model`, `quantize_weight_file`, `pin_formats`), the packed model
- `fixed_stream`: the streaming fixed-point runtime (`FixedGroupCommState`, fused numba kernels)
- `fixed_oracle`: the same network as a chain of library kernels (the tests' oracle)
- `codec`: the learned conv encoder/decoder in fixed point, and the fused encoder-model-decoder chain
- `groupcomm_kernels`: the numba kernels

The float model's public names are re-exported here.
"""

from hearpipe.models.groupcomm.cost import ops_per_frame, state_values, summary
from hearpipe.models.groupcomm.frontend import enhance
from hearpipe.models.groupcomm.hparams import ARCHITECTURE, GroupCommHParams, expected_shapes, n_params
from hearpipe.models.groupcomm.reference import GroupCommState, GroupCommWeights, random_weights

__all__ = [
    "ARCHITECTURE",
    "GroupCommHParams",
    "GroupCommState",
    "GroupCommWeights",
    "enhance",
    "expected_shapes",
    "n_params",
    "ops_per_frame",
    "random_weights",
    "state_values",
    "summary",
]
