"""The batch: choose files, plan outputs, refuse what is unsafe, run the pipeline.

Reading and writing run in a pool of ``workers`` threads, overlapped with the
computation, which runs in the calling thread (Numba's default threading layer
aborts on concurrent calls into parallel kernels). At most ``2 * workers + 1``
images are in memory at once. Ctrl-C stops cleanly: no temporary or partial
output is left behind, and the exit status is 130.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, NoReturn

import click

from . import files


@dataclass
class Job:
    src: Path
    dst: Path
    kind: str  # output format


class UsageError(click.UsageError):
    """Refusals before anything is touched (exit status 2)."""


def find_inputs(inputs: list[Path], recursive: bool, glob: str | None
                ) -> list[tuple[Path, Path]]:
    """``(file, path relative to its input folder)`` pairs, sorted, duplicates removed."""
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()

    def wanted(p: Path) -> bool:
        if p.name.startswith(files.TMP_PREFIX):
            return False
        if glob:
            return fnmatch.fnmatch(p.name, glob)
        return files.kind_of(p) is not None

    for inp in inputs:
        if inp.is_dir():
            it = inp.rglob("*") if recursive else inp.glob("*")
            for p in sorted(it):
                if p.is_file() and wanted(p) and p.resolve() not in seen:
                    seen.add(p.resolve())
                    found.append((p, p.relative_to(inp)))
        elif inp.is_file():
            if inp.resolve() not in seen:
                seen.add(inp.resolve())
                found.append((inp, Path(inp.name)))
        else:
            raise UsageError(f"input not found: {inp}")
    return found


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def plan(inputs: list[Path], output: Path, *, recursive: bool, glob: str | None,
         fmt: str | None, overwrite: bool, skip_existing: bool, raw_tiff: bool = False
         ) -> tuple[list[Job], list[Job], list[tuple[Path, str]]]:
    """Jobs to run, jobs skipped (outputs exist), and inputs refused up front (collisions)."""
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing exclude each other")
    for inp in inputs:
        if inp.is_dir() and _inside(output, inp):
            raise UsageError(f"OUTPUT {output} is inside (or equal to) the input folder {inp}: "
                             "choose an output folder outside the inputs")
    if output.exists() and not output.is_dir():
        raise UsageError(f"OUTPUT {output} exists and is not a folder")
    pairs = find_inputs(inputs, recursive, glob)
    jobs, skipped, refused = [], [], []
    by_dst: dict[Path, Path] = {}
    for src, rel in pairs:
        if raw_tiff:
            suffix, kind = ".tif", "tiff"
        elif fmt:
            suffix, kind = files.FORMATS[fmt], files.EXTENSIONS[files.FORMATS[fmt]]
        else:
            suffix = src.suffix
            kind = files.kind_of(src)
            if kind is None:
                refused.append((src, f"unknown image format {src.suffix!r}: use --format"))
                continue
        dst = output / rel.with_suffix(suffix)
        if dst.exists() and dst.resolve() == src.resolve():
            raise UsageError(f"{src} would be overwritten by its own output: choose another "
                             "OUTPUT folder")
        key = Path(os.path.normcase(str(dst)))
        if key in by_dst:
            refused.append((src, f"output {dst} would also be written from {by_dst[key]}"))
            continue
        by_dst[key] = src
        jobs.append(Job(src, dst, kind))
    existing = [j for j in jobs if j.dst.exists()]
    if existing and not (overwrite or skip_existing):
        names = "\n  ".join(str(j.dst) for j in existing[:20])
        more = f"\n  ... and {len(existing) - 20} more" if len(existing) > 20 else ""
        raise UsageError(f"{len(existing)} output file(s) exist; nothing was written. Use "
                         f"--overwrite or --skip-existing.\n  {names}{more}")
    if skip_existing:
        skipped = existing
        jobs = [j for j in jobs if not j.dst.exists()]
    return jobs, skipped, refused


@dataclass
class Summary:
    """The batch's counts, and its ``--log``: one JSON object per input, a line each."""

    processed: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    log: IO[str] | None = None
    command: str = ""

    def ok(self, src, dst, seconds: float | None = None) -> None:
        self.processed += 1
        self._record(src, dst, "ok", seconds, None)

    def fail(self, src, dst, reason: str, seconds: float | None = None) -> None:
        self.failed += 1
        self._record(src, dst, "failed", seconds, reason)

    def skip(self, src, dst) -> None:
        """An input whose output exists (``--skip-existing``); counted up front."""
        self._record(src, dst, "skipped", None, None)

    def _record(self, src, dst, status: str, seconds: float | None, error: str | None
                ) -> None:
        if self.log is None:
            return
        entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                 "command": self.command, "source": str(src),
                 "output": None if dst is None else str(dst), "status": status,
                 "seconds": None if seconds is None else round(seconds, 4),
                 "error": error}
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()  # a killed run keeps what it logged

    def interrupted(self) -> NoReturn:
        """Ctrl-C: say what was done, exit with status 130."""
        click.echo(f"interrupted: {self.line()}", err=True)
        raise SystemExit(130)

    def line(self) -> str:
        rate = self.processed / self.seconds if self.seconds > 0 else 0.0
        return (f"processed {self.processed}, skipped {self.skipped}, failed {self.failed} "
                f"in {self.seconds:.2f} s ({rate:.1f} images/s)")


# ----------------------------------------------------------------- one process per core
_WORKER: dict = {}  # in a worker process: the command's processing function


def _init_worker(process, threads: int, parent: int) -> None:
    """A worker process (forked: ``process`` is inherited, not pickled). Ctrl-C is the
    parent's to handle: a worker finishes the file it writes. If the parent dies (even
    by SIGKILL) the kernel kills the worker too (a SIGTERM handler would not run while
    the worker waits for work: the signal may land on a kernel thread), leaving at most
    the temporary it was writing, which the next run into the folder removes, as after
    a killed single-process run. Its kernels get ``threads`` of Numba's threads, so the
    processes do not oversubscribe the cores. Its heap keeps the memory of one file's
    arrays for the next (see ``_keep_heap``)."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        _keep_heap(libc)
    except (OSError, AttributeError):  # pragma: no cover
        pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(137)
    _WORKER["process"] = process
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except ImportError:  # pragma: no cover
        pass


HEAP_KEEP = 2**30  # bytes: allocations up to this size come from (and go back to) the heap


def _keep_heap(libc) -> None:
    """glibc serves allocations above 32 MiB (a 12-megapixel image's array) with a fresh
    ``mmap`` and unmaps them when freed, so every file's arrays page-fault their memory
    in again, zeroed by the kernel (Pillow's encoding of a 12-MP JPEG: 70 ms in a worker
    against 50 ms with the memory kept).
    Up to ``HEAP_KEEP`` they come from the heap instead and freed memory stays there for
    the next file (the worker's memory stays at its peak until it exits). Only in
    workers: a library does not change its host's allocator. No-op without glibc."""
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt(-3, HEAP_KEEP)  # M_MMAP_THRESHOLD
        mallopt(-1, HEAP_KEEP)  # M_TRIM_THRESHOLD


def _one_file(job: Job) -> tuple[str | None, float]:
    """In a worker: read, process and write ``job``; (the reason it failed or None,
    seconds)."""
    t0 = time.perf_counter()
    try:
        pic = files.read(job.src)
    except Exception as exc:
        return str(exc), time.perf_counter() - t0
    try:
        out = _WORKER["process"](pic)
    except (ValueError, TypeError, files.ImageFileError) as exc:
        return f"cannot process: {exc}", time.perf_counter() - t0
    try:
        files.write_atomic(out, job.dst, job.kind)
    except Exception as exc:
        return f"cannot write {job.dst}: {exc}", time.perf_counter() - t0
    return None, time.perf_counter() - t0


def _ready_numba() -> None:
    """Set up Numba's CPU target (its registries: about 0.4 s, which each worker would
    otherwise spend before loading its first cached kernel) without starting its
    threads, so that the forked workers inherit it."""
    try:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    except Exception:  # an internal of Numba's: without it the workers do it themselves
        pass


PROCESS_MEMORY = 4 * 2**30  # bytes of RAM a worker may need: the largest image allowed
# (files.MAX_PIXELS) with its float temporaries


def default_processes() -> int:
    """One worker per core, at most one per PROCESS_MEMORY of physical memory."""
    cores = os.cpu_count() or 1
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return cores
    return max(1, min(cores, ram // PROCESS_MEMORY))


def can_fork() -> bool:
    """Worker processes are forked (the command's function is inherited, not pickled):
    on Linux, and only while this process has not started Numba's kernel threads (a
    fork after OpenMP has started kills the child) nor any other thread (a lock another
    thread holds at the fork stays locked in the child for good): a process that has
    run kernels or runs threads, an embedding program or a test session, keeps the
    single-process pipeline."""
    import threading

    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return False
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover
        return True
    return not getattr(parallel, "_is_initialized", True)


def run_processes(jobs: list[Job], process, *, processes: int, quiet: bool,
                  summary: Summary) -> None:
    """Every job in ``processes`` worker processes (forked), each reading, processing
    and writing whole files with ``cores / processes`` kernel threads: the codecs are
    single-threaded, so one process per core keeps every core decoding, computing or
    encoding. Failures are reported and the batch goes on; a worker that dies fails
    the files it held, and the rest go on in new workers; Ctrl-C lets the workers
    finish the files they are writing, then exits 130."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from tqdm import tqdm

    t0 = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // processes)
    ctx = multiprocessing.get_context("fork")
    show = not quiet and sys.stderr.isatty()

    def new_pool():
        return ProcessPoolExecutor(max_workers=processes, mp_context=ctx,
                                   initializer=_init_worker,
                                   initargs=(process, threads, os.getpid()))

    _ready_numba()  # once here, not in every worker
    pool = new_pool()
    pool.submit(os.getpid).result()  # forks every worker now, before the bar's thread
    bar = tqdm(total=len(jobs), unit="img", disable=not show, file=sys.stderr)

    def fail(job: Job, reason: str, seconds: float | None) -> None:
        summary.fail(job.src, job.dst, reason, seconds)
        msg = f"{job.src}: {reason}"
        if show:
            bar.write(msg, file=sys.stderr)
        else:
            click.echo(msg, err=True)

    todo = list(reversed(jobs))
    running: dict = {}
    limit = 2 * processes  # files handed out at once: the rest stay cancellable
    try:
        while todo or running:
            while todo and len(running) < limit:
                job = todo.pop()
                try:
                    running[pool.submit(_one_file, job)] = job
                except BrokenProcessPool:
                    todo.append(job)
                    break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                job = running.pop(fut)
                try:
                    reason, seconds = fut.result()
                except BrokenProcessPool:
                    broken = True
                    fail(job, "the worker process died while processing it", None)
                    bar.update(1)
                    continue
                if reason is None:
                    summary.ok(job.src, job.dst, seconds)
                else:
                    fail(job, reason, seconds)
                bar.update(1)
            if broken:  # the other files in flight died with it
                for job in list(running.values()):
                    fail(job, "the worker process died while processing it", None)
                    bar.update(1)
                running.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool()
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)  # running files finish, atomically
        for fut, job in running.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                reason, seconds = fut.result()
                if reason is None:
                    summary.ok(job.src, job.dst, seconds)
        bar.close()
        summary.seconds = time.perf_counter() - t0
        summary.interrupted()
    pool.shutdown(wait=True)
    bar.close()
    summary.seconds = time.perf_counter() - t0


def run(jobs: list[Job], process: Callable[[files.Picture], files.Picture], *, workers: int,
        quiet: bool, summary: Summary) -> None:
    """Read -> process -> write every job; failures are reported and the batch goes on."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    tmp_files: set[str] = set()
    show = not quiet and sys.stderr.isatty()
    bar = tqdm(total=len(jobs), unit="img", disable=not show, file=sys.stderr)

    spent: dict[Path, float] = {}  # each file's own read, process and write seconds

    def timed(fn, job, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent[job.src] = spent.get(job.src, 0.0) + time.perf_counter() - t

    def fail(job: Job, reason: str) -> None:
        summary.fail(job.src, job.dst, reason, spent.pop(job.src, None))
        msg = f"{job.src}: {reason}"
        if show:
            bar.write(msg, file=sys.stderr)
        else:
            click.echo(msg, err=True)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="imgops-io")
    reads: deque = deque()
    writes: deque = deque()
    todo = iter(jobs)

    def refill():
        while len(reads) < max(1, workers) + 1:
            job = next(todo, None)
            if job is None:
                return
            reads.append((job, pool.submit(timed, files.read, job, job.src)))

    def drain_writes(limit: int) -> None:
        while len(writes) > limit:
            job, fut = writes.popleft()
            try:
                fut.result()
                summary.ok(job.src, job.dst, spent.pop(job.src, None))
            except Exception as exc:
                fail(job, f"cannot write {job.dst}: {exc}")
            bar.update(1)

    try:
        refill()
        while reads:
            job, fut = reads.popleft()
            refill()
            try:
                pic = fut.result()
            except Exception as exc:
                fail(job, str(exc))
                bar.update(1)
                continue
            try:
                out = timed(process, job, pic)
            except (ValueError, TypeError, files.ImageFileError) as exc:
                fail(job, f"cannot process: {exc}")
                bar.update(1)
                continue
            writes.append((job, pool.submit(timed, files.write_atomic, job, out, job.dst,
                                             job.kind, tmp_files)))
            drain_writes(max(1, workers))
        drain_writes(0)
    except KeyboardInterrupt:
        for _, f in list(reads) + list(writes):
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        for tmp in list(tmp_files):
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        bar.close()
        summary.seconds = time.perf_counter() - t0
        summary.interrupted()
    pool.shutdown(wait=True)
    bar.close()
    summary.seconds = time.perf_counter() - t0
