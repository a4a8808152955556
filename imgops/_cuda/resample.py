"""Pools, resampling taps, transposed and strided convolution on the GPU."""

import functools
from types import SimpleNamespace

from numba import cuda

from .._shared.windows import avg_pool_at, max_pool_at


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twins: one thread per output pixel; pools share their per-output bodies."""

    @cuda.jit
    def max_pool_cuda(src, kh, kw, sh, sw, ph, pw, out):
        x, y, p = cuda.grid(3)
        P, Ho, Wo = out.shape
        if x < Wo and y < Ho and p < P:
            out[p, y, x] = max_pool_at(src, p, y, x, kh, kw, sh, sw, ph, pw)

    @cuda.jit
    def avg_pool_cuda(src, kh, kw, sh, sw, ph, pw, count_include_pad, out):
        x, y, p = cuda.grid(3)
        P, Ho, Wo = out.shape
        if x < Wo and y < Ho and p < P:
            out[p, y, x] = avg_pool_at(src, p, y, x, kh, kw, sh, sw, ph, pw,
                                       count_include_pad, src.dtype.type(0))

    @cuda.jit
    def taps_cols_cuda(src, idx, w, out):
        x, y, p = cuda.grid(3)
        P, Ho, W = out.shape
        if x < W and y < Ho and p < P:
            s = w[y, 0] * src[p, idx[y, 0], x]  # sums in the planes' dtype
            for t in range(1, idx.shape[1]):
                s += w[y, t] * src[p, idx[y, t], x]
            out[p, y, x] = s

    @cuda.jit
    def taps_rows_cuda(src, idx, w, out):
        x, y, p = cuda.grid(3)
        P, H, Wo = out.shape
        if x < Wo and y < H and p < P:
            s = w[x, 0] * src[p, y, idx[x, 0]]
            for t in range(1, idx.shape[1]):
                s += w[x, t] * src[p, y, idx[x, t]]
            out[p, y, x] = s

    @cuda.jit
    def conv_transpose_cuda(src, weight, bias, sh, sw, ph, pw, groups, out):
        """Gather form: output (y, x) sums inputs iy = (y + ph - ky) / sh (exact)."""
        x, y, job = cuda.grid(3)
        N, Cout, Ho, Wo = out.shape
        if x < Wo and y < Ho and job < N * Cout:
            n = job // Cout
            co = job - n * Cout
            Cin, H, W = src.shape[1], src.shape[2], src.shape[3]
            kh, kw = weight.shape[2], weight.shape[3]
            cin_g = Cin // groups
            cout_g = Cout // groups
            g = co // cout_g
            cog = co - g * cout_g
            s = bias[co]
            for ky in range(kh):
                t = y + ph - ky
                if t < 0 or t % sh != 0 or t // sh >= H:
                    continue
                iy = t // sh
                for kx in range(kw):
                    u = x + pw - kx
                    if u < 0 or u % sw != 0 or u // sw >= W:
                        continue
                    ix = u // sw
                    for ci in range(g * cin_g, (g + 1) * cin_g):
                        s += weight[ci, cog, ky, kx] * src[n, ci, iy, ix]
            out[n, co, y, x] = s

    return SimpleNamespace(max_pool=max_pool_cuda, avg_pool=avg_pool_cuda,
                           taps_cols=taps_cols_cuda, taps_rows=taps_rows_cuda,
                           conv_transpose=conv_transpose_cuda)
