"""Strided 2-D convolution and ReLU of NCHW batches on the GPU (``imgops.nn``)."""

import functools
from types import SimpleNamespace

from numba import cuda


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """One thread per output sample."""

    @cuda.jit
    def conv2d_cuda(src, weight, bias, sh, sw, ph, pw, out):
        x, y, job = cuda.grid(3)
        N, Cout, Ho, Wo = out.shape
        if x < Wo and y < Ho and job < N * Cout:
            n = job // Cout
            co = job - n * Cout
            Cin, H, W = src.shape[1], src.shape[2], src.shape[3]
            s = bias[co]
            for ci in range(Cin):
                for ky in range(weight.shape[2]):
                    iy = y * sh - ph + ky
                    if iy < 0 or iy >= H:
                        continue
                    for kx in range(weight.shape[3]):
                        ix = x * sw - pw + kx
                        if ix >= 0 and ix < W:
                            s += weight[co, ci, ky, kx] * src[n, ci, iy, ix]
            out[n, co, y, x] = s

    @cuda.jit
    def relu_cuda(src, out):
        x, y, p = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and p < P:
            v = src[p, y, x]
            out[p, y, x] = 0.0 if v < 0 else v

    return SimpleNamespace(conv2d=conv2d_cuda, relu=relu_cuda)
