"""The CPU's ``store_int``: ``np.rint`` (vectorised) then the shared saturation."""

import numpy as np
from numba import njit

from .._shared.rounding import saturate


@njit(inline="always", cache=True)
def store_int(v, lo, hi):
    """``v`` rounded half to even and saturated to ``[lo, hi]`` (NaN stays NaN)."""
    return saturate(np.rint(v), lo, hi)
