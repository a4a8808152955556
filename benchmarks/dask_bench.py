"""imgops on Dask: one large image Zarr to Zarr, and a batch of many small files.

1. A float32 image of ``--size`` squared pixels (default 20000) in a Zarr store with
   ``--chunk`` squared chunks (default 2048), smoothed by a Gaussian (sigma 2) on a
   ``distributed.LocalCluster`` of 2 workers x 1 thread, Zarr in -> Zarr out, with
   imgops and, when installed, dask-image. The same image smoothed in memory by
   ``imgops.gaussian`` gives the throughput to compare with and the values each output
   must equal (checked on a sample of chunks). The cluster's peak memory comes from
   ``distributed.diagnostics.MemorySampler`` (the workers' process memory).
2. ``--files`` small TIFF files (default 2000, 64x64 uint8) smoothed on the same
   cluster, one file per task and ``--group`` files per task, against a plain loop:
   the scheduling overhead per file.

The Zarr runs go in rounds (each run once per round, ``--repeat`` rounds, the best time
kept): on a shared disk, one run's write-back slows the next.

Prints Markdown tables. dask-image is not a dependency of imgops
(``pip install dask-image`` to include it)::

    python benchmarks/dask_bench.py --size 8192
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _smooth_files(paths: list[str], out_dir: str) -> tuple[int, float]:
    """One task: read, smooth and write each file (temporary name, then rename); the
    number of files and the seconds the task itself took."""
    import tifffile

    import imgops

    t = time.perf_counter()
    for p in paths:
        out = imgops.gaussian(tifffile.imread(p), 2.0)
        dst = os.path.join(out_dir, os.path.basename(p))
        tmp = os.path.join(out_dir, ".tmp-" + os.path.basename(p))
        tifffile.imwrite(tmp, out)
        os.replace(tmp, dst)
    return len(paths), time.perf_counter() - t


def _warm(_: int) -> str:
    """Compile (or load from Numba's cache) the kernels on a worker before timing."""
    import numba

    import imgops

    imgops.gaussian(np.zeros((64, 64), np.float32), 2.0)
    imgops.gaussian(np.zeros((64, 64), np.uint8), 2.0)
    return numba.threading_layer()


def _peak(sampler, label: str) -> float:
    return max(v for _, v in sampler.samples[label]) / 2**30


def large_image(client, args, work: Path) -> list[tuple]:
    """Rows of the large-image table: (run, seconds, Mpx/s, peak GiB, max |diff|)."""
    import dask.array as da
    import zarr
    from distributed.diagnostics import MemorySampler

    import imgops

    n, c = args.size, args.chunk
    src = work / "in.zarr"
    t = time.perf_counter()
    rng = da.random.default_rng(0)
    rng.random((n, n), dtype=np.float32, chunks=c).to_zarr(str(src), overwrite=True)
    print(f"input written: {n}x{n} float32, chunks {c}, {time.perf_counter() - t:.1f} s")

    runs = {"Zarr copy, no filter (the I/O floor)": lambda x: x,
            "imgops on Dask": lambda x: imgops.gaussian(x, 2.0)}
    try:
        from dask_image import ndfilters

        runs["dask-image"] = lambda x: ndfilters.gaussian_filter(x, 2.0, mode="reflect",
                                                                  truncate=4.0)
    except ImportError:
        print("dask-image not installed: its row is skipped")

    small = work / "warm.zarr"  # each run once on 2x2 chunks first: imports, kernels
    da.from_zarr(str(src))[:2 * c, :2 * c].to_zarr(str(small), overwrite=True)
    for fn in runs.values():
        fn(da.from_zarr(str(small))).to_zarr(str(work / "warm-out.zarr"), overwrite=True)

    sampler = MemorySampler()
    timings = {}
    for rep in range(args.repeat):  # rounds in turn: the disk's write-back is shared
        for label, fn in runs.items():
            out = work / f"{label.split()[0].strip(',')}.zarr"
            with sampler.sample(f"{label} {rep}", client=client, measure="process",
                                interval=0.2):
                t = time.perf_counter()
                fn(da.from_zarr(str(src))).to_zarr(str(out), overwrite=True)
                secs = time.perf_counter() - t
            if label not in timings or secs < timings[label][0]:
                timings[label] = (secs, out, f"{label} {rep}")

    t = time.perf_counter()
    image = zarr.open_array(str(src), mode="r")[:]
    read = time.perf_counter() - t
    imgops.gaussian(image[:64, :64], 2.0)  # compiled before timing
    t = time.perf_counter()
    ref = imgops.gaussian(image, 2.0)
    memory = time.perf_counter() - t
    del image

    rs = np.random.default_rng(1)
    blocks = -(-n // c)
    sample = {(0, 0), (blocks - 1, blocks - 1)} | {
        tuple(int(v) for v in rs.integers(0, blocks, 2)) for _ in range(6)}
    tol = 1e-5 * max(1.0, float(np.abs(ref).max()))
    rows = [("imgops in memory (NumPy, 2 threads; no I/O)", memory, n * n / memory / 1e6,
             None, 0.0)]
    for label, (secs, out, sampled) in timings.items():
        if label.startswith("Zarr copy"):
            rows.append((label, secs, n * n / secs / 1e6, _peak(sampler, sampled), None))
            continue
        z = zarr.open_array(str(out), mode="r")
        assert z.chunks == (c, c) and z.dtype == np.float32, (z.chunks, z.dtype)
        diff = 0.0
        for by, bx in sorted(sample):
            win = np.s_[by * c:(by + 1) * c, bx * c:(bx + 1) * c]
            diff = max(diff, float(np.abs(z[win].astype(np.float64) - ref[win]).max()))
        status = "ok" if diff <= tol else "MISMATCH"
        print(f"{label}: {len(sample)} chunks checked against memory, max |diff| {diff:.2e} "
              f"({status}, tolerance {tol:.1e})")
        rows.append((f"{label}, Zarr in -> Zarr out", secs, n * n / secs / 1e6,
                     _peak(sampler, sampled), diff))
    print(f"in memory: Zarr read {read:.1f} s (not counted); the image is "
          f"{n * n * 4 / 2**30:.2f} GiB, in memory twice (input and result)")
    return rows


def small_files(client, args, work: Path) -> list[tuple]:
    """Rows of the small-files table: (run, tasks, seconds, ms per file, overhead per
    file in microseconds). The overhead is what the cluster adds to the work: wall time
    times the worker threads, less the time the tasks themselves took, per file."""
    import tifffile

    src, rng = work / "small", np.random.default_rng(2)
    src.mkdir()
    paths = []
    for i in range(args.files):
        p = src / f"img{i:06d}.tif"
        tifffile.imwrite(p, rng.integers(0, 256, (64, 64), dtype=np.uint8))
        paths.append(str(p))
    rows = []
    out = work / "small_loop"
    out.mkdir()
    t = time.perf_counter()
    _smooth_files(paths, str(out))
    secs = time.perf_counter() - t
    rows.append(("plain loop, this process", "-", secs, 1000 * secs / len(paths), None))
    threads = sum(client.nthreads().values())
    for group in (1, args.group):
        out = work / f"small_{group}"
        out.mkdir()
        groups = [paths[i:i + group] for i in range(0, len(paths), group)]
        t = time.perf_counter()
        results = client.gather(client.map(_smooth_files, groups, out_dir=str(out),
                                           pure=False))
        secs = time.perf_counter() - t
        done, busy = sum(r[0] for r in results), sum(r[1] for r in results)
        assert done == len(paths) == len(os.listdir(out))
        rows.append((f"cluster, {group} file(s) per task", len(groups), secs,
                     1000 * secs / len(paths), 1e6 * (secs * threads - busy) / len(paths)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000, help="image side in pixels")
    ap.add_argument("--chunk", type=int, default=2048, help="chunk side in pixels")
    ap.add_argument("--files", type=int, default=2000, help="small files in the batch")
    ap.add_argument("--group", type=int, default=100, help="small files per task")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of the Zarr runs (best kept)")
    ap.add_argument("--workdir", default=None, help="where the stores go (a temporary folder)")
    args = ap.parse_args()

    import dask
    import distributed
    import numba

    work = Path(tempfile.mkdtemp(prefix="imgops-dask-bench-", dir=args.workdir))
    try:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            layers = set(client.run(lambda: _warm(0)).values())
            large = large_image(client, args, work)
            small = small_files(client, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; numba "
          f"{numba.__version__} (workers' threading layer: {', '.join(sorted(layers))}), "
          f"dask {dask.__version__}, distributed {distributed.__version__}; LocalCluster 2 "
          "workers x 1 thread (processes)\n")
    print(f"Gaussian sigma 2, float32 {args.size}x{args.size}, chunks {args.chunk}x{args.chunk}; "
          f"best of {args.repeat} rounds\n")
    print("| run | time (s) | Mpx/s | cluster peak memory (GiB) | max abs diff vs memory |")
    print("|---|---:|---:|---:|---:|")
    for label, secs, mpx, peak, diff in large:
        peak_s = "-" if peak is None else f"{peak:.2f}"
        diff_s = "-" if diff is None else f"{diff:.1e}"
        print(f"| {label} | {secs:.1f} | {mpx:.0f} | {peak_s} | {diff_s} |")
    print(f"\n{args.files} files of 64x64 uint8 TIFF, Gaussian sigma 2, read and written by "
          "the workers\n")
    print("| run | tasks | time (s) | ms per file | cluster overhead per file (µs) |")
    print("|---|---:|---:|---:|---:|")
    for label, tasks, secs, per, over in small:
        over_s = "-" if over is None else f"{over:.0f}"
        print(f"| {label} | {tasks} | {secs:.1f} | {per:.2f} | {over_s} |")


if __name__ == "__main__":
    main()
