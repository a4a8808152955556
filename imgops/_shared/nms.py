"""Canny's non-maximum suppression and hysteresis, for both targets.

``nms_at`` is the per-pixel body both suppression kernels call; ``hysteresis`` is
the flood fill from the strong edges, a sequential host loop that the CUDA path
also runs on the host.
"""

import numpy as np
from numba import njit


def low32(lo: float) -> float:
    """scikit-image's suppression takes the low threshold as a C float (float32), and
    0 as 1e-14 (so that m >= low is false where m == 0)."""
    lo32 = np.float32(lo)
    return float(lo32 if lo32 != 0 else np.float32(1e-14))


@njit(inline="always", cache=True)
def nms_at(isobel, jsobel, magnitude, x, y, low):
    """Canny's non-maximum suppression at (x, y) with bilinear interpolation along the
    gradient (scikit-image's rule) and the low threshold; the outermost pixels are never
    edges. Returns the kept magnitude or 0."""
    H, W = magnitude.shape
    m = magnitude[x, y]
    if x == 0 or y == 0 or x == H - 1 or y == W - 1 or not (m >= low):
        return 0.0
    gi = isobel[x, y]
    gj = jsobel[x, y]
    down = gi <= 0
    left = gj <= 0
    ai = abs(gi)
    aj = abs(gj)
    if (not down and not left) or (down and left):
        if ai > aj:
            w = aj / ai
            n11, n12 = magnitude[x + 1, y], magnitude[x + 1, y + 1]
            n21, n22 = magnitude[x - 1, y], magnitude[x - 1, y - 1]
        else:
            w = ai / aj
            n11, n12 = magnitude[x, y + 1], magnitude[x + 1, y + 1]
            n21, n22 = magnitude[x, y - 1], magnitude[x - 1, y - 1]
    else:
        if ai < aj:
            w = ai / aj
            n11, n12 = magnitude[x, y + 1], magnitude[x - 1, y + 1]
            n21, n22 = magnitude[x, y - 1], magnitude[x + 1, y - 1]
        else:
            w = aj / ai
            n11, n12 = magnitude[x - 1, y], magnitude[x - 1, y + 1]
            n21, n22 = magnitude[x + 1, y], magnitude[x + 1, y - 1]
    if n12 * w + n11 * (1.0 - w) <= m and n22 * w + n21 * (1.0 - w) <= m:
        return m
    return 0.0


@njit(cache=True)
def hysteresis(suppressed, high, out):
    """Keep the 8-connected components of suppressed > 0 that hold a value >= high."""
    H, W = suppressed.shape
    stack = np.empty(H * W, dtype=np.int64)
    top = 0
    for i in range(H):
        for j in range(W):
            out[i, j] = False
            if suppressed[i, j] >= high and suppressed[i, j] > 0:
                out[i, j] = True
                stack[top] = i * W + j
                top += 1
    while top > 0:
        top -= 1
        i = stack[top] // W
        j = stack[top] - i * W
        for di in range(-1, 2):
            for dj in range(-1, 2):
                a = i + di
                b = j + dj
                if a >= 0 and a < H and b >= 0 and b < W and not out[a, b] \
                        and suppressed[a, b] > 0:
                    out[a, b] = True
                    stack[top] = a * W + b
                    top += 1
