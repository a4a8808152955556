"""Layout and dtype conversion on the GPU: the twins of ``imgops._cpu.layout``."""

import functools
from types import SimpleNamespace

from numba import cuda

from .rounding import store_int


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """The CUDA twins, compiled on first use: ``import imgops`` never loads numba.cuda."""

    @cuda.jit
    def gather(src, out):
        x, y, job = cuda.grid(3)
        N, H, W, C = src.shape
        if x < W and y < H and job < N * C:
            n = job // C
            out[job, y, x] = src[n, y, x, job - n * C]

    @cuda.jit
    def scatter(planes, out, lo, hi, integer):
        x, y, job = cuda.grid(3)
        N, H, W, C = out.shape
        if x < W and y < H and job < N * C:
            n = job // C
            v = planes[job, y, x]
            if integer:
                v = store_int(v, lo, hi)
            out[n, y, x, job - n * C] = v

    return SimpleNamespace(gather=gather, scatter=scatter)
