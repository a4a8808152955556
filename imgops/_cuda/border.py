"""Border padding of plane stacks on the GPU."""

import functools
from types import SimpleNamespace

import numpy as np
from numba import cuda

from .._shared.border import sample
from .runtime import empty, launch


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """The padding kernel: one thread per output sample, through the shared border rule."""

    @cuda.jit
    def pad_cuda(src, top, left, mode, cval, out):
        x, y, p = cuda.grid(3)
        P, Hp, Wp = out.shape
        if x < Wp and y < Hp and p < P:
            out[p, y, x] = sample(src, p, y - top, x - left, mode, cval)

    return SimpleNamespace(pad=pad_cuda)


def pad(planes, top: int, bottom: int, left: int, right: int, mode: int,
        cval: float, dtype=None):
    """Extend a device (P, H, W) stack by the given rows and columns with border ``mode``."""
    P, H, W = planes.shape
    shape = (P, H + top + bottom, W + left + right)
    dtype = np.dtype(dtype or planes.dtype)
    out = empty(shape, dtype)
    launch(cuda_kernels().pad, shape[::-1], planes, top, left, mode, dtype.type(cval), out)
    return out
