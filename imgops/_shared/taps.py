"""Filter taps and resampling tables, computed once on the host for both targets.

Pure NumPy: the Gaussian weights (SciPy's rounding, bit for bit), the edge
filters' derivative and smoothing taps, the rank-1 split of a 2-D kernel, the
FCN bilinear kernel, and the per-axis index/weight tables of every resize method
(computed exactly, in integers where PyTorch's float scale is off by a pixel).
"""

from __future__ import annotations

import numpy as np

DERIV = np.array([-1.0, 0.0, 1.0])
SMOOTH = {"sobel": np.array([1.0, 2.0, 1.0]), "prewitt": np.array([1.0, 1.0, 1.0]),
          "scharr": np.array([3.0, 10.0, 3.0])}
LAPLACE = np.array([1.0, -2.0, 1.0])
ONE = np.ones(1)


def gaussian_kernel1d(sigma: float, truncate: float = 4.0, order: int = 0) -> np.ndarray:
    """SciPy's 1-D Gaussian weights (order 0) or second derivative (order 2)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * (x * x))  # SciPy's rounding, bit for bit
    phi = phi / phi.sum()
    if order == 0:
        return phi
    p = 1.0 / -(sigma * sigma)  # order 2: SciPy's q(x) = p + (p p) x^2, times phi
    return (p + (x * x) * (p * p)) * phi


def gaussian_or_one(sigma: float, truncate: float, order: int = 0) -> np.ndarray:
    """The taps of an axis: ``[1]`` where sigma is 0 (SciPy skips that axis)."""
    return gaussian_kernel1d(sigma, truncate, order) if sigma > 1e-15 else ONE


def centered(wy, wx, cvx: float) -> tuple:
    """A column pass ``wy`` then a row pass ``wx``, both centred on the output, the row
    pass extended with ``cvx``: the ``(wy, by, wx, bx, cvx)`` pair the engines take."""
    wy, wx = np.asarray(wy, np.float64), np.asarray(wx, np.float64)
    return wy, wy.size // 2, wx, wx.size // 2, cvx


def rank1_factors(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(u, v)`` with ``kernel == outer(u, v)`` exactly (to rounding), or None."""
    i0, j0 = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    pivot = kernel[i0, j0]
    if pivot == 0:
        return None
    u = kernel[:, j0].copy()
    v = kernel[i0, :] / pivot
    if np.allclose(np.outer(u, v), kernel, rtol=0, atol=1e-12 * abs(pivot)):
        return u, v
    return None


def bilinear_kernel(factor: int) -> np.ndarray:
    """The FCN bilinear upsampling kernel of an integer ``factor``."""
    k = 2 * factor - factor % 2
    c = factor - 1 if k % 2 == 1 else factor - 0.5
    r = 1 - np.abs(np.arange(k) - c) / factor
    return np.outer(r, r)


def resize_taps(n_in: int, n_out: int, method: str, align_corners: bool):
    """Index and weight tables ``(n_out, T)`` for one axis, computed exactly."""
    o = np.arange(n_out, dtype=np.int64)
    if method == "nearest":  # floor(o * in / out)
        idx = np.minimum(o * n_in // n_out, n_in - 1)[:, None]
        return idx, np.ones((n_out, 1))
    if method == "nearest-exact":  # floor((o + 0.5) * in / out)
        idx = np.minimum((2 * o + 1) * n_in // (2 * n_out), n_in - 1)[:, None]
        return idx, np.ones((n_out, 1))
    if method == "bilinear":
        if align_corners:
            src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)
        else:
            src = np.maximum(((2 * o + 1) * n_in - n_out) / (2 * n_out), 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        # PyTorch's second tap, weight 0 included (a NaN there still reaches), except at
        # equal sizes, where it copies
        i1 = np.minimum(i0 + 1, n_in - 1) if n_in != n_out else i0
        lam = src - i0
        return np.stack([i0, i1], 1), np.stack([1.0 - lam, lam], 1)
    # area: adaptive average pooling windows [floor(o*in/out), ceil((o+1)*in/out))
    start = o * n_in // n_out
    end = -(-((o + 1) * n_in) // n_out)
    T = int((end - start).max())
    t = np.arange(T)
    idx = np.minimum(start[:, None] + t, end[:, None] - 1)
    w = np.where(start[:, None] + t < end[:, None], 1.0 / (end - start)[:, None], 0.0)
    return idx, w
