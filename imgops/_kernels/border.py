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


# ----------------------------------------------------------------------------- CUDA tiles
# The tiled CUDA stencils: a block of (BX, BY) threads computes a tile of BX x BY*RPT
# outputs of one plane (RPT rows per thread, values kept in registers). The input tile,
# outputs plus the kernel's halo, is read from global memory once into shared memory.
RPT = 4
SHARED_BYTES = 48 * 1024  # static + dynamic shared memory a block may use without opt-in


def tile_geometry(block: tuple[int, int], halo: tuple[int, int, int, int]
                  ) -> tuple[int, int, int, int]:
    """(TH, TW, TR, TC): output tile and input tile (output + halo top, bottom, left,
    right) of a ``block = (BX, BY)`` launch."""
    bx, by = block
    top, bottom, left, right = halo
    th, tw = by * RPT, bx
    return th, tw, th + top + bottom, tw + left + right


@functools.cache
def cuda_tile():
    """The device function every tiled kernel starts with: ``load_tile``."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda

    @cuda.jit(device=True)
    def load_tile(src, p, ys, xs, TR, TC, mode, cval, tile):
        """tile[r * TC + c] = ext(src)[p, ys + r, xs + c] for r < TR, c < TC: the
        block's threads share the rows (the border rule once per row and column).
        The caller synchronises before reading."""
        H = src.shape[1]
        W = src.shape[2]
        r = cuda.threadIdx.y
        while r < TR:
            sy = map_index(ys + r, H, mode)
            c = cuda.threadIdx.x
            while c < TC:
                sx = map_index(xs + c, W, mode)
                tile[r * TC + c] = cval if sy < 0 or sx < 0 else src[p, sy, sx]
                c += cuda.blockDim.x
            r += cuda.blockDim.y

    return load_tile
