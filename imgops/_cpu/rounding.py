"""The CPU's implementation of the shared ``rint``: ``np.rint`` (vectorised)."""

import numpy as np
from numba.core.extending import overload

from .._shared import rounding


@overload(rounding.rint, target="cpu", inline="always")
def _rint(v):
    return lambda v: np.rint(v)
