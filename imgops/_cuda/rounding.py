"""CUDA's implementation of the shared ``rint``: libdevice's ``rint``/``rintf``."""

from numba import types
from numba.cuda import libdevice
from numba.cuda.extending import overload

from .._shared import rounding


@overload(rounding.rint, target="cuda")
def _rint(v):
    if v == types.float32:
        return lambda v: libdevice.rintf(v)
    return lambda v: libdevice.rint(v)
