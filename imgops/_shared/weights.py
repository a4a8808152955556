"""Per-pixel weights of the bilateral filter and non-local means, for both targets."""

import math

from numba import njit

from .border import sample


@njit(inline="always", cache=True)
def schraudolph_exp(y):
    """scikit-image's approximate exp(y) (Schraudolph 1999) without bit casts: the high
    32 bits i = int(1072632447 + 1512775 y) hold exponent i >> 20 and mantissa i & 0xFFFFF
    (the low 32 bits are zero), so the value is exact in float64 arithmetic."""
    i = int(1072632447.0 + 1512775.0 * y)
    return math.ldexp(1.0 + (i & 0xFFFFF) / 1048576.0, (i >> 20) - 1023)


@njit(inline="always", cache=True)
def bilateral_weight(src, n, C, y, x, dy, dx, spatial_w, inv2sc2, mode):
    """The bilateral weight of the sample (y + dy, x + dx) for pixel (y, x), per thread."""
    d2 = 0.0
    for c in range(C):
        t = sample(src, n * C + c, y + dy, x + dx, mode, 0.0) - src[n * C + c, y, x]
        d2 += t * t
    return spatial_w * math.exp(-d2 * inv2sc2)


@njit(inline="always", cache=True)
def nlm_weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c):
    """The nl-means weight of pixel (y, x) for offset (uy, ux), by direct patch sums."""
    dist = 0.0
    for r in range(y - o + 1, y + o + 1):
        for q in range(x - o + 1, x + o + 1):
            for c in range(C):
                t = padded[n * C + c, r + pad, q + pad] - \
                    padded[n * C + c, r + uy + pad, q + ux + pad]
                dist += t * t
            dist -= var2c
    dist = max(dist, 0.0) * inv_h2s2
    return schraudolph_exp(-dist) if dist <= 5.0 else 0.0
