"""Layout and dtype conversion in one parallel pass each way.

``gather`` turns an ``(N, H, W, C)`` view of any strides and dtype into a
C-contiguous ``(N*C, H, W)`` stack in the compute dtype; ``scatter`` writes a
stack back into an ``(N, H, W, C)`` array, rounding to nearest (ties to even,
as ``np.rint``) and saturating when the output is an integer type. NumPy's
``moveaxis`` + ``astype`` + ``rint`` + ``clip`` did the same in five passes
with temporaries.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def gather(src, out):
    N, H, W, C = src.shape
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        row = src[n, y]
        for c in range(C):
            orow = out[n * C + c, y]
            for x in range(W):
                orow[x] = row[x, c]


@njit(parallel=True, cache=True)
def scatter(planes, out, lo, hi, integer):
    N, H, W, C = out.shape
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        orow = out[n, y]
        for c in range(C):
            prow = planes[n * C + c, y]
            if integer:
                for x in range(W):
                    orow[x, c] = min(max(np.rint(prow[x]), lo), hi)
            else:
                for x in range(W):
                    orow[x, c] = prow[x]



@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """The CUDA twins, compiled on first use: ``import imgops`` never loads numba.cuda."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda

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
                v = min(max(math.floor(v + 0.5), lo), hi)
            out[n, y, x, job - n * C] = v

    return SimpleNamespace(gather=gather, scatter=scatter)
