"""The GPU benchmark: one script for a machine with an NVIDIA GPU.

1. Checks every operation's CUDA result against the CPU backend (max relative error).
2. Times each on an 8192x8192 float32 image and a batch of 256 x 512x512x3 uint8 next to
   CuPy (cupyx.scipy.ndimage) and PyTorch where installed: CUDA events, median of
   repetitions after warm-up; prints achieved GB/s (bytes read + written) and the
   percentage of a measured device-to-device copy of the same bytes.
3. Times NumPy in / NumPy out gaussian (host copies included).
4. BM3D: CUDA against the CPU backend on a noisy photograph (PSNR of each, both
   profiles), then the time of each profile on a 2048x2048 gray and a 1024x1024
   colour image, GPU (device in / device out) next to the CPU backend.

    python benchmarks/gpu.py            # full sizes (meant to finish in under 4 minutes)
    python benchmarks/gpu.py --size 64 --batch 2 --reps 1   # a quick run (or the simulator)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

if not hasattr(np, "row_stack"):  # numba-cuda 0.30.4 still overloads it; NumPy 2.5 removed it
    setattr(np, "row_stack", np.vstack)  # noqa: B010 (an attribute ruff must not rewrite)

os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")  # small check images

from numba import cuda  # noqa: E402

import imgops  # noqa: E402
from imgops import nn  # noqa: E402

K7 = (np.random.default_rng(7).random((7, 7)) / 49).astype(np.float32)

# name -> (imgops call on any array, output bytes per input byte ratio)
OPS = {
    "gaussian_s2": (lambda a: imgops.gaussian(a, 2.0), 1.0),
    "box_5": (lambda a: imgops.box(a, 5), 1.0),
    "correlate_7x7": (lambda a: imgops.correlate(a, K7), 1.0),
    "median_3": (lambda a: imgops.median(a, 3), 1.0),
    "sobel_magnitude": (lambda a: imgops.sobel(a), 1.0),
    "laplace": (lambda a: imgops.laplace(a), 1.0),
    "max_pool_2": (lambda a: imgops.max_pool(a, 2), 0.25),
    "avg_pool_2": (lambda a: imgops.avg_pool(a, 2), 0.25),
    "bilinear_2x": (lambda a: imgops.upsample(a, 2), 4.0),
    "nearest_2x": (lambda a: imgops.upsample(a, 2, method="nearest"), 4.0),
    "conv_transpose_s2k4": (lambda a: imgops.upsample(a, 2, method="transposed"), 4.0),
    "bilateral_r4": (lambda a: imgops.bilateral(a, 0.1 if a.dtype.kind == "f" else 25.0, 1.5,
                                                radius=4), 1.0),
    "nl_means_p5d6": (lambda a: imgops.nl_means(a, 0.1 if a.dtype.kind == "f" else 20.0,
                                                patch_size=5, patch_distance=6), 1.0),
}
SLOW = {"bilateral_r4", "nl_means_p5d6"}  # timed on the 512x512 batch only


def _peers():
    peers = {}
    try:
        import cupy as cp
        import cupyx.scipy.ndimage as cnd
        peers["cupy"] = {
            "gaussian_s2": lambda d: cnd.gaussian_filter(cp.asarray(d), 2.0),
            "box_5": lambda d: cnd.uniform_filter(cp.asarray(d), 5),
            "correlate_7x7": lambda d: cnd.correlate(cp.asarray(d), cp.asarray(K7)),
            "median_3": lambda d: cnd.median_filter(cp.asarray(d), 3),
            "laplace": lambda d: cnd.laplace(cp.asarray(d)),
            "bilinear_2x": lambda d: cnd.zoom(cp.asarray(d), 2, order=1),
        }
    except ImportError:
        pass
    try:
        import torch
        import torch.nn.functional as F
        if not torch.cuda.is_available():
            raise ImportError("torch without CUDA")

        def t(d):
            return torch.as_tensor(d, device="cuda")[None, None]
        peers["torch"] = {
            "max_pool_2": lambda d: F.max_pool2d(t(d), 2),
            "avg_pool_2": lambda d: F.avg_pool2d(t(d), 2),
            "bilinear_2x": lambda d: F.interpolate(t(d), scale_factor=2, mode="bilinear"),
            "nearest_2x": lambda d: F.interpolate(t(d), scale_factor=2, mode="nearest"),
            "conv_transpose_s2k4": lambda d: F.conv_transpose2d(
                t(d), torch.as_tensor(imgops.bilinear_kernel(2), dtype=torch.float32,
                                      device="cuda")[None, None], stride=2, padding=1),
            "sobel_magnitude": lambda d: _torch_sobel(t(d), F, torch),
            "gaussian_s2": lambda d: _torch_gauss(t(d), F, torch),
        }
    except ImportError:
        pass
    return peers


def _torch_sobel(x, F, torch):
    k = torch.tensor([[1.0, 2.0, 1.0]], device="cuda")
    dy = torch.tensor([[-1.0], [0.0], [1.0]], device="cuda")
    gy = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), (dy @ k)[None, None])
    gx = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), (k.T @ dy.T)[None, None])
    return torch.hypot(gy, gx)


def _torch_gauss(x, F, torch):
    g = torch.as_tensor(imgops.filters.gaussian_kernel1d(2.0), dtype=torch.float32,
                        device="cuda")
    r = g.numel() // 2
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), g[None, None, :, None])
    return F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), g[None, None, None, :])


def timed(fn, arg, reps: int) -> float:
    """Median milliseconds of ``reps`` calls between CUDA events, after one warm-up."""
    fn(arg)
    cuda.synchronize()
    ts = []
    for _ in range(reps):
        start, stop = cuda.event(), cuda.event()
        t0 = time.perf_counter()
        start.record()
        fn(arg)
        stop.record()
        stop.synchronize()
        try:
            ts.append(start.elapsed_time(stop))
        except (AttributeError, NotImplementedError):  # the simulator has no event clock
            ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts))


def copy_ms(d, reps: int) -> float:
    out = cuda.device_array_like(d)
    return timed(lambda a: out.copy_to_device(a), d, reps)


def check(size: int) -> None:
    rng = np.random.default_rng(0)
    print("| operation | image | max relative error, CUDA vs CPU |")
    print("|---|---|---:|")
    images = {"f32": rng.random((size, size)).astype(np.float32),
              "u8x3": rng.integers(0, 256, (size, size, 3), dtype=np.uint8)}
    for name, (fn, _) in OPS.items():
        for iname, img in images.items():
            a = fn(img)
            b = fn(cuda.to_device(img)).copy_to_host()
            err = np.abs(a.astype(np.float64) - b) / max(1.0, float(np.abs(a).max()))
            print(f"| {name} | {iname} {size}x{size} | {err.max():.2e} |")
    x = rng.standard_normal((2, 4, size // 4, size // 4)).astype(np.float32)
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    for nm, f in [("nn.conv2d", lambda x: nn.conv2d(x, w, padding=1)),
                  ("nn.max_pool2d", lambda x: nn.max_pool2d(x, 2)),
                  ("nn.relu", nn.relu)]:
        a = f(x)
        b = f(cuda.to_device(x)).copy_to_host()
        print(f"| {nm} | NCHW | {np.abs(a - b).max() / max(1.0, np.abs(a).max()):.2e} |")


def bench(size: int, batch: int, bsize: int, reps: int) -> None:
    rng = np.random.default_rng(1)
    big = cuda.to_device(rng.random((size, size)).astype(np.float32))
    many = cuda.to_device(rng.integers(0, 256, (batch, bsize, bsize, 3), dtype=np.uint8))
    peers = _peers()
    print(f"\n| operation | input | imgops ms | GB/s | % of copy | "
          f"{' | '.join(f'{p} ms' for p in peers)} |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(peers))
    for iname, d in [(f"{size}^2 f32", big), (f"{batch}x{bsize}^2x3 u8", many)]:
        nbytes = d.size * d.dtype.itemsize
        ceiling = copy_ms(d, reps)
        for name, (fn, ratio) in OPS.items():
            if name in SLOW and d is big:
                continue
            ms = timed(fn, d, reps)
            moved = nbytes * (1 + ratio)
            gbs = moved / ms / 1e6
            pct = 100 * gbs / (2 * nbytes / ceiling / 1e6)  # copy: read + write nbytes
            cells = []
            for p in peers.values():
                cells.append(f"{timed(p[name], d, reps):.2f}" if name in p and d is big
                             else "")
            print(f"| {name} | {iname} | {ms:.2f} | {gbs:.0f} | {pct:.0f} | "
                  f"{' | '.join(cells)} |")
        print(f"| device-to-device copy | {iname} | {ceiling:.2f} | "
              f"{2 * nbytes / ceiling / 1e6:.0f} | 100 |" + " |" * len(peers))
    host = rng.random((size, size)).astype(np.float32)
    imgops.gaussian(host, 2.0, backend="cuda")
    walls = []
    for _ in range(5):
        t = time.perf_counter()
        imgops.gaussian(host, 2.0, backend="cuda")
        walls.append((time.perf_counter() - t) * 1e3)
    t = time.perf_counter()
    cuda.to_device(host).copy_to_host()
    plain = (time.perf_counter() - t) * 1e3
    print(f"\nNumPy in / NumPy out gaussian {size}^2 float32: {np.median(walls):.1f} ms wall "
          f"(median of 5; pinned staging; a plain pageable round trip: {plain:.1f} ms)")


def _psnr(clean: np.ndarray, x: np.ndarray) -> float:
    err = np.mean((clean.astype(np.float64) - x.astype(np.float64)) ** 2)
    return float(10 * np.log10(1.0 / err))


def bm3d_section(reps: int, budget_s: float) -> None:
    """BM3D on the GPU: agreement with the CPU backend, then timings (each profile's GPU
    repetitions stop early once they pass ``budget_s``)."""
    from skimage import data

    rng = np.random.default_rng(3)
    clean = data.astronaut().astype(np.float32) / 255  # 512 x 512 x 3
    noisy = (clean + rng.normal(0, 25 / 255, clean.shape)).astype(np.float32)
    print("\n| BM3D, astronaut 512x512x3, sigma 25/255 | PSNR CPU | PSNR CUDA | "
          "max abs difference |")
    print("|---|---:|---:|---:|")
    for profile in ("fast", "normal"):
        a = imgops.bm3d(noisy, 25 / 255, profile=profile, backend="cpu")
        b = imgops.bm3d(noisy, 25 / 255, profile=profile, backend="cuda")
        print(f"| {profile} | {_psnr(clean, a):.2f} | {_psnr(clean, b):.2f} | "
              f"{np.abs(a - b).max():.2e} |")
    gray = np.tile(data.camera().astype(np.float32) / 255, (4, 4))  # 2048 x 2048
    gray = (gray + rng.normal(0, 25 / 255, gray.shape)).astype(np.float32)
    colour = np.tile(data.astronaut(), (2, 2, 1))  # 1024 x 1024 x 3 uint8
    colour = np.clip(colour + rng.normal(0, 25, colour.shape), 0, 255).astype(np.uint8)
    print("\n| BM3D timing | profile | CUDA ms (device in/out, median) | CPU s (one run) "
          "| CPU / CUDA |")
    print("|---|---|---:|---:|---:|")
    for name, img, sigma in [("2048^2 f32 gray", gray, 25 / 255),
                             ("1024^2x3 u8 colour", colour, 25.0)]:
        d = cuda.to_device(img)
        for profile in ("fast", "normal"):
            imgops.bm3d(d, sigma, profile=profile)  # compile + warm-up
            cuda.synchronize()
            ts, t_end = [], time.perf_counter() + budget_s
            while len(ts) < reps and time.perf_counter() < t_end:
                t = time.perf_counter()
                imgops.bm3d(d, sigma, profile=profile)
                cuda.synchronize()
                ts.append((time.perf_counter() - t) * 1e3)
            ms = float(np.median(ts))
            t = time.perf_counter()
            imgops.bm3d(img, sigma, profile=profile, backend="cpu")
            cpu_s = time.perf_counter() - t
            print(f"| {name} | {profile} | {ms:.1f} (n={len(ts)}) | {cpu_s:.2f} | "
                  f"{cpu_s * 1e3 / ms:.0f}x |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--bsize", type=int, default=512)
    ap.add_argument("--check-size", type=int, default=96)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--sections", default="check,bench,bm3d",
                    help="comma-separated: check, bench, bm3d")
    args = ap.parse_args()
    print(imgops.backends()["cuda"])
    sections = args.sections.split(",")
    if "check" in sections:
        check(args.check_size)
    if "bench" in sections:
        bench(args.size, args.batch, args.bsize, args.reps)
    if "bm3d" in sections:
        bm3d_section(max(1, args.reps // 2), budget_s=20.0)


if __name__ == "__main__":
    main()
