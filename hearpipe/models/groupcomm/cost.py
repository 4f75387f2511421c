"""GroupComm costs: operation counts per frame, values kept and live, for the float model (`hparams`
only) and exactly what the fixed-point kernels execute (`FixedGroupComm`, checked against the kernels'
`ops` counters in the tests).

Float: `ops_per_frame(hp)` (mask estimator), `filter_macs`, `frontend_macs_per_frame`, `state_values`,
`scratch_values`, `summary`. Fixed point: `fixed_ops_per_frame(model, parts)`, `features_ops`,
`cost_summary(model, channels)` (operations, frame rate and bytes for a block's `cost()`).
"""

from __future__ import annotations

import math
from collections import Counter

from hearpipe.fixed import count
from hearpipe.models.groupcomm.hparams import GroupCommHParams, n_params


def ops_per_frame(hp: GroupCommHParams) -> dict[str, int]:
    """Exact operation counts of one `GroupCommState.step` (mask estimator only, no front end)."""
    K, d, h, hi, C, P, Fe = (hp.groups, hp.group_dim, hp.hidden, hp.inter_hidden, hp.n_outputs,
                             hp.mask_per_group, hp.features)  # fmt: skip
    mac = add = mul = lut = cmp_ = 0
    lut += Fe  # log2 table per feature
    add += Fe  # power + eps
    mul += Fe  # feat_scale
    mac += hp.n_model * hp.n_in
    add += hp.n_model  # bias
    if hp.feat_ema_shift:  # mean += (f - mean) >> k; deviation f - mean
        add += 3 * Fe
        mul += Fe
    for _ in range(hp.n_blocks):
        if hp.inter == "tac":
            mac += K * hi * d + hi * hi + K * d * 2 * hi
            add += K * hi + hi + K * d  # biases
            add += K * hi  # mean: sum over groups
            mul += hi  # mean: times 1/K
            cmp_ += K * hi + hi + K * d  # PReLU sign tests
            mul += K * hi + hi + K * d  # PReLU slopes (worst case)
            add += K * d  # residual
        elif hp.inter == "rnn":
            for _dir in range(2):
                mac += K * 3 * hi * (d + hi)
                add += K * (6 * hi + 3 * hi + 3 * hi)
                lut += K * 3 * hi
                mul += K * 3 * hi
            mac += K * d * 2 * hi
            add += K * d * 2
        for layer in range(hp.rnn_layers):
            n_in = hp.seq_inputs(layer)
            if hp.rnn == "tcn":  # one dense layer over k taps, bias, tanh table
                mac += K * h * hp.tcn_kernel * n_in
                add += K * h
                lut += K * h
                continue
            g = 3 if hp.rnn == "gru" else 4
            mac += K * g * h * (n_in + h)
            add += K * 2 * g * h  # two biases
            if hp.rnn == "gru":
                add += K * (2 * h + h + 2 * h)  # r,z sums; n sum; (1-z)n + zh
                mul += K * 3 * h
                lut += K * 3 * h
            else:
                add += K * (h + h)
                mul += K * 4 * h
                lut += K * 5 * h
        mac += K * d * h
        add += K * d * 2
    mac += K * C * P * d
    add += K * C * P
    lut += K * C * P
    if hp.df_taps:  # the deep filter's head (tanh per value); the filter itself is `filter_macs`
        mac += K * hp.df_per_group * d
        add += K * hp.df_per_group
        lut += K * hp.df_per_group
    return {"mac": mac, "add": add, "mul": mul, "lut": lut, "cmp": cmp_}


def past_values(hp: GroupCommHParams) -> int:
    """Front-end values the deep filter keeps: the L-1 previous frames of 2F (re, im) band values."""
    return max(hp.df_taps - 1, 0) * 2 * hp.features


def state_values(hp: GroupCommHParams) -> int:
    """Values kept between frames: RNN states (h; c for LSTM) or the TCN's earlier inputs, the running
    means and the deep filter's earlier frames."""
    if hp.rnn == "tcn":
        n = hp.n_blocks * hp.groups * sum(hp.tcn_past(i) * hp.seq_inputs(i) for i in range(hp.rnn_layers))
    else:
        n = hp.n_blocks * hp.rnn_layers * hp.groups * hp.hidden * (2 if hp.rnn == "lstm" else 1)
    return n + (hp.features if hp.feat_ema_shift else 0) + past_values(hp)


def scratch_values(hp: GroupCommHParams) -> int:
    """Largest live activations within one frame (features, x, TAC/RNN intermediates, gates, masks)."""
    K, h, hi = hp.groups, hp.hidden, hp.inter_hidden
    g = 3 if hp.rnn == "gru" else 4
    inter = K * hi * 2 + hi if hp.inter == "tac" else (2 * K * hi + 6 * hi if hp.inter == "rnn" else 0)
    seq = K * (hp.tcn_kernel * max(hp.group_dim, h) + 2 * h) if hp.rnn == "tcn" else K * 2 * g * h
    return hp.n_in + hp.n_model * 2 + max(inter, seq, K * hp.n_outputs * hp.mask_per_group)


def filter_macs(hp: GroupCommHParams) -> int:
    """Multiplies applying one output's mask (one per front-end value) or deep filter (4 per band and tap)."""
    if hp.df_taps:
        return 4 * hp.df_taps * hp.features
    return 2 * hp.features if hp.complex_bands else hp.features


def frontend_macs_per_frame(hp: GroupCommHParams) -> int:
    """Encoder + mask + decoder multiply-accumulates (STFT: direct DFT bound; an FFT needs fewer)."""
    if hp.frontend == "conv":
        n, W = hp.enc_channels, hp.window
        return n * hp.analysis_window + n * W * hp.n_outputs + filter_macs(hp) * hp.n_outputs
    L = hp.window
    # real FFT + inverse as butterflies ~ 2 * (L/2) log2(L/2) complex mults (4 MACs each), window, mask
    return 2 * 4 * (L // 2) * int(math.log2(L // 2)) + 2 * L + filter_macs(hp)


def summary(hp: GroupCommHParams) -> dict[str, float]:
    ops = ops_per_frame(hp)
    macs = ops["mac"] + frontend_macs_per_frame(hp)
    return {
        "params": n_params(hp),
        "macs_per_frame": macs,
        "mmacs_per_s": macs * hp.frame_rate_hz / 1e6,
        "state_values": state_values(hp),
        "latency_ms": 1000.0 * hp.window / hp.sample_rate_hz,  # (W - S) algorithmic + S block buffer
    }


def fixed_ops_per_frame(model, parts=("features", "network", "mask")) -> Counter:
    """Exact operations of one frame of a `FixedGroupComm` model (one audio channel): "features" (power, log2 table, narrowing),
    "network" (every layer, from `hearpipe.fixed.count`), "mask" (multiplying the front-end values).
    Equal to the `ops` counters of the instrumented kernels (tests)."""
    return fixed_frame(model, parts)[0]


def fixed_frame(model, parts=("features", "network", "mask")) -> tuple[Counter, list[count.KernelCall]]:
    """`fixed_ops_per_frame`, and the kernel calls (dense, GRU/LSTM, conv layers) that make part of them."""
    hp, bits = model.hp, model.weight_bits
    k, d, h, hi, F = hp.groups, hp.group_dim, hp.hidden, hp.inter_hidden, hp.features
    c, calls = Counter(), []

    def layer(call: count.KernelCall) -> None:
        nonlocal c
        c += call.ops
        calls.append(call)

    if "features" in parts:
        c += features_ops(hp)
    if "network" in parts:
        layer(count.dense_call(hp.n_model, hp.n_in, 1, bits))
        for _ in range(hp.n_blocks):
            if hp.inter == "tac":
                layer(count.dense_call(hi, d, k, bits))
                c += count.prelu(k * hi) + count.mean_groups(k, hi)
                layer(count.dense_call(hi, hi, 1, bits))
                c += count.prelu(hi)
                layer(count.dense_call(d, 2 * hi, k, bits))
                c += count.prelu(k * d) + count.add_q15(k * d)
            elif hp.inter == "rnn":
                layer(count.rnn_call("gru", d, hi, k, 1, bits))
                layer(count.rnn_call("gru", d, hi, k, 1, bits))
                layer(count.dense_call(d, 2 * hi, k, bits))
                c += count.add_q15(k * d)
            for i in range(hp.rnn_layers):
                if hp.rnn == "tcn":  # a causal dilated convolution per group (conv1d_s16), tanh table
                    for _ in range(k):
                        layer(count.conv_call(h, hp.seq_inputs(i), hp.tcn_kernel, 1, 2**i, bits))
                    c += count.sigmoid(k * h)
                    continue
                layer(count.rnn_call(hp.rnn, d if i == 0 else h, h, 1, k, bits))
            layer(count.dense_call(d, h, k, bits))
            c += count.add_q15(k * d)
        layer(count.dense_call(hp.n_outputs * hp.mask_per_group, d, k, bits))
        c += count.sigmoid(hp.n_outputs * F)
        if hp.df_taps:
            layer(count.dense_call(hp.df_per_group, d, k, bits))
            c += count.sigmoid(hp.n_outputs * 2 * hp.df_taps * F)
        if any(q.packed is not None for q in model.layers):
            # packed low-bit kernels have no published cycle measurement: priced per operation, as counted
            c, calls = packed_ops(model, c), []
    if "mask" in parts and hp.df_taps:  # the delay line moves, then the filter runs
        c += Counter(move=past_values(hp)) + count.deep_filter(F, hp.df_taps, wide=hp.frontend == "stft")
    elif "mask" in parts:
        c += count.mask_mul(F, complex_input=hp.complex_bands)
    return c, calls


def dense_calls(hp: GroupCommHParams, name: str) -> tuple[int, int]:
    """(dense kernel calls per frame, vectors per call) of a `FixedGroupComm` layer: the input projection
    and TAC's second layer see one vector, the across-group GRU one group per call, the rest all K groups."""
    if name == "in" or name.endswith("tac.w2"):
        return 1, 1
    if ".grnn." in name and not name.endswith("proj"):
        return hp.groups, 1
    return 1, hp.groups


def packed_ops(model, c: Counter) -> Counter:
    """The count c of a network with dense layers, corrected for its packed layers (compressed files):
    a pruned row's MACs are skipped (its requantisation of the bias stays), every kept weight is read
    from the bit stream once per kernel call (`count.unpack`), and each row's mask bit is tested."""
    c = Counter(c)
    for q in model.layers:
        if q.packed is None:
            continue
        calls, nb = dense_calls(model.hp, q.name)
        kept = int(q.packed.kept.sum())
        c["mac8"] -= calls * nb * (q.rows - kept) * q.cols
        c += count.unpack(calls * kept * q.cols, q.packed.bits, codebook=q.packed.kind == "cluster")
        if q.packed.row_mask is not None:
            c += Counter(cmp=calls * q.rows)
    return +c


def features_ops(hp: GroupCommHParams) -> Counter:
    """Power (STFT: 2 mul, 3 add, 3 cmp per bin (int32 clamps); conv: 1 mul, 2 add; conv with complex
    bands: 2 mul, 3 add), log2 table (count.log2) and the rounding narrowing to int16 (2 add, 2 cmp)."""
    n = hp.features
    if hp.frontend == "stft":
        c = Counter(mul=2 * n, add=3 * n, cmp=3 * n)
    else:
        c = Counter(mul=2 * n, add=3 * n) if hp.enc_complex else Counter(mul=n, add=2 * n)
    if hp.feat_ema_shift:
        # `deviation`: f << 16, sub, rounding shift (2), add; rounding shift (2), sub; sat16
        c += Counter(add=8 * n, cmp=2 * n)
    return c + count.log2(n) + Counter(add=2 * n, cmp=2 * n)


def cost_summary(model, channels: int = 1) -> dict:
    """A `FixedGroupComm` model's per-frame operations and kernel calls (all parts, all channels), frame rate and memory in bytes, for `cost()`."""
    ops, calls = fixed_frame(model)
    wb = model.weight_bytes()
    return {
        "ops": count.repeat(ops, channels),
        "kernels": [call.times(channels) for call in calls],
        "frame_rate_hz": model.hp.frame_rate_hz,
        "ram_persistent": model.state_bytes(channels),
        "ram_scratch": model.scratch_bytes(),
        "rom": sum(wb.values()),
        "rom_parts": wb,
    }
