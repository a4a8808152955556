"""BM3D on Poisson-Gaussian noise: the generalized Anscombe path against white-noise
BM3D at its best sigma, given the true law and blind (the law estimated from the image).

The recipe of the GAT papers: the clean image scaled to [0, peak], z = Poisson(y) +
N(0, (peak / 10)^2) (so a = 1, b = (peak / 10)^2), peaks 1-120; 256x256 crops of
camera, moon and astronaut (its mean over channels). PSNR against y with the peak as
the signal's range. Columns: the noisy input; ``imgops.bm3d(z, sigma)`` at the best of
seven white sigmas around the noise's level (chosen with the ground truth); the
Anscombe path given the true a and b; the same with ``estimate_noise_model(z,
"poisson_gaussian")``; with ``estimate_noise_model(z)`` ("auto", which may pick a
white model); and the blind default ``imgops.denoise(z)`` (the Anscombe path where
"auto" finds the law, else one white sigma from ``imgops.estimate_noise``).

    python benchmarks/poisson_gaussian.py [--profile fast] [--seed 3]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from noise_synth import poisson_gaussian  # noqa: E402

import imgops  # noqa: E402
from imgops import NoiseModel, estimate_noise_model  # noqa: E402

PEAKS = (1, 2, 5, 10, 20, 30, 60, 120)


def images() -> dict[str, np.ndarray]:
    from skimage import data
    return {"camera": data.camera()[128:384, 128:384].astype(np.float64),
            "moon": data.moon()[128:384, 128:384].astype(np.float64),
            "astronaut": data.astronaut()[100:356, 150:406].mean(axis=2)}


def psnr(x: np.ndarray, ref: np.ndarray, peak: float) -> float:
    return float(10 * np.log10(peak ** 2 / np.mean((np.asarray(x, float) - ref) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="fast", choices=("fast", "normal"))
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    prof = args.profile
    print(f"profile={prof!r}, seed {args.seed}\n")
    print("| peak | image | noisy | white, best sigma | GAT, true a, b | GAT, estimated | "
          "estimated a, b | auto (kind) | denoise(z) | GAT - white | estimated - true |")
    print("|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    gains, gaps, defaults, trues, whites = [], [], [], [], []
    t0 = time.perf_counter()
    for peak in PEAKS:
        for name, clean in images().items():
            z, y = poisson_gaussian(clean, peak, args.seed)
            level = np.sqrt(peak / 2 + (peak / 10) ** 2)
            white = max(psnr(imgops.bm3d(z, float(s), profile=prof), y, peak)
                        for s in level * np.array([0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4]))
            true = NoiseModel("poisson_gaussian", np.ones((8, 8)), a=1.0,
                              b=(peak / 10) ** 2)
            r_true = psnr(imgops.bm3d(z, true, profile=prof), y, peak)
            m = estimate_noise_model(z, "poisson_gaussian")
            r_est = psnr(imgops.bm3d(z, m, profile=prof), y, peak)
            auto = estimate_noise_model(z)
            r_auto = psnr(imgops.bm3d(z, auto, profile=prof), y, peak)
            r_default = psnr(imgops.denoise(z), y, peak)
            defaults.append(r_default)
            gains.append(r_true - white)
            trues.append(r_true)
            whites.append(white)
            gaps.append(r_est - r_true)
            print(f"| {peak} | {name} | {psnr(z, y, peak):.2f} | {white:.2f} | {r_true:.2f} | "
                  f"{r_est:.2f} | {m.a:.2f}, {m.b:.3g} | {r_auto:.2f} ({auto.kind}) | "
                  f"{r_default:.2f} | {r_true - white:+.2f} | {r_est - r_true:+.2f} |",
                  flush=True)
    g, e = np.array(gains), np.array(gaps)
    print(f"\nGAT (true law) over white BM3D at its best sigma: mean {g.mean():+.2f} dB, "
          f"min {g.min():+.2f}, max {g.max():+.2f}")
    d = np.array(defaults) - np.array(trues)
    w = np.array(defaults) - np.array(whites)
    print(f"blind default - true law: mean {d.mean():+.2f} dB, worst {d.min():+.2f}, "
          f"{int((d < -0.2).sum())} of {len(d)} below -0.2 dB; blind default - best white "
          f"sigma: mean {w.mean():+.2f} dB, worst {w.min():+.2f}")
    print(f"estimated law - true law: mean {e.mean():+.2f} dB, worst {e.min():+.2f}, "
          f"{int((e < -0.2).sum())} of {len(e)} cases below -0.2 dB "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
