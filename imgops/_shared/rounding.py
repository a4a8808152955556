"""Rounding and saturation of a float result stored into an integer image.

The one rule both targets use: round to nearest, ties to even (as ``np.rint``),
then clamp to ``[lo, hi]``. The bounds come in the sums' dtype
(``_validate.int_range``), so a float32 result is never widened on its way out.

``rint`` is the one place where the targets need different code for the same
arithmetic: each target package registers its implementation of it
(``imgops._cpu.rounding``: ``np.rint``; ``imgops._cuda.rounding``: libdevice's
``rint``), and every body here and in the kernels calls the same name.
"""

import numpy as np
from numba import njit


def rint(v):
    """``v`` rounded to the nearest integer, ties to even (the Python body serves the
    CUDA simulator; compiled code uses the target's registered implementation)."""
    return np.rint(v)


@njit(inline="always", cache=True)
def store_int(v, lo, hi):
    """``v`` rounded half to even and saturated to ``[lo, hi]`` (NaN stays NaN)."""
    return min(max(rint(v), lo), hi)


@njit(inline="always", cache=True)
def shift_half_even(q, s):
    """The unsigned integer ``q / 2**s`` rounded half to even, exactly (as ``np.rint``
    of the float quotient); ``s >= 1``, a constant at the call site."""
    v = q >> s
    r = q & ((1 << s) - 1)
    half = 1 << (s - 1)
    return v + ((r > half) | ((r == half) & ((v & 1) == 1)))
