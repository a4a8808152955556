"""Reference implementations named by the contract, applied per channel in float64.

Slow and obviously correct: SciPy / scikit-image where the contract names them, NumPy
formulas elsewhere. Results for "same dtype" operations are rounded and
saturated the way the contract says, so integer comparisons allow +-1.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
import scipy.signal

SCHARR_D = np.array([-1.0, 0.0, 1.0])
SCHARR_S = np.array([3.0, 10.0, 3.0])


def per_channel(image: np.ndarray, fn) -> np.ndarray:
    """Apply a 2-D float64 function to every (H, W) plane of an image of any layout."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        return fn(a)
    if a.ndim == 3:
        return np.stack([fn(a[..., c]) for c in range(a.shape[2])], axis=-1)
    return np.stack([per_channel(x, fn) for x in a])


def to_dtype(ref: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        info = np.iinfo(dtype)
        return np.clip(np.rint(ref), info.min, info.max)
    return ref


def _gradmag(fn):
    return lambda a, **kw: np.hypot(fn(a, axis=0, **kw), fn(a, axis=1, **kw))


def scharr(a, axis, mode="reflect", cval=0.0):
    k = np.outer(SCHARR_D, SCHARR_S) if axis == 0 else np.outer(SCHARR_S, SCHARR_D)
    return ndi.correlate(a, k, mode=mode, cval=cval)


def correlate(a, k, mode="reflect", cval=0.0):
    if mode == "valid":
        return scipy.signal.correlate2d(a, k, "valid")
    return ndi.correlate(a, k, mode=mode, cval=cval)


def convolve(a, k, mode="reflect", cval=0.0):
    if mode == "valid":
        return scipy.signal.convolve2d(a, k, "valid")
    return ndi.convolve(a, k, mode=mode, cval=cval)


def edge(name):
    fn = {"sobel": ndi.sobel, "prewitt": ndi.prewitt, "scharr": scharr}[name]

    def f(a, axis=None, mode="reflect", cval=0.0):
        if axis is None:
            return np.hypot(fn(a, axis=0, mode=mode, cval=cval), fn(a, axis=1, mode=mode,
                                                                   cval=cval))
        return fn(a, axis=axis, mode=mode, cval=cval)
    return f


# ----------------------------------------------------------------------------- sampling
# Obviously-correct NumPy versions of PyTorch's documented formulas, on one (H, W)
# float64 plane. Where torch is importable the tests compare against it as well.
def pool_out(n, k, s, p, ceil_mode):
    num = n + 2 * p - k
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool(a, k, s, p, ceil_mode):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    H, W = a.shape
    padded = np.full((H + 2 * ph + kh, W + 2 * pw + kw), -np.inf)
    padded[ph:ph + H, pw:pw + W] = a
    ho, wo = pool_out(H, kh, sh, ph, ceil_mode), pool_out(W, kw, sw, pw, ceil_mode)
    out = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            win = padded[i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[i, j] = np.nan if np.isnan(win).any() else win.max()
    return out


def avg_pool(a, k, s, p, ceil_mode, count_include_pad):
    (kh, kw), (sh, sw), (ph, pw) = k, s, p
    H, W = a.shape
    ho, wo = pool_out(H, kh, sh, ph, ceil_mode), pool_out(W, kw, sw, pw, ceil_mode)
    out = np.empty((ho, wo))
    for i in range(ho):
        for j in range(wo):
            y0, x0 = i * sh - ph, j * sw - pw
            y1, x1 = min(y0 + kh, H + ph), min(x0 + kw, W + pw)
            size = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, H), min(x1, W)
            win = a[y0:y1, x0:x1]
            out[i, j] = win.sum() / (size if count_include_pad else win.size)
    return out


def _src_index(o, n_in, n_out, method, align_corners):
    from fractions import Fraction
    if method == "nearest":
        return min(int(Fraction(o * n_in, n_out)), n_in - 1)
    if method == "nearest-exact":
        return min(int(Fraction((2 * o + 1) * n_in, 2 * n_out)), n_in - 1)
    if align_corners:
        return Fraction(o * (n_in - 1), n_out - 1) if n_out > 1 else Fraction(0)
    return max(Fraction((2 * o + 1) * n_in, 2 * n_out) - Fraction(1, 2), Fraction(0))


def resize(a, shape, method, align_corners=False):
    import math
    H, W = a.shape
    ho, wo = shape
    out = np.empty(shape)
    for i in range(ho):
        for j in range(wo):
            if method in ("nearest", "nearest-exact"):
                out[i, j] = a[_src_index(i, H, ho, method, False),
                              _src_index(j, W, wo, method, False)]
            elif method == "bilinear":
                sy = _src_index(i, H, ho, method, align_corners)
                sx = _src_index(j, W, wo, method, align_corners)
                y0, x0 = min(math.floor(sy), H - 1), min(math.floor(sx), W - 1)
                # PyTorch's second tap (weight 0 included: a NaN there reaches), none at
                # equal sizes, where it copies
                y1 = min(y0 + 1, H - 1) if H != ho else y0
                x1 = min(x0 + 1, W - 1) if W != wo else x0
                ly, lx = float(sy - y0), float(sx - x0)
                out[i, j] = ((1 - ly) * ((1 - lx) * a[y0, x0] + lx * a[y0, x1])
                             + ly * ((1 - lx) * a[y1, x0] + lx * a[y1, x1]))
            else:  # area = adaptive average pooling
                y0, y1 = i * H // ho, -(-(i + 1) * H // ho)
                x0, x1 = j * W // wo, -(-(j + 1) * W // wo)
                out[i, j] = a[y0:y1, x0:x1].mean()
    return out


def conv_transpose(x, w, stride, padding, output_padding, bias):
    """x (Cin, H, W), w (Cin, Cout, kh, kw): scatter every input pixel (the definition)."""
    (sh, sw), (ph, pw), (oh, ow) = stride, padding, output_padding
    cin, H, W = x.shape
    _, cout, kh, kw = w.shape
    Ho, Wo = (H - 1) * sh - 2 * ph + kh + oh, (W - 1) * sw - 2 * pw + kw + ow
    full = np.zeros((cout, (H - 1) * sh + kh + oh, (W - 1) * sw + kw + ow))
    for ci in range(cin):
        for i in range(H):
            for j in range(W):
                full[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += x[ci, i, j] * w[ci]
    out = full[:, ph:ph + Ho, pw:pw + Wo]
    return out + np.asarray(bias, float).reshape(-1, 1, 1)


def conv2d(x, w, stride, padding, bias):
    """x (Cin, H, W), w (Cout, Cin, kh, kw), zero padding."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    cout, cin, kh, kw = w.shape
    Ho, Wo = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    out = np.empty((cout, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, i, j] = np.tensordot(w, win, axes=3)
    return out + np.asarray(bias, float).reshape(-1, 1)[:, :, None]


# ----------------------------------------------------------------------------- denoising
NP_PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap",
          "constant": "constant"}


def bilateral(image, sigma_color, sigma_spatial, radius=None, mode="reflect"):
    """the contract's formula on an (H, W) or (H, W, C) float64 image, vectorised over pixels."""
    import math
    a = np.asarray(image, np.float64)
    if a.ndim == 2:
        return bilateral(a[..., None], sigma_color, sigma_spatial, radius, mode)[..., 0]
    r = max(2, math.ceil(3 * sigma_spatial)) if radius is None else radius
    H, W, _ = a.shape
    p = np.pad(a, ((r, r), (r, r), (0, 0)), mode=NP_PAD[mode])
    num = np.zeros_like(a)
    den = np.zeros((H, W))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            q = p[r + dy:r + dy + H, r + dx:r + dx + W]
            w = (math.exp(-(dy * dy + dx * dx) / (2 * sigma_spatial ** 2))
                 * np.exp(-((q - a) ** 2).sum(-1) / (2 * sigma_color ** 2)))
            num += w[..., None] * q
            den += w
    return num / den[..., None]


def estimate_noise(image):
    """Immerkær: sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|, per channel, averaged."""
    import math

    import scipy.signal
    n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], float)
    a = np.asarray(image, np.float64)
    planes = [a] if a.ndim == 2 else [a[..., c] for c in range(a.shape[-1])]
    sig = [math.sqrt(math.pi / 2) / (6 * (p.shape[1] - 2) * (p.shape[0] - 2))
           * np.abs(scipy.signal.correlate2d(p, n, "valid")).sum() for p in planes]
    return float(np.mean(sig))
