"""Shared-memory tiles of the CUDA stencils.

A block of (BX, BY) threads computes a tile of BX x BY*RPT outputs of one plane
(RPT rows per thread, values kept in registers). The input tile, outputs plus the
kernel's halo, is read from global memory once into shared memory.
"""

import functools

from numba import cuda

from .._shared.border import map_index

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
