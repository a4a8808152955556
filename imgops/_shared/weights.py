"""Per-pixel weights of the bilateral filter and non-local means, for both targets."""

import math

import numpy as np
from numba import njit

from .border import sample

_F32_0 = np.float32(0.0)
_F32_1 = np.float32(1.0)
_F32_5 = np.float32(5.0)
_F32_SLOPE = np.float32(1512775.0)
_F32_MANTISSA = np.float32(2.0 ** -20)


@njit(inline="always", cache=True)
def schraudolph_exp(y):
    """scikit-image's approximate exp(y) (Schraudolph 1999) without bit casts: the high
    32 bits i = int(1072632447 + 1512775 y) hold exponent i >> 20 and mantissa i & 0xFFFFF
    (the low 32 bits are zero), so the value is exact in float64 arithmetic."""
    i = int(1072632447.0 + 1512775.0 * y)
    return math.ldexp(1.0 + (i & 0xFFFFF) / 1048576.0, (i >> 20) - 1023)


@njit(inline="always", cache=True)
def schraudolph_exp32(dx):
    """``schraudolph_exp(-dx)`` for a float32 ``0 <= dx <= 5`` in float32 arithmetic, as
    the CPU's float32 non-local means computes it: i = 1072632447 - ceil(1512775 dx), the
    product in float32 (below 2^23: at most one unit of i off the float64 product, a
    relative 1e-6), then the same exponent and 20-bit mantissa, exact in float32."""
    i = np.int32(1072632447) - np.int32(math.ceil(dx * _F32_SLOPE))
    # int(): Python's ldexp (the simulator's) takes no NumPy integer
    return math.ldexp(_F32_1 + np.float32(i & 0xFFFFF) * _F32_MANTISSA,
                      int((i >> 20) - 1023))


@njit(inline="always", cache=True)
def bilateral_weight(src, n, C, y, x, dy, dx, spatial_w, inv2sc2, mode):
    """The bilateral weight of the sample (y + dy, x + dx) for pixel (y, x), per thread,
    in the planes' dtype (``spatial_w`` and ``inv2sc2`` come in it)."""
    zero = src.dtype.type(0)
    d2 = zero
    for c in range(C):
        t = sample(src, n * C + c, y + dy, x + dx, mode, zero) - src[n * C + c, y, x]
        d2 += t * t
    return spatial_w * math.exp(-d2 * inv2sc2)


@njit(inline="always", cache=True)
def nlm_distance(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c):
    """The scaled patch distance max(dist, 0) * inv_h2s2 of pixel (y, x) and offset
    (uy, ux), by direct patch sums in the planes' dtype (``inv_h2s2`` and ``var2c``
    come in it)."""
    zero = padded.dtype.type(0)
    dist = zero
    for r in range(y - o + 1, y + o + 1):
        for q in range(x - o + 1, x + o + 1):
            for c in range(C):
                t = padded[n * C + c, r + pad, q + pad] - \
                    padded[n * C + c, r + uy + pad, q + ux + pad]
                dist += t * t
            dist -= var2c
    return max(dist, zero) * inv_h2s2


@njit(inline="always", cache=True)
def nlm_weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c):
    """The nl-means weight of pixel (y, x) for offset (uy, ux), float64 planes."""
    dist = nlm_distance(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c)
    return schraudolph_exp(-dist) if dist <= 5.0 else 0.0


@njit(inline="always", cache=True)
def nlm_weight32(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c):
    """:func:`nlm_weight` for float32 planes, in float32 (the CPU's float32 weights)."""
    dist = nlm_distance(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c)
    return schraudolph_exp32(dist) if dist <= _F32_5 else _F32_0
