"""Median filters on the GPU: per-thread quickselect, and shared-memory tiles with the
generated 3x3/5x5 networks."""

import functools
from types import SimpleNamespace

import numpy as np
from numba import cuda, types

from .._shared.border import sample
from .._shared.median_nets import median3_at, median5_at
from .._shared.rank import quickselect
from .tiles import RPT, cuda_tile

CUDA_LOCAL = 121  # windows up to 11x11 are selected in per-thread local memory


@functools.cache
def cuda_kernels(dtype_name: str) -> SimpleNamespace:
    """CUDA twin for planes of ``dtype_name``: one thread per pixel gathers its window
    (through the shared border rule) and selects with the shared quickselect; larger
    windows count ranks instead. The window is kept in the planes' dtype (a float32
    image selects in float32, with no float64 instruction)."""

    T = getattr(types, dtype_name)

    @cuda.jit
    def median(src, k, mode, cval, out):
        x, y, p = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and p < P:
            n = k * k
            r = n // 2
            h = k // 2
            bad = False
            if n <= CUDA_LOCAL:
                win = cuda.local.array(CUDA_LOCAL, T)
                m = 0
                for i in range(k):
                    for j in range(k):
                        v = sample(src, p, y + i - h, x + j - h, mode, cval)
                        bad |= v != v
                        win[m] = v
                        m += 1
                res = quickselect(win, n, r)
            else:  # rank by counting: the value with r smaller and more than r not larger
                res = T(0)
                for a in range(n):
                    va = sample(src, p, y + a // k - h, x + a % k - h, mode, cval)
                    bad |= va != va
                    less = 0
                    leq = 0
                    for b in range(n):
                        vb = sample(src, p, y + b // k - h, x + b % k - h, mode, cval)
                        less += vb < va
                        leq += vb <= va
                    if less <= r and r < leq:
                        res = va
            out[p, y, x] = res
            if bad:
                out[p, y, x] = np.nan

    return SimpleNamespace(median=median)


@functools.cache
def cuda_tiled(dtype_name: str) -> SimpleNamespace:
    """Shared-memory tiled medians for windows up to CUDA_LOCAL samples (``border.RPT``
    rows per thread): ``median_net`` for 3x3 and 5x5, through the generated scalar
    networks (registers only: no local memory), ``median`` for the other sizes, by
    quickselect on a per-thread copy of the window (in local memory)."""

    T = getattr(types, dtype_name)
    load_tile = cuda_tile()

    @cuda.jit(device=True)
    def tile_in(src, k, mode, cval, tile):
        """Load the block's tile (outputs plus the k - 1 halo); returns (TC, x0, y0, p)."""
        TH = cuda.blockDim.y * RPT
        TC = cuda.blockDim.x + k - 1
        x0 = cuda.blockIdx.x * cuda.blockDim.x
        y0 = cuda.blockIdx.y * TH
        p = cuda.blockIdx.z
        h = k // 2
        load_tile(src, p, y0 - h, x0 - h, TH + k - 1, TC, mode, cval, tile)
        cuda.syncthreads()
        return TC, x0, y0, p

    @cuda.jit
    def median_net(src, k, mode, cval, out):
        """k = 3 or 5."""
        P, H, W = out.shape
        tile = cuda.shared.array(0, T)
        TC, x0, y0, p = tile_in(src, k, mode, cval, tile)
        x = x0 + cuda.threadIdx.x
        for q in range(RPT):
            r = cuda.threadIdx.y + q * cuda.blockDim.y
            base = r * TC + cuda.threadIdx.x
            if k == 3:
                res, bad = median3_at(tile, base, TC)
            else:
                res, bad = median5_at(tile, base, TC)
            if x < W and y0 + r < H:
                out[p, y0 + r, x] = res
                if bad:
                    out[p, y0 + r, x] = np.nan

    @cuda.jit
    def median(src, k, mode, cval, out):
        P, H, W = out.shape
        tile = cuda.shared.array(0, T)
        TC, x0, y0, p = tile_in(src, k, mode, cval, tile)
        win = cuda.local.array(CUDA_LOCAL, T)
        n = k * k
        x = x0 + cuda.threadIdx.x
        for q in range(RPT):
            r = cuda.threadIdx.y + q * cuda.blockDim.y
            base = r * TC + cuda.threadIdx.x
            bad = False
            for i in range(k):
                for j in range(k):
                    v = tile[base + i * TC + j]
                    bad |= v != v
                    win[i * k + j] = v
            res = quickselect(win, n, n // 2)
            if x < W and y0 + r < H:
                out[p, y0 + r, x] = res
                if bad:
                    out[p, y0 + r, x] = np.nan

    return SimpleNamespace(median_net=median_net, median=median)
