"""Make the before/after pictures of the documentation's gallery page.

Run from anywhere (it takes a few seconds, plus Numba's compilation on a first run)::

    python docs/gallery/make_gallery.py

It reads scikit-image's sample photographs (``skimage.data``), runs imgops on them and
writes small JPEG and PNG files into ``docs/_static/gallery/``; the numbers it prints
(noise estimates, PSNR) are the ones quoted in ``docs/gallery.rst``. Every picture is
a row of panels separated by a white gap; ``docs/gallery.rst`` says what each panel
shows. Everything is deterministic (fixed random seed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

import imgops

OUT = Path(__file__).resolve().parent.parent / "_static" / "gallery"
GAP = 6  # white pixels between panels
JPEG_QUALITY = 85


def to_uint8(a: np.ndarray) -> np.ndarray:
    """Any image to uint8 for display: floats are scaled by their maximum."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    a = np.abs(a.astype(np.float64))
    top = a.max()
    return np.clip(np.rint(a / top * 255 if top > 0 else a), 0, 255).astype(np.uint8)


def row(*panels: np.ndarray) -> np.ndarray:
    """Panels side by side (tops aligned), gray panels made RGB when any panel is."""
    panels = [to_uint8(p) for p in panels]
    color = any(p.ndim == 3 for p in panels)
    if color:
        panels = [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=2) for p in panels]
    h = max(p.shape[0] for p in panels)
    w = sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1)
    out = np.full((h, w, 3) if color else (h, w), 255, np.uint8)
    x = 0
    for p in panels:
        out[:p.shape[0], x:x + p.shape[1]] = p
        x += p.shape[1] + GAP
    return out


def save(name: str, pixels: np.ndarray) -> None:
    path = OUT / name
    img = Image.fromarray(pixels)
    if path.suffix == ".jpg":
        img.save(path, quality=JPEG_QUALITY, optimize=True, progressive=True)
    else:
        img.save(path, optimize=True)
    print(f"wrote {path.relative_to(OUT.parent.parent)} ({path.stat().st_size // 1024} KiB, "
          f"{pixels.shape[1]}x{pixels.shape[0]})")


def add_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = clean.astype(np.float64) + rng.normal(0.0, sigma, clean.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, ref: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def denoising() -> None:
    for name, clean in (("astronaut", data.astronaut()[20:276, 140:396]),
                        ("camera", data.camera()[40:296, 150:406])):
        noisy = add_noise(clean, 25.0, seed=0)
        sigma = imgops.estimate_noise(noisy)
        clean_out = imgops.denoise(noisy)
        print(f"denoise {name}: estimate_noise = {sigma:.2f}; PSNR noisy "
              f"{psnr(noisy, clean):.2f} dB, denoised {psnr(clean_out, clean):.2f} dB")
        save(f"denoise_{name}.jpg", row(clean, noisy, clean_out))


def edges() -> None:
    camera = data.camera()  # (512, 512) uint8
    magnitude = imgops.sobel(camera)  # float32, hypot of the two Sobel gradients
    mask = imgops.canny(camera, sigma=2.0)  # bool
    crop = (slice(40, 296), slice(150, 406))
    # the magnitude shown as |gradient| / (4 sqrt(2) * 255), the strongest possible edge
    shown = np.clip(magnitude / (4 * np.sqrt(2) * 255) * 255 * 2, 0, 255).astype(np.uint8)
    print(f"edges camera: sobel magnitude max {float(magnitude.max()):.1f}, "
          f"canny edge pixels {int(mask.sum())} of {mask.size}")
    save("edges_camera.png", row(camera[crop], shown[crop], mask[crop]))


def resampling() -> None:
    cat = data.chelsea()  # (300, 451, 3) uint8
    small = imgops.downsample(cat, 4)  # area averaging -> (75, 113, 3)
    small_nearest = imgops.downsample(cat, 4, method="nearest")
    small_max = imgops.downsample(cat, 4, method="max")
    print(f"downsample chelsea: {cat.shape} -> {small.shape}")
    save("downsample_chelsea.png", row(small, small_nearest, small_max))

    crop = (slice(20, 260), slice(120, 360))  # the face, in the 4x enlargements
    ups = [imgops.upsample(small, 4, method=m) for m in ("nearest", "bilinear", "transposed")]
    print(f"upsample chelsea: {small.shape} -> {ups[0].shape}")
    save("upsample_chelsea.jpg", row(*(u[crop] for u in ups)))

    coffee = data.coffee()  # (400, 600, 3) uint8
    shape = (130, 195)  # a non-integer factor (about 3.08)
    sized = [imgops.resize(coffee, shape, method=m) for m in ("area", "bilinear", "nearest")]
    print(f"resize coffee: {coffee.shape} -> {sized[0].shape}")
    save("resize_coffee.png", row(*sized))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    denoising()
    edges()
    resampling()
    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"total {total / 2**20:.2f} MiB in {OUT}")


if __name__ == "__main__":
    main()
