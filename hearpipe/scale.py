"""Running many files as one job: serially in this process, or on a Dask cluster (the `scale` extra):
a local cluster of `workers` processes, or an existing one at `scheduler`. Each task is a picklable
function of one item; a failed item is reported with its error while the others go on. One progress
line (audio seconds done, ETA) covers the whole job; the summary gives files, audio hours, wall time and
the real-time factor."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hearpipe.errors import HearpipeError, InvalidInput
from hearpipe.progress import Progress

NEED_DASK = "--workers/--scheduler need Dask: pip install 'hearpipe[scale]' (dask[distributed])"


@dataclass
class JobResult:
    """Per item: its value (None where it failed); `errors` maps item index to a one-line message."""

    values: list[Any]
    errors: dict[int, str] = field(default_factory=dict)
    audio_s: float = 0.0
    wall_s: float = 0.0
    workers: int = 1

    @property
    def realtime_factor(self) -> float:
        return self.audio_s / max(self.wall_s, 1e-12)

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.values),
            "failed": len(self.errors),
            "audio_hours": self.audio_s / 3600.0,
            "wall_s": self.wall_s,
            "realtime_factor": self.realtime_factor,
            "workers": self.workers,
        }

    def summary_line(self) -> str:
        s = self.summary()
        return (
            f"{s['files']} files ({s['failed']} failed), {s['audio_hours']:.4f} h of audio in {s['wall_s']:.1f} s "
            f"wall time on {s['workers']} worker(s): {s['realtime_factor']:.3g}x real time"
        )


def _message(e: BaseException) -> str:
    return str(e) if isinstance(e, HearpipeError) else f"{type(e).__name__}: {e}"


def _client(workers: int | None, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InvalidInput(NEED_DASK) from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as e:
            raise InvalidInput(f"cannot reach the Dask scheduler at {scheduler} ({e})") from None
    if workers is None or workers < 1:
        raise InvalidInput(f"--workers must be at least 1, got {workers}")
    # processes, one thread each: the kernels hold the GIL part of the time, so threads would not scale
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    return Client(cluster), cluster


def run_jobs(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    audio_s: Sequence[float],
    *,
    label: str,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    shared: Any = None,
) -> JobResult:
    """fn(item) for every item, results in the items' order. `audio_s[i]` is item i's audio duration
    (seconds), for the progress line and the real-time factor. Serial without workers and scheduler.
    With `shared` (e.g. a prepared graph), fn(item, shared) is called instead; Dask sends it to each
    worker once."""
    total = float(sum(audio_s))
    bar = Progress(total, label, "s audio", enabled=progress)
    values: list[Any] = [None] * len(items)
    errors: dict[int, str] = {}
    t0 = time.perf_counter()
    n_workers = 1
    try:
        if workers is None and scheduler is None:
            for i, item in enumerate(items):
                try:
                    values[i] = fn(item) if shared is None else fn(item, shared)
                except (HearpipeError, OSError, ValueError, RuntimeError) as e:
                    errors[i] = _message(e)
                bar.update(audio_s[i])
        else:
            client, cluster = _client(workers, scheduler)
            try:
                from dask.distributed import as_completed

                n_workers = max(1, len(client.scheduler_info().get("workers", {})))
                extra = [] if shared is None else [client.scatter(shared, broadcast=True)]
                futures = [client.submit(fn, item, *extra, pure=False) for item in items]
                index = {f.key: i for i, f in enumerate(futures)}
                for fut in as_completed(futures):
                    i = index[fut.key]
                    try:
                        values[i] = fut.result()
                    except Exception as e:  # any error inside a task is that file's failure, not the job's
                        errors[i] = _message(e)
                    bar.update(audio_s[i])
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
    finally:
        bar.close()
    res = JobResult(values, errors, total, time.perf_counter() - t0, n_workers)
    for _, msg in sorted(errors.items()):
        print(f"hearpipe: error: {msg}", file=sys.stderr)
    return res
