"""Variance stabilization: the generalized Anscombe transform of Poisson-Gaussian noise
and its exact unbiased inverse, and the transform of a noise level function
(:class:`LevelTransform`), as tables on even grids (:class:`Table`). Host-side NumPy;
:mod:`imgops.denoise` reads the tables on images with the CPU target's kernels (the
``"lookup"`` and ``"gat_counts"`` records), whatever the denoiser's backend.

Noise ``z = a p + n`` with ``p`` Poisson of mean ``y / a`` and ``n`` Gaussian of variance
``b`` has ``var(z) = a y + b``. The generalized Anscombe transform (GAT)

    f(z) = (2 / a) sqrt(max(a z + 3/8 a**2 + b, 0))

makes it nearly Gaussian of unit variance, so that a white-noise denoiser applies. Its
algebraic inverse is biased where counts are low; the exact unbiased inverse [1]_ maps a
denoised value ``D`` to the ``y`` whose expected transform ``E[f(z) | y]`` is ``D``. That
expectation is computed here by summing over the Poisson counts and integrating the
Gaussian part numerically, on a grid of ``y / a`` up to `TABLE_TOP`;
beyond it the asymptotic inverse ``(D / 2)**2 - 1/8 - b / a**2`` (in counts) differs from
the exact one by about 1e-5 counts, and the table's linear interpolation by at most 3e-4.
Written from the papers; no code of theirs was used.

References
----------
.. [1] M. Makitalo, A. Foi, "Optimal inversion of the generalized Anscombe
   transformation for Poisson-Gaussian noise", IEEE Trans. Image Process. 22(1), 2013.
.. [2] F. Murtagh, J.-L. Starck, A. Bijaoui, "Image restoration with noise suppression
   using a multiresolution support", Astron. Astrophys. Suppl. Ser. 112, 1995.
.. [3] A. Foi, "Clipped noisy images: heteroskedastic modeling and practical denoising",
   Signal Processing 89(12), 2009 (the stabilizing transform of a noise level
   function).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

__all__ = ["LevelTransform", "Table", "gat", "gat_inverse", "gat_table", "lookup"]

#: The table of the expected transform runs up to this many counts (``y / a``).
TABLE_TOP = 60.0
#: Quadrature nodes for the Gaussian part.
NODES = 801


def gat(z: np.ndarray, a: float, b: float) -> np.ndarray:
    """The generalized Anscombe transform of `z` (float64), for ``var(z) = a y + b``,
    ``a > 0`` (``b < 0``: a black level ``-b / a``): noise of about unit variance."""
    z = np.asarray(z, np.float64)
    return (2.0 / a) * np.sqrt(np.maximum(a * z + 0.375 * a * a + b, 0.0))


@functools.lru_cache(maxsize=16)
def _table(s2: float) -> tuple[np.ndarray, np.ndarray]:
    """``(lam, E)``: the expected GAT (in counts: ``2 sqrt(k + n + 3/8 + s2)``, ``n`` of
    variance ``s2``) of Poisson counts of mean ``lam`` plus that Gaussian, increasing."""
    lam = np.concatenate([np.linspace(0.0, 2.0, 161)[:-1], np.geomspace(2.0, TABLE_TOP, 400)])
    kmax = int(TABLE_TOP + 12 * math.sqrt(TABLE_TOP) + 40)
    k = np.arange(kmax + 1, dtype=np.float64)
    # E over the Gaussian, per count k: a fine trapezoid over +-8 sd (the square root's
    # kink at 0 defeats Gauss-Hermite quadrature where the Gaussian part is wide)
    t = np.linspace(-8.0, 8.0, NODES)
    w = np.exp(-0.5 * t * t)
    w /= w.sum()
    # einsum's own loops, not BLAS, whose threads would spin on into the BM3D that follows
    inner = np.einsum("kt,t->k", 2.0 * np.sqrt(np.maximum(
        k[:, None] + math.sqrt(s2) * t[None, :] + 0.375 + s2, 0.0)), w)
    logfact = np.concatenate([[0.0], np.cumsum(np.log(k[1:]))])
    with np.errstate(divide="ignore", invalid="ignore"):
        loglam = np.log(lam)
        logpmf = k[None, :] * loglam[:, None] - lam[:, None] - logfact[None, :]
    logpmf[0] = np.where(k == 0, 0.0, -np.inf)  # lam = 0: all mass at k = 0
    e = np.einsum("lk,k->l", np.exp(logpmf), inner)
    e = np.maximum.accumulate(e)  # increasing (it is, up to rounding)
    for arr in (lam, e):
        arr.setflags(write=False)
    return lam, e


class Table(NamedTuple):
    """A map tabulated on an even grid: ``ys[k]`` at ``x0 + k step`` (float64, at least
    two values, ``step > 0``), read by :func:`lookup` (and by the CPU target's kernels,
    which :mod:`imgops.denoise` runs on images)."""

    x0: float
    step: float
    ys: np.ndarray


def lookup(x, table: Table) -> np.ndarray:
    """`table` read at `x` by linear interpolation (an index computed, not searched),
    extended along its end segments at any distance; float64. NaN stays NaN; infinities
    map to infinities where the end segment slopes."""
    x0, step, ys = table
    u = (np.asarray(x, np.float64) - x0) * (1.0 / step)
    # the index from u clipped first (a far value's floor would overflow the cast); NaN
    # reads index 0 and stays NaN through u - i
    i = np.floor(np.nan_to_num(np.clip(u, 0, len(ys) - 2))).astype(np.intp)
    a = ys[i]
    return a + (ys[i + 1] - a) * (u - i)


@functools.lru_cache(maxsize=16)
def gat_table(s2: float) -> tuple[Table, float]:
    """The unbiased inverse of the GAT in counts, for a Gaussian part of variance `s2`
    (in counts squared): `_table`'s inverse resampled on :data:`KNOTS` evenly spaced
    expected transforms from ``E(0)`` to ``E(TABLE_TOP)``; and that top, beyond which
    the asymptotic inverse holds. It reads within 3e-5 counts of `_table`'s own linear
    interpolation, searched (which took 5x the time)."""
    lam, e = _table(s2)
    ys = np.interp(np.linspace(e[0], e[-1], KNOTS), e, lam)
    ys.setflags(write=False)  # cached: shared by every caller
    return Table(float(e[0]), float((e[-1] - e[0]) / (KNOTS - 1)), ys), float(e[-1])


def gat_inverse(d: np.ndarray, a: float, b: float) -> np.ndarray:
    """The exact unbiased inverse of :func:`gat`: the intensity ``y`` (image units,
    float64, ``>= 0``) whose expected transform is `d`. Non-finite values stay."""
    d = np.asarray(d, np.float64)
    s2 = float(b) / (a * a)
    table, top = gat_table(round(s2, 12))
    counts = np.maximum(lookup(d, table), 0.0)  # below E(0): 0
    high = d > top
    if high.any():
        counts = np.where(high, np.maximum(0.25 * d * d - 0.125 - s2, 0.0), counts)
    return a * counts


#: :class:`LevelTransform`: gains below this fraction of the largest are raised to it (an
#: intensity bin where the estimate found almost no noise, JPEG's flattened shadows,
#: would make the transform nearly vertical there and blow its noise up).
GAIN_FLOOR = 0.1
#: The transform, its inverse and the inverse of its expectation (and the GAT expectation's
#: inverse) are tabulated on this many evenly spaced points each (of intensity, of the
#: transform), and read by linear interpolation, extrapolated along the end segments
#: (``g`` is constant beyond the levels).
KNOTS = 4096


class LevelTransform:
    """The variance-stabilizing transform of noise whose standard deviation at intensity
    ``t`` is ``g(t)`` times a reference one: ``f(t) = integral from 0 to t of du / g(u)``,
    so that ``f(z)`` has about the reference noise at every intensity (``f'(y) g(y) = 1``).
    :meth:`inverse` is the algebraic inverse; :meth:`unbiased_inverse` maps a denoised
    value ``D`` to the intensity ``y`` whose expected transform is ``D``, for Gaussian
    noise of standard deviation ``g(y) s`` (``s**2`` the reference variance): where the
    law bends, ``E[f(z)]`` differs from ``f(y)`` by about ``-g'(y) s**2 / 2``, a bias
    of a grey level or more that the algebraic inverse would leave (the generalized
    Anscombe transform's exact unbiased inverse [1]_ in spirit).

    ``g`` interpolates `gain` linearly between `levels` (increasing) and is constant
    beyond them (:meth:`imgops.NoiseModel.gain_at`), each gain first raised to at least
    :data:`GAIN_FLOOR` times the largest. ``f`` is integrated (trapezoids of ``1 / g``)
    on :data:`KNOTS` even steps from ``min(levels[0], 0)`` to ``max(levels[-1], 0)``, with
    ``f(0) = 0``: the transform of levels ``k t`` is ``k f(t)`` (to rounding), so BM3D
    under it scales with the data as BM3D does. Every map is a :class:`Table` (a linear
    interpolation on an even grid), so :meth:`inverse` undoes :meth:`forward` to about
    1e-7 of the levels' span.
    """

    def __init__(self, levels, gain):
        levels = np.asarray(levels, np.float64)
        g = np.asarray(gain, np.float64)
        g = np.maximum(g, GAIN_FLOOR * g.max())
        lo, hi = min(levels[0], 0.0), max(levels[-1], 0.0)
        t = np.linspace(lo, hi, KNOTS)
        inv = 1.0 / np.interp(t, levels, g)
        f = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(t))])
        f -= np.interp(0.0, t, f)
        self.levels, self.gain, self.t = levels, g, t
        #: The tables of :meth:`forward` and :meth:`inverse`.
        self.forward_table = Table(lo, (hi - lo) / (KNOTS - 1), f)
        self.inverse_table = self._grid(f, t)

    @staticmethod
    def _grid(xs: np.ndarray, ys: np.ndarray) -> Table:
        """The map ``xs -> ys`` (``xs`` increasing) resampled on an even grid of ``xs``."""
        grid = np.linspace(xs[0], xs[-1], KNOTS)
        return Table(float(xs[0]), float((xs[-1] - xs[0]) / (KNOTS - 1)),
                     np.interp(grid, xs, ys))

    def forward(self, z: np.ndarray) -> np.ndarray:
        """``f(z)``, float64; non-finite samples stay as they are."""
        return lookup(z, self.forward_table)

    def inverse(self, d: np.ndarray) -> np.ndarray:
        """The ``y`` with ``f(y) = d``, float64; non-finite values stay as they are."""
        return lookup(d, self.inverse_table)

    def unbiased_table(self, s2: float) -> Table:
        """The table of :meth:`unbiased_inverse` for the reference variance `s2`."""
        if not s2 > 0:
            return self.inverse_table
        u, w = np.polynomial.hermite_e.hermegauss(41)
        w = w / w.sum()
        sd = math.sqrt(s2) * np.interp(self.t, self.levels, self.gain)
        e = np.einsum("tk,k->t", self.forward(self.t[:, None] + sd[:, None] * u[None, :]), w)
        return self._grid(np.maximum.accumulate(e), self.t)

    def unbiased_inverse(self, d: np.ndarray, s2: float) -> np.ndarray:
        """The ``y`` whose expected transform ``E[f(y + g(y) s n)]`` (``n`` standard
        normal, ``s**2 = s2`` the reference variance) is `d`, float64; the algebraic
        inverse for ``s2 <= 0``; non-finite values stay as they are. The expectation is
        tabulated on the transform's grid (Gauss-Hermite quadrature, 41 nodes) and made
        increasing; beyond the grid it follows the end segments."""
        return lookup(d, self.unbiased_table(s2))
