"""BM3D on small crops against the ``bm3d`` package: a per-crop PSNR table.

    python benchmarks/bm3d_small.py                        # 64, 128, 256 px, sigma 15/25/40
    python benchmarks/bm3d_small.py --sizes 128 --images moon cell rocket
    python benchmarks/bm3d_small.py --ref-cache /tmp/ref.json   # reuse the reference's PSNR
    python benchmarks/bm3d_small.py --seeds 4                 # mean of 4 noise realizations

Each case is the centre crop (``size x size``) of a scikit-image photograph, noise
``N(0, sigma)`` from ``np.random.default_rng(int(sigma))`` added, rounded and clipped to
uint8. ``imgops.bm3d(noisy, sigma, profile=...)`` runs on that uint8 image (its output
is uint8); the reference is ``bm3d.bm3d(z / 255, sigma / 255)`` (gray) or
``bm3d.bm3d_rgb(z / 255, sigma / 255)`` (colour) on the same uint8 image scaled to
[0, 1], its float output scaled back. PSNR against the clean crop. ``--float255`` adds
``imgops.bm3d`` on the same noisy image as float32 in 0-255 (the normal profile), which
should match the uint8 result.

The reference is slow (seconds per colour crop on 2 cores): ``--ref-cache`` keeps its
PSNR per case in a JSON file, so a second run (after a change to imgops) skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import skimage.data

GRAY = ["moon", "coins", "brick", "cell", "camera", "grass", "gravel", "clock"]
COLOUR = ["rocket", "immunohistochemistry", "hubble_deep_field", "astronaut", "coffee",
          "chelsea"]
SIGMAS = [15.0, 25.0, 40.0]
SIZES = [64, 128, 256]


def crop(name: str, size: int) -> np.ndarray | None:
    """The centre ``size x size`` crop of a scikit-image photograph (None if smaller)."""
    img = getattr(skimage.data, name)()
    h, w = img.shape[:2]
    if h < size or w < size:
        return None
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(img[y:y + size, x:x + size])


def noisy_uint8(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """The noisy case: seed 0 draws from ``default_rng(int(sigma))``, seed s > 0 from
    ``default_rng([int(sigma), s])``."""
    rng = np.random.default_rng(int(sigma) if seed == 0 else [int(sigma), seed])
    z = clean.astype(np.float64) + rng.normal(0, sigma, clean.shape)
    return np.clip(np.rint(z), 0, 255).astype(np.uint8)


def psnr(out: np.ndarray, clean: np.ndarray) -> float:
    err = np.mean((np.asarray(out, np.float64) - clean.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / err))


def reference(z: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    if not hasattr(np, "trapz"):  # NumPy 2.4 removed it; the package's PSD path calls it
        np.trapz = np.trapezoid  # noqa: NPY201
    x = z.astype(np.float64) / 255.0
    if z.ndim == 3:
        return 255.0 * bm3d.bm3d_rgb(x, sigma_psd=sigma / 255.0)
    return 255.0 * bm3d.bm3d(x, sigma_psd=sigma / 255.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    ap.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS)
    ap.add_argument("--images", nargs="+", default=GRAY + COLOUR)
    ap.add_argument("--ref-cache", default=None,
                    help="JSON file of the reference's PSNR per case (read and updated)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="noise realizations per case; the table shows their means (on "
                         "small crops one realization moves the difference by 0.1 dB)")
    ap.add_argument("--float255", action="store_true",
                    help="also imgops.bm3d (normal) on the noisy image as float32 0-255")
    args = ap.parse_args()

    import imgops

    cache: dict = {}
    if args.ref_cache and os.path.exists(args.ref_cache):
        with open(args.ref_cache) as f:
            cache = json.load(f)

    head = "| image | size | sigma | reference dB | normal dB | diff | fast dB | diff |"
    if args.float255:
        head += " float 0-255 normal dB | diff to uint8 |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    diffs: dict[str, list] = {"normal": [], "fast": [], "float255": []}
    spread: dict[str, list] = {"normal": [], "fast": []}
    t0 = time.perf_counter()
    for size in args.sizes:
        for name in args.images:
            clean = crop(name, size)
            if clean is None:
                continue
            for sigma in args.sigmas:
                key = f"{name}/{size}/{sigma:g}"
                refs, gots = [], {"normal": [], "fast": []}
                for seed in range(args.seeds):
                    z = noisy_uint8(clean, sigma, seed)
                    skey = key if seed == 0 else f"{key}/s{seed}"
                    if skey not in cache:
                        cache[skey] = psnr(reference(z, sigma), clean)
                    refs.append(cache[skey])
                    for p in gots:
                        gots[p].append(psnr(imgops.bm3d(z, sigma, profile=p), clean))
                ref = float(np.mean(refs))
                got = {p: float(np.mean(v)) for p, v in gots.items()}
                for p, v in gots.items():
                    spread[p].extend(np.array(v) - np.array(refs) - (got[p] - ref))
                row = (f"| {name} | {size} | {sigma:g} | {ref:.2f} | {got['normal']:.2f} | "
                       f"{got['normal'] - ref:+.2f} | {got['fast']:.2f} | "
                       f"{got['fast'] - ref:+.2f} |")
                for p in ("normal", "fast"):
                    diffs[p].append((got[p] - ref, key))
                if args.float255:
                    f = psnr(imgops.bm3d(z.astype(np.float32), sigma), clean)
                    row += f" {f:.2f} | {f - got['normal']:+.2f} |"
                    diffs["float255"].append((f - got["normal"], key))
                print(row, flush=True)
    if args.ref_cache:
        with open(args.ref_cache, "w") as f:
            json.dump(cache, f, indent=0, sort_keys=True)
    print()
    for p in ("normal", "fast", "float255"):
        d = diffs[p]
        if not d:
            continue
        v = np.array([x for x, _ in d])
        worst = sorted(d)[:3]
        label = "float 0-255 - uint8 (normal)" if p == "float255" else f"{p} - reference"
        limit = 0.3 if p == "fast" else 0.1
        print(f"{label}: mean {v.mean():+.3f} dB, {int((v < -limit).sum())} cases below "
              f"-{limit}, worst " + ", ".join(f"{x:+.2f} ({k})" for x, k in worst)
              + f"; {len(v)} cases" + (f", mean of {args.seeds} seeds" if args.seeds > 1
                                        else ""))
        if p in spread and args.seeds > 1:
            sd = float(np.sqrt(np.mean(np.square(spread[p])) * args.seeds
                               / (args.seeds - 1)))
            print(f"  one realization's difference from its case's mean: sd {sd:.3f} dB")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
