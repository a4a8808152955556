"""Rounding and saturation of a float result stored into an integer image.

The one rule both targets use: round to nearest, ties to even (``np.rint``, which
Numba compiles to ``llvm.rint`` on the CPU and on CUDA alike), then clamp to
``[lo, hi]``. The bounds come in the sums' dtype (``_validate.int_range``), so a
float32 result is never widened to float64 on its way out.
"""

import numpy as np
from numba import njit


@njit(inline="always", cache=True)
def store_int(v, lo, hi):
    """``v`` rounded half to even and saturated to ``[lo, hi]`` (NaN stays NaN)."""
    return min(max(np.rint(v), lo), hi)


@njit(inline="always", cache=True)
def shift_half_even(q, s):
    """The unsigned integer ``q / 2**s`` rounded half to even, exactly (as ``np.rint``
    of the float quotient); ``s >= 1``, a constant at the call site."""
    v = q >> s
    r = q & ((1 << s) - 1)
    half = 1 << (s - 1)
    return v + ((r > half) | ((r == half) & ((v & 1) == 1)))
