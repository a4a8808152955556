"""Convolution filters: correlate, convolve, gaussian, box, median and edge filters.

Each agrees with ``scipy.ndimage`` applied per channel in float64 with the same
``mode`` and ``cval`` (see SPEC.md). Images are ``(H, W)``, ``(H, W, C)`` or
``(N, H, W, C)``; uint8, uint16, float32 or float64.
"""

from __future__ import annotations

import functools

import numpy as np

from . import _core, _cuda, _engine
from ._kernels import border, median_nets, rank

__all__ = ["correlate", "convolve", "gaussian", "box", "median", "sobel", "prewitt",
           "scharr", "laplace", "gaussian_laplace", "gaussian_kernel1d"]

_MODE_DOC = _core.MODE_DOC


def _doc(f):
    f.__doc__ = f.__doc__.replace("%(mode)s", _MODE_DOC)
    return f


@_doc
def correlate(image: np.ndarray, kernel: np.ndarray, *, mode: str = "reflect",
              cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Correlate each channel with a 2-D ``kernel`` (``scipy.ndimage.correlate``).

    Parameters
    ----------
    image : ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``; uint8, uint16, float32, float64.
    kernel : array_like, 2-D
        Finite weights. Even sizes centre at ``k // 2`` as in SciPy. A NaN in the
        image reaches every output whose ``kh x kw`` window holds it, zero weights
        included (SPEC's rule; ``scipy.ndimage.correlate`` skips zero weights).
    %(mode)s
        ``"valid"`` is also accepted: no padding, output ``(H-kh+1, W-kw+1)``.
    cval : float
        Value outside the image in ``"constant"`` mode.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    ndarray
        Same layout and dtype as ``image`` (integers rounded and saturated).

    Examples
    --------
    >>> img = np.array([[1,1,1,0,0],[0,1,1,1,0],[0,0,1,1,1],[0,0,1,1,0],[0,1,1,0,0]],
    ...                dtype=np.float64)
    >>> correlate(img, np.array([[1,0,1],[0,1,0],[1,0,1]]), mode="valid")
    array([[4., 3., 4.],
           [2., 4., 3.],
           [2., 3., 4.]])
    """
    k = _core.check_kernel(kernel)
    return _correlate_any(image, k, mode, cval, None, backend)


def _correlate_any(image, k, mode, cval, before, backend):
    """The one route for correlate and convolve: general kernels (not valid, not rank 1)
    on the CPU run fused on the caller's layout; the rest through the plane engine."""
    _core.check_mode(mode, allow_valid=True)
    if mode != "valid" and min(k.shape) > 1 and _engine.rank1_factors(k) is None \
            and _engine.on_cpu(image, backend):
        b = before if before is not None else (k.shape[0] // 2, k.shape[1] // 2)
        return _engine.fused_correlate2d(image, k, mode=mode, cval=cval, before=b)
    return _engine.apply(image, lambda p: _correlate_planes(p, k, mode, cval, before),
                         mode=mode, allow_valid=True, backend=backend)


def _correlate_planes(planes, k, mode, cval, before=None):
    if mode == "valid":
        h, w = planes.shape[1:]
        if h < k.shape[0] or w < k.shape[1]:
            raise ValueError(f"mode='valid' needs the image ({h}x{w}) at least as large as "
                             f"the kernel ({k.shape[0]}x{k.shape[1]})")
    return _engine.correlate2d(planes, k, mode, cval, before)


@_doc
def convolve(image: np.ndarray, kernel: np.ndarray, *, mode: str = "reflect",
             cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Convolve each channel with a 2-D ``kernel`` (``scipy.ndimage.convolve``).

    The kernel is flipped; even sizes centre as SciPy's ``convolve`` does. In
    ``"valid"`` mode the result equals ``scipy.signal.convolve2d(..., "valid")``.

    Parameters
    ----------
    image : ndarray
    kernel : array_like, 2-D
    %(mode)s
    cval : float
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> convolve(np.eye(3), np.array([[0., 1.], [0., 0.]]), mode="constant")
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    k = _core.check_kernel(kernel)
    flipped = np.ascontiguousarray(k[::-1, ::-1])
    before = ((k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2)
    return _correlate_any(image, flipped, mode, cval, before, backend)


def gaussian_kernel1d(sigma: float, truncate: float = 4.0, order: int = 0) -> np.ndarray:
    """SciPy's 1-D Gaussian weights (order 0) or second derivative (order 2)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * (x * x))  # SciPy's rounding, bit for bit
    phi = phi / phi.sum()
    if order == 0:
        return phi
    p = 1.0 / -(sigma * sigma)  # order 2: SciPy's q(x) = p + (p p) x^2, times phi
    return (p + (x * x) * (p * p)) * phi


def _sigmas(sigma):
    return _core.pair(sigma, "sigma", _core.check_float, low=0.0)


def _check_truncate(truncate):
    return _core.check_float(truncate, "truncate", low=0.0, low_open=True)


@_doc
def gaussian(image: np.ndarray, sigma: float | tuple[float, float], *, truncate: float = 4.0,
             mode: str = "reflect", cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Gaussian smoothing (``scipy.ndimage.gaussian_filter``).

    Parameters
    ----------
    image : ndarray
    sigma : float or (float, float)
        Standard deviation in pixels, per axis ``(sy, sx)``; 0 leaves that axis alone.
    truncate : float
        The kernel radius is ``int(truncate * sigma + 0.5)``.
    %(mode)s
    cval : float
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> out = gaussian(np.ones((4, 5), np.uint8) * 7, 2.0)
    >>> out.dtype, int(out.max())
    (dtype('uint8'), 7)
    """
    sy, sx = _sigmas(sigma)
    truncate = _check_truncate(truncate)
    if _engine.on_cpu(image, backend):  # both passes fused on the caller's layout
        wy, wx = (gaussian_kernel1d(s, truncate) if s > 1e-15 else np.ones(1)
                  for s in (sy, sx))
        return _engine.fused_two_pass(image, wy, wx, mode=mode, cval=cval, cval_x=cval,
                                      before=(wy.size // 2, wx.size // 2))
    passes = [(ax, gaussian_kernel1d(s, truncate)) for ax, s in ((0, sy), (1, sx)) if s > 1e-15]
    return _engine.apply(image, lambda p: _engine.separable(p, passes, mode, cval), mode=mode,
                         backend=backend)


@_doc
def box(image: np.ndarray, size: int | tuple[int, int] = 3, *, mode: str = "reflect",
        cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Mean over a ``size`` window (``scipy.ndimage.uniform_filter``).

    Windows up to 9 use direct sums in one fused sweep; larger ones running sums in
    float64, whose cost does not depend on the window size. A NaN reaches the
    outputs whose window holds it and no others (SciPy's running sums carry it to
    the end of the row or column).

    Parameters
    ----------
    image : ndarray
    size : int or (int, int)
        Window ``(ky, kx)``, each >= 1.
    %(mode)s
    cval : float
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> box(np.arange(5.0)[None], (1, 3), mode="nearest")
    array([[0.33333333, 1.        , 2.        , 3.        , 3.66666667]])
    """
    ky, kx = _core.pair(size, "size", low=1)
    if max(ky, kx) <= _BOX_DIRECT and _engine.on_cpu(image, backend):
        # small windows: direct sums, both passes fused on the caller's layout; uint8 in
        # exact integer sums (one rounding, of the exact mean) when cval is an integer
        if getattr(image, "dtype", None) == np.uint8 and (mode != "constant" or (
                float(cval).is_integer() and 0 <= cval <= 255)):
            c = int(cval) if mode == "constant" else 0
            return _engine.fused_two_pass(image, np.ones(ky), np.ones(kx), mode=mode,
                                          cval=c, cval_x=c * ky, before=(ky // 2, kx // 2),
                                          divisor=ky * kx)
        return _engine.fused_two_pass(image, np.full(ky, 1.0 / ky), np.full(kx, 1.0 / kx),
                                      mode=mode, cval=cval, cval_x=cval,
                                      before=(ky // 2, kx // 2))
    return _engine.apply(image, lambda p: _engine.box(p, (ky, kx), mode, cval), mode=mode,
                         backend=backend)


_BOX_DIRECT = 9  # up to this window, direct sums in one fused sweep beat running sums


_MEDIAN_MAX = 101


def _network_max(image) -> int:
    """Largest window the fused selection networks take (uint8 7x7: the histogram wins)."""
    dt = getattr(image, "dtype", None)
    return 6 if dt is not None and np.dtype(dt) == np.uint8 else 7


def _median_fused(image, k, mode, cval):
    """3x3 to 7x7 medians on the caller's layout in the image's own dtype (CPU)."""
    _core.check_mode(mode)
    image = _core.check_image(image)
    dt = _core.native(image.dtype)
    src = np.ascontiguousarray(image, dtype=dt)
    out = np.empty_like(src)
    s3, c = _engine._rows_view(src)
    o3, _ = _engine._rows_view(out)
    cv = dt.type(_median_cval(cval, dt))
    if k == 3:
        rank.median3_hwc(s3, c, _core.MODES[mode], cv, dt.kind == "f", o3)
    elif k == 5:  # rank.UNROLLED: the network as straight-line code
        median_nets.median5_hwc(s3, c, _core.MODES[mode], cv, o3)
    else:
        rank.median_network_hwc(s3, k, _median_net(k), (k * k) // 2, c, _core.MODES[mode],
                                cv, o3)
    return out


def _median_cval(cval, dt):
    """cval in the image's own dtype, as SciPy casts it."""
    if dt.kind == "u":
        info = np.iinfo(dt)
        return min(max(round(cval), info.min), info.max)
    return cval


@functools.cache
def _median_net(k: int) -> np.ndarray:
    return rank.selection_network(k * k, (k * k) // 2)


@_doc
def median(image: np.ndarray, size: int = 3, *, mode: str = "reflect", cval: float = 0.0,
           backend: str = "auto") -> np.ndarray:
    """Exact median over a ``size x size`` window (``scipy.ndimage.median_filter``).

    Computed in the image's own dtype (no rounding). For even sizes the upper of the
    two middle values is returned, as SciPy does. A window holding NaN gives NaN.

    Parameters
    ----------
    image : ndarray
    size : int
        Window side, 1 to 101.
    %(mode)s
    cval : float
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> median(np.array([[1, 9, 2], [3, 4, 8], [7, 6, 5]], np.uint8), 3, mode="mirror")
    array([[4, 4, 4],
           [6, 5, 5],
           [6, 6, 6]], dtype=uint8)
    """
    k = _core.check_int(size, "size", low=1, high=_MEDIAN_MAX)
    if 2 <= k <= _network_max(image) and _engine.on_cpu(image, backend):
        return _median_fused(image, k, mode, cval)

    def body(planes):
        dt = planes.dtype
        cv = _median_cval(cval, dt)
        if k == 1:
            return planes
        out = _engine.empty_like(planes)
        if _cuda.is_device(planes):
            halo = (k // 2, k - 1 - k // 2) * 2
            if k * k > rank.CUDA_LOCAL or not _cuda.launch_tiled(
                    rank.cuda_tiled(dt.name).median, out.shape, halo,
                    lambda th, tw, tr, tc: tr * tc, dt.itemsize, planes, k,
                    _core.MODES[mode], dt.type(cv), out):
                _cuda.launch(rank.cuda_kernels().median, planes.shape[::-1], planes, k,
                             _core.MODES[mode], dt.type(cv), out)
            return out
        padded = border.pad(planes, k // 2, k - 1 - k // 2, k // 2, k - 1 - k // 2,
                            _core.MODES[mode], cv)
        if dt == np.uint8 and k >= 7:
            rank.median_hist_u8(padded, k, out)
        else:
            rank.median_select(padded, k, out)
        return out

    return _engine.apply(image, body, mode=mode, backend=backend, plane_dtype="native")


# ----------------------------------------------------------------------- edge filters
_DERIV = np.array([-1.0, 0.0, 1.0])
_SMOOTH = {"sobel": np.array([1.0, 2.0, 1.0]), "prewitt": np.array([1.0, 1.0, 1.0]),
           "scharr": np.array([3.0, 10.0, 3.0])}


def _gradient(planes, name, axis, mode, cval):
    """Derivative along ``axis``, smoothing along the other.

    sobel and prewitt follow SciPy's chain (derivative pass, then smoothing pass,
    each extended with cval); scharr is the 2-D correlation SPEC names.
    """
    smooth = _SMOOTH[name]
    if name == "scharr":
        k = np.outer(_DERIV, smooth) if axis == 0 else np.outer(smooth, _DERIV)
        return _engine.correlate2d(planes, k, mode, cval)
    return _engine.separable(planes, [(axis, _DERIV), (1 - axis, smooth)], mode, cval)


def _edge(image, name, axis, mode, cval, backend):
    if axis is not None:
        axis = _core.check_int(axis, "axis", low=-2, high=1) % 2
    smooth = _SMOOTH[name]
    # The fused sweep runs the column pass first: exact for scharr's 2-D kernels in every
    # mode, and for SciPy's sobel/prewitt chain unless a nonzero cval meets the border.
    exact = name == "scharr" or mode != "constant" or cval == 0
    if axis is None and exact and _engine.on_cpu(image, backend):
        cvx_b = cval * smooth.sum() if name == "scharr" else cval
        return _engine.fused_gradient(image, _DERIV, smooth, mode=mode, cval=cval,
                                      cvx_a=0.0 if name == "scharr" else cval, cvx_b=cvx_b)

    def body(planes):
        if exact:  # each gradient a column pass then a row pass: one launch on a GPU
            grads = [_engine.centered(_DERIV, smooth, 0.0 if name == "scharr" else cval),
                     _engine.centered(smooth, _DERIV,
                                      cval * smooth.sum() if name == "scharr" else cval)]
            if axis is not None:
                grads = grads[axis:axis + 1]
            out = _engine.pairs(planes, grads[0], grads[1] if len(grads) > 1 else None,
                                "hypot", mode, cval, tiled_only=False)
            if out is not None:
                return out
        if axis is not None:
            return _gradient(planes, name, axis, mode, cval)
        return _engine.combine(_gradient(planes, name, 0, mode, cval),
                               _gradient(planes, name, 1, mode, cval), "hypot")

    return _engine.apply(image, body, out_dtype="float", mode=mode, backend=backend)


_EDGE_DOC = """{title}

    Parameters
    ----------
    image : ndarray
    axis : {{None, 0, 1}}
        0 differentiates along rows (H), 1 along columns (W); None gives the
        magnitude ``hypot(d0, d1)``.
    {mode}
    cval : float
    backend : {{"auto", "cpu", "cuda"}}

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), same layout as ``image``.

    Examples
    --------
    >>> {name}(np.tile(np.arange(4.0), (3, 1)), axis=1)[1]
    array([{row}])
    """


def sobel(image: np.ndarray, *, axis: int | None = None, mode: str = "reflect",
          cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    return _edge(image, "sobel", axis, mode, cval, backend)


def prewitt(image: np.ndarray, *, axis: int | None = None, mode: str = "reflect",
            cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    return _edge(image, "prewitt", axis, mode, cval, backend)


def scharr(image: np.ndarray, *, axis: int | None = None, mode: str = "reflect",
           cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    return _edge(image, "scharr", axis, mode, cval, backend)


sobel.__doc__ = _EDGE_DOC.format(title="Sobel gradient (``scipy.ndimage.sobel``).",
                                 mode=_MODE_DOC, name="sobel", row="4., 8., 8., 4.")
prewitt.__doc__ = _EDGE_DOC.format(title="Prewitt gradient (``scipy.ndimage.prewitt``).",
                                   mode=_MODE_DOC, name="prewitt", row="3., 6., 6., 3.")
scharr.__doc__ = _EDGE_DOC.format(
    title="Scharr gradient: 3x3 kernels, derivative [-1, 0, 1], smoothing [3, 10, 3].",
    mode=_MODE_DOC, name="scharr", row="16., 32., 32., 16.")


@_doc
def laplace(image: np.ndarray, *, mode: str = "reflect", cval: float = 0.0,
            backend: str = "auto") -> np.ndarray:
    """Discrete Laplacian (``scipy.ndimage.laplace``): [1, -2, 1] along each axis, summed.

    Parameters
    ----------
    image : ndarray
    %(mode)s
    cval : float
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    ndarray
        float32 (float64 for float64 input).

    Examples
    --------
    >>> laplace(np.array([[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]]), mode="constant")
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    d2 = np.array([1.0, -2.0, 1.0])
    if _engine.on_cpu(image, backend):
        return _engine.fused_laplace(image, mode=mode, cval=cval)

    def body(planes):  # d2 down the columns + d2 along the rows (each extended with cval)
        return _engine.pairs(planes, _engine.centered(d2, [1.0], cval),
                             _engine.centered([1.0], d2, cval), "add", mode, cval,
                             tiled_only=False)

    return _engine.apply(image, body, out_dtype="float", mode=mode, backend=backend)


@_doc
def gaussian_laplace(image: np.ndarray, sigma: float | tuple[float, float], *,
                     truncate: float = 4.0, mode: str = "reflect", cval: float = 0.0,
                     backend: str = "auto") -> np.ndarray:
    """Laplacian of Gaussian (``scipy.ndimage.gaussian_laplace``).

    The sum over both axes of the second Gaussian derivative along that axis,
    smoothed along the other.

    Parameters
    ----------
    image : ndarray
    sigma : float or (float, float)
    truncate : float
    %(mode)s
    cval : float
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    ndarray
        float32 (float64 for float64 input); uint16 input is computed in float64.

    Examples
    --------
    >>> float(gaussian_laplace(np.ones((5, 5)), 1.0).max()) < 1e-12
    True
    """
    sy, sx = _sigmas(sigma)
    truncate = _check_truncate(truncate)

    def taps(s, order):  # SciPy skips an axis whose sigma is 0, whatever its order
        return gaussian_kernel1d(s, truncate, order) if s > 1e-15 else np.ones(1)

    def body(planes):  # each term a column pass then a row pass (SciPy's chain)
        return _engine.pairs(planes, _engine.centered(taps(sy, 2), taps(sx, 0), cval),
                             _engine.centered(taps(sy, 0), taps(sx, 2), cval), "add", mode,
                             cval, tiled_only=False)

    # uint16 in float64: float32 taps miss by ~2e-4 where 16-bit values cancel (flat areas)
    return _engine.apply(image, body, out_dtype="float", mode=mode, backend=backend,
                         plane_dtype="wide")
