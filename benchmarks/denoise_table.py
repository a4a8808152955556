"""Print a Markdown table of denoisers: PSNR (dB) and median time (ms).

    python benchmarks/denoise_table.py            # full photographs (several minutes)
    python benchmarks/denoise_table.py --quick    # 128 x 128 crops

Noise: ``clean + N(0, sigma)`` with ``np.random.default_rng(0)``, not clipped, float32,
for ``imgops.bm3d`` with the true sigma and the ``bm3d`` package (both on the data
scaled to [0, 1]); the NLM recipes get the noisy image clipped and rounded to uint8
(their input type). The blind default runs on both inputs, and so does the reference,
so that each blind result has the reference on the same data beside it:

* imgops default: ``imgops.denoise(noisy)``: BM3D ``profile="fast"`` at the noise level
  ``imgops.estimate_noise`` finds (no sigma given), on the float data scaled to [0, 1]
  and on the uint8 data (``bm3d package, uint8``: the reference on that uint8 data,
  given the true sigma);
* imgops NLM: ``imgops.denoise(noisy_uint8, "nl_means")``;
* scikit-image: ``estimate_sigma`` + ``denoise_nl_means(fast_mode=True, patch_size=5,
  patch_distance=6, h=0.8 sigma_hat, sigma=sigma_hat)`` on [0, 1] floats;
* OpenCV: ``fastNlMeansDenoising[Colored]`` with ``h = sigma`` (and ``hColor = sigma``).

The ``bm3d`` package runs in its own phase, after every other method: its BLAS threads
stay busy for a while and slow the Numba kernels timed right after.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import skimage.data

IMAGES = ["astronaut", "coffee", "chelsea", "camera"]
SIGMAS = [15.0, 25.0, 40.0]
QUICK_CROP = 128


def load(name: str, quick: bool) -> np.ndarray:
    img = getattr(skimage.data, name)()
    if quick:
        h, w = img.shape[:2]
        y, x = (h - QUICK_CROP) // 2, (w - QUICK_CROP) // 2
        img = img[y:y + QUICK_CROP, x:x + QUICK_CROP]
    return img.astype(np.float32)


def psnr(out: np.ndarray, clean: np.ndarray) -> float:
    err = np.mean((np.asarray(out, np.float64).reshape(clean.shape) - clean) ** 2)
    return float(10 * np.log10(255.0 ** 2 / err))


def timed(fn, repeats: int):
    """The last result and the median wall time (ms) of ``repeats`` runs after one warm-up
    run (compilation, caches)."""
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(1000 * (time.perf_counter() - t))
    return out, statistics.median(times)


def methods(noisy: np.ndarray, noisy8: np.ndarray, sigma: float) -> dict:
    import cv2
    from skimage.restoration import denoise_nl_means, estimate_sigma

    import imgops

    n01 = noisy / np.float32(255.0)
    colour = noisy.ndim == 3
    f01 = noisy8.astype(np.float64) / 255.0
    axis = -1 if colour else None

    def skimage_nlm():
        s = float(estimate_sigma(f01, channel_axis=axis, average_sigmas=True))
        return 255.0 * denoise_nl_means(f01, patch_size=5, patch_distance=6, h=0.8 * s,
                                        sigma=s, fast_mode=True, channel_axis=axis)

    def opencv_nlm():
        if colour:
            return cv2.fastNlMeansDenoisingColored(noisy8, None, sigma, sigma, 7, 21)
        return cv2.fastNlMeansDenoising(noisy8, None, sigma, 7, 21)

    return {
        "imgops BM3D normal": lambda: 255.0 * imgops.bm3d(n01, sigma / 255.0),
        "imgops BM3D fast": lambda: 255.0 * imgops.bm3d(n01, sigma / 255.0, profile="fast"),
        "imgops default (blind)": lambda: 255.0 * imgops.denoise(n01),
        "imgops default (blind), uint8": lambda: imgops.denoise(noisy8),
        "imgops NLM": lambda: imgops.denoise(noisy8, "nl_means"),
        "scikit-image NLM": skimage_nlm,
        "OpenCV NLM": opencv_nlm,
    }


def reference(noisy: np.ndarray, sigma: float):
    import bm3d

    if noisy.ndim == 3:
        return lambda: 255.0 * bm3d.bm3d_rgb(noisy / 255.0, sigma_psd=sigma / 255.0)
    return lambda: 255.0 * bm3d.bm3d(noisy / 255.0, sigma_psd=sigma / 255.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="128 x 128 crops")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed runs per method (default 5, 9 with --quick)")
    ap.add_argument("--ref-repeats", type=int, default=None,
                    help="timed runs of the bm3d package (default 1, 3 with --quick)")
    ap.add_argument("--no-reference", action="store_true", help="skip the bm3d package")
    args = ap.parse_args()
    repeats = args.repeats or (9 if args.quick else 5)
    ref_repeats = args.ref_repeats or (3 if args.quick else 1)

    cases = []
    for name in IMAGES:
        clean = load(name, args.quick)
        for sigma in SIGMAS:
            rng = np.random.default_rng(0)
            noisy = (clean + rng.normal(0, sigma, clean.shape)).astype(np.float32)
            noisy8 = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
            cases.append((name, sigma, clean, noisy, noisy8))

    results: dict = {}
    names: list[str] = []
    for name, sigma, clean, noisy, noisy8 in cases:  # phase 1: everything but bm3d
        for label, fn in methods(noisy, noisy8, sigma).items():
            out, ms = timed(fn, repeats)
            results[name, sigma, label] = (psnr(out, clean), ms)
            if label not in names:
                names.append(label)
    if not args.no_reference:
        label = "bm3d package"
        names.append(label)
        names.append(label + ", uint8")
        for name, sigma, clean, noisy, noisy8 in cases:  # phase 2: the reference
            out, ms = timed(reference(noisy, sigma), ref_repeats)
            results[name, sigma, label] = (psnr(out, clean), ms)
            out, ms = timed(reference(noisy8.astype(np.float32), sigma), ref_repeats)
            results[name, sigma, label + ", uint8"] = (psnr(out, clean), ms)

    import numba

    size = f"{QUICK_CROP} x {QUICK_CROP} crops" if args.quick else "full images"
    print(f"Denoising, {size}; median wall time of {repeats} runs (bm3d package: "
          f"{ref_repeats}); {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Numba threads {numba.get_num_threads()}.\n")
    head = "| image | sigma | noisy |" + "".join(f" {m} dB | {m} ms |" for m in names)
    print(head)
    print("|" + "---|" * (3 + 2 * len(names)))
    for name, sigma, clean, noisy, _ in cases:
        shape = "x".join(str(s) for s in clean.shape)
        row = f"| {name} {shape} | {sigma:g} | {psnr(noisy, clean):.2f} |"
        for m in names:
            p, ms = results[name, sigma, m]
            row += f" {p:.2f} | {ms:.0f} |" if ms >= 10 else f" {p:.2f} | {ms:.1f} |"
        print(row)


if __name__ == "__main__":
    main()
