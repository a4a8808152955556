"""Reference implementations named by SPEC.md, applied per channel in float64.

Slow and obviously correct: SciPy / scikit-image where SPEC names them, NumPy
formulas elsewhere. Results for "same dtype" operations are rounded and
saturated the way SPEC says, so integer comparisons allow +-1.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
import scipy.signal

SCHARR_D = np.array([-1.0, 0.0, 1.0])
SCHARR_S = np.array([3.0, 10.0, 3.0])


def per_channel(image: np.ndarray, fn) -> np.ndarray:
    """Apply a 2-D float64 function to every (H, W) plane of an image of any layout."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        return fn(a)
    if a.ndim == 3:
        return np.stack([fn(a[..., c]) for c in range(a.shape[2])], axis=-1)
    return np.stack([per_channel(x, fn) for x in a])


def to_dtype(ref: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        info = np.iinfo(dtype)
        return np.clip(np.rint(ref), info.min, info.max)
    return ref


def _gradmag(fn):
    return lambda a, **kw: np.hypot(fn(a, axis=0, **kw), fn(a, axis=1, **kw))


def scharr(a, axis, mode="reflect", cval=0.0):
    k = np.outer(SCHARR_D, SCHARR_S) if axis == 0 else np.outer(SCHARR_S, SCHARR_D)
    return ndi.correlate(a, k, mode=mode, cval=cval)


def correlate(a, k, mode="reflect", cval=0.0):
    if mode == "valid":
        return scipy.signal.correlate2d(a, k, "valid")
    return ndi.correlate(a, k, mode=mode, cval=cval)


def convolve(a, k, mode="reflect", cval=0.0):
    if mode == "valid":
        return scipy.signal.convolve2d(a, k, "valid")
    return ndi.convolve(a, k, mode=mode, cval=cval)


def edge(name):
    fn = {"sobel": ndi.sobel, "prewitt": ndi.prewitt, "scharr": scharr}[name]

    def f(a, axis=None, mode="reflect", cval=0.0):
        if axis is None:
            return np.hypot(fn(a, axis=0, mode=mode, cval=cval), fn(a, axis=1, mode=mode,
                                                                   cval=cval))
        return fn(a, axis=axis, mode=mode, cval=cval)
    return f
