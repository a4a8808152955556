"""Immerkaer's noise estimate: the sums over an image (or a chunk of one) and the
formula that finishes them, for the in-memory estimate and the Dask reduction alike.

NumPy, not a compiled kernel: it reads the image a few times and is a small part of
any denoising call, and it costs no compilation on the first run."""

import math

import numpy as np

STRIP = 256  # rows per step: temporaries of a few MB


def immerkaer_sums(image4d: np.ndarray, finite_only: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``|I * N|`` over the valid region (where the 3x3 mask fits) and their
    numbers of terms, per batch item and channel: two (N, C) arrays, float64 and int64.
    ``N = v v^T`` with ``v = (1, -2, 1)``: the vertical second difference, then the
    horizontal one. Integer images are summed exactly (int64); float images in float64,
    where a NaN or infinity makes the sums NaN, unless ``finite_only`` leaves the terms
    that are not finite out of both sums and counts.

    ``image4d`` is shaped (N, H, W, C).
    """
    n, h, w, c = image4d.shape
    sums = np.zeros((n, c))
    counts = np.zeros((n, c), np.int64)
    if h < 3 or w < 3:
        return sums, counts
    exact = image4d.dtype.kind in "ui"
    for y0 in range(0, h - 2, STRIP):
        y1 = min(h - 2, y0 + STRIP)
        s = image4d[:, y0:y1 + 2].astype(np.int64 if exact else np.float64)
        with np.errstate(invalid="ignore"):  # inf - inf: NaN, a term that is not finite
            t = s[:, :-2] - 2 * s[:, 1:-1] + s[:, 2:]
            u = np.abs(t[:, :, :-2] - 2 * t[:, :, 1:-1] + t[:, :, 2:])
        if finite_only and not exact:
            ok = u < np.inf
            sums += np.where(ok, u, 0.0).sum(axis=(1, 2))
            counts += ok.sum(axis=(1, 2))
        else:
            sums += u.sum(axis=(1, 2))
            counts += u.shape[1] * u.shape[2]
    return sums, counts


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
