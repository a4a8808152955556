"""BM3D on noise whose level changes with intensity (a noise level function that is not
Poisson-Gaussian): the stabilized path of a NoiseModel with a law, against the same
model without its law and white-noise BM3D at its best sigma.

Each case is a 256 x 256 crop of a scikit-image photograph (float, 0-255) plus Gaussian
noise of standard deviation ``lo + (hi - lo) y / 255`` at intensity ``y`` (the clean
pixel's value, per channel), for the laws 2 -> 30, 20 -> 5 and 5 -> 20. Columns (PSNR in
dB against the clean crop, ``profile="fast"``): the noisy input; ``imgops.bm3d(z, s)`` at
the best of seven white sigmas (chosen with the ground truth); the true model
(``NoiseModel("white", ref**2, levels=[0, 255], gain=[lo, hi] / ref)``, ``ref`` the
crop's root mean square sigma; ``tests/noise_synth.py``'s ``level_law``) without its law,
then with it (the variance-stabilizing transform of the law and its unbiased inverse);
``estimate_noise_model(z)`` with its law; and the blind default ``imgops.denoise(z)``
(under the estimated model where it finds white noise with such a law).

    python benchmarks/level_noise.py [--profile fast] [--seed 5]
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from noise_pipelines import psnr  # noqa: E402
from noise_synth import level_law  # noqa: E402

import imgops  # noqa: E402
from imgops import NoiseModel, estimate_noise_model  # noqa: E402

LAWS = ((2.0, 30.0), (20.0, 5.0), (5.0, 20.0))
WHITE = (6.0, 9.0, 12.0, 15.0, 18.0, 22.0, 26.0)


def images() -> dict[str, np.ndarray]:
    from skimage import data
    return {"camera": data.camera()[128:384, 128:384].astype(np.float64),
            "moon": data.moon()[128:384, 128:384].astype(np.float64),
            "astronaut": data.astronaut()[100:356, 150:406].astype(np.float64),
            "coffee": data.coffee()[100:356, 200:456].astype(np.float64)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="fast", choices=("fast", "normal"))
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    p = args.profile
    cols = ("noisy", "best white", "true model, no law", "true model", "estimated model",
            "denoise")
    print("| image | law | " + " | ".join(cols) + " | estimated kind |")
    print("|---|---|" + "---:|" * len(cols) + "---|")
    rows = []
    for i, (name, clean) in enumerate(images().items()):
        for j, (lo, hi) in enumerate(LAWS):
            z, law = level_law(clean, lo, hi, args.seed + 3 * i + j)
            z = z.astype(np.float32)
            est = estimate_noise_model(z)
            got = {"noisy": psnr(z, clean),
                   "best white": max(psnr(imgops.bm3d(z, s, profile=p), clean)
                                     for s in WHITE),
                   "true model, no law": psnr(imgops.bm3d(z, NoiseModel("white", law.cov),
                                                          profile=p), clean),
                   "true model": psnr(imgops.bm3d(z, law, profile=p), clean),
                   "estimated model": psnr(imgops.bm3d(z, est, profile=p), clean),
                   "denoise": psnr(imgops.denoise(z), clean)}
            rows.append(got)
            print(f"| {name} | {lo:g} -> {hi:g} | " +
                  " | ".join(f"{got[k]:.2f}" for k in cols) + f" | {est.kind} |", flush=True)
    print("| mean | | " + " | ".join(f"{np.mean([r[k] for r in rows]):.2f}" for k in cols)
          + " | |")


if __name__ == "__main__":
    main()
