"""Rounding and saturation of a float result stored into an integer image.

The one rule both targets use: round to nearest, ties to even (as ``np.rint``),
then clamp to ``[lo, hi]``. The bounds come in the sums' dtype
(``_validate.int_range``), so a float32 result is never widened on its way out.

Rounding itself is the one step where the targets need different code for the same
arithmetic (``np.rint`` does not compile for CUDA; libdevice's ``rint`` does not exist
on the CPU), so each target package defines ``store_int`` as its own ``rint`` followed
by :func:`saturate` (``imgops._cpu.rounding``, ``imgops._cuda.rounding``). An overload
of one shared ``rint`` per target was tried and is unsafe: with some Numba versions a
CUDA kernel calling a shared ``@njit`` body that the CPU had already compiled reused the
CPU's choice of overload (``np.rint``), which CUDA cannot lower.
"""

from numba import njit


@njit(inline="always", cache=True)
def saturate(r, lo, hi):
    """The rounded value ``r`` clamped to ``[lo, hi]`` (NaN stays NaN: the caller's
    cast decides what it becomes)."""
    return min(max(r, lo), hi)


@njit(inline="always", cache=True)
def shift_half_even(q, s):
    """The unsigned integer ``q / 2**s`` rounded half to even, exactly (as ``np.rint``
    of the float quotient); ``s >= 1``, a constant at the call site."""
    v = q >> s
    r = q & ((1 << s) - 1)
    half = 1 << (s - 1)
    return v + ((r > half) | ((r == half) & ((v & 1) == 1)))
