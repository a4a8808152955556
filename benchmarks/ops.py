"""The one table of benchmarked operations: imgops next to its peers.

Each row: a name, the imgops call, and peer calls (OpenCV, SciPy, scikit-image,
PyTorch), each a function of the image. Peers that are not installed are skipped.
The same table drives the timing groups and the correctness smoke tests.
"""

from __future__ import annotations

import numpy as np

import imgops

K7 = np.random.default_rng(7).random((7, 7)).astype(np.float32)
K7 /= K7.sum()


def _cv():
    import cv2
    return cv2


def _ndi():
    import scipy.ndimage as ndi
    return ndi


def _torch():
    import torch
    torch.set_num_threads(2)
    return torch


def _nchw(a):
    t = _torch().from_numpy(np.ascontiguousarray(a))
    return t[None, None] if a.ndim == 2 else t.permute(2, 0, 1)[None]


def _back(t, a):
    """NCHW tensor back to the image's (H, W[, C]) layout, as NumPy."""
    x = t[0].permute(1, 2, 0).numpy()
    return x[..., 0] if a.ndim == 2 else x


def _spatial(a, *v):
    """SciPy per-axis parameters for (H, W) or (H, W, C) images (channels untouched)."""
    return tuple(v) + (0,) * (a.ndim - 2)


def _sobel_cv(a):
    cv2 = _cv()
    dx = cv2.Sobel(a, cv2.CV_32F, 1, 0, borderType=cv2.BORDER_REFLECT)
    dy = cv2.Sobel(a, cv2.CV_32F, 0, 1, borderType=cv2.BORDER_REFLECT)
    return cv2.magnitude(dx, dy)


def _sobel_ndi(a):
    ndi = _ndi()
    ax = (0, 1)
    return np.hypot(ndi.sobel(a.astype(np.float32), ax[0]), ndi.sobel(a.astype(np.float32), ax[1]))


def _ct_torch(a):
    torch = _torch()
    f = torch.nn.functional
    x = _nchw(a.astype(np.float32))
    c = x.shape[1]
    k = torch.from_numpy(imgops.bilinear_kernel(2).astype(np.float32))
    w = k[None, None].repeat(c, 1, 1, 1)
    return _back(f.conv_transpose2d(x, w, stride=2, padding=1, groups=c), a)


OPS = {
    "gaussian_s2": (lambda a: imgops.gaussian(a, 2.0), {
        # the same 17 taps as SciPy's truncate=4: ksize (0, 0) gives OpenCV 13 on uint8
        "opencv": lambda a: _cv().GaussianBlur(a, (17, 17), 2.0, borderType=_cv().BORDER_REFLECT),
        "scipy": lambda a: _ndi().gaussian_filter(a, _spatial(a, 2.0, 2.0)),
    }),
    "box_5": (lambda a: imgops.box(a, 5), {
        "opencv": lambda a: _cv().blur(a, (5, 5), borderType=_cv().BORDER_REFLECT),
        "scipy": lambda a: _ndi().uniform_filter(a, _spatial(a, 5, 5)),
    }),
    "correlate_7x7": (lambda a: imgops.correlate(a, K7), {
        "opencv": lambda a: _cv().filter2D(a, -1, K7, borderType=_cv().BORDER_REFLECT),
        "scipy": lambda a: _ndi().correlate(a, K7 if a.ndim == 2 else K7[..., None]),
    }),
    "median_3": (lambda a: imgops.median(a, 3), {
        "opencv": lambda a: _cv().medianBlur(a, 3),
        "scipy": lambda a: _ndi().median_filter(a, _spatial(a, 3, 3) if a.ndim == 2 else (3, 3, 1)),
    }),
    "median_5": (lambda a: imgops.median(a, 5), {
        "opencv": lambda a: _cv().medianBlur(a, 5),
        "scipy": lambda a: _ndi().median_filter(a, (5, 5) if a.ndim == 2 else (5, 5, 1)),
    }),
    "sobel_magnitude": (lambda a: imgops.sobel(a), {
        "opencv": _sobel_cv,
        "scipy": _sobel_ndi,
    }),
    "laplace": (lambda a: imgops.laplace(a), {
        "opencv": lambda a: _cv().Laplacian(a, _cv().CV_32F, borderType=_cv().BORDER_REFLECT),
        "scipy": lambda a: _ndi().laplace(a.astype(np.float32)),
    }),
    "bilateral_d9": (lambda a: imgops.bilateral(a, 25.0 if a.dtype == np.uint8 else 0.1, 1.5,
                                                radius=4), {
        "opencv": lambda a: _cv().bilateralFilter(a, 9, 25.0 if a.dtype == np.uint8 else 0.1,
                                                  1.5),
    }),
    "max_pool_2": (lambda a: imgops.max_pool(a, 2), {
        "torch": lambda a: _back(_torch().nn.functional.max_pool2d(
            _nchw(a.astype(np.float32)), 2), a),
        "skimage": lambda a: __import__("skimage.measure").measure.block_reduce(
            a, (2, 2) + (1,) * (a.ndim - 2), np.max),
    }),
    "avg_pool_2": (lambda a: imgops.avg_pool(a, 2), {
        "opencv": lambda a: _cv().resize(a, (a.shape[1] // 2, a.shape[0] // 2),
                                         interpolation=_cv().INTER_AREA),
        "torch": lambda a: _back(_torch().nn.functional.avg_pool2d(
            _nchw(a.astype(np.float32)), 2), a),
    }),
    "nearest_2x": (lambda a: imgops.upsample(a, 2, method="nearest"), {
        "opencv": lambda a: _cv().resize(a, None, fx=2, fy=2, interpolation=_cv().INTER_NEAREST),
        "torch": lambda a: _back(_torch().nn.functional.interpolate(
            _nchw(a.astype(np.float32)), scale_factor=2, mode="nearest"), a),
    }),
    "bilinear_2x": (lambda a: imgops.upsample(a, 2), {
        "opencv": lambda a: _cv().resize(a, None, fx=2, fy=2, interpolation=_cv().INTER_LINEAR),
        "torch": lambda a: _back(_torch().nn.functional.interpolate(
            _nchw(a.astype(np.float32)), scale_factor=2, mode="bilinear",
            align_corners=False), a),
        "skimage": lambda a: __import__("skimage.transform").transform.rescale(
            a, 2, order=1, channel_axis=-1 if a.ndim == 3 else None, anti_aliasing=False),
    }),
    "conv_transpose_s2k4": (lambda a: imgops.upsample(a, 2, method="transposed"), {
        "torch": _ct_torch,
    }),
}

# scipy / skimage peers are 10-300x slower: time them on these ops only
SLOW_PEERS = {"scipy", "skimage"}
