"""Image layouts: ``(H, W)``, ``(H, W, C)`` and ``(N, H, W, C)`` seen as one shape.

Pure shape logic, shared by every target: views of an image as ``(N, H, W, C)``
or as rows ``(N, H, W*C)``, its spatial size and channel count, and the shape a
result of a given size takes in the caller's layout.
"""

from __future__ import annotations

import numpy as np


def as4d(a):
    """A view of an (H, W), (H, W, C) or (N, H, W, C) NumPy array as (N, H, W, C)."""
    if a.ndim == 2:
        return a[None, :, :, None]
    if a.ndim == 3:
        return a[None]
    return a


def rows_view(image: np.ndarray) -> tuple[np.ndarray, int]:
    """(N, H, W*C) view of a C-contiguous image, and C (the fused kernels' layout)."""
    v = as4d(image)
    n, h, w, c = v.shape
    return v.reshape(n, h, w * c), c


def spatial(image) -> tuple[int, int]:
    """(H, W) of an image in any layout (device arrays too)."""
    shape = tuple(image.shape)  # a device array's shape may not take negative indices
    return shape[1:3] if len(shape) == 4 else shape[:2]


def channels(image) -> int:
    """C of an image in any layout: 1 for (H, W)."""
    return 1 if image.ndim == 2 else tuple(image.shape)[-1]


def batch(image) -> int:
    """N of an image in any layout: 1 unless (N, H, W, C)."""
    return tuple(image.shape)[0] if image.ndim == 4 else 1


def shaped(ndim: int, n: int, h: int, w: int, c: int) -> tuple:
    """The shape of an ``n x h x w x c`` result in the layout of an ``ndim``-D input:
    a gray (H, W) image stays 2-D unless the result has several channels."""
    if ndim == 2 and c == 1:
        return (h, w)
    if ndim <= 3:
        return (h, w, c)
    return (n, h, w, c)
