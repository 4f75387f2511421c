"""Rendering audio files through a graph: streaming reads and writes in blocks, atomic output (a temporary
file beside the target, then a rename), one readable error per bad file."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from hearpipe.budget.device import DeviceProfile
from hearpipe.budget.profiles import load_device
from hearpipe.errors import InvalidInput
from hearpipe.graph.engine import Graph, load_graph
from hearpipe.metrics.level import mean_square_db_spl
from hearpipe.progress import Progress

READ_FRAMES = 1 << 16  # samples read per step: bounded memory for files of any length
WARMUP_BLOCKS = 4  # blocks of silence run before a render is timed: its speed excludes the numba compile


@dataclass
class RenderResult:
    """One rendered file: `duration_s` seconds of audio processed in `seconds` of wall time, after a warm-up
    of `warmup_s` (a few blocks of silence: the numba kernels' compile on a first run, cached afterwards);
    levels (Leq over the whole file, all channels) in dB SPL through the graph's `full_scale_db_spl`."""

    input: Path
    output: Path
    duration_s: float
    seconds: float
    clipped_input_samples: int
    clipped_output_samples: int
    input_db_spl: float
    output_db_spl: float
    warmup_s: float

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
        }


def _notice(msg: str) -> None:
    print(f"hearpipe: notice: {msg}", file=sys.stderr)


def _audio_info(path: Path):
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if not path.is_file():
        raise InvalidInput(f"{path}: not a file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise InvalidInput(f"{path}: not a readable audio file ({e})") from None
    if info.frames <= 0:
        raise InvalidInput(f"{path}: the file holds no audio samples")
    return info


def _new_file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0o666 less the process's umask."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _graph_for(graph: Graph, channels: int, path: Path, rate: int) -> Graph:
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
    raise InvalidInput(f"{path}: has {channels} channel(s) but the graph expects {graph.channels}")


def render_file(
    graph: Graph,
    src: Path,
    dst: Path,
    *,
    compensate_latency: bool = False,
    progress: bool | None = None,
    subtype: str | None = None,
) -> RenderResult:
    """Render one file. The output is written to a temporary file beside `dst`, then renamed."""
    info = _audio_info(src)
    if _same_file(src, dst):
        raise InvalidInput(f"{dst}: output would overwrite the input; choose another output path")
    g = _graph_for(graph, info.channels, src, info.samplerate)
    out_dir = dst.parent if str(dst.parent) else Path(".")
    if not out_dir.is_dir():
        raise InvalidInput(f"{dst}: output folder {out_dir} does not exist")
    if not os.access(out_dir, os.W_OK):
        raise InvalidInput(f"{dst}: output folder {out_dir} is not writable")
    fmt = _output_format(dst)
    subtype = subtype or (info.subtype if sf.check_format(fmt, info.subtype) else None)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(_new_file_mode())  # mkstemp's 0o600 would make every rendered file private to its writer
    clipped_in = clipped_out = 0
    sq_in = sq_out = 0.0  # sums of squares and sample counts: the levels of whole files read in blocks
    n_in = n_out = 0
    t_warm = time.perf_counter()
    g.reset()  # the warm-up: compiled kernels before the clock starts, then the state cleared again
    g.process(np.zeros((info.channels, WARMUP_BLOCKS * g.block_size)))
    g.flush()
    warmup_s = time.perf_counter() - t_warm
    bar = Progress(info.duration, f"{src.name}", "s audio", enabled=progress, min_total=10.0)
    t0 = time.perf_counter()
    try:
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
                    raise InvalidInput(f"{src}: cannot decode audio at sample {fin.tell()} ({e})") from None
                if not len(x):
                    break
                x = x.T
                if not np.isfinite(x).all():
                    bad = int(np.argwhere(~np.isfinite(x))[0][1]) + fin.tell() - x.shape[1]
                    raise InvalidInput(f"{src}: audio contains NaN or Inf (first at sample {bad})")
                clipped_in += int(np.count_nonzero(np.abs(x) >= 1.0))
                sq_in += float(np.sum(np.square(x)))
                n_in += x.size
                emit(g.process(x))
                bar.update(x.shape[1] / info.samplerate)
            if compensate_latency and g.latency_samples:
                emit(g.process(np.zeros((info.channels, g.latency_samples))))
            emit(g.flush())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    if clipped_in:
        _notice(f"{src}: {clipped_in} input samples at or beyond digital full scale (clipped recording?)")
    if clipped_out and subtype and subtype.startswith("PCM"):
        _notice(f"{dst}: {clipped_out} output samples beyond full scale were clipped by the {subtype} format")
    fs_db = g.spec.full_scale_db_spl
    return RenderResult(
        src,
        dst,
        info.duration,
        seconds,
        clipped_in,
        clipped_out,
        mean_square_db_spl(sq_in / max(n_in, 1), fs_db),
        mean_square_db_spl(sq_out / max(n_out, 1), fs_db),
        warmup_s,
    )


def _output_format(dst: Path) -> str:
    ext = dst.suffix.lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "aiff": "AIFF", "aif": "AIFF"}
    if ext not in formats:
        raise InvalidInput(f"{dst}: unknown output format '.{ext}' (use one of: {', '.join(formats)})")
    return formats[ext]


def render(
    graph,
    inputs,
    output,
    *,
    device=None,
    enforce: bool = True,
    compensate_latency: bool = False,
    progress: bool | None = None,
) -> list[RenderResult]:
    """Render one or more audio files through `graph` (a Graph, a path or shipped graph name, or a mapping).

    With one input, `output` is a file; with several, a folder (created if missing) that receives
    files named like the inputs. With a device and `enforce`, an over-budget graph raises OverBudget
    before any audio is read.
    """
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
        _audio_info(s)
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
            if _same_file(other, d):
                raise InvalidInput(f"{d}: output would overwrite the input {other}; choose another output")
    return [render_file(g, s, d, compensate_latency=compensate_latency, progress=progress) for s, d in pairs]
