"""Synthetic noise of known model, and a synthetic camera pipeline, for the noise-model
tests and benchmarks (``benchmarks/real_noise.py`` and ``benchmarks/noise_pipelines.py``
import this file). NumPy (and Pillow for JPEG) only; every generator takes a seed or a
``numpy.random.Generator`` and is deterministic.

The camera pipeline follows Brooks et al., "Unprocessing images for learned raw
denoising", CVPR 2019: sRGB -> inverse tone curve -> inverse gamma -> inverse colour
matrix and white-balance gains -> Bayer mosaic -> shot and read noise -> bilinear
demosaic -> the forward steps -> uint8, and optionally JPEG. Its colour matrices are
random near-identity mixes (rows summing to 1), not the paper's camera matrices.
"""

from __future__ import annotations

import io
import math

import numpy as np

DCT = np.cos(np.pi * (2 * np.arange(8)[None, :] + 1) * np.arange(8)[:, None] / 16) * 0.5
DCT[0] /= math.sqrt(2)
FREQ = np.add.outer(np.arange(8), np.arange(8))
LOW = (FREQ >= 1) & (FREQ <= 2)  # the low band: u + v <= 2, without the DC
HIGH = FREQ >= 8
OPP = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.0, -0.5], [0.25, -0.5, 0.25]])


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A 2-D Gaussian of standard deviation `sigma` px, unit l2 norm."""
    r = max(1, int(math.ceil(4 * sigma)))
    x = np.arange(-r, r + 1)
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma * sigma))
    return g / np.sqrt((g * g).sum())


def line_kernel(n: int) -> np.ndarray:
    """A 1 x n box, unit l2 norm."""
    return np.full((1, n), 1 / math.sqrt(n))


def filtered_noise(shape: tuple[int, ...], kernel: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Unit white noise convolved (circularly, by FFT) with `kernel` (unit l2: the
    result has unit variance), shaped `shape` ``(H, W)`` or ``(H, W, C)``."""
    return convolve_circular(rng.standard_normal(shape), kernel)


def convolve_circular(z: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """`z` ``(H, W)`` or ``(H, W, C)`` convolved circularly (by FFT) with `kernel`,
    each channel alike."""
    h, w = z.shape[:2]
    k = np.zeros((h, w))
    kh, kw = kernel.shape
    k[:kh, :kw] = kernel
    k = np.roll(k, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    fk = np.fft.rfft2(k)
    if z.ndim == 2:
        return np.fft.irfft2(np.fft.rfft2(z) * fk, s=(h, w))
    return np.stack([np.fft.irfft2(np.fft.rfft2(z[..., c]) * fk, s=(h, w))
                     for c in range(z.shape[2])], axis=-1)


def camera_like(sigma: float = 3.0, blur: float = 1.0, rho: float = 0.5, seed: int = 0,
                size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A smooth colour scene (flat areas, a ramp, discs), float, and the same with
    camera-like noise, uint8: per channel ``sigma`` after a Gaussian filter of `blur`
    px (strongly low-pass, as demosaicing and a camera's noise reduction leave it),
    the channels correlated `rho`; rounded and clipped."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    clean = np.empty((size, size, 3))
    clean[...] = (70.0, 110.0, 150.0)
    clean[..., 0] += 60 * xx / size  # a ramp
    for cy, cx, r, col in ((64, 64, 30, (220, 60, 40)), (180, 90, 40, (30, 170, 60)),
                           (120, 190, 35, (240, 230, 200))):
        clean[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = col
    rng = np.random.default_rng(seed)
    white = math.sqrt(rho) * rng.standard_normal((size, size, 1)) + \
        math.sqrt(1 - rho) * rng.standard_normal((size, size, 3))
    noise = convolve_circular(white, gaussian_kernel(blur))
    noise *= sigma / noise.std(axis=(0, 1))
    return clean, np.clip(np.rint(clean + noise), 0, 255).astype(np.uint8)


def dct_blocks(img: np.ndarray) -> np.ndarray:
    """Orthonormal 8x8 DCT of the non-overlapping blocks: ``(n, C, 8, 8)``."""
    x = img[..., None] if img.ndim == 2 else img
    h, w, c = x.shape
    b = x[:h // 8 * 8, :w // 8 * 8].reshape(h // 8, 8, w // 8, 8, c)
    b = b.transpose(0, 2, 4, 1, 3).reshape(-1, c, 8, 8).astype(np.float64)
    return DCT @ b @ DCT.T


def true_cov(noise: np.ndarray) -> np.ndarray:
    """The measured per-coefficient channel covariance ``(C, C, 8, 8)`` of a noise
    realization (noisy minus clean), NaN samples' blocks left out."""
    c = dct_blocks(noise)
    c = c[np.isfinite(c).all(axis=(1, 2, 3))]
    return np.einsum("ncuv,nduv->cduv", c, c) / len(c)


def bands(cov: np.ndarray, mix: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per channel (after the channel mix `mix`, e.g. OPP): the equivalent sigma (root
    mean variance over the 64 coefficients) and the low / high band levels."""
    var = np.einsum("ccuv->cuv", cov) if mix is None else \
        np.einsum("ic,id,cduv->iuv", mix, mix, cov)
    var = np.maximum(var, 0)  # a mix that the model finds noiseless may round below 0
    return {"sigma": np.sqrt(var.mean(axis=(1, 2))), "low": np.sqrt(var[:, LOW].mean(axis=1)),
            "high": np.sqrt(var[:, HIGH].mean(axis=1))}


# --- synthetic noise of known model -------------------------------------------------

def white(clean: np.ndarray, sigma, seed: int) -> np.ndarray:
    """clean + N(0, sigma^2); `sigma` a number or one per channel."""
    rng = np.random.default_rng(seed)
    return clean + rng.standard_normal(clean.shape) * np.asarray(sigma, float)


def correlated(clean: np.ndarray, sigma: float, kernel: np.ndarray, seed: int) -> np.ndarray:
    """clean + sigma * (white * kernel), the kernel of unit l2 norm."""
    return clean + sigma * filtered_noise(clean.shape, kernel, np.random.default_rng(seed))


def colour_correlated(clean: np.ndarray, sigmas, rho: float, seed: int) -> np.ndarray:
    """Colour noise with per-channel sigmas and correlation `rho` between channels."""
    c = clean.shape[2]
    corr = np.full((c, c), rho) + (1 - rho) * np.eye(c)
    s = np.asarray(sigmas, float)
    chol = np.linalg.cholesky(corr * np.outer(s, s))
    z = np.random.default_rng(seed).standard_normal(clean.shape)
    return clean + z @ chol.T


def signal_dependent(clean: np.ndarray, k: float, seed: int) -> np.ndarray:
    """clean + N(0, k^2 clean): sigma proportional to the square root of intensity."""
    z = np.random.default_rng(seed).standard_normal(clean.shape)
    return clean + k * np.sqrt(np.maximum(clean, 0)) * z


def level_law(clean: np.ndarray, lo: float, hi: float, seed: int):
    """clean + N(0, s(y)^2) with s(y) = lo + (hi - lo) y / 255 linear in the intensity
    (0-255 units; each sample's own clean value); and the true NoiseModel: white, the
    reference sigma the root mean square of s over the image, the law as levels 0 and
    255 with gains lo and hi over it. Returns ``(z, model)``."""
    from imgops import NoiseModel

    sd = lo + (hi - lo) * np.asarray(clean, np.float64) / 255.0
    z = clean + sd * np.random.default_rng(seed).standard_normal(np.shape(clean))
    ref = float(np.sqrt(np.mean(sd**2)))
    c = 1 if np.ndim(clean) == 2 else np.shape(clean)[2]
    cov = np.zeros((c, c, 8, 8))
    cov[np.arange(c), np.arange(c)] = ref * ref
    return z, NoiseModel("white", cov, levels=[0.0, 255.0], gain=[lo / ref, hi / ref])


def poisson_gaussian(clean: np.ndarray, peak: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The GAT papers' recipe: y = clean scaled to [0, peak], z = Poisson(y) +
    N(0, (peak / 10)^2). Returns ``(z, y)``, both float in the [0, peak] units."""
    rng = np.random.default_rng(seed)
    y = clean.astype(np.float64)
    y = (y - y.min()) / max(float(y.max() - y.min()), 1e-12) * peak
    return rng.poisson(y).astype(np.float64) + rng.normal(0, peak / 10, y.shape), y


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Round and clip to 0-255."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# --- the camera pipeline (Brooks et al. 2019) ----------------------------------------

def _smoothstep(x: np.ndarray) -> np.ndarray:
    return 3 * x * x - 2 * x ** 3


def _inv_smoothstep(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, 0, 1)
    return 0.5 - np.sin(np.arcsin(1 - 2 * y) / 3)


def _mosaic(rgb: np.ndarray) -> np.ndarray:
    """RGGB Bayer mosaic of an (H, W, 3) image, H and W even."""
    m = np.empty(rgb.shape[:2])
    m[0::2, 0::2] = rgb[0::2, 0::2, 0]
    m[0::2, 1::2] = rgb[0::2, 1::2, 1]
    m[1::2, 0::2] = rgb[1::2, 0::2, 1]
    m[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return m


def _conv3(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """3x3 correlation with edge replication."""
    p = np.pad(x, 1, mode="edge")
    h, w = x.shape
    return sum(k[i, j] * p[i:i + h, j:j + w] for i in range(3) for j in range(3))


def demosaic_bilinear(m: np.ndarray) -> np.ndarray:
    """Bilinear demosaic of an RGGB mosaic."""
    h, w = m.shape
    masks = np.zeros((3, h, w))
    masks[0, 0::2, 0::2] = 1
    masks[1, 0::2, 1::2] = masks[1, 1::2, 0::2] = 1
    masks[2, 1::2, 1::2] = 1
    k_rb = np.array([[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])
    k_g = np.array([[0, 0.25, 0], [0.25, 1, 0.25], [0, 0.25, 0]])
    out = [_conv3(m * masks[c], k_g if c == 1 else k_rb) for c in range(3)]
    return np.stack(out, axis=-1)


def camera_params(seed: int) -> dict:
    """Random pipeline parameters, as Brooks et al. sample them (colour matrix: a random
    near-identity mix)."""
    rng = np.random.default_rng(seed)
    ccm = np.eye(3) + rng.uniform(-0.25, 0.25, (3, 3)) * (1 - np.eye(3))
    ccm /= ccm.sum(axis=1, keepdims=True)  # rgb -> camera, rows summing to 1
    log_shot = rng.uniform(math.log(1e-4), math.log(0.012))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0, 0.26)
    return {"ccm": ccm, "rgb_gain": 1 / rng.normal(0.8, 0.1), "red_gain": rng.uniform(1.9, 2.4),
            "blue_gain": rng.uniform(1.5, 1.9), "shot": math.exp(log_shot),
            "read": math.exp(log_read), "quality": int(rng.integers(75, 96))}


def unprocess(srgb: np.ndarray, p: dict) -> np.ndarray:
    """uint8 sRGB (H, W, 3) -> linear camera mosaic in [0, 1]."""
    x = srgb.astype(np.float64) / 255
    x = _inv_smoothstep(x)
    x = np.maximum(x, 1e-8) ** 2.2
    x = x @ p["ccm"].T
    gains = np.array([p["red_gain"], 1.0, p["blue_gain"]]) * p["rgb_gain"]
    x = np.clip(x / gains, 0, 1)
    return _mosaic(x)


def process(mosaic: np.ndarray, p: dict) -> np.ndarray:
    """Linear camera mosaic -> float sRGB in [0, 255] (before rounding)."""
    x = demosaic_bilinear(mosaic)
    gains = np.array([p["red_gain"], 1.0, p["blue_gain"]]) * p["rgb_gain"]
    x = np.clip(x * gains, 0, 1)
    x = np.clip(x @ np.linalg.inv(p["ccm"]).T, 0, 1)
    x = x ** (1 / 2.2)
    return _smoothstep(x) * 255


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round trip through Pillow's JPEG encoder (4:2:0, its default)."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def camera(srgb: np.ndarray, seed: int, *, compress: bool = False) -> dict:
    """Noisy and clean outputs of the synthetic camera for a uint8 sRGB image.

    Returns a dict: ``noisy`` and ``clean`` (uint8; with `compress`, both through JPEG at
    the sampled quality), ``params`` and ``truth`` (the measured per-coefficient covariance
    of noisy minus clean).
    """
    h, w = (srgb.shape[0] // 2) * 2, (srgb.shape[1] // 2) * 2
    srgb = srgb[:h, :w, :3]
    p = camera_params(seed)
    raw = unprocess(srgb, p)
    rng = np.random.default_rng(seed + 1)
    var = raw * p["shot"] + p["read"]
    noisy_raw = raw + rng.standard_normal(raw.shape) * np.sqrt(var)
    clean = to_uint8(process(raw, p))
    noisy = to_uint8(process(np.clip(noisy_raw, 0, 1), p))
    if compress:
        clean, noisy = jpeg(clean, p["quality"]), jpeg(noisy, p["quality"])
    noise = noisy.astype(np.float64) - clean
    return {"noisy": noisy, "clean": clean, "params": p, "truth": true_cov(noise)}
