"""The variance-stabilizing maps' loops: a table on an even grid (``imgops._vst.Table``)
read at every sample by an index computed, not searched. ``imgops.denoise`` runs them
on the host for every backend (the ``"lookup"`` and ``"gat_counts"`` records)."""

import numpy as np
from numba import njit, prange


@njit(inline="always", cache=True)
def _lerp(u, ys, last):
    """``ys`` read at fractional index ``u`` (not NaN), along the end segments beyond."""
    i = 0 if u < 0.0 else (last if u >= last else np.int64(u))
    a = ys[i]
    return a + (ys[i + 1] - a) * (u - i)


@njit(parallel=True, cache=True)
def lookup_flat(x, x0, scale, ys, out):
    """``out[k]``: the table ``ys`` (at ``x0 + j / scale``) at ``x[k]``; NaN stays NaN."""
    last = ys.size - 2
    for k in prange(x.size):
        u = (np.float64(x[k]) - x0) * scale
        out[k] = u if u != u else _lerp(u, ys, last)


@njit(parallel=True, cache=True)
def gat_counts_flat(d, x0, scale, ys, top, s2, out):
    """``out[k]``: the GAT's unbiased inverse in counts at ``d[k]``: the table (at least
    0) up to `top`, the asymptotic inverse ``(d / 2)**2 - 1/8 - s2`` (at least 0)
    beyond; NaN stays NaN."""
    last = ys.size - 2
    for k in prange(d.size):
        v = np.float64(d[k])
        if v != v:
            out[k] = v
        elif v > top:  # infinity stays infinite
            out[k] = max(0.25 * v * v - 0.125 - s2, 0.0)
        else:  # below the table's start: 0
            out[k] = max(_lerp((v - x0) * scale, ys, last), 0.0)
