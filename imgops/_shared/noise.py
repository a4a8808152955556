"""Immerkaer's noise estimate from its sums: the one formula the CPU kernel and the
Dask reduction finish with."""

import math

import numpy as np


def immerkaer_sigma(sums: np.ndarray, counts: np.ndarray, finite_only: bool) -> float:
    """``sqrt(pi / 2) / 6 * sum |I * N| / count`` per batch item and channel, averaged.

    ``sums`` and ``counts`` are shaped (N, C): the sums of ``|I * N|`` and the number of
    terms. Without ``finite_only`` every count is the valid region's ``(W - 2)(H - 2)``
    and a NaN sum gives NaN; with it, items and channels with no finite term are left
    out, and an image with none gives 0.
    """
    sums = np.asarray(sums, np.float64)
    counts = np.asarray(counts)
    if finite_only:
        keep = counts > 0
        if not keep.any():
            return 0.0
        sums, counts = sums[keep], counts[keep]
    sig = math.sqrt(math.pi / 2) / (6.0 * counts) * sums
    return float(sig.mean())
