"""The CNN building blocks of the seed's U-Net, on PyTorch's ``(N, C, H, W)`` layout.

float32 or float64 in, the same dtype out; each agrees with ``torch.nn.functional``.
"""

from __future__ import annotations

import numpy as np

from . import _core, _cuda
from ._kernels import resample
from .sampling import (
    _check_bias,
    avg_pool_planes,
    conv_output_size,
    max_pool_planes,
    pool_geometry,
)

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "relu"]


def _on(x, backend):
    """(x on the chosen side, whether the caller gave a host array)."""
    b = _core.resolve_backend(backend, x)
    host = isinstance(x, np.ndarray)
    if b == "cuda":
        return _cuda.as_device(_check_x(x) if host else x), host
    return x, host


def _back(out, host):
    return _cuda.download(out) if host and _cuda.is_device(out) else out


def _empty(x, shape):
    return _cuda.empty(shape, x.dtype) if _cuda.is_device(x) else np.empty(shape, x.dtype)


def _check_x(x, name="x") -> np.ndarray:
    if _cuda.is_device(x):
        if np.dtype(x.dtype) not in (np.float32, np.float64) or x.ndim != 4 or x.size == 0:
            raise ValueError(f"{name} must be a non-empty (N, C, H, W) float32/float64 array")
        return x
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
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
           backend: str = "auto") -> np.ndarray:
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
    x, host = _on(x, backend)
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
    out = _empty(x, (n, cout, ho, wo))
    wt, b = wt.astype(x.dtype), _check_bias(bias, cout).astype(x.dtype)
    if _cuda.is_device(x):
        _cuda.launch(resample.cuda_kernels().conv2d, (wo, ho, n * cout), x,
                     _cuda.to_device(wt), _cuda.to_device(b), sh, sw, ph, pw, out)
    else:
        resample.conv2d(x, wt, b, sh, sw, ph, pw, out)
    return _back(out, host)


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *,
                     stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                     output_padding: int | tuple[int, int] = 0,
                     backend: str = "auto") -> np.ndarray:
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
    x, host = _on(x, backend)
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
    out = _empty(x, (n, cout, ho, wo))
    wt, b = wt.astype(x.dtype), _check_bias(bias, cout).astype(x.dtype)
    if _cuda.is_device(x):
        _cuda.launch(resample.cuda_kernels().conv_transpose, (wo, ho, n * cout), x,
                     _cuda.to_device(wt), _cuda.to_device(b), sh, sw, ph, pw, 1, out)
    else:
        resample.conv_transpose(x, wt, b, sh, sw, ph, pw, 1, out)
    return _back(out, host)


def _pool(x, kernel_size, stride, padding, ceil_mode, backend, planes_fn, *extra):
    x, host = _on(x, backend)
    x = _check_x(x)
    n, c, h, w = x.shape
    geo = pool_geometry(h, w, kernel_size, stride, padding, ceil_mode)
    out = planes_fn(x.reshape(n * c, h, w), *geo, *extra)
    return _back(out.reshape(n, c, *out.shape[1:]), host)


def max_pool2d(x: np.ndarray, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               backend: str = "auto") -> np.ndarray:
    """``torch.nn.functional.max_pool2d`` (dilation 1) on NCHW.

    Examples
    --------
    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return _pool(x, kernel_size, stride, padding, ceil_mode, backend, max_pool_planes)


def avg_pool2d(x: np.ndarray, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, backend: str = "auto") -> np.ndarray:
    """``torch.nn.functional.avg_pool2d`` on NCHW.

    Examples
    --------
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _pool(x, kernel_size, stride, padding, ceil_mode, backend, avg_pool_planes,
                 count_include_pad)


def relu(x: np.ndarray, *, backend: str = "auto") -> np.ndarray:
    """``max(x, 0)``, NaN kept (as ``torch.relu``).

    Examples
    --------
    >>> relu(np.array([[[[-1.0, 2.0]]]]))
    array([[[[0., 2.]]]])
    """
    x, host = _on(x, backend)
    x = _check_x(x)
    if _cuda.is_device(x):
        n, c, h, w = x.shape
        flat = x.reshape(n * c, h, w)
        out = _cuda.empty(flat.shape, x.dtype)
        _cuda.launch(resample.cuda_kernels().relu, flat.shape[::-1], flat, out)
        return _back(out.reshape(n, c, h, w), host)
    return np.where(x < 0, x.dtype.type(0), x)
