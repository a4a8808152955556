"""CNN building blocks on PyTorch's ``(N, C, H, W)`` layout.

The few operations a U-Net up-convolution block needs. float32 or float64 in, the same
dtype out; each agrees with its ``torch.nn.functional`` namesake.
"""

from __future__ import annotations

import numpy as np

from . import _dispatch

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "relu"]


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
           backend: str = "auto") -> np.ndarray:
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    ``out[n, o, i, j] = bias[o] + sum over (c, di, dj) of
    weight[o, c, di, dj] * xp[n, c, i * sh + di, j * sw + dj]``, where ``xp`` is `x`
    with `padding` zeros on each side; the kernel is not flipped, as in PyTorch. It
    agrees with PyTorch's ``conv2d`` with ``groups=1`` and dilation 1 [1]_.

    Parameters
    ----------
    x : ndarray
        Input shaped ``(N, C_in, H, W)`` (PyTorch's layout), float32 or float64, any
        strides and byte order; not modified. A CUDA device array is accepted too
        (see `backend`).
    weight : array_like
        Weights shaped ``(C_out, C_in, kh, kw)``, real and finite.
    bias : array_like, optional
        One number, or ``C_out`` numbers, added to each output channel. Finite.
        Default None (no bias).
    stride : int or (int, int), optional
        Step ``(sh, sw)`` between outputs, each ``>= 1``. Default 1.
    padding : int or (int, int), optional
        Zeros ``(ph, pw)`` added on both sides of each axis, each ``>= 0``. Default 0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy input is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        ``(N, C_out, Ho, Wo)`` in the dtype of `x`, with
        ``Ho = (H + 2 * ph - kh) // sh + 1`` and ``Wo`` likewise.

    Raises
    ------
    TypeError
        If `x` is not an array or its dtype is not float32 or float64; if `weight` is not an
        array of real numbers; if `stride` or `padding` is not an integer or a pair of
        integers; if ``backend="cpu"`` is given a device array.
    ValueError
        If `x` is not 4-D or is empty; if `weight` is not 4-D, is empty, holds NaN or
        infinity, or its ``C_in`` differs from the channels of `x`; if `stride` is smaller
        than 1 or `padding` negative; if the kernel is larger than the padded input; if
        `bias` is not finite or does not hold one value or ``C_out`` values; if `backend` is
        not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    imgops.correlate : The same on images, per channel, with border modes.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.conv2d(x, weight, bias, stride=stride,
       padding=padding)``.

    Examples
    --------
    >>> conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=1)[0, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]])
    """
    return _dispatch.run("nn.conv2d", x, backend, weight=weight, bias=bias, stride=stride,
                         padding=padding)


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
                     stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                     output_padding: int | tuple[int, int] = 0,
                     backend: str = "auto") -> np.ndarray:
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    Each input pixel adds the weights, scaled by its value, to the output at
    ``stride`` times its position; `padding` then crops that many rows and columns
    from each side, and `output_padding` adds some at the bottom and right. It
    agrees with PyTorch's ``conv_transpose2d`` with ``groups=1`` and dilation 1 [1]_.

    Parameters
    ----------
    x : ndarray
        Input shaped ``(N, C_in, H, W)`` (PyTorch's layout), float32 or float64, any
        strides and byte order; not modified. A CUDA device array is accepted too
        (see `backend`).
    weight : array_like
        Weights shaped ``(C_in, C_out, kh, kw)`` (PyTorch's layout for transposed
        convolutions), real and finite.
    bias : array_like, optional
        One number, or ``C_out`` numbers, added to each output channel. Finite.
        Default None (no bias).
    stride : int or (int, int), optional
        Upsampling step ``(sh, sw)``, each ``>= 1``. Default 1.
    padding : int or (int, int), optional
        Rows and columns ``(ph, pw)`` cropped from each side, each ``>= 0``.
        Default 0.
    output_padding : int or (int, int), optional
        Rows and columns ``(oph, opw)`` added at the bottom and right, each ``>= 0``
        and smaller than `stride`. Default 0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy input is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        ``(N, C_out, Ho, Wo)`` in the dtype of `x`, with
        ``Ho = (H - 1) * sh - 2 * ph + kh + oph`` and ``Wo`` likewise.

    Raises
    ------
    TypeError
        If `x` is not an array or its dtype is not float32 or float64; if `weight` is not an
        array of real numbers; if `stride`, `padding` or `output_padding` is not an integer
        or a pair of integers; if ``backend="cpu"`` is given a device array.
    ValueError
        If `x` is not 4-D or is empty; if `weight` is not 4-D, is empty, holds NaN or
        infinity, or its ``C_in`` differs from the channels of `x`; if `stride` is smaller
        than 1, `padding` or `output_padding` negative, or `output_padding` not smaller than
        `stride`; if `padding` leaves no output; if `bias` is not finite or does not hold
        one value or ``C_out`` values; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    imgops.conv_transpose : The same on images ``(H, W, C)``, per channel or mixing.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.conv_transpose2d(x, weight, bias,
       stride=stride, padding=padding, output_padding=output_padding)``.

    Examples
    --------
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2).shape
    (1, 1, 4, 4)
    >>> conv_transpose2d(np.array([[[[1.0, 2.0]]]]), np.ones((1, 1, 1, 2)), stride=2)
    array([[[[1., 1., 2., 2.]]]])
    """
    return _dispatch.run("nn.conv_transpose2d", x, backend, weight=weight, bias=bias,
                         stride=stride, padding=padding, output_padding=output_padding)


def max_pool2d(x: np.ndarray, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               backend: str = "auto") -> np.ndarray:
    """Max pooling, as ``torch.nn.functional.max_pool2d``.

    Each output is the maximum of a ``kh x kw`` window of its channel; windows start
    at ``-padding`` and step by `stride`; the padding never wins. It equals
    PyTorch's ``max_pool2d`` with dilation 1 [1]_.

    Parameters
    ----------
    x : ndarray
        Input shaped ``(N, C_in, H, W)`` (PyTorch's layout), float32 or float64, any
        strides and byte order; not modified. A CUDA device array is accepted too
        (see `backend`).
    kernel_size : int or (int, int)
        Window size ``(kh, kw)``, each ``>= 1``.
    stride : int or (int, int), optional
        Step between windows, each ``>= 1``. Default None: `kernel_size`.
    padding : int or (int, int), optional
        Implicit padding on both sides, each ``>= 0`` and at most half the window.
        Default 0.
    ceil_mode : bool, optional
        Round the output size up, adding a last, partial window, as PyTorch does.
        Default False.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy input is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        ``(N, C, Ho, Wo)`` in the dtype of `x`, ``Ho = floor((H + 2 * ph - kh) / sh) + 1``
        (``ceil`` with `ceil_mode`), likewise ``Wo``.
        Exact. A window holding a NaN gives NaN.

    Raises
    ------
    TypeError
        If `x` is not an array or its dtype is not float32 or float64; if `kernel_size`,
        `stride` or `padding` is not an integer or a pair of integers; if `ceil_mode` is not
        a bool; if ``backend="cpu"`` is given a device array.
    ValueError
        If `x` is not 4-D or is empty; if `kernel_size` or `stride` is smaller than 1, or
        `padding` negative or larger than half the window; if the window does not fit in the
        padded input; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    imgops.max_pool : The same on images ``(H, W, C)``.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.max_pool2d(x, kernel_size, stride, padding,
       ceil_mode=ceil_mode)``.

    Examples
    --------
    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _dispatch.run("nn.max_pool2d", x, backend, kernel_size=kernel_size, stride=stride,
                         padding=padding, ceil_mode=ceil_mode)


def avg_pool2d(x: np.ndarray, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, backend: str = "auto") -> np.ndarray:
    """Average pooling, as ``torch.nn.functional.avg_pool2d``.

    Each output is the mean of a ``kh x kw`` window of its channel; windows start at
    ``-padding`` and step by `stride`, and the padding counts as zeros. It agrees
    with PyTorch's ``avg_pool2d`` [1]_.

    Parameters
    ----------
    x : ndarray
        Input shaped ``(N, C_in, H, W)`` (PyTorch's layout), float32 or float64, any
        strides and byte order; not modified. A CUDA device array is accepted too
        (see `backend`).
    kernel_size : int or (int, int)
        Window size ``(kh, kw)``, each ``>= 1``.
    stride : int or (int, int), optional
        Step between windows, each ``>= 1``. Default None: `kernel_size`.
    padding : int or (int, int), optional
        Implicit padding on both sides, each ``>= 0`` and at most half the window.
        Default 0.
    ceil_mode : bool, optional
        Round the output size up, adding a last, partial window, as PyTorch does.
        Default False.
    count_include_pad : bool, optional
        If True (default, as PyTorch), divide by the window's size including the
        padding; if False, by the number of input pixels in the window.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy input is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        ``(N, C, Ho, Wo)`` in the dtype of `x`, ``Ho = floor((H + 2 * ph - kh) / sh) + 1``
        (``ceil`` with `ceil_mode`), likewise ``Wo``.
        A window holding a NaN gives NaN.

    Raises
    ------
    TypeError
        If `x` is not an array or its dtype is not float32 or float64; if `kernel_size`,
        `stride` or `padding` is not an integer or a pair of integers; if `ceil_mode` is not
        a bool; if ``backend="cpu"`` is given a device array.
    ValueError
        If `x` is not 4-D or is empty; if `kernel_size` or `stride` is smaller than 1, or
        `padding` negative or larger than half the window; if the window does not fit in the
        padded input; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    imgops.avg_pool : The same on images ``(H, W, C)``.

    References
    ----------
    .. [1] PyTorch, ``torch.nn.functional.avg_pool2d(x, kernel_size, stride, padding,
       ceil_mode=ceil_mode, count_include_pad=count_include_pad)``.

    Examples
    --------
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _dispatch.run("nn.avg_pool2d", x, backend, kernel_size=kernel_size, stride=stride,
                         padding=padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)


def relu(x: np.ndarray, *, backend: str = "auto") -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``, as ``torch.relu``.

    Elementwise; a NaN stays NaN, as in PyTorch [1]_.

    Parameters
    ----------
    x : ndarray
        Input shaped ``(N, C_in, H, W)`` (PyTorch's layout), float32 or float64, any
        strides and byte order; not modified. A CUDA device array is accepted too
        (see `backend`).
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy input is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same shape and dtype as `x`.

    Raises
    ------
    TypeError
        If `x` is not an array or its dtype is not float32 or float64; if ``backend="cpu"``
        is given a device array.
    ValueError
        If `x` is not 4-D or is empty; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    References
    ----------
    .. [1] PyTorch, ``torch.relu(x)`` (``torch.nn.functional.relu``).

    Examples
    --------
    >>> relu(np.array([[[[-1.0, 2.0, np.nan]]]]))
    array([[[[ 0.,  2., nan]]]])
    """
    return _dispatch.run("nn.relu", x, backend)
