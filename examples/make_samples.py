"""Regenerate the sample images in examples/noisy/ (photographs from skimage.data with
Gaussian noise, sigma = 20 on the 8-bit scale, fixed seed)."""

from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image
from skimage import data

out = Path(__file__).parent / "noisy"
out.mkdir(exist_ok=True)
rng = np.random.default_rng(2026)


def noisy(img, scale=1.0):
    return np.clip(img + rng.normal(0, 20 * scale, img.shape), 0, 255 * scale)


Image.fromarray(noisy(data.astronaut()[:256, 128:384]).round().astype(np.uint8)).save(
    out / "astronaut.jpg", quality=95)
Image.fromarray(noisy(data.camera()[96:352, 128:384]).round().astype(np.uint8)).save(
    out / "camera.png")
coffee16 = noisy(data.coffee()[100:292, 200:456].astype(float) * 257, 257).round()
(out / "coffee_16bit.png").write_bytes(imagecodecs.png_encode(coffee16.astype(np.uint16)))
cat = noisy(data.chelsea()[50:242, 100:356]).round().astype(np.uint8)
alpha = np.tile(np.linspace(64, 255, cat.shape[1]).astype(np.uint8), (cat.shape[0], 1))
Image.fromarray(np.dstack([cat, alpha]), mode="RGBA").save(out / "chelsea_rgba.png")
