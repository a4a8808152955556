"""Border extension: the one rule both targets use.

``map_index`` maps a coordinate outside ``[0, n)`` to the source coordinate that
``scipy.ndimage`` uses for each mode, at any distance from the border (the
extension is periodic, so images smaller than the kernel work). It returns -1 for
``constant``, meaning "use cval". The functions have no signature, so the same
body compiles for the CPU and as a CUDA device function::

    reflect   d c b a | a b c d | d c b a
    mirror      d c b | a b c d | c b a
    nearest   a a a a | a b c d | d d d d
    constant  k k k k | a b c d | k k k k
    wrap      a b c d | a b c d | a b c d
"""

from numba import njit

REFLECT, MIRROR, NEAREST, CONSTANT, WRAP = 0, 1, 2, 3, 4


@njit(inline="always", cache=True)
def map_index(i, n, mode):
    if i >= 0 and i < n:
        return i
    if mode == REFLECT:  # d c b a | a b c d | d c b a
        period = 2 * n
        r = i % period
        return r if r < n else period - 1 - r
    if mode == MIRROR:  # d c b | a b c d | c b a
        if n == 1:
            return 0
        period = 2 * n - 2
        r = i % period
        return r if r < n else period - r
    if mode == NEAREST:  # a a a | a b c d | d d d
        return 0 if i < 0 else n - 1
    if mode == WRAP:  # a b c d | a b c d | a b c d
        return i % n
    return -1  # constant: k k k | a b c d | k k k


@njit(inline="always", cache=True)
def fill_line(src, buf, before, mode, cval):
    """Copy the 1-D ``src`` into ``buf`` with ``before`` extended samples in front."""
    n = src.shape[0]
    m = buf.shape[0]
    inner = buf[before:before + n]
    for x in range(n):
        inner[x] = src[x]
    for x in range(before):
        s = map_index(x - before, n, mode)
        buf[x] = cval if s < 0 else src[s]
    for x in range(before + n, m):
        s = map_index(x - before, n, mode)
        buf[x] = cval if s < 0 else src[s]


@njit(inline="always", cache=True)
def sample(src, p, y, x, mode, cval):
    """src[p, y, x] with both coordinates extended by ``mode`` (per-pixel kernels)."""
    H = src.shape[1]
    W = src.shape[2]
    sy = map_index(y, H, mode)
    sx = map_index(x, W, mode)
    if sy < 0 or sx < 0:
        return cval
    return src[p, sy, sx]
