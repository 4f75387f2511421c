"""Rendering audio files through a graph: streaming reads and writes in blocks, atomic output (a temporary
file beside the target, then a rename), one readable error per bad file."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.budget.device import DeviceProfile
from hearpipe.budget.profiles import load_device
from hearpipe.errors import InvalidInput
from hearpipe.files import (
    PART,
    audio_info,
    break_position,
    new_file_mode,
    notice,
    output_format,
    remove_stale_parts,
    same_file,
)
from hearpipe.graph.engine import Graph, load_graph
from hearpipe.metrics.level import ActiveLevel, mean_square_db_spl
from hearpipe.progress import Progress
from hearpipe.scale import JobResult, run_jobs

READ_FRAMES = 1 << 16  # samples read per step: bounded memory for files of any length
CLIPPING = ("notice", "error")  # what a render does when an integer output format clips samples
WARMUP_BLOCKS = 4  # blocks of silence run before a render is timed: its speed excludes the numba compile


@dataclass
class RenderResult:
    """One rendered file: `duration_s` seconds of audio processed in `seconds` of wall time, after a warm-up
    of `warmup_s` (a few blocks of silence: the numba kernels' compile on a first run, cached afterwards);
    levels (Leq over the whole file, all channels; the input's ITU-T P.56 active speech level) in dB SPL
    through the graph's `full_scale_db_spl`, as presented: after a gain of `gain_db` (`level_db_spl`)."""

    input: Path
    output: Path
    duration_s: float
    seconds: float
    clipped_input_samples: int
    clipped_output_samples: int
    input_db_spl: float
    output_db_spl: float
    warmup_s: float
    input_active_db_spl: float
    gain_db: float

    @property
    def realtime_factor(self) -> float:
        return self.duration_s / max(self.seconds, 1e-12)

    def to_dict(self) -> dict:
        return {
            "input": str(self.input),
            "output": str(self.output),
            "duration_s": self.duration_s,
            "seconds": self.seconds,
            "realtime_factor": self.realtime_factor,
            "clipped_input_samples": self.clipped_input_samples,
            "clipped_output_samples": self.clipped_output_samples,
            "input_db_spl": self.input_db_spl,
            "output_db_spl": self.output_db_spl,
            "warmup_s": self.warmup_s,
            "input_active_db_spl": self.input_active_db_spl,
            "gain_db": self.gain_db,
        }


def _graph_for(graph: Graph, channels: int, path: Path, rate: int, duplicate_mono: bool = False) -> Graph:
    """The graph a file runs through: `graph`, or the mono graph once per channel; a mono file feeds
    every channel of a multichannel graph only when asked (`duplicate_mono`)."""
    if abs(rate - graph.sample_rate_hz) > 1e-6:
        raise InvalidInput(
            f"{path}: sample rate {rate} Hz differs from the graph's {graph.sample_rate_hz:g} Hz; resample the "
            f"file first (e.g. `sox {path.name} -r {graph.sample_rate_hz:g} out.wav`) or set sample_rate_hz in the "
            "graph"
        )
    if channels == graph.channels:
        return graph
    if graph.channels == 1:  # a mono graph runs once per channel, each with its own state
        return graph.rebuilt(channels=channels)
    if channels == 1 and duplicate_mono:
        return graph
    if channels == 1:
        raise InvalidInput(
            f"{path}: mono, but the graph expects {graph.channels} channels; --duplicate-mono feeds the one "
            "channel to all of them"
        )
    raise InvalidInput(f"{path}: has {channels} channel(s) but the graph expects {graph.channels}")


def render_file(
    graph: Graph,
    src: Path,
    dst: Path,
    *,
    compensate_latency: bool = False,
    progress: bool | None = None,
    subtype: str | None = None,
    clipping: str = "notice",
    level_db_spl: float | None = None,
    duplicate_mono: bool = False,
) -> RenderResult:
    """Render one file. The output is written to a temporary file beside `dst`, then renamed.

    `level_db_spl`: scale the input so its active speech level (ITU-T P.56) is this many dB SPL; the
    file is read twice, first to measure that level.

    Output samples beyond full scale are clipped by an integer format (PCM, and FLAC, which holds only
    PCM): `clipping="notice"` says how many, `"error"` refuses to write the file.
    """
    if clipping not in CLIPPING:
        raise InvalidInput(f"clipping must be one of {', '.join(CLIPPING)}, got {clipping!r}")
    info = audio_info(src)
    if same_file(src, dst):
        raise InvalidInput(f"{dst}: output would overwrite the input; choose another output path")
    g = _graph_for(graph, info.channels, src, info.samplerate, duplicate_mono)
    gain_db = 0.0 if level_db_spl is None else level_db_spl - _active_level_db_spl(src, g)
    gain = 10 ** (gain_db / 20)
    out_dir = dst.parent if str(dst.parent) else Path(".")
    if not out_dir.is_dir():
        raise InvalidInput(f"{dst}: output folder {out_dir} does not exist")
    if not os.access(out_dir, os.W_OK):
        raise InvalidInput(f"{dst}: output folder {out_dir} is not writable")
    fmt = output_format(dst)
    subtype = subtype or (info.subtype if sf.check_format(fmt, info.subtype) else sf.default_subtype(fmt))
    # the warm-up (compiled kernels before the clock starts, then the state cleared again) comes before the
    # temporary file: a signal during a long first compile then leaves no .part behind
    t_warm = time.perf_counter()
    g.reset()
    g.process(np.zeros((g.channels, WARMUP_BLOCKS * g.block_size)))
    g.flush()
    warmup_s = time.perf_counter() - t_warm
    active = ActiveLevel(info.samplerate)  # the input's levels, long-term and active (imports scipy)
    remove_stale_parts(dst)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.{os.getpid()}.", suffix=PART, dir=out_dir)
        os.close(fd)
    except OSError as e:  # /proc, /sys and read-only mounts pass the access check and refuse files
        raise InvalidInput(f"{dst}: cannot write in {out_dir} ({e.strerror})") from None
    tmp = Path(tmp_name)
    clipped_in = clipped_out = read = 0
    sq_out = 0.0  # sum of squares and sample count: the level of a whole file written in blocks
    n_out = 0
    bar = Progress(info.duration, f"{src.name}", "s audio", enabled=progress, min_total=10.0)
    t0 = time.perf_counter()
    try:
        tmp.chmod(new_file_mode())  # mkstemp's 0o600 would make every rendered file private to its writer
        g.reset()
        skip = g.latency_samples if compensate_latency else 0
        with (
            sf.SoundFile(str(src)) as fin,
            # the graph may output fewer or more channels than it reads (split, a multichannel mix)
            sf.SoundFile(
                str(tmp),
                "w",
                samplerate=info.samplerate,
                channels=g.out_format.channels,
                format=fmt,
                subtype=subtype,
            ) as fout,
        ):

            def emit(y: np.ndarray) -> None:
                nonlocal skip, clipped_out, sq_out, n_out
                if skip:
                    drop = min(skip, y.shape[1])
                    y, skip = y[:, drop:], skip - drop
                if y.shape[1]:
                    clipped_out += int(np.count_nonzero(np.abs(y) > 1.0))
                    sq_out += float(np.sum(np.square(y)))
                    n_out += y.size
                    fout.write(y.T)

            while True:
                try:
                    x = fin.read(READ_FRAMES, dtype="float64", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as e:
                    at = break_position(src, read)
                    raise InvalidInput(
                        f"{src}: the audio stream breaks at sample {at} of {info.frames} ({e})"
                    ) from None
                if not len(x):
                    break
                x = x.T
                if not np.isfinite(x).all():
                    bad = int(np.argwhere(~np.isfinite(x))[0][1]) + read
                    raise InvalidInput(f"{src}: audio contains NaN or Inf (first at sample {bad})")
                read += x.shape[1]
                clipped_in += int(np.count_nonzero(np.abs(x) >= 1.0))  # the recording, before any gain
                x = np.repeat(x * gain, g.channels // x.shape[0], axis=0)  # a duplicated mono channel
                active.update(x)
                emit(g.process(x))
                bar.update(x.shape[1] / info.samplerate)
            if read < info.frames:
                raise InvalidInput(
                    f"{src}: the audio stream ends at sample {read} of the {info.frames} promised"
                )
            if compensate_latency and g.latency_samples:
                emit(g.process(np.zeros((g.channels, g.latency_samples))))
            emit(g.flush())
        clips = clipped_out if not subtype.startswith(("FLOAT", "DOUBLE")) else 0
        if clips and clipping == "error":
            raise InvalidInput(
                f"{dst}: {clips} output samples beyond full scale would be clipped by the {subtype} format; "
                "nothing written (write .wav, which keeps float, or lower the gain)"
            )
        os.replace(tmp, dst)
    except OSError as e:
        raise InvalidInput(f"{dst}: cannot write ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)  # after the rename there is nothing left to remove
        bar.close()
    seconds = time.perf_counter() - t0
    if clipped_in:
        notice(f"{src}: {clipped_in} input samples at or beyond digital full scale (clipped recording?)")
    if clips:
        notice(
            f"{dst}: {clips} output samples beyond full scale were clipped by the {subtype} format "
            "(write .wav to keep them as float, or --clipping error to refuse)"
        )
    fs_db = g.spec.full_scale_db_spl
    return RenderResult(
        src,
        dst,
        info.duration,
        seconds,
        clipped_in,
        clipped_out,
        mean_square_db_spl(active.sum_squares / max(active.samples, 1), fs_db),
        mean_square_db_spl(sq_out / max(n_out, 1), fs_db),
        warmup_s,
        mean_square_db_spl(active.mean_square(), fs_db),
        gain_db,
    )


def _active_level_db_spl(src: Path, g: Graph) -> float:
    """The first pass of a render at a presentation level: the file's active speech level as recorded."""
    acc = ActiveLevel(g.sample_rate_hz)
    try:
        with sf.SoundFile(str(src)) as f:
            while len(x := f.read(READ_FRAMES, dtype="float64", always_2d=True)):
                acc.update(x.T)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise InvalidInput(f"{src}: the audio stream breaks ({e})") from None
    ms = acc.mean_square()
    if ms <= 0:
        raise InvalidInput(f"{src}: digital silence: no active speech to bring to a presentation level")
    return mean_square_db_spl(ms, g.spec.full_scale_db_spl)


def render(
    graph,
    inputs,
    output,
    *,
    device=None,
    enforce: bool = True,
    compensate_latency: bool = False,
    progress: bool | None = None,
    clipping: str = "notice",
    level_db_spl: float | None = None,
    duplicate_mono: bool = False,
) -> list[RenderResult]:
    """Render one or more audio files through `graph` (a Graph, a path or shipped graph name, or a mapping).

    With one input, `output` is a file; with several, a folder (created if missing) that receives
    files named like the inputs. With a device and `enforce`, an over-budget graph raises OverBudget
    before any audio is read. Every input is checked (readable, whole, at the graph's rate) before the
    first output is written; an error in a later decode names the outputs already written.
    `level_db_spl` and `duplicate_mono`: see `render_file`.
    """
    g, pairs = _plan(graph, inputs, output, device, enforce, duplicate_mono)
    done: list[RenderResult] = []
    for s, d in pairs:
        try:
            done.append(
                render_file(
                    g,
                    s,
                    d,
                    compensate_latency=compensate_latency,
                    progress=progress,
                    clipping=clipping,
                    level_db_spl=level_db_spl,
                    duplicate_mono=duplicate_mono,
                )
            )
        except InvalidInput as e:
            if not done:
                raise
            written = ", ".join(str(r.output) for r in done)
            raise InvalidInput(
                f"{e}\nstopped after writing {len(done)} of {len(pairs)} outputs: {written}"
            ) from None
    return done


def _plan(
    graph, inputs, output, device, enforce: bool, duplicate_mono: bool = False
) -> tuple[Graph, list[tuple[Path, Path]]]:
    """The prepared graph and the (input, output) file pairs of a render, every input checked first."""
    if not isinstance(graph, Graph):
        g = load_graph(graph, device=device)
    elif device is None:
        g = graph
    else:  # rebuild for the device, keeping the file's name and folder (relative audiogram paths)
        dev = device if isinstance(device, DeviceProfile) else load_device(device)
        g = graph.rebuilt(device=dev)
    if enforce and g.device is not None:
        g.budget().check()
    srcs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    if not srcs:
        raise InvalidInput("no input files given")
    out = Path(output)
    for s in srcs:
        info = audio_info(s)
        _graph_for(g, info.channels, s, info.samplerate, duplicate_mono)
    if len(srcs) == 1 and not out.is_dir():
        pairs = [(srcs[0], out)]
    else:
        if out.exists() and not out.is_dir():
            raise InvalidInput(f"{out}: with several inputs the output must be a folder")
        names = [s.name for s in srcs]
        if len(set(names)) != len(names):
            raise InvalidInput(
                "several inputs share a file name; they would overwrite each other in the output folder"
            )
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InvalidInput(f"{out}: cannot create the output folder ({e.strerror})") from None
        pairs = [(s, out / s.name) for s in srcs]
    for _, d in pairs:
        for other in srcs:
            if same_file(other, d):
                raise InvalidInput(f"{d}: output would overwrite the input {other}; choose another output")
    return g, pairs


def _render_task(item: tuple[Path, Path, dict], graph: Graph) -> RenderResult:
    src, dst, options = item
    return render_file(graph, src, dst, progress=False, **options)


def render_jobs(
    graph,
    inputs,
    output,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    device=None,
    enforce: bool = True,
    compensate_latency: bool = False,
    progress: bool | None = None,
    level_db_spl: float | None = None,
    duplicate_mono: bool = False,
) -> JobResult:
    """`render` as one job on Dask workers (`workers` local processes, or the cluster at `scheduler`):
    the same files, byte for byte; a file that fails is reported and the others go on."""
    g, pairs = _plan(graph, inputs, output, device, enforce, duplicate_mono)
    options = {"compensate_latency": compensate_latency, "level_db_spl": level_db_spl,
               "duplicate_mono": duplicate_mono}  # fmt: skip
    items = [(s, d, options) for s, d in pairs]
    seconds = [sf.info(str(s)).duration for s, _ in pairs]
    return run_jobs(_render_task, items, seconds, label="render", workers=workers, scheduler=scheduler,
                    progress=progress, shared=g)  # fmt: skip
