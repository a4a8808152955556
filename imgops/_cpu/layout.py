"""Layout and dtype conversion in one parallel pass each way (CPU).

``gather`` turns an ``(N, H, W, C)`` view of any strides and dtype into a
C-contiguous ``(N*C, H, W)`` stack in the compute dtype; ``scatter`` writes a
stack back into an ``(N, H, W, C)`` array, rounding to nearest (ties to even)
and saturating when the output is an integer type.
"""

from numba import njit, prange

from .rounding import store_int


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
                    orow[x, c] = store_int(prow[x], lo, hi)
            else:
                for x in range(W):
                    orow[x, c] = prow[x]
