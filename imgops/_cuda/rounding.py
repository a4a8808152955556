"""CUDA's ``store_int``: libdevice's ``rint``/``rintf`` (``cvt.rni``) then the shared
saturation."""

import numpy as np
from numba import cuda, types
from numba.cuda import libdevice
from numba.cuda.extending import overload

from .._shared.rounding import saturate


def rint(v):
    """``v`` rounded to the nearest integer, ties to even. The Python body serves the
    CUDA simulator (whose libdevice functions are stubs); compiled kernels use the
    overload below."""
    return np.rint(v)


@overload(rint, target="cuda")
def _rint(v):
    if v == types.float32:
        return lambda v: libdevice.rintf(v)
    return lambda v: libdevice.rint(v)


@cuda.jit(device=True, inline=True)
def store_int(v, lo, hi):
    """``v`` rounded half to even and saturated to ``[lo, hi]`` (NaN stays NaN)."""
    return saturate(rint(v), lo, hi)
