"""BM3D under correlated noise (a PSD) against the ``bm3d`` package: a per-case table.

    python benchmarks/bm3d_psd.py                           # 128 and 256 crops, all kernels
    python benchmarks/bm3d_psd.py --sizes 128 --images camera brick --kernels gauss hline
    python benchmarks/bm3d_psd.py --ref-cache /tmp/psd_ref.json   # reuse the reference's runs
    python benchmarks/bm3d_psd.py --white-sweep --sizes 128 --images camera  # context
    python benchmarks/bm3d_psd.py --blind --sizes 256   # the blind default against it

Each case is the centre crop (``size x size``) of a scikit-image photograph and noise
``sigma * (w conv k)`` (``w`` white, unit variance, from ``np.random.default_rng(seed)``;
``k`` a kernel of unit l2 norm; the convolution circular on the crop's grid, so that the
PSD below is the noise's exact spectrum) plus, for the ``+white`` kernels, a white part of
sigma / 3. The noisy image is float (0-255 scale, not clipped); its PSD, in the
``bm3d`` package's ``sigma_psd`` convention, is ``sigma^2 M N |FFT(k, (M, N))|^2`` (plus
``(sigma / 3)^2 M N``). Colour crops get independent noise of the same PSD in each
channel and the ``(M, N)`` PSD. ``imgops.bm3d(z, psd, profile=...)`` runs on it; the
reference is ``bm3d.bm3d(z / 255, psd / 255^2)`` (gray) or ``bm3d.bm3d_rgb`` (colour),
its output scaled back; PSNR against the clean crop (peak 255). Times are wall-clock on
this machine as it is (Numba's threads and the reference's all cores, or ``--threads``):
the reference's one run, imgops's the median of three after a warm-up call (its runs
take milliseconds, so that one run would be at the mercy of the machine's hiccups);
``x`` is the reference's time over imgops's (normal, fast).

Kernels: ``gauss`` (Gaussian of sigma 1 px, 9 x 9), ``hline`` (1 x 7 line), ``vline``
(9 x 1 line), ``g1`` (the anti-diagonal of 5 pixels: an orientation that the DCT's
variances cannot tell from the diagonal, only the spectrum), ``g2`` (a ring
pattern ``cos(2 pi r / 4) exp(-r^2 / 18)``, 15 x 15), ``gauss+white`` (the Gaussian with a
white part).

``--white-sweep``: for context, the reference with the PSD against the reference at its
best single white sigma (sigma_level times 0.5 .. 4, ``sigma_level`` the noise's standard
deviation per pixel).

NumPy 2.4 removed ``np.trapz``, which the package's PSD path calls: it is set to
``np.trapezoid`` here before the package runs.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from bm3d_small import crop  # the same centre crops (benchmarks/ is on sys.path when run)

GRAY = ["camera", "brick", "moon", "coins"]
COLOUR = ["astronaut", "coffee", "chelsea", "rocket"]
KERNELS = ["gauss", "hline", "vline", "g1", "g2", "gauss+white"]
SIGMAS = [15.0, 25.0]
SIZES = [128, 256]


def kernel(name: str) -> np.ndarray:
    """The convolution kernel ``name``, of unit l2 norm."""
    base = name.split("+")[0]
    if base == "gauss":
        y, x = np.mgrid[-4:5, -4:5]
        k = np.exp(-(x * x + y * y) / 2.0)
    elif base == "hline":
        k = np.ones((1, 7))
    elif base == "vline":
        k = np.ones((9, 1))
    elif base == "g1":
        k = np.fliplr(np.eye(5))
    elif base == "g2":
        y, x = np.mgrid[-7:8, -7:8]
        r = np.hypot(x, y)
        k = np.cos(2 * np.pi * r / 4) * np.exp(-r * r / 18.0)
    else:
        raise ValueError(name)
    return k / np.linalg.norm(k)


def noisy(clean: np.ndarray, kname: str, sigma: float, seed: int):
    """``(z, psd)``: the clean crop with the case's noise, and the noise's PSD."""
    m, n = clean.shape[:2]
    kf = np.fft.fft2(kernel(kname), (m, n))
    psd = sigma * sigma * m * n * np.abs(kf) ** 2
    white = sigma / 3.0 if kname.endswith("+white") else 0.0
    psd = psd + white * white * m * n
    rng = np.random.default_rng(seed)
    chans = 1 if clean.ndim == 2 else clean.shape[2]
    noise = np.empty((m, n, chans))
    for c in range(chans):
        w = rng.standard_normal((m, n))
        noise[..., c] = sigma * np.fft.ifft2(np.fft.fft2(w) * kf).real
        if white:
            noise[..., c] += white * rng.standard_normal((m, n))
    z = clean + (noise[..., 0] if clean.ndim == 2 else noise)
    return z.astype(np.float32), psd


def psnr(out: np.ndarray, clean: np.ndarray) -> float:
    err = np.mean((np.asarray(out, np.float64) - clean) ** 2)
    return float(10 * np.log10(255.0 ** 2 / err))


def reference(z: np.ndarray, psd, threads: int = 0) -> tuple[np.ndarray, float]:
    """The ``bm3d`` package on ``z / 255`` with ``psd / 255^2`` (a PSD array, or a white
    sigma as a float), its default profile on ``threads`` threads (0: all): its output
    scaled back, and its time."""
    import bm3d

    if not hasattr(np, "trapz"):  # NumPy 2.4 removed it; the package's PSD path calls it
        np.trapz = np.trapezoid  # noqa: NPY201
    x = z.astype(np.float64) / 255.0
    s = psd / 255.0 if np.ndim(psd) == 0 else psd / 255.0 ** 2
    profile = bm3d.BM3DProfile()
    profile.num_threads = threads
    t = time.perf_counter()
    out = bm3d.bm3d_rgb(x, s, profile) if z.ndim == 3 else bm3d.bm3d(x, s, profile)
    return 255.0 * out, time.perf_counter() - t


def timed(fn, *args, runs: int = 1, **kwargs):
    """``fn(*args, **kwargs)`` and the median of its wall-clock times over ``runs``."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    ap.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS)
    ap.add_argument("--images", nargs="+", default=GRAY + COLOUR)
    ap.add_argument("--kernels", nargs="+", default=KERNELS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref-cache", default=None,
                    help="JSON file of the reference's PSNR and time per case (read and "
                         "updated)")
    ap.add_argument("--threads", type=int, default=0,
                    help="run both on this many threads (Numba's and the reference's; "
                         "0: as configured / all): the times are less at the mercy of "
                         "other work on the machine")
    ap.add_argument("--white-sweep", action="store_true",
                    help="also the reference at its best single white sigma")
    ap.add_argument("--blind", action="store_true",
                    help="also the blind default (imgops.denoise, no noise given) and BM3D "
                         "fast under estimate_noise_model, against the reference given "
                         "the true PSD (the target: within 0.3 dB)")
    args = ap.parse_args()

    import imgops

    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    tkey = f"s_t{args.threads}" if args.threads else "s"
    cache: dict = {}
    if args.ref_cache and os.path.exists(args.ref_cache):
        with open(args.ref_cache) as f:
            cache = json.load(f)

    head = ("| image | size | sigma | kernel | reference dB | normal dB | diff | fast dB | "
            "diff | ref s | normal ms | fast ms | x normal | x fast |")
    if args.white_sweep:
        head += " ref best white dB (sigma) | PSD gain |"
    if args.blind:
        head += " blind default dB | diff | fast under the model dB | diff |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    rows = []
    t0 = time.perf_counter()
    for size in args.sizes:
        for name in args.images:
            clean = crop(name, size)
            if clean is None:
                continue
            clean = clean.astype(np.float64)
            for sigma in args.sigmas:
                for kname in args.kernels:
                    z, psd = noisy(clean, kname, sigma, args.seed)
                    key = f"{name}/{size}/{sigma:g}/{kname}/{args.seed}"
                    if key not in cache or tkey not in cache[key]:
                        out, t = reference(z, psd, args.threads)
                        cache.setdefault(key, {"psnr": psnr(out, clean)})[tkey] = t
                    ref, tref = cache[key]["psnr"], cache[key][tkey]
                    got, ms = {}, {}
                    for p in ("normal", "fast"):
                        imgops.bm3d(z, psd, profile=p)  # warm (compiled, caches)
                        out, t = timed(imgops.bm3d, z, psd, profile=p, runs=3)
                        got[p], ms[p] = psnr(out, clean), 1e3 * t
                    row = (f"| {name} | {size} | {sigma:g} | {kname} | {ref:.2f} | "
                           f"{got['normal']:.2f} | {got['normal'] - ref:+.2f} | "
                           f"{got['fast']:.2f} | {got['fast'] - ref:+.2f} | {tref:.2f} | "
                           f"{ms['normal']:.0f} | {ms['fast']:.0f} | "
                           f"{1e3 * tref / ms['normal']:.0f} | {1e3 * tref / ms['fast']:.0f} |")
                    if args.white_sweep:
                        wkey = key + "/white"
                        if wkey not in cache:
                            level = float(np.sqrt(psd.mean() / psd.size))
                            best = (-np.inf, 0.0)
                            for f in (0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0):
                                out, _ = reference(z, level * f)
                                best = max(best, (psnr(out, clean), level * f))
                            cache[wkey] = {"psnr": best[0], "sigma": best[1]}
                        w = cache[wkey]
                        row += f" {w['psnr']:.2f} ({w['sigma']:.1f}) | {ref - w['psnr']:+.2f} |"
                    if args.blind:
                        got["blind"] = psnr(imgops.denoise(z), clean)
                        got["model"] = psnr(imgops.bm3d(z, imgops.estimate_noise_model(z),
                                                        profile="fast"), clean)
                        row += (f" {got['blind']:.2f} | {got['blind'] - ref:+.2f} | "
                                f"{got['model']:.2f} | {got['model'] - ref:+.2f} |")
                    rows.append((key, ref, got, tref, ms))
                    print(row, flush=True)
                    if args.ref_cache:
                        with open(args.ref_cache, "w") as f:
                            json.dump(cache, f, indent=0, sort_keys=True)
    print()
    for p in ("normal", "fast"):
        d = np.array([g[p] - r for _, r, g, _, _ in rows])
        ratio = np.array([1e3 * t / m[p] for _, _, _, t, m in rows])
        worst = sorted((g[p] - r, k) for k, r, g, _, _ in rows)[:3]
        print(f"{p} - reference: mean {d.mean():+.3f} dB, {np.mean(d >= -0.1):.0%} within "
              f"0.1 dB, worst " + ", ".join(f"{x:+.2f} ({k})" for x, k in worst)
              + f"; time ratio min {ratio.min():.0f}x, median {np.median(ratio):.0f}x; "
              f"{len(d)} cases")
    for p in ("blind", "model") if args.blind else ():
        d = np.array([g[p] - r for _, r, g, _, _ in rows])
        worst = sorted((g[p] - r, k) for k, r, g, _, _ in rows)[:3]
        label = "blind default" if p == "blind" else "fast under the estimated model"
        print(f"{label} - reference given the true PSD: mean {d.mean():+.3f} dB, "
              f"{np.mean(d >= -0.3):.0%} within 0.3 dB, worst "
              + ", ".join(f"{x:+.2f} ({k})" for x, k in worst) + f"; {len(d)} cases")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
