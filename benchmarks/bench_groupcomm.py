"""Fixed-point GroupComm inference speed against PyTorch float inference of the same model, on one core.

For each model (default: the shipped `builtin:enhance_conv` and `builtin:enhance_stft`) prints the
real-time factor (audio seconds per wall-clock second) of
  (a) hop by hop, as a hearing aid runs: one frame (hop samples) per call, state carried (conv model:
      encoder, mask estimator and decoder in one call, `FixedConvChain`; also shown as the three calls
      per hop that the graph's blocks make);
  (b) whole file: all frames in one call;
for the bit-true fixed-point path (`hearpipe.models.groupcomm.fixed_stream`, numba) and for the PyTorch model
of `hearpipe.train.model` loaded with the same weights (float32, inference mode; hop by hop through
its modules with the recurrent state carried), and the ratio fixed / PyTorch.

What is timed: conv model - audio in to audio out (encoder, mask estimator, masking, decoder) on both
sides; STFT model - mask estimator and masking on spectrum frames (the STFT/iSTFT transforms, the
separate `stft`/`istft` blocks, are excluded on both sides).

    NUMBA_NUM_THREADS=1 python benchmarks/bench_groupcomm.py [--seconds 20] [--hop-seconds 5]
Aim (issue 4): fixed point >= 50x real time, faster than PyTorch in both modes. The machine may be
shared: ratios are measured in one process, interleaved, best of `--repeat`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch
from twins import SR, TorchStream, bench_audio, best_time, torch_net

from hearpipe.datadir import default_data_dir
from hearpipe.dsp import wola
from hearpipe.models import groupcomm as gc
from hearpipe.models.groupcomm.calibrate import calibration_power, calibration_signals
from hearpipe.models.groupcomm.codec import FixedConvChain, FixedConvDecoder, FixedConvEncoder
from hearpipe.models.groupcomm.cost import fixed_ops_per_frame
from hearpipe.models.groupcomm.fixed_model import quantize_model
from hearpipe.models.groupcomm.fixed_stream import FixedGroupCommState
from hearpipe.models.groupcomm.frontend import stft_windows
from hearpipe.models.groupcomm.reference import read_weights

STFT_FRAC = 23  # the fixed stft block for N = 128


def run_model(name: str, seconds: float, hop_seconds: float, repeat: int) -> list[str]:
    w = read_weights(name)[1]
    hp = w.hp
    data = default_data_dir()
    sig = calibration_signals(data if data.is_dir() else None, n=4, seconds=3.0)
    model = quantize_model(w, calibration_frames=calibration_power(w, sig))
    n = int(seconds * SR) // hp.hop * hp.hop
    x = bench_audio(data, n)
    xq = np.round(x * 32767).astype(np.int16)[None]
    n_hop = int(hop_seconds * SR) // hp.hop
    net = torch_net(name)
    xt = torch.from_numpy(xq[0] / 32768.0).float()

    if hp.frontend == "conv":
        enc = FixedConvEncoder(w["enc.weight"], hp.hop)
        dec = FixedConvDecoder(w["dec.weight"], hp.hop, enc.out_frac)
        st = FixedGroupCommState(model)
        chain = FixedConvChain(
            FixedConvEncoder(w["enc.weight"], hp.hop), FixedGroupCommState(model),
            FixedConvDecoder(w["dec.weight"], hp.hop, enc.out_frac),
        )  # fmt: skip

        def fixed_whole():
            chain.reset()
            chain.process(xq)

        def fixed_hop():  # one call per hop: encoder, mask estimator and decoder fused
            chain.reset()
            for j in range(n_hop):
                chain.process(xq[:, j * hp.hop : (j + 1) * hp.hop])

        def stages_hop():  # the three stages as the graph's blocks call them: three calls per hop
            enc.reset(), dec.reset(), st.reset()
            for j in range(n_hop):
                dec.process(st.process(enc.process(xq[:, j * hp.hop : (j + 1) * hp.hop]), enc.out_frac))

        ts = TorchStream(net)

        def torch_whole():
            with torch.inference_mode():
                net(xt[None])

        def torch_hop():
            ts.reset()
            with torch.inference_mode():
                for j in range(n_hop):
                    ts.audio_hop(xt[j * hp.hop : (j + 1) * hp.hop])

        with torch.inference_mode():  # sanity: the streaming PyTorch loop is the same model
            ref = net(xt[None, : 40 * hp.hop])[0, 0, : 30 * hp.hop]
            ts.reset()
            y = torch.cat([ts.audio_hop(xt[j * hp.hop : (j + 1) * hp.hop]) for j in range(40)])
            d = hp.window - hp.hop
            assert torch.allclose(y[d : d + 30 * hp.hop], ref, atol=1e-4), "torch streaming != torch whole"
    else:
        X = wola.stft(xq[0] / 32768.0, stft_windows(hp.window, hp.hop)[0], hp.hop)
        Xi = np.stack([np.round(X.real * 2**STFT_FRAC), np.round(X.imag * 2**STFT_FRAC)], -1).astype(
            np.int32
        )[None]
        st = FixedGroupCommState(model)

        def fixed_whole():
            st.reset()
            st.process(Xi, STFT_FRAC)

        def fixed_hop():
            st.reset()
            for j in range(n_hop):
                st.process(Xi[:, :, j : j + 1], STFT_FRAC)

        stages_hop = None  # the STFT model's mask estimator is one stage

        with torch.inference_mode():
            e = net.encode(xt[None])  # (1, 2F, J) = [re; im]

        ts = TorchStream(net)

        def torch_whole():
            with torch.inference_mode():
                _ = net.apply(e, *net.estimate(e))

        def torch_hop():
            ts.reset()
            with torch.inference_mode():
                for j in range(n_hop):
                    _ = ts.filtered(e[0, :, j])

    fixed_whole()  # compile / warm up
    torch_whole()
    fns = [fixed_whole, torch_whole, fixed_hop, torch_hop] + ([stages_hop] if stages_hop else [])
    best = {f: float("inf") for f in fns}
    for _ in range(repeat):  # interleaved, best of `repeat`: the machine may be shared
        for f in best:
            best[f] = min(best[f], best_time(f, 1))
    t_fw, t_tw, t_fh, t_th = (best[f] for f in fns[:4])
    sec_whole, sec_hop = n / SR, n_hop * hp.hop / SR
    macs = sum(v for k, v in fixed_ops_per_frame(model).items() if k.startswith("mac"))
    rows = [
        f"{name} ({hp.frontend}, {gc.n_params(hp)} parameters, {model.weight_bits}-bit weights, "
        f"{macs * hp.frame_rate_hz / 1e6:.1f} M MAC/s in the mask estimator)",
        f"  formats: {model.formats.describe()}",
        f"  (a) hop by hop ({sec_hop:.0f} s, {hp.hop} samples per call): fixed {sec_hop / t_fh:7.1f}x real time, "
        f"PyTorch {sec_hop / t_th:7.1f}x  -> fixed/PyTorch {t_th / t_fh:5.2f}",
        f"  (b) whole file ({sec_whole:.0f} s, one call):          fixed {sec_whole / t_fw:7.1f}x real time, "
        f"PyTorch {sec_whole / t_tw:7.1f}x  -> fixed/PyTorch {t_tw / t_fw:5.2f}",
    ]
    if stages_hop:
        t_sh = best[stages_hop]
        rows.insert(3, f"      the same as three calls per hop (the graph's blocks): fixed {sec_hop / t_sh:7.1f}x "
                    f"-> fused/three calls {t_sh / t_fh:5.2f}")  # fmt: skip
    for r in rows:
        print(r, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["builtin:enhance_conv", "builtin:enhance_stft"])
    ap.add_argument("--seconds", type=float, default=20.0, help="audio for the whole-file mode")
    ap.add_argument("--hop-seconds", type=float, default=5.0, help="audio for the hop-by-hop mode")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(
        f"one core: NUMBA_NUM_THREADS={os.environ['NUMBA_NUM_THREADS']}, torch threads {torch.get_num_threads()}"
    )
    for name in a.models:
        run_model(name, a.seconds, a.hop_seconds, a.repeat)


if __name__ == "__main__":
    main()
