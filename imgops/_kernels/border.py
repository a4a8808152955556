"""Border extension, in exactly one place.

``map_index`` maps an out-of-range coordinate to the source coordinate SciPy's
``ndimage`` uses for each mode, for any distance from the border (periodic
extension, so images smaller than the kernel work). It returns -1 for
``constant``, meaning "use cval". It has no signature, so the same function
compiles for the CPU and as a CUDA device function.
"""

import functools
from types import SimpleNamespace

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


def pad(planes, top: int, bottom: int, left: int, right: int, mode: int,
        cval: float, dtype=None):
    """Extend a (P, H, W) stack, on the host or (device arrays) on the GPU."""
    P, H, W = planes.shape
    shape = (P, H + top + bottom, W + left + right)
    dtype = np.dtype(dtype or planes.dtype)
    if not isinstance(planes, np.ndarray):
        from .._cuda import empty, launch

        out = empty(shape, dtype)
        launch(cuda_kernels().pad, shape[::-1], planes, top, left, mode, dtype.type(cval), out)
        return out
    out = np.empty(shape, dtype)
    pad_planes(planes, out, top, left, mode, dtype.type(cval))
    return out


@njit(inline="always", cache=True)
def sample(src, p, y, x, mode, cval):
    """src[p, y, x] with both coordinates extended by ``mode`` (per-pixel kernels)."""
    H = src.shape[1]
    W = src.shape[2]
    sy = map_index(y, H, mode)
    sx = map_index(x, W, mode)
    if sy < 0 or sx < 0:
        return cval
    return src[p, sy, sx]


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda

    @cuda.jit
    def pad_cuda(src, top, left, mode, cval, out):
        x, y, p = cuda.grid(3)
        P, Hp, Wp = out.shape
        if x < Wp and y < Hp and p < P:
            out[p, y, x] = sample(src, p, y - top, x - left, mode, cval)

    return SimpleNamespace(pad=pad_cuda)
