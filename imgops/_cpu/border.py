"""Border padding of plane stacks on the CPU."""

import numpy as np
from numba import njit, prange

from .._shared.border import fill_line, map_index


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


def pad(planes, top: int, bottom: int, left: int, right: int, mode: int,
        cval: float, dtype=None):
    """Extend a (P, H, W) stack by the given rows and columns with border ``mode``."""
    P, H, W = planes.shape
    shape = (P, H + top + bottom, W + left + right)
    dtype = np.dtype(dtype or planes.dtype)
    out = np.empty(shape, dtype)
    pad_planes(planes, out, top, left, mode, dtype.type(cval))
    return out
