"""Convolution filters: correlate, convolve, gaussian, box, median and edge filters.

Each agrees with ``scipy.ndimage`` applied per channel in float64 with the same
``mode`` and ``cval``. Images are ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``;
uint8, uint16, float32 or float64.
"""

from __future__ import annotations

import numpy as np

from . import _dispatch, _validate
from ._shared.taps import gaussian_kernel1d

__all__ = ["correlate", "convolve", "gaussian", "box", "median", "sobel", "prewitt",
           "scharr", "laplace", "gaussian_laplace", "gaussian_kernel1d"]

_MODE_DOC = _validate.MODE_DOC


def _doc(f):
    f.__doc__ = f.__doc__.replace("%(mode)s", _MODE_DOC)
    return f


@_doc
def correlate(image: np.ndarray, kernel: np.ndarray, *, mode: str = "reflect",
              cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Correlate each channel with a 2-D kernel, as ``scipy.ndimage.correlate``.

    ``out[y, x] = sum over (i, j) of kernel[i, j] * image[y + i - cy, x + j - cx]``,
    with the kernel's centre ``(cy, cx) = (kh // 2, kw // 2)`` (SciPy's default
    origin, for even sizes too). Samples outside the image come from the border
    `mode`. Each channel, and each image of a batch, is filtered on its own. The
    result agrees with SciPy [1]_ in float64; in ``"valid"`` mode it equals
    ``scipy.signal.correlate2d(..., "valid")`` [2]_.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    kernel : array_like
        The 2-D weights ``(kh, kw)``, any size: a NumPy array or nested lists of real,
        finite numbers (bool, integer or float; used in float64).
    %(mode)s

        ``"valid"`` is also accepted: no padding, and an output of shape
        ``(H - kh + 1, W - kw + 1)``.
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image` (smaller in ``"valid"`` mode). Integer
        results are rounded to nearest and saturated to the dtype's range. A NaN in
        the image reaches every output whose ``kh x kw`` window holds it, under a zero
        weight too (where ``scipy.ndimage.correlate`` skips zero weights).

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `kernel` is not an array of real numbers; if `cval` is not a real number; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `kernel` is not 2-D, is empty or holds
        NaN or infinity; if in ``"valid"`` mode the image is smaller than the kernel; if
        `mode` or `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    convolve : The same with the kernel flipped.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.correlate(image[..., c], kernel, mode=mode,
       cval=cval)`` for each channel ``c``.
    .. [2] SciPy, ``scipy.signal.correlate2d(image[..., c], kernel, mode="valid")``.

    Examples
    --------
    >>> img = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1],
    ...                 [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], dtype=np.float64)
    >>> correlate(img, [[1, 0, 1], [0, 1, 0], [1, 0, 1]], mode="valid")
    array([[4., 3., 4.],
           [2., 4., 3.],
           [2., 3., 4.]])

    Integer results saturate instead of wrapping around:

    >>> correlate(np.full((2, 3), 200, np.uint8), [[1, 1]])
    array([[255, 255, 255],
           [255, 255, 255]], dtype=uint8)
    """
    return _dispatch.run("correlate", image, backend, kernel=kernel, mode=mode, cval=cval)


@_doc
def convolve(image: np.ndarray, kernel: np.ndarray, *, mode: str = "reflect",
             cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Convolve each channel with a 2-D kernel, as ``scipy.ndimage.convolve``.

    ``out[y, x] = sum over (i, j) of kernel[i, j] * image[y + cy - i, x + cx - j]``,
    with ``(cy, cx) = (kh // 2, kw // 2)``: a correlation with the flipped kernel,
    centred as SciPy's ``convolve`` centres even sizes. Samples outside the image
    come from the border `mode`. Each channel, and each image of a batch, is filtered
    on its own. The result agrees with SciPy [1]_ in float64; in ``"valid"`` mode it
    equals ``scipy.signal.convolve2d(..., "valid")`` [2]_.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    kernel : array_like
        The 2-D weights ``(kh, kw)``, any size: a NumPy array or nested lists of real,
        finite numbers (bool, integer or float; used in float64).
    %(mode)s

        ``"valid"`` is also accepted: no padding, and an output of shape
        ``(H - kh + 1, W - kw + 1)``.
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image` (smaller in ``"valid"`` mode). Integer
        results are rounded to nearest and saturated to the dtype's range. A NaN in
        the image reaches every output whose ``kh x kw`` window holds it, under a zero
        weight too.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `kernel` is not an array of real numbers; if `cval` is not a real number; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `kernel` is not 2-D, is empty or holds
        NaN or infinity; if in ``"valid"`` mode the image is smaller than the kernel; if
        `mode` or `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    correlate : The same without flipping the kernel.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.convolve(image[..., c], kernel, mode=mode,
       cval=cval)`` for each channel ``c``.
    .. [2] SciPy, ``scipy.signal.convolve2d(image[..., c], kernel, mode="valid")``.

    Examples
    --------
    An impulse gives the kernel back:

    >>> convolve(np.array([[0., 0., 1., 0., 0.]]), [[1., 10., 100.]], mode="constant")
    array([[  0.,   1.,  10., 100.,   0.]])
    """
    return _dispatch.run("convolve", image, backend, kernel=kernel, mode=mode, cval=cval)


@_doc
def gaussian(image: np.ndarray, sigma: float | tuple[float, float], *, truncate: float = 4.0,
             mode: str = "reflect", cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Smooth each channel with a Gaussian, as ``scipy.ndimage.gaussian_filter``.

    Two 1-D passes with SciPy's sampled, normalised Gaussian weights, of radius
    ``int(truncate * sigma + 0.5)`` on each axis. The result agrees with
    ``scipy.ndimage.gaussian_filter(sigma=(sy, sx), truncate=truncate)`` [1]_ in
    float64, per channel.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    sigma : float or (float, float)
        Standard deviation of the Gaussian in pixels, ``>= 0``: one number for both
        axes, or a pair ``(sy, sx)`` for the rows and the columns. 0 leaves that axis
        unsmoothed.
    truncate : float, optional
        Radius of the kernel in standard deviations, ``> 0``. Default 4.0.
    %(mode)s
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`; integer results are rounded to nearest and
        saturated. A NaN reaches the outputs within the kernel's radius of it.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `sigma` or `truncate` is not a real number; if `cval` is not a real number; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `sigma` is negative, not finite, or a
        sequence whose length is not 2; if `truncate` is not finite and positive; if `mode`
        or `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.gaussian_filter(image[..., c], sigma=(sy, sx),
       truncate=truncate, mode=mode, cval=cval)`` for each channel ``c``.

    Examples
    --------
    >>> out = gaussian(np.full((4, 5), 7, np.uint8), 2.0)
    >>> out.dtype, int(out.min()), int(out.max())
    (dtype('uint8'), 7, 7)

    With ``sigma = (0, 1)`` only axis 1 (``W``) is smoothed: an impulse spreads along
    its row:

    >>> gaussian(np.array([[0., 0., 1., 0., 0.]]), (0, 1.0), mode="constant").round(3)
    array([[0.054, 0.242, 0.399, 0.242, 0.054]])
    """
    return _dispatch.run("gaussian", image, backend, sigma=sigma, truncate=truncate,
                         mode=mode, cval=cval)


@_doc
def box(image: np.ndarray, size: int | tuple[int, int] = 3, *, mode: str = "reflect",
        cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Mean over a rectangular window, as ``scipy.ndimage.uniform_filter``.

    Each output is the mean of the ``ky x kx`` window around it (centred at
    ``(ky // 2, kx // 2)`` as in SciPy), samples outside the image coming from the
    border `mode`. Windows up to 9 use direct sums in one sweep; larger ones running
    sums in float64, whose cost does not depend on the window size. The result
    agrees with ``scipy.ndimage.uniform_filter(size=(ky, kx))`` [1]_ in float64, per
    channel.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    size : int or (int, int), optional
        Window size: one integer ``>= 1`` for both axes, or a pair ``(ky, kx)``.
        Default 3.
    %(mode)s
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`; integer results are rounded to nearest and
        saturated. A NaN reaches the outputs whose window holds it and no others
        (SciPy's running sums carry it on to the end of the row or column).

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `size` is not an integer or a pair of integers; if `cval` is not a real number; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `size` is smaller than 1 or a sequence
        whose length is not 2; if `mode` or `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.uniform_filter(image[..., c], size=(ky, kx),
       mode=mode, cval=cval)`` for each channel ``c``.

    Examples
    --------
    >>> box(np.arange(5.0)[None], (1, 3), mode="nearest")
    array([[0.33333333, 1.        , 2.        , 3.        , 3.66666667]])
    >>> box(np.array([[0., np.nan, 0., 0., 0.]]), (1, 3), mode="nearest")
    array([[nan, nan, nan,  0.,  0.]])
    """
    return _dispatch.run("box", image, backend, size=size, mode=mode, cval=cval)


@_doc
def median(image: np.ndarray, size: int = 3, *, mode: str = "reflect", cval: float = 0.0,
           backend: str = "auto") -> np.ndarray:
    """Median over a square window, exactly as ``scipy.ndimage.median_filter``.

    Each output is the median of the ``size x size`` window around it (centred at
    ``size // 2``), samples outside the image coming from the border `mode`. It is
    computed in the image's own dtype, so there is no rounding: the result equals
    ``scipy.ndimage.median_filter(size=(size, size))`` [1]_ exactly. For even sizes
    the upper of the two middle values is returned, as SciPy does.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    size : int, optional
        Side of the window, 1 to 101 (1 returns a copy). Default 3.
    %(mode)s
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode, cast to the
        image's dtype as SciPy casts it (rounded and clipped for integer images).
        Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`. A window holding a NaN gives NaN.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `size` is not an integer; if `cval` is not a real number; if ``backend="cpu"`` is
        given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `size` is not in [1, 101]; if `mode` or
        `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.median_filter(image[..., c], size=(size, size),
       mode=mode, cval=cval)`` for each channel ``c``.

    Examples
    --------
    >>> median(np.array([[1, 9, 2], [3, 4, 8], [7, 6, 5]], np.uint8), 3, mode="mirror")
    array([[4, 4, 4],
           [6, 5, 6],
           [4, 5, 5]], dtype=uint8)
    """
    return _dispatch.run("median", image, backend, size=size, mode=mode, cval=cval)


_EDGE_DOC = """{title}

    The gradient along an axis is the derivative ``[-1, 0, 1]`` along that axis,
    smoothed across it with the filter's weights (Sobel ``[1, 2, 1]``, Prewitt
    ``[1, 1, 1]``, Scharr ``[3, 10, 3]``; not normalised), computed as SciPy does
    [1]_. Axis 0 differentiates along the rows (``H``), axis 1 along the columns
    (``W``). With ``axis=None`` the result is the gradient magnitude
    ``hypot(g0, g1)``. Each channel, and each image of a batch, is filtered on its
    own.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    axis : {{None, 0, 1, -1, -2}}, optional
        The axis to differentiate along (-2 is 0 and -1 is 1), or None (default) for
        the magnitude over both axes.
    {mode}
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {{"auto", "cpu", "cuda"}}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout as `image`, dtype float32 (float64 for a float64 image): the
        signed gradient along `axis`, or the magnitude (``>= 0``) for ``axis=None``.
        A NaN reaches the outputs whose 3x3 window holds it.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or
        float64; if `axis` is not an integer or None; if `cval` is not a real number;
        if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `axis` is not in [-2, 1]; if
        `mode` or `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] SciPy: ``scipy.ndimage.sobel(image[..., c], axis=axis, mode=mode,
       cval=cval)`` and ``scipy.ndimage.prewitt`` likewise; Scharr:
       ``scipy.ndimage.correlate`` with ``numpy.outer([-1, 0, 1], [3, 10, 3])``
       (axis 0) or its transpose (axis 1). For ``axis=None``, ``numpy.hypot`` of
       the two axes' results.

    Examples
    --------
    >>> {name}(np.tile(np.arange(4.0), (3, 1)), axis=1)[1]
    array([{row}])
    """


def sobel(image: np.ndarray, *, axis: int | None = None, mode: str = "reflect",
          cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    return _dispatch.run("sobel", image, backend, axis=axis, mode=mode, cval=cval)


def prewitt(image: np.ndarray, *, axis: int | None = None, mode: str = "reflect",
            cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    return _dispatch.run("prewitt", image, backend, axis=axis, mode=mode, cval=cval)


def scharr(image: np.ndarray, *, axis: int | None = None, mode: str = "reflect",
           cval: float = 0.0, backend: str = "auto") -> np.ndarray:
    return _dispatch.run("scharr", image, backend, axis=axis, mode=mode, cval=cval)


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
    """Discrete Laplacian, as ``scipy.ndimage.laplace``.

    The second difference ``[1, -2, 1]`` along each axis, summed: the 5-point
    stencil. The result agrees with ``scipy.ndimage.laplace`` [1]_ in float64, per
    channel.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    %(mode)s
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout as `image`, dtype float32 (float64 for a float64 image). A NaN
        reaches the outputs whose 3x3 window holds it.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `cval` is not a real number; if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `mode` or `backend` is not one of the
        allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.laplace(image[..., c], mode=mode, cval=cval)`` for
       each channel ``c``.

    Examples
    --------
    >>> laplace(np.array([[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]]), mode="constant")
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    return _dispatch.run("laplace", image, backend, mode=mode, cval=cval)


@_doc
def gaussian_laplace(image: np.ndarray, sigma: float | tuple[float, float], *,
                     truncate: float = 4.0, mode: str = "reflect", cval: float = 0.0,
                     backend: str = "auto") -> np.ndarray:
    """Laplacian of Gaussian, as ``scipy.ndimage.gaussian_laplace``.

    The sum, over the two axes, of the second derivative of a Gaussian along that
    axis, smoothed with the Gaussian along the other; SciPy's weights and order of
    passes [1]_. A blob detector and edge detector (zero crossings).

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    sigma : float or (float, float)
        Standard deviation of the Gaussian in pixels, ``>= 0``: one number or a pair
        ``(sy, sx)``. 0 leaves that axis out, as SciPy does.
    truncate : float, optional
        Radius of the kernel in standard deviations, ``> 0``. Default 4.0.
    %(mode)s
    cval : float, optional
        Value of the samples outside the image in ``"constant"`` mode. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout as `image`, dtype float32 (float64 for a float64 image); uint16
        images are computed in float64, where float32 sums of 16-bit values would
        cancel. A NaN reaches the outputs within the kernel's radius of it.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `sigma` or `truncate` is not a real number; if `cval` is not a real number; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `sigma` is negative, not finite, or a
        sequence whose length is not 2; if `truncate` is not finite and positive; if `mode`
        or `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] SciPy, ``scipy.ndimage.gaussian_laplace(image[..., c], sigma=(sy, sx),
       truncate=truncate, mode=mode, cval=cval)`` for each channel ``c``.

    Examples
    --------
    A bright blob gives a negative response at its centre:

    >>> blob = np.zeros((9, 9)); blob[3:6, 3:6] = 1.0
    >>> out = gaussian_laplace(blob, 1.0)
    >>> bool(out[4, 4] < 0), out.dtype
    (True, dtype('float64'))

    On a constant image the response is close to 0 but not exactly 0, as in SciPy:
    the truncated kernel's weights do not sum to 0.

    >>> round(float(gaussian_laplace(np.ones((5, 5)), 1.0)[2, 2]), 6)
    -0.000144
    """
    return _dispatch.run("gaussian_laplace", image, backend, sigma=sigma,
                         truncate=truncate, mode=mode, cval=cval)
