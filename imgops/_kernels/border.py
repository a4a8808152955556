"""Border extension, in exactly one place.

``map_index`` maps an out-of-range coordinate to the source coordinate SciPy's
``ndimage`` uses for each mode, for any distance from the border (periodic
extension, so images smaller than the kernel work). It returns -1 for
``constant``, meaning "use cval". It has no signature, so the same function
compiles for the CPU and as a CUDA device function.
"""

import numpy as np
from numba import njit, prange

REFLECT, MIRROR, NEAREST, CONSTANT, WRAP = 0, 1, 2, 3, 4


@njit(inline="always", cache=True)
def map_index(i, n, mode):
    if i >= 0 and i < n:
        return i
    if mode == REFLECT:  # d c b a | a b c d | d c b a
        period = 2 * n
        r = i % period
        return r if r < n else period - 1 - r
    if mode == MIRROR:  # d c b | a b c d | c b a
        if n == 1:
            return 0
        period = 2 * n - 2
        r = i % period
        return r if r < n else period - r
    if mode == NEAREST:  # a a a | a b c d | d d d
        return 0 if i < 0 else n - 1
    if mode == WRAP:  # a b c d | a b c d | a b c d
        return i % n
    return -1  # constant: k k k | a b c d | k k k


@njit(inline="always", cache=True)
def fill_line(src, buf, before, mode, cval):
    """Copy the 1-D ``src`` into ``buf`` with ``before`` extended samples in front."""
    n = src.shape[0]
    m = buf.shape[0]
    inner = buf[before:before + n]
    for x in range(n):
        inner[x] = src[x]
    for x in range(before):
        s = map_index(x - before, n, mode)
        buf[x] = cval if s < 0 else src[s]
    for x in range(before + n, m):
        s = map_index(x - before, n, mode)
        buf[x] = cval if s < 0 else src[s]


@njit(parallel=True, cache=True)
def pad_planes(src, out, top, left, mode, cval):
    """Extend each plane of ``src`` (P, H, W) into ``out`` (P, H+top+bottom, W+left+right)."""
    P, H, W = src.shape
    Hp = out.shape[1]
    for idx in prange(P * Hp):
        p = idx // Hp
        y = idx - p * Hp
        sy = map_index(y - top, H, mode)
        row = out[p, y]
        if sy < 0:
            row[:] = cval
        else:
            fill_line(src[p, sy], row, left, mode, cval)


def pad(planes: np.ndarray, top: int, bottom: int, left: int, right: int, mode: int,
        cval: float, dtype=None) -> np.ndarray:
    P, H, W = planes.shape
    out = np.empty((P, H + top + bottom, W + left + right), dtype or planes.dtype)
    pad_planes(planes, out, top, left, mode, out.dtype.type(cval))
    return out
