"""How far ``estimate_noise`` (Immerkaer) is from the true noise level, on photographs
and textures from ``skimage.data`` with white Gaussian noise of known sigma (float data,
unclipped, so that only the estimator is measured), next to scikit-image's wavelet
estimate (``estimate_sigma``). Prints a Markdown table of the relative error
``estimate / sigma - 1`` per image and sigma, and the mean per group.

    python benchmarks/noise_bias.py
"""

from __future__ import annotations

import numpy as np
from skimage import data
from skimage.restoration import estimate_sigma

import imgops

PHOTOS = ["camera", "astronaut", "coffee", "chelsea"]
TEXTURES = ["brick", "grass", "gravel"]
SIGMAS = (5, 15, 25, 40)


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for name in PHOTOS + TEXTURES:
        clean = getattr(data, name)().astype(np.float64)
        if clean.ndim == 3:
            clean = clean[..., :3]
        for s in SIGMAS:
            noisy = clean + rng.normal(0, s, clean.shape)
            ours = imgops.estimate_noise(noisy)
            axis = -1 if noisy.ndim == 3 else None
            wav = float(estimate_sigma(noisy, channel_axis=axis, average_sigmas=True))
            rows.append((name, s, ours / s - 1, wav / s - 1))
    print("| image | " + " | ".join(f"σ={s} Immerkær | σ={s} wavelet" for s in SIGMAS) + " |")
    print("|---|" + "---:|" * (2 * len(SIGMAS)))
    for name in PHOTOS + TEXTURES:
        cells = [f"{a:+.1%} | {b:+.1%}" for n, s, a, b in rows if n == name]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for group, names in (("photographs", PHOTOS), ("textures", TEXTURES)):
        cells = []
        for s in SIGMAS:
            a = np.mean([r[2] for r in rows if r[0] in names and r[1] == s])
            b = np.mean([r[3] for r in rows if r[0] in names and r[1] == s])
            cells.append(f"{a:+.1%} | {b:+.1%}")
        print(f"| mean, {group} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
