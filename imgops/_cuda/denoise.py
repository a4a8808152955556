"""Bilateral filter, non-local means and Canny's non-maximum suppression on the GPU."""

import functools
from types import SimpleNamespace

import numpy as np
from numba import cuda, types

from .._shared.border import sample
from .._shared.nms import nms_at
from .._shared.weights import bilateral_weight, nlm_weight, nlm_weight32


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twins: one thread per pixel, windows read through the shared border rule."""

    @cuda.jit
    def bilateral_cuda(src, C, r, spatial, inv2sc2, mode, out):
        """Sums in the planes' dtype (``spatial`` and ``inv2sc2`` come in it too)."""
        x, y, n = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and n < P // C:
            k = 2 * r + 1
            zero = src.dtype.type(0)
            den = zero
            for i in range(k):
                for j in range(k):
                    den += bilateral_weight(src, n, C, y, x, i - r, j - r, spatial[i * k + j],
                                             inv2sc2, mode)
            for c in range(C):
                num = zero
                for i in range(k):
                    for j in range(k):
                        num += bilateral_weight(src, n, C, y, x, i - r, j - r,
                                                 spatial[i * k + j], inv2sc2, mode) * \
                            sample(src, n * C + c, y + i - r, x + j - r, mode, zero)
                out[n * C + c, y, x] = num / den

    @cuda.jit
    def nms_cuda(isobel, jsobel, magnitude, low, out):
        y, x = cuda.grid(2)
        H, W = magnitude.shape
        if x < H and y < W:
            out[x, y] = nms_at(isobel, jsobel, magnitude, x, y, low)

    return SimpleNamespace(bilateral=bilateral_cuda, nms=nms_cuda)


@functools.cache
def cuda_nl_means(dtype_name: str) -> SimpleNamespace:
    """Non-local means for planes of ``dtype_name`` (float32 or float64): one thread per
    pixel; float32 planes weigh in float32 (``nlm_weight32``, the CPU's float32
    weights), float64 ones with the float64 approximate exp."""

    T = getattr(types, dtype_name)
    weight = nlm_weight32 if dtype_name == "float32" else nlm_weight

    @cuda.jit
    def nl_means_cuda(padded, C, pad, o, d, inv_h2s2, var2c, out):
        """Per pixel: the same patch distances as the CPU's window sums, summed directly,
        in the planes' dtype (``inv_h2s2`` and ``var2c`` come in it)."""
        x, y, n = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and n < P // C:
            reach = o + d  # a non-finite sample this close makes the output NaN (as the CPU)
            for r in range(y - reach, y + reach + 1):
                for q in range(x - reach, x + reach + 1):
                    for c in range(C):
                        v = padded[n * C + c, r + pad, q + pad]
                        if v - v != 0:
                            for cc in range(C):
                                out[n * C + cc, y, x] = np.nan
                            return
            wsum = T(0)
            for uy in range(-d, d + 1):
                for ux in range(-d, d + 1):
                    wsum += weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c)
            for c in range(C):
                acc = T(0)
                for uy in range(-d, d + 1):
                    for ux in range(-d, d + 1):
                        acc += weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2,
                                      var2c) * padded[n * C + c, y + uy + pad, x + ux + pad]
                out[n * C + c, y, x] = acc / wsum

    return SimpleNamespace(nl_means=nl_means_cuda)
