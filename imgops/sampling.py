"""Pooling, resizing, down/upsampling and transposed convolution.

References are PyTorch (``torch.nn.functional``) on the image moved to
``(N, C, H, W)`` in float64, rounded and saturated back to the input's dtype.
"""

from __future__ import annotations

import numpy as np

from . import _dispatch, _layout, _validate
from ._ops import DOWNSAMPLE_METHODS, RESIZE_METHODS, UPSAMPLE_METHODS
from ._shared import taps

__all__ = ["max_pool", "avg_pool", "resize", "downsample", "upsample", "conv_transpose",
           "bilinear_kernel", "RESIZE_METHODS", "DOWNSAMPLE_METHODS", "UPSAMPLE_METHODS"]


def _check_factor(factor) -> int:
    return _validate.check_int(factor, "factor", low=1)


def _spatial(image) -> tuple[int, int]:
    """(H, W) of a checked image (NumPy, device or dask array)."""
    if not _dispatch.is_dask_array(image):
        _validate.check_image(image, device=_dispatch.is_device_array(image))
    return _layout.spatial(image)


def max_pool(image: np.ndarray, size: int | tuple[int, int] = 2, *,
             stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
             ceil_mode: bool = False, backend: str = "auto") -> np.ndarray:
    """Maximum over sliding windows, as ``torch.nn.functional.max_pool2d``.

    Each output is the maximum of a ``kh x kw`` window; windows start at
    ``-padding`` and step by `stride`. The padding never wins (it acts as -inf).
    Each channel, and each image of a batch, is pooled on its own. The result
    equals PyTorch's ``max_pool2d`` with dilation 1 [1]_ on the image moved to
    ``(N, C, H, W)``.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    size : int or (int, int), optional
        Window size ``(kh, kw)``, each ``>= 1``; one integer for both. Default 2.
    stride : int or (int, int), optional
        Step between windows, each ``>= 1``. Default: `size` (windows side by side).
    padding : int or (int, int), optional
        Implicit padding on both sides of each axis, each ``>= 0`` and at most half
        the window (``2 * padding <= size``). Default 0.
    ceil_mode : bool, optional
        If True, the output size is rounded up, adding a last, partial window
        where the windows do not fit exactly, as PyTorch does (never one that would
        start in the right-hand padding). Default False.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`, with spatial size
        ``(Ho, Wo)``, ``Ho = floor((H + 2 * ph - kh) / sh) + 1`` (``ceil`` instead of
        ``floor`` with `ceil_mode`), likewise ``Wo``.
        Exact (values are selected, not computed). A window holding a NaN gives NaN.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `size`, `stride` or `padding` is not an integer or a pair of integers; if
        `ceil_mode` is not a bool; if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `size` or `stride` is smaller than 1,
        `padding` negative or larger than half the window, or one of them a sequence whose
        length is not 2; if the window does not fit in the padded image (no output); if
        `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    avg_pool : The mean over the same windows.
    downsample : Pooling by an integer factor, with ``ceil_mode=True``.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.max_pool2d(x, size, stride, padding,
       ceil_mode=ceil_mode)``.

    Examples
    --------
    >>> max_pool(np.arange(16, dtype=np.uint8).reshape(4, 4))
    array([[ 5,  7],
           [13, 15]], dtype=uint8)
    >>> max_pool(np.arange(25.0).reshape(5, 5), 3, stride=2, padding=1)
    array([[ 6.,  8.,  9.],
           [16., 18., 19.],
           [21., 23., 24.]])
    """
    return _dispatch.run("max_pool", image, backend, size=size, stride=stride,
                         padding=padding, ceil_mode=ceil_mode)


def avg_pool(image: np.ndarray, size: int | tuple[int, int] = 2, *,
             stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
             ceil_mode: bool = False, count_include_pad: bool = True,
             backend: str = "auto") -> np.ndarray:
    """Mean over sliding windows, as ``torch.nn.functional.avg_pool2d``.

    Each output is the mean of a ``kh x kw`` window; windows start at ``-padding``
    and step by `stride`, and the padding counts as zeros. Each channel, and each
    image of a batch, is pooled on its own. The result agrees with PyTorch's
    ``avg_pool2d`` [1]_ on the image moved to ``(N, C, H, W)`` in float64.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    size : int or (int, int), optional
        Window size ``(kh, kw)``, each ``>= 1``; one integer for both. Default 2.
    stride : int or (int, int), optional
        Step between windows, each ``>= 1``. Default: `size` (windows side by side).
    padding : int or (int, int), optional
        Implicit padding on both sides of each axis, each ``>= 0`` and at most half
        the window (``2 * padding <= size``). Default 0.
    ceil_mode : bool, optional
        If True, the output size is rounded up, adding a last, partial window
        where the windows do not fit exactly, as PyTorch does (never one that would
        start in the right-hand padding). Default False.
    count_include_pad : bool, optional
        If True (default, as PyTorch), divide by the window's size including the
        padding; if False, by the number of image pixels in the window.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`, with spatial size
        ``(Ho, Wo)``, ``Ho = floor((H + 2 * ph - kh) / sh) + 1`` (``ceil`` instead of
        ``floor`` with `ceil_mode`), likewise ``Wo``.
        Integer results are rounded to nearest and saturated. A window holding a NaN
        gives NaN.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `size`, `stride` or `padding` is not an integer or a pair of integers; if
        `ceil_mode` is not a bool; if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `size` or `stride` is smaller than 1,
        `padding` negative or larger than half the window, or one of them a sequence whose
        length is not 2; if the window does not fit in the padded image (no output); if
        `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    max_pool : The maximum over the same windows.
    downsample : Pooling by an integer factor, with ``ceil_mode=True``.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.avg_pool2d(x, size, stride, padding,
       ceil_mode=ceil_mode, count_include_pad=count_include_pad)``.

    Examples
    --------
    >>> avg_pool(np.arange(16.0).reshape(4, 4))
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    >>> avg_pool(np.ones((2, 2)), 2, padding=1, count_include_pad=False)
    array([[1., 1.],
           [1., 1.]])
    """
    return _dispatch.run("avg_pool", image, backend, size=size, stride=stride,
                         padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)


def resize(image: np.ndarray, shape: tuple[int, int], *, method: str = "bilinear",
           align_corners: bool = False, backend: str = "auto") -> np.ndarray:
    """Resize to a given height and width, as ``torch.nn.functional.interpolate``.

    Both axes are resampled independently, each channel and each image of a batch
    on its own. The source positions are computed exactly, in integers or float64:
    PyTorch computes its scale factor in float32, which puts its nearest and
    bilinear sampling one pixel off for a few size pairs; otherwise the result
    agrees with ``interpolate(size=shape, mode=method)`` [1]_ on the image moved to
    ``(N, C, H, W)`` in float64.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    shape : (int, int)
        The output's ``(height, width)``, each ``>= 1``; larger or smaller than the
        input's, independently.
    method : {"bilinear", "nearest", "nearest-exact", "area"}, optional
        PyTorch's modes. ``"bilinear"`` (default): linear interpolation between the
        two nearest source pixels on each axis, without antialiasing.
        ``"nearest"``: the source pixel ``floor(o * in / out)``. ``"nearest-exact"``:
        the source pixel ``floor((o + 0.5) * in / out)``. ``"area"``: the mean of the
        source pixels ``floor(o * in / out)`` to ``ceil((o + 1) * in / out) - 1``
        (adaptive average pooling).
    align_corners : bool, optional
        ``"bilinear"`` only: if True, the centres of the corner pixels of the input
        and the output coincide; if False (default), their outer edges do.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`, with spatial size `shape`. Integer results
        are rounded to nearest and saturated; the nearest methods copy values
        exactly. A NaN reaches the outputs that read it (for ``"bilinear"``, as in
        PyTorch, also where its weight is 0).

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        an element of `shape` is not an integer; if ``backend="cpu"`` is given a device
        array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `shape` is not a pair, or an element is
        smaller than 1; if `method` is not one of the allowed values; if `align_corners` is
        True with a `method` other than ``"bilinear"``; if `backend` is not one of the
        allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    downsample, upsample : Resizing by an integer factor.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.interpolate(x, size=shape, mode=method,
       align_corners=align_corners)`` (``align_corners`` for ``"bilinear"`` only,
       ``antialias=False``).

    Examples
    --------
    >>> resize(np.array([[0.0, 1.0]]), (1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]])
    >>> resize(np.array([[0.0, 3.0]]), (1, 4), align_corners=True)
    array([[0., 1., 2., 3.]])
    """
    return _dispatch.run("resize", image, backend, shape=shape, method=method,
                         align_corners=align_corners)


def downsample(image: np.ndarray, factor: int = 2, *, method: str = "area",
               backend: str = "auto") -> np.ndarray:
    """Shrink by an integer factor, to ``(ceil(H / factor), ceil(W / factor))``.

    ``"max"`` and ``"avg"`` pool with ``size = stride = factor`` and
    ``ceil_mode=True`` (:func:`max_pool`, :func:`avg_pool`), so a last, partial
    window covers the rows and columns left over; ``"area"``, ``"nearest"`` and
    ``"bilinear"`` are :func:`resize` to the output shape. Each agrees with the
    PyTorch operation it stands for [1]_.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    factor : int, optional
        The shrinking factor, ``>= 1`` (1 returns a copy). Default 2.
    method : {"area", "max", "avg", "nearest", "bilinear"}, optional
        ``"area"`` (default): the mean over each source area (adaptive average
        pooling, which equals ``"avg"`` when `factor` divides the size).
        ``"max"``: the maximum of each ``factor x factor`` block. ``"avg"``: the
        mean of the image pixels of each block (partial blocks at the bottom and
        right included). ``"nearest"``: one source pixel per block, without
        averaging (fast, but it aliases). ``"bilinear"``: linear interpolation,
        without antialiasing.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`, with spatial size
        ``(ceil(H / factor), ceil(W / factor))``. Integer results are rounded to
        nearest and saturated.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `factor` is not an integer; if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `factor` is smaller than 1; if `method`
        is not one of the allowed values; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    upsample : The opposite direction.
    resize : Any output shape.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.max_pool2d`` and ``avg_pool2d`` (kernel
       size and stride `factor`, ``ceil_mode=True``) for ``"max"`` and ``"avg"``;
       ``interpolate(size=(ceil(H / f), ceil(W / f)), mode=method)`` for the others
       (``mode="area"``, ``"nearest"``, ``"bilinear"``).

    Examples
    --------
    >>> downsample(np.arange(16.0).reshape(4, 4), 2, method="max")
    array([[ 5.,  7.],
           [13., 15.]])
    >>> downsample(np.ones((5, 7), np.uint8), 2).shape
    (3, 4)
    """
    f = _check_factor(factor)
    _validate.check_choice(method, "method", DOWNSAMPLE_METHODS)
    if method == "max":
        return max_pool(image, f, ceil_mode=True, backend=backend)
    if method == "avg":
        return avg_pool(image, f, ceil_mode=True, backend=backend)
    h, w = _spatial(image)
    return resize(image, (-(-h // f), -(-w // f)), method=method, backend=backend)


def bilinear_kernel(factor: int) -> np.ndarray:
    """The FCN bilinear upsampling filter for an integer factor.

    The kernel that makes a transposed convolution with stride `factor` (and
    padding ``factor // 2``) a bilinear upsampling, as in fully convolutional
    networks [1]_: size ``k = 2 * factor - factor % 2``, centre ``c = factor - 1``
    for odd ``k`` and ``factor - 0.5`` for even ``k``, and weights
    ``w[i, j] = (1 - |i - c| / factor) * (1 - |j - c| / factor)``.

    Parameters
    ----------
    factor : int
        The upsampling factor, ``>= 1``.

    Returns
    -------
    ndarray
        float64, shape ``(k, k)``.

    Raises
    ------
    TypeError
        If `factor` is not an integer.
    ValueError
        If `factor` is smaller than 1.

    See Also
    --------
    upsample : ``method="transposed"`` uses this kernel by default.
    conv_transpose : The transposed convolution it is made for.

    References
    ----------
    .. [1] J. Long, E. Shelhamer and T. Darrell, "Fully convolutional networks for
       semantic segmentation", CVPR 2015 (the ``bilinear`` weight filler of their
       Caffe models).

    Examples
    --------
    >>> bilinear_kernel(2)[0]
    array([0.0625, 0.1875, 0.1875, 0.0625])
    >>> bilinear_kernel(3).shape
    (5, 5)
    """
    return taps.bilinear_kernel(_check_factor(factor))


def upsample(image: np.ndarray, factor: int = 2, *, method: str = "bilinear",
             kernel: np.ndarray | None = None, backend: str = "auto") -> np.ndarray:
    """Enlarge by an integer factor, to ``(factor * H, factor * W)``.

    ``"nearest"`` and ``"bilinear"`` are :func:`resize` to the output shape;
    ``"transposed"`` is :func:`conv_transpose` with `kernel` (default
    :func:`bilinear_kernel` of `factor`), ``stride=factor`` and
    ``padding=factor // 2``, which equals bilinear upsampling away from the borders
    (near them, the missing neighbours count as 0). Each agrees with the PyTorch
    operation it stands for [1]_.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    factor : int, optional
        The enlarging factor, ``>= 1`` (1 returns a copy). Default 2.
    method : {"bilinear", "nearest", "transposed"}, optional
        ``"bilinear"`` (default): linear interpolation (``align_corners=False``).
        ``"nearest"``: each pixel repeated ``factor x factor`` times.
        ``"transposed"``: a transposed convolution with `kernel`.
    kernel : array_like, optional
        ``"transposed"`` only: the 2-D kernel, real and finite, applied to each
        channel alone. The output is ``(factor * H, factor * W)`` for a kernel of
        size ``2 * factor - factor % 2`` (as :func:`bilinear_kernel`); other sizes
        give :func:`conv_transpose`'s output size. Default: ``bilinear_kernel(factor)``.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`, with spatial size
        ``(factor * H, factor * W)`` (see `kernel`). Integer results are rounded to
        nearest and saturated.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `factor` is not an integer, or `kernel` not an array of real numbers; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `factor` is smaller than 1; if `method`
        is not one of the allowed values; if `kernel` is given with a `method` other than
        ``"transposed"``, or is not 2-D, empty, or holds NaN or infinity; if `backend` is
        not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    downsample : The opposite direction.
    resize : Any output shape.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.interpolate(x, size=(f * H, f * W),
       mode=method)`` and ``conv_transpose2d(x, kernel, stride=f, padding=f // 2,
       groups=C)``.

    Examples
    --------
    >>> upsample(np.array([[0.0, 4.0]]), 2, method="nearest")
    array([[0., 0., 4., 4.],
           [0., 0., 4., 4.]])
    >>> upsample(np.array([[0.0, 4.0]]), 2)[0]
    array([0., 1., 3., 4.])
    """
    f = _check_factor(factor)
    _validate.check_choice(method, "method", UPSAMPLE_METHODS)
    if method != "transposed":
        if kernel is not None:
            raise ValueError("kernel applies to method='transposed' only")
        h, w = _spatial(image)
        return resize(image, (f * h, f * w), method=method, backend=backend)
    k = bilinear_kernel(f) if kernel is None else _validate.check_kernel(kernel)
    return conv_transpose(image, k, stride=f, padding=f // 2, backend=backend)


def conv_transpose(image: np.ndarray, kernel: np.ndarray, *, stride: int | tuple[int, int] = 2,
                   padding: int | tuple[int, int] = 0,
                   output_padding: int | tuple[int, int] = 0,
                   bias: float | np.ndarray | None = None, backend: str = "auto") -> np.ndarray:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    Each input pixel adds the kernel, scaled by its value, to the output at
    ``stride`` times its position; ``padding`` then crops that many rows and
    columns from each side, and ``output_padding`` adds some on the bottom and right.
    A 2-D kernel acts on each channel alone (PyTorch's ``groups=C``); a 4-D weight
    ``(C_in, C_out, kh, kw)`` mixes the channels (``groups=1``) and gives ``C_out``
    channels. The result agrees with PyTorch's ``conv_transpose2d`` [1]_ on the image
    moved to ``(N, C, H, W)`` in float64.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    kernel : array_like
        2-D ``(kh, kw)``, or 4-D ``(C_in, C_out, kh, kw)`` with ``C_in`` the number
        of channels of `image` (1 for a 2-D image); real and finite.
    stride : int or (int, int), optional
        Upsampling step, each ``>= 1``. Default 2.
    padding : int or (int, int), optional
        Rows and columns cropped from each side, each ``>= 0``. Default 0.
    output_padding : int or (int, int), optional
        Rows and columns added at the bottom and right, each ``>= 0`` and smaller
        than `stride`. Default 0.
    bias : float or array_like, optional
        Added to every output: one number, or one per output channel. Finite.
        Default None (no bias).
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        The input's dtype (integer results rounded to nearest and saturated), of
        spatial size ``((H - 1) * sh - 2 * ph + kh + oph, (W - 1) * sw - 2 * pw + kw
        + opw)``; the input's layout, with ``C_out`` channels for a 4-D kernel (a
        gray ``(H, W)`` image with ``C_out > 1`` gains a channel axis).

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `kernel` holds something other than real numbers; if `stride`, `padding` or
        `output_padding` is not an integer or a pair of integers; if ``backend="cpu"`` is
        given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `kernel` is not a 2-D or 4-D array, is
        empty or holds NaN or infinity; if a 4-D kernel's ``C_in`` differs from the image's
        number of channels; if `stride` is smaller than 1, `padding` or `output_padding`
        negative, or `output_padding` not smaller than `stride`; if `padding` leaves no
        output; if `bias` is not finite or does not hold one value or ``C_out`` values; if
        `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    upsample : ``method="transposed"``.
    bilinear_kernel : The kernel for bilinear upsampling.
    imgops.nn.conv_transpose2d : The same on PyTorch's ``(N, C, H, W)`` layout.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.conv_transpose2d(x, weight, bias, stride,
       padding, output_padding, groups)``, with ``weight`` the kernel broadcast to
       ``(C, 1, kh, kw)`` and ``groups=C`` for a 2-D kernel.

    Examples
    --------
    >>> conv_transpose(np.array([[1.0, 2.0]]), np.ones((1, 2)), stride=2)
    array([[1., 1., 2., 2.]])
    >>> conv_transpose(np.ones((2, 2)), np.ones((3, 3)), stride=2, padding=1).shape
    (3, 3)
    """
    return _dispatch.run("conv_transpose", image, backend, kernel=kernel, stride=stride,
                         padding=padding, output_padding=output_padding, bias=bias)
