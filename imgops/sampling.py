"""Pooling, resizing, down/upsampling and transposed convolution.

References are PyTorch (``torch.nn.functional``) on the image moved to
``(N, C, H, W)`` in float64, rounded and saturated back to the input's dtype.
"""

from __future__ import annotations

import numpy as np

from . import _core, _cuda, _engine
from ._kernels import resample

__all__ = ["max_pool", "avg_pool", "resize", "downsample", "upsample", "conv_transpose",
           "bilinear_kernel", "RESIZE_METHODS", "DOWNSAMPLE_METHODS", "UPSAMPLE_METHODS"]

RESIZE_METHODS = ("nearest", "nearest-exact", "bilinear", "area")
DOWNSAMPLE_METHODS = ("area", "max", "avg", "nearest", "bilinear")
UPSAMPLE_METHODS = ("bilinear", "nearest", "transposed")


# --------------------------------------------------------------------------- pooling
def pool_output_size(n: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (dilation 1)."""
    num = n + 2 * p - k
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside the image
        o -= 1
    return o


def pool_geometry(h: int, w: int, size, stride, padding, ceil_mode) -> tuple:
    """Checked ``(kh, kw, sh, sw, ph, pw, ho, wo)`` of a pooling on an h x w image."""
    kh, kw = _core.pair(size, "size", low=1)
    sh, sw = (kh, kw) if stride is None else _core.pair(stride, "stride", low=1)
    ph, pw = _core.pair(padding, "padding", low=0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding must be at most half the window size {(kh, kw)}; "
                         f"got {(ph, pw)}")
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool; got {ceil_mode!r}")
    ho = pool_output_size(h, kh, sh, ph, ceil_mode)
    wo = pool_output_size(w, kw, sw, pw, ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(f"size {(kh, kw)} with padding {(ph, pw)} is larger than the "
                         f"padded image ({h + 2 * ph}x{w + 2 * pw})")
    return kh, kw, sh, sw, ph, pw, ho, wo


def _spatial(image) -> tuple[int, int]:
    image = _core.check_image(image, device=_cuda.is_device(image))
    shape = tuple(image.shape)  # a device array's shape may not take negative indices
    return shape[-3:-1] if image.ndim == 4 else shape[:2]


def max_pool(image: np.ndarray, size: int | tuple[int, int] = 2, *,
             stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
             ceil_mode: bool = False, backend: str = "auto") -> np.ndarray:
    """Maximum over windows (``torch.nn.functional.max_pool2d``, dilation 1).

    Parameters
    ----------
    image : ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
    size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Defaults to ``size``.
    padding : int or (int, int)
        Implicit padding that never wins (-inf); at most half the window.
    ceil_mode : bool
        Round the output size up (a last, partial window), as PyTorch.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    ndarray
        Input dtype, exact. A window holding NaN gives NaN.

    Examples
    --------
    >>> max_pool(np.arange(16, dtype=np.uint8).reshape(4, 4))
    array([[ 5,  7],
           [13, 15]], dtype=uint8)
    """
    kh, kw, sh, sw, ph, pw, ho, wo = pool_geometry(
        *_spatial(image), size, stride, padding, ceil_mode)

    if _pool_2x2_fused(image, backend, (kh, kw, sh, sw, ph, pw, ho, wo)):
        src, rows, c, out, orows = _resized_io(image, ho, wo)
        resample.max_pool_2x2_hwc(rows, c, orows)
        return out
    body = lambda planes: max_pool_planes(planes, kh, kw, sh, sw, ph, pw, ho, wo)  # noqa: E731
    return _engine.apply(image, body, backend=backend, plane_dtype="native")


def _pool_2x2_fused(image, backend, geometry) -> bool:
    """The common pool (2x2, stride 2, no padding, whole windows) runs fused on the
    caller's layout on the CPU."""
    kh, kw, sh, sw, ph, pw, ho, wo = geometry
    h, w = _spatial(image)
    return (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0) and 2 * ho <= h and 2 * wo <= w \
        and _engine.on_cpu(image, backend)


def _resized_io(image, ho: int, wo: int):
    """A native C-contiguous image, its (N, H, W*C) rows, C, and an output of spatial size
    (ho, wo) in the same layout and dtype with its rows."""
    image = _core.check_image(image)
    src = np.ascontiguousarray(image, dtype=_core.native(image.dtype))
    rows, c = _engine._rows_view(src)
    shape = (ho, wo) if image.ndim == 2 else (ho, wo, c) if image.ndim == 3 else \
        (rows.shape[0], ho, wo, c)
    out = np.empty(shape, src.dtype)
    return src, rows, c, out, _engine._rows_view(out)[0]


def max_pool_planes(planes, kh, kw, sh, sw, ph, pw, ho, wo):
    out = _engine.empty_like(planes, (planes.shape[0], ho, wo))
    if _cuda.is_device(planes):
        _cuda.launch(resample.cuda_kernels().max_pool, out.shape[::-1], planes, kh, kw, sh, sw,
                     ph, pw, out)
    else:
        resample.max_pool(planes, kh, kw, sh, sw, ph, pw, out)
    return out


def avg_pool_planes(planes, kh, kw, sh, sw, ph, pw, ho, wo, count_include_pad):
    out = _engine.empty_like(planes, (planes.shape[0], ho, wo))
    fn = resample.cuda_kernels().avg_pool if _cuda.is_device(planes) else resample.avg_pool
    args = (planes, kh, kw, sh, sw, ph, pw, bool(count_include_pad), out)
    if _cuda.is_device(planes):
        _cuda.launch(fn, out.shape[::-1], *args)
    else:
        fn(*args)
    return out


def avg_pool(image: np.ndarray, size: int | tuple[int, int] = 2, *,
             stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
             ceil_mode: bool = False, count_include_pad: bool = True,
             backend: str = "auto") -> np.ndarray:
    """Mean over windows (``torch.nn.functional.avg_pool2d``).

    Parameters
    ----------
    image : ndarray
    size, stride, padding, ceil_mode
        As :func:`max_pool`; the padding counts as zeros.
    count_include_pad : bool
        Divide by the window's size including padding (PyTorch's default) or by the
        number of image pixels in it.
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> avg_pool(np.arange(16.0).reshape(4, 4))
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    kh, kw, sh, sw, ph, pw, ho, wo = pool_geometry(
        *_spatial(image), size, stride, padding, ceil_mode)
    if _pool_2x2_fused(image, backend, (kh, kw, sh, sw, ph, pw, ho, wo)):
        src, rows, c, out, orows = _resized_io(image, ho, wo)
        if src.dtype.kind == "u":  # sums of four fit twice the width
            wide = np.empty(0, np.uint16 if src.dtype.itemsize == 1 else np.uint32)
            resample.avg_pool_2x2_hwc_int(rows, c, wide, orows)
        else:
            resample.avg_pool_2x2_hwc(rows, c, orows)
        return out
    return _engine.apply(image, lambda p: avg_pool_planes(p, kh, kw, sh, sw, ph, pw, ho, wo,
                                                          count_include_pad),
                         backend=backend)


# --------------------------------------------------------------------------- resize
def _taps(n_in: int, n_out: int, method: str, align_corners: bool):
    """Index and weight tables ``(n_out, T)`` for one axis, computed exactly."""
    o = np.arange(n_out, dtype=np.int64)
    if method == "nearest":  # floor(o * in / out)
        idx = np.minimum(o * n_in // n_out, n_in - 1)[:, None]
        return idx, np.ones((n_out, 1))
    if method == "nearest-exact":  # floor((o + 0.5) * in / out)
        idx = np.minimum((2 * o + 1) * n_in // (2 * n_out), n_in - 1)[:, None]
        return idx, np.ones((n_out, 1))
    if method == "bilinear":
        if align_corners:
            src = o * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)
        else:
            src = np.maximum(((2 * o + 1) * n_in - n_out) / (2 * n_out), 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        # PyTorch's second tap, weight 0 included (a NaN there still reaches), except at
        # equal sizes, where it copies
        i1 = np.minimum(i0 + 1, n_in - 1) if n_in != n_out else i0
        lam = src - i0
        return np.stack([i0, i1], 1), np.stack([1.0 - lam, lam], 1)
    # area: adaptive average pooling windows [floor(o*in/out), ceil((o+1)*in/out))
    start = o * n_in // n_out
    end = -(-((o + 1) * n_in) // n_out)
    T = int((end - start).max())
    t = np.arange(T)
    idx = np.minimum(start[:, None] + t, end[:, None] - 1)
    w = np.where(start[:, None] + t < end[:, None], 1.0 / (end - start)[:, None], 0.0)
    return idx, w


def _resample_planes(planes, shape, method, align_corners):
    """Device planes only: on the CPU, resize runs fused on the caller's layout."""
    P, H, W = planes.shape
    ho, wo = shape
    k = resample.cuda_kernels()
    for axis, n_in, n_out in ((0, H, ho), (1, W, wo)):
        if n_in == n_out:  # every method is the identity at equal sizes
            continue
        idx, w = _taps(n_in, n_out, method, align_corners)
        w = w.astype(planes.dtype)
        shp = (P, n_out, planes.shape[2]) if axis == 0 else (P, planes.shape[1], n_out)
        out = _engine.empty_like(planes, shp)
        fn = k.taps_cols if axis == 0 else k.taps_rows
        _cuda.launch(fn, shp[::-1], planes, _cuda.constant(idx), _cuda.constant(w), out)
        planes = out
    return planes


def _resize_fused(image, shape, method, align_corners):
    ho, wo = shape
    src, rows, c, out, orows = _resized_io(image, ho, wo)
    iy, wy = _taps(rows.shape[1], ho, method, align_corners)
    ix, wx = _taps(rows.shape[2] // c, wo, method, align_corners)
    # per output sample (pixel x, channel k): offset ix * C + k into the row, weight wx
    ixe = (ix.T[:, :, None] * c + np.arange(c)).reshape(ix.shape[1], wo * c).astype(np.int32)
    if method.startswith("nearest"):  # a copy: no arithmetic, any dtype, exact
        resample.nearest_hwc(rows, iy[:, 0].copy(), ixe[0].copy(), c, orows)
        return out
    cdt = _core.compute_dtype(src.dtype)
    if method == "bilinear" and not align_corners and (ho, wo * c) == (
            2 * rows.shape[1], 2 * rows.shape[2]) and _edge_taps_finite(rows, c):
        # 2x by phases: no tables, no gathers
        wide = {1: np.uint16, 2: np.uint32}.get(src.dtype.itemsize) \
            if src.dtype.kind == "u" else cdt
        resample.upsample2x_hwc(rows, c, np.empty(0, wide), src.dtype.kind == "u", orows)
        return out
    wxe = np.repeat(wx.T, c, axis=1).astype(cdt)
    lo, hi = _core.int_range(src.dtype, cdt)
    fn = resample.upsample_hwc if iy.shape[1] == 2 and ho > rows.shape[1] else \
        resample.resample_hwc
    fn(rows, iy, wy.astype(cdt), ixe, wxe, lo, hi, src.dtype.kind == "u",
       orows)
    return out


def _edge_taps_finite(rows, c) -> bool:
    """Whether source row 1 and column 1 are finite: PyTorch's first output row (column)
    also reads them with weight 0, so a NaN there reaches it; the 2x phase kernel, which
    copies the edge, is exact only without one (else the tables run)."""
    if rows.dtype.kind != "f":
        return True
    return bool(np.isfinite(rows[:, 1:2]).all() and np.isfinite(rows[:, :, c:2 * c]).all())


def _check_shape(shape) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (height, width); got {shape!r}")
    return tuple(_core.check_int(s, "shape", low=1) for s in shape)


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")
    return value


def resize(image: np.ndarray, shape: tuple[int, int], *, method: str = "bilinear",
           align_corners: bool = False, backend: str = "auto") -> np.ndarray:
    """Resize to ``shape = (height, width)`` (``torch.nn.functional.interpolate``).

    Parameters
    ----------
    image : ndarray
    shape : (int, int)
        Output height and width, up or down.
    method : {"nearest", "nearest-exact", "bilinear", "area"}
        PyTorch's modes; bilinear without antialiasing; area is adaptive average
        pooling. Source indices are computed exactly (PyTorch's float32 scale can
        be one pixel off for a few size pairs).
    align_corners : bool
        Bilinear only: map corner pixel centres onto each other.
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> resize(np.array([[0.0, 1.0]]), (1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]])
    """
    shape = _check_shape(shape)
    _check_choice(method, "method", RESIZE_METHODS)
    if align_corners and method != "bilinear":
        raise ValueError("align_corners applies to method='bilinear' only")
    if _engine.on_cpu(image, backend):  # both axes in one sweep on the caller's layout
        return _resize_fused(image, shape, method, bool(align_corners))
    return _engine.apply(image, lambda p: _resample_planes(p, shape, method,
                                                           bool(align_corners)),
                         backend=backend)


def _check_factor(factor) -> int:
    return _core.check_int(factor, "factor", low=1)


def downsample(image: np.ndarray, factor: int = 2, *, method: str = "area",
               backend: str = "auto") -> np.ndarray:
    """Shrink by an integer ``factor`` to ``(ceil(H / f), ceil(W / f))``.

    Parameters
    ----------
    image : ndarray
    factor : int
    method : {"area", "max", "avg", "nearest", "bilinear"}
        "max"/"avg": pools with size = stride = factor and ``ceil_mode=True``;
        the others: :func:`resize` to the output shape.
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> downsample(np.arange(16.0).reshape(4, 4), 2, method="max")
    array([[ 5.,  7.],
           [13., 15.]])
    """
    f = _check_factor(factor)
    _check_choice(method, "method", DOWNSAMPLE_METHODS)
    if method == "max":
        return max_pool(image, f, ceil_mode=True, backend=backend)
    if method == "avg":
        return avg_pool(image, f, ceil_mode=True, backend=backend)
    h, w = _spatial(image)
    return resize(image, (-(-h // f), -(-w // f)), method=method, backend=backend)


def bilinear_kernel(factor: int) -> np.ndarray:
    """The FCN bilinear upsampling filter for an integer ``factor``.

    Size ``k = 2f - f % 2``, centre ``c = f - 1`` (k odd) or ``f - 0.5`` (k even),
    ``w[i, j] = (1 - |i - c| / f) * (1 - |j - c| / f)``.

    Examples
    --------
    >>> bilinear_kernel(2)[0]
    array([0.0625, 0.1875, 0.1875, 0.0625])
    """
    f = _check_factor(factor)
    k = 2 * f - f % 2
    c = f - 1 if k % 2 == 1 else f - 0.5
    r = 1 - np.abs(np.arange(k) - c) / f
    return np.outer(r, r)


def upsample(image: np.ndarray, factor: int = 2, *, method: str = "bilinear",
             kernel: np.ndarray | None = None, backend: str = "auto") -> np.ndarray:
    """Enlarge by an integer ``factor`` to ``(f * H, f * W)``.

    Parameters
    ----------
    image : ndarray
    factor : int
    method : {"bilinear", "nearest", "transposed"}
        "bilinear"/"nearest": :func:`resize`; "transposed": :func:`conv_transpose`
        with ``kernel`` (default :func:`bilinear_kernel`), stride ``f`` and padding
        ``f // 2``; away from the borders it equals bilinear upsampling.
    kernel : ndarray, optional
        2-D kernel for "transposed"; its size must give ``f * H`` rows.
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> upsample(np.array([[0.0, 4.0]]), 2, method="nearest")
    array([[0., 0., 4., 4.],
           [0., 0., 4., 4.]])
    """
    f = _check_factor(factor)
    _check_choice(method, "method", UPSAMPLE_METHODS)
    if method != "transposed":
        if kernel is not None:
            raise ValueError("kernel applies to method='transposed' only")
        h, w = _spatial(image)
        return resize(image, (f * h, f * w), method=method, backend=backend)
    k = bilinear_kernel(f) if kernel is None else _core.check_kernel(kernel)
    return conv_transpose(image, k, stride=f, padding=f // 2, backend=backend)


# --------------------------------------------------------------------------- conv transpose
def _check_bias(bias, cout: int) -> np.ndarray:
    if bias is None:
        return np.zeros(cout)
    b = np.asarray(bias, dtype=np.float64).ravel()
    if b.size == 1:
        b = np.full(cout, b[0])
    if b.size != cout:
        raise ValueError(f"bias must be a number or hold {cout} values; got {b.size}")
    if not np.all(np.isfinite(b)):
        raise ValueError("bias must be finite")
    return b


def conv_output_size(n, k, s, p, op):
    return (n - 1) * s - 2 * p + k + op


def conv_transpose(image: np.ndarray, kernel: np.ndarray, *, stride: int | tuple[int, int] = 2,
                   padding: int | tuple[int, int] = 0,
                   output_padding: int | tuple[int, int] = 0,
                   bias: float | np.ndarray | None = None, backend: str = "auto") -> np.ndarray:
    """Transposed convolution (``torch.nn.functional.conv_transpose2d``).

    Parameters
    ----------
    image : ndarray
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``.
    kernel : ndarray
        2-D ``(kh, kw)``: applied to each channel alone (``groups=C``); or 4-D
        ``(C_in, C_out, kh, kw)``: mixes channels (``groups=1``), C_in = C.
    stride, padding, output_padding : int or (int, int)
        As PyTorch; ``output_padding < stride``.
    bias : float or ndarray, optional
        A number, or one per output channel.
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    ndarray
        ``((H-1)*s - 2p + kh + op, ...)``, the input's dtype; C_out channels for a
        4-D kernel (a gray image with C_out > 1 gains a channel axis).

    Examples
    --------
    >>> conv_transpose(np.array([[1.0, 2.0]]), np.ones((1, 2)), stride=2)
    array([[1., 1., 2., 2.]])
    """
    image = _core.check_image(image, device=_cuda.is_device(image))
    if isinstance(kernel, (list, tuple)):
        kernel = np.asarray(kernel)
    if not isinstance(kernel, np.ndarray) or kernel.ndim not in (2, 4):
        raise ValueError("kernel must be a 2-D (kh, kw) or 4-D (C_in, C_out, kh, kw) array")
    k = _core.check_kernel(kernel, "kernel", ndim=kernel.ndim)
    sh, sw = _core.pair(stride, "stride", low=1)
    ph, pw = _core.pair(padding, "padding", low=0)
    oph, opw = _core.pair(output_padding, "output_padding", low=0)
    if oph >= sh or opw >= sw:
        raise ValueError(f"output_padding must be smaller than stride {(sh, sw)}; "
                         f"got {(oph, opw)}")
    h, w = _spatial(image)
    kh, kw = k.shape[-2:]
    ho, wo = conv_output_size(h, kh, sh, ph, oph), conv_output_size(w, kw, sw, pw, opw)
    if ho < 1 or wo < 1:
        raise ValueError(f"padding {(ph, pw)} leaves no output for this image and kernel")
    channels = 1 if image.ndim == 2 else tuple(image.shape)[-1]
    if k.ndim == 4:
        if k.shape[0] != channels:
            raise ValueError(f"kernel has C_in={k.shape[0]} but the image has {channels} "
                             "channel(s)")
        cout, groups = k.shape[1], 1
    else:
        cout, groups = channels, channels
    b = _check_bias(bias, cout)

    def body(planes):
        n = planes.shape[0] // channels
        x = planes.reshape(n, channels, h, w)
        wt = np.ascontiguousarray(k if k.ndim == 4 else np.broadcast_to(k, (channels, 1, kh, kw)),
                                  planes.dtype)
        bb = np.ascontiguousarray(b, planes.dtype)
        out = _engine.empty_like(planes, (n, cout, ho, wo))
        if _cuda.is_device(planes):
            _cuda.launch(resample.cuda_kernels().conv_transpose, (wo, ho, n * cout), x,
                         _cuda.to_device(wt), _cuda.to_device(bb), sh, sw, ph, pw, groups, out)
        else:
            resample.conv_transpose(x, wt, bb, sh, sw, ph, pw, groups, out)
        return out.reshape(n * cout, ho, wo)

    return _engine.apply(image, body, backend=backend)
