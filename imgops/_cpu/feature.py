"""Canny's steps on the CPU: SciPy-ordered 1-D passes, non-maximum suppression."""

import numpy as np
from numba import njit, prange

from .._shared.nms import nms_at


@njit(parallel=True, cache=True)
def scipy_pass(padded, w, sym, axis, out):
    """One ``scipy.ndimage.correlate1d`` pass in SciPy's own arithmetic order (NI_Correlate1D),
    so that canny's ties break as scikit-image's do: the centre tap first, then the outer
    pairs inwards, (a + b) * w for symmetric weights (sym 1) and (a - b) * w for
    antisymmetric ones (sym -1), in float64, rounded once to ``out``'s dtype.

    padded (H + 2r, W) for axis 0 or (H, W + 2r) for axis 1, extended by the caller;
    out (H, W); w (2r + 1) float64, symmetric or antisymmetric.
    """
    H, W = out.shape
    r = w.shape[0] // 2
    for y in prange(H):
        acc = np.empty(W)
        c = padded[y + r, 0:W] if axis == 0 else padded[y, r:r + W]
        for x in range(W):
            acc[x] = np.float64(c[x]) * w[r]
        for j in range(r, 0, -1):
            if axis == 0:
                a = padded[y + r - j, 0:W]
                b = padded[y + r + j, 0:W]
            else:
                a = padded[y, r - j:r - j + W]
                b = padded[y, r + j:r + j + W]
            wj = w[r - j]
            if sym > 0:
                for x in range(W):
                    acc[x] += (np.float64(a[x]) + np.float64(b[x])) * wj
            else:
                for x in range(W):
                    acc[x] += (np.float64(a[x]) - np.float64(b[x])) * wj
        orow = out[y]
        for x in range(W):
            orow[x] = acc[x]


@njit(parallel=True, cache=True)
def nonmax_suppression(isobel, jsobel, magnitude, low, out):
    H, W = magnitude.shape
    for x in prange(H):
        for y in range(W):
            out[x, y] = nms_at(isobel, jsobel, magnitude, x, y, low)
