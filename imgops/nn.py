"""The CNN building blocks of the seed's U-Net, on PyTorch's ``(N, C, H, W)`` layout.

float32 or float64 in, the same dtype out; each agrees with ``torch.nn.functional``.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._kernels import resample
from .sampling import (
    _check_bias,
    avg_pool_planes,
    conv_output_size,
    max_pool_planes,
    pool_geometry,
)

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "relu"]


def _check_x(x, name="x") -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(x).__name__}")
    if x.dtype.newbyteorder("=") not in (np.float32, np.float64):
        raise TypeError(f"{name} has dtype {x.dtype}; imgops.nn supports float32, float64")
    if x.ndim != 4:
        raise ValueError(f"{name} must be shaped (N, C, H, W); got {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


def _check_weight(weight, cin: int, transposed: bool) -> np.ndarray:
    w = _core.check_kernel(weight, "weight", ndim=4)
    axis = 0 if transposed else 1
    if w.shape[axis] != cin:
        raise ValueError(f"weight {w.shape} expects {w.shape[axis]} input channels; "
                         f"x has {cin}")
    return w


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0
           ) -> np.ndarray:
    """2-D convolution (cross-correlation), ``torch.nn.functional.conv2d`` with groups=1.

    Parameters
    ----------
    x : ndarray (N, C_in, H, W)
    weight : ndarray (C_out, C_in, kh, kw)
    bias : ndarray (C_out,), optional
    stride, padding : int or (int, int)
        Zero padding.

    Examples
    --------
    >>> conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=1)[0, 0]
    array([[4., 6., 4.],
           [6., 9., 6.],
           [4., 6., 4.]])
    """
    x = _check_x(x)
    n, cin, h, w = x.shape
    wt = _check_weight(weight, cin, transposed=False)
    cout, _, kh, kw = wt.shape
    sh, sw = _core.pair(stride, "stride", low=1)
    ph, pw = _core.pair(padding, "padding", low=0)
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(f"kernel {(kh, kw)} is larger than the padded input "
                         f"{(h + 2 * ph, w + 2 * pw)}")
    out = np.empty((n, cout, ho, wo), x.dtype)
    resample.conv2d(x, wt.astype(x.dtype), _check_bias(bias, cout).astype(x.dtype),
                    sh, sw, ph, pw, out)
    return out


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
                     stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                     output_padding: int | tuple[int, int] = 0) -> np.ndarray:
    """Transposed convolution, ``torch.nn.functional.conv_transpose2d`` with groups=1.

    Parameters
    ----------
    x : ndarray (N, C_in, H, W)
    weight : ndarray (C_in, C_out, kh, kw)
    bias : ndarray (C_out,), optional
    stride, padding, output_padding : int or (int, int)

    Examples
    --------
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2).shape
    (1, 1, 4, 4)
    """
    x = _check_x(x)
    n, cin, h, w = x.shape
    wt = _check_weight(weight, cin, transposed=True)
    _, cout, kh, kw = wt.shape
    sh, sw = _core.pair(stride, "stride", low=1)
    ph, pw = _core.pair(padding, "padding", low=0)
    oph, opw = _core.pair(output_padding, "output_padding", low=0)
    if oph >= sh or opw >= sw:
        raise ValueError(f"output_padding must be smaller than stride {(sh, sw)}")
    ho, wo = conv_output_size(h, kh, sh, ph, oph), conv_output_size(w, kw, sw, pw, opw)
    if ho < 1 or wo < 1:
        raise ValueError("padding leaves no output for this input and weight")
    out = np.empty((n, cout, ho, wo), x.dtype)
    resample.conv_transpose(x, wt.astype(x.dtype), _check_bias(bias, cout).astype(x.dtype),
                            sh, sw, ph, pw, 1, out)
    return out


def _pool(x, kernel_size, stride, padding, ceil_mode, planes_fn, *extra):
    x = _check_x(x)
    n, c, h, w = x.shape
    geo = pool_geometry(h, w, kernel_size, stride, padding, ceil_mode)
    out = planes_fn(x.reshape(n * c, h, w), *geo, *extra)
    return out.reshape(n, c, *out.shape[1:])


def max_pool2d(x: np.ndarray, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False) -> np.ndarray:
    """``torch.nn.functional.max_pool2d`` (dilation 1) on NCHW.

    Examples
    --------
    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _pool(x, kernel_size, stride, padding, ceil_mode, max_pool_planes)


def avg_pool2d(x: np.ndarray, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> np.ndarray:
    """``torch.nn.functional.avg_pool2d`` on NCHW.

    Examples
    --------
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _pool(x, kernel_size, stride, padding, ceil_mode, avg_pool_planes,
                 count_include_pad)


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``, NaN kept (as ``torch.relu``).

    Examples
    --------
    >>> relu(np.array([[[[-1.0, 2.0]]]]))
    array([[[[0., 2.]]]])
    """
    x = _check_x(x)
    return np.where(x < 0, x.dtype.type(0), x)
