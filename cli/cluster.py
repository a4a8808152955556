"""``--scheduler ADDRESS``: the batch as tasks on a Dask cluster.

Files are handed out in groups, one task per group (a task per file would cost the
scheduler's overhead per file); the workers read, process and write the files
themselves, so INPUT and OUTPUT must be visible to them at the same paths. The
client plans the batch first, exactly as without a cluster (refusals before any
work), then reports each file's failure with its path and reason, counts the summary
and advances the progress bar as files finish (each worker sends an event per file,
``PROGRESS_TOPIC``, to the client through the scheduler). Each output is written by the worker
under a temporary name and renamed. An unreachable scheduler is a usage error (exit
status 2) raised before anything is written.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from pathlib import Path

import click

from . import files

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler
PROGRESS_TOPIC = "imgops-file-done"  # a worker's event per file: its source path
GROUP_MAX = 64  # files per task at most
TASKS_PER_THREAD = 4  # groups per worker thread at least, for balance and progress


class UsageError(click.UsageError):
    """Refusals before anything is touched (exit status 2)."""


def connect(address: str, timeout: float | None = None):
    """A ``distributed.Client`` on the scheduler at ``address`` (waiting at most
    ``timeout`` seconds, default CONNECT_TIMEOUT), or :class:`UsageError`."""
    if not isinstance(address, str) or "://" not in address:
        raise UsageError(f"--scheduler must be an address such as tcp://host:8786; "
                         f"got {address!r}")
    try:
        import distributed
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: pip install "
                         "'imgops[dask]'") from None
    try:
        client = distributed.Client(address, timeout=timeout or CONNECT_TIMEOUT,
                                    set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    if not client.scheduler_info().get("workers"):
        client.close()
        raise UsageError(f"the Dask scheduler at {address} has no workers")
    return client


def group_size(n_files: int, threads: int) -> int:
    """Files per task: at least TASKS_PER_THREAD tasks per worker thread, at most
    GROUP_MAX files per task."""
    return max(1, min(GROUP_MAX, math.ceil(n_files / max(1, TASKS_PER_THREAD * threads))))


def _done(src: str) -> None:
    """Tell the client (through the scheduler) that the worker is done with ``src``."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not on a worker: nobody to tell
        return
    worker.log_event(PROGRESS_TOPIC, src)


def _written_since(path: Path, since_ns: int | None) -> bool:
    """Whether ``path`` is a file modified after ``since_ns`` (the output folder's own
    clock, :func:`files.folder_clock_ns`)."""
    if since_ns is None:
        return False
    try:
        return path.stat().st_mtime_ns > since_ns
    except OSError:
        return False


class _Stage(Exception):
    """A file's failure, its message saying at which step."""


def process_group(jobs: list, process, since_ns: int | None = None
                  ) -> list[tuple[str, str | None, float]]:
    """One task, on a worker: read, process and write each file; ``(source, reason,
    seconds)`` for each, reason None when it succeeded, and a progress event as each is
    done.
    Kernels run on the worker thread's share of Numba's threads.

    A task whose worker died is run again by the scheduler on another worker: the
    files its first attempt finished (renamed into place after ``since_ns``, when the
    batch started; outputs that existed before were refused or skipped by the plan,
    or are older with ``--overwrite``) are not written a second time."""
    from imgops import _dask

    results = []
    for job in jobs:
        if results:  # every path below appends one result: the previous file is done
            _done(results[-1][0])
        t0 = time.perf_counter()
        if _written_since(Path(job.dst), since_ns):
            results.append((str(job.src), None, 0.0))
            continue
        try:
            pic = files.read(job.src)
            try:
                with _dask.numba_threads():
                    out = process(pic)
            except Exception as exc:
                raise _Stage(f"cannot process: {exc}") from None
            try:
                files.write_atomic(out, Path(job.dst), job.kind)
            except Exception as exc:
                raise _Stage(f"cannot write {job.dst}: {exc}") from None
        except Exception as exc:
            results.append((str(job.src), str(exc), time.perf_counter() - t0))
            continue
        results.append((str(job.src), None, time.perf_counter() - t0))
    if results:
        _done(results[-1][0])
    return results


def run(client, jobs: list, process, *, quiet: bool, summary) -> None:
    """The batch's jobs as grouped tasks on ``client``'s cluster (see the module)."""
    import distributed
    from tqdm import tqdm

    t0 = time.perf_counter()
    threads = sum(client.nthreads().values())
    size = group_size(len(jobs), threads)
    groups = [jobs[i:i + size] for i in range(0, len(jobs), size)]
    show = not quiet and sys.stderr.isatty()
    bar = tqdm(total=len(jobs), unit="img", disable=not show, file=sys.stderr)

    dst_of = {str(job.src): job.dst for job in jobs}

    def fail(src, reason: str, seconds: float | None = None) -> None:
        summary.fail(src, dst_of.get(str(src)), reason, seconds)
        msg = f"{src}: {reason}"
        if show:
            bar.write(msg, file=sys.stderr)
        else:
            click.echo(msg, err=True)

    # the bar moves as the workers' per-file events arrive, and catches up with each
    # finished group (events can trail its result; a lost task sends none)
    counted: set[str] = set()
    lock = threading.Lock()

    def advance(srcs) -> None:
        with lock:
            new = [s for s in srcs if s not in counted]
            counted.update(new)
            if new:
                bar.update(len(new))

    if show:
        client.subscribe_topic(PROGRESS_TOPIC, lambda event: advance([event[1]]))
    since_ns = files.folder_clock_ns({job.dst.parent for job in jobs})
    futures = client.map(process_group, groups, process=process, since_ns=since_ns,
                         pure=False)
    group_of = {f.key: g for f, g in zip(futures, groups, strict=True)}
    try:
        # this client's loop: the client is not the process's default one (as_completed
        # would look for a default client and find none)
        for fut in distributed.as_completed(futures, loop=client.loop):
            try:
                results = fut.result()
            except Exception as exc:  # the task itself failed (a worker died, say)
                for job in group_of[fut.key]:
                    fail(job.src, f"task failed on the cluster: {exc}")
                advance([str(job.src) for job in group_of[fut.key]])
                continue
            for src, reason, seconds in results:
                if reason is None:
                    summary.ok(src, dst_of.get(src), seconds)
                else:
                    fail(src, reason, seconds)
            advance([src for src, _, _ in results])
    except KeyboardInterrupt:
        # tasks not started are cancelled; a running task finishes the file it writes
        # (each is renamed into place only when complete)
        client.cancel(futures)
        bar.close()
        summary.seconds = time.perf_counter() - t0
        summary.interrupted()
    if show:
        client.unsubscribe_topic(PROGRESS_TOPIC)
    # a worker killed while writing leaves its temporary behind (its process is gone)
    files.remove_stale({job.dst.parent for job in jobs})
    bar.close()
    summary.seconds = time.perf_counter() - t0
