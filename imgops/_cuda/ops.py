"""Every operation on the GPU: one function per operation record (``imgops._ops``).

Each takes a checked image (NumPy: copied over and the result copied back; any
device array: a Numba device array comes back) and the record's checked
parameters. Nothing here validates arguments.
"""

from __future__ import annotations

import numpy as np

from .. import _layout, _validate
from .._shared import nms, taps
from . import border, denoise, engine, nn, rank, resample, runtime

MODES = _validate.MODES


# ----------------------------------------------------------------------------- filters
def correlate(image, *, kernel, mode, cval, before):
    return engine.apply(image, lambda p: engine.correlate2d(p, kernel, mode, cval, before),
                        plane_dtype="wide" if _validate.cancels(kernel) else None)


def gaussian(image, *, sigma, truncate, mode, cval):
    passes = [(ax, taps.gaussian_kernel1d(s, truncate)) for ax, s in enumerate(sigma)
              if s > 1e-15]
    return engine.apply(image, lambda p: engine.separable(p, passes, mode, cval))


def box(image, *, size, mode, cval):
    return engine.apply(image, lambda p: engine.box(p, size, mode, cval))


def median(image, *, size, mode, cval):
    """Shared-memory tiles up to ``rank.CUDA_LOCAL`` samples, else per-thread windows."""
    k = size

    def body(planes):
        dt = planes.dtype
        cv = dt.type(_validate.native_cval(cval, dt))
        if k == 1:
            return planes
        out = engine.empty_like(planes)
        halo = (k // 2, k - 1 - k // 2) * 2
        tiled = rank.cuda_tiled(dt.name)
        if k * k > rank.CUDA_LOCAL or not runtime.launch_tiled(
                tiled.median_net if k in (3, 5) else tiled.median, out.shape, halo,
                lambda th, tw, tr, tc: tr * tc, dt.itemsize, planes, k, MODES[mode], cv, out):
            runtime.launch(rank.cuda_kernels(dt.name).median, planes.shape[::-1], planes, k,
                           MODES[mode], cv, out)
        return out

    return engine.apply(image, body, plane_dtype="native")


def _gradient(planes, name, axis, mode, cval):
    smooth = taps.SMOOTH[name]
    if name == "scharr":
        k = np.outer(taps.DERIV, smooth) if axis == 0 else np.outer(smooth, taps.DERIV)
        return engine.correlate2d(planes, k, mode, cval)
    return engine.separable(planes, [(axis, taps.DERIV), (1 - axis, smooth)], mode, cval)


def edge(image, *, name, axis, mode, cval):
    """Both gradients, each a column pass then a row pass, in one tiled launch where the
    column-first order is exact."""
    smooth = taps.SMOOTH[name]
    exact = name == "scharr" or mode != "constant" or cval == 0

    def body(planes):
        if exact:
            grads = [taps.centered(taps.DERIV, smooth, 0.0 if name == "scharr" else cval),
                     taps.centered(smooth, taps.DERIV,
                                   cval * smooth.sum() if name == "scharr" else cval)]
            if axis is not None:
                grads = grads[axis:axis + 1]
            return engine.pairs(planes, grads[0], grads[1] if len(grads) > 1 else None,
                                "hypot", mode, cval, tiled_only=False)
        if axis is not None:
            return _gradient(planes, name, axis, mode, cval)
        return engine.combine(_gradient(planes, name, 0, mode, cval),
                              _gradient(planes, name, 1, mode, cval), "hypot")

    return engine.apply(image, body, out_dtype="float", plane_dtype="wide")


def laplace(image, *, mode, cval):
    def body(planes):  # d2 down the columns + d2 along the rows (each extended with cval)
        return engine.pairs(planes, taps.centered(taps.LAPLACE, taps.ONE, cval),
                            taps.centered(taps.ONE, taps.LAPLACE, cval), "add", mode, cval,
                            tiled_only=False)

    return engine.apply(image, body, out_dtype="float", plane_dtype="wide")


def gaussian_laplace(image, *, sigma, truncate, mode, cval):
    sy, sx = sigma

    def body(planes):
        return engine.pairs(planes,
                            taps.centered(taps.gaussian_or_one(sy, truncate, 2),
                                          taps.gaussian_or_one(sx, truncate), cval),
                            taps.centered(taps.gaussian_or_one(sy, truncate),
                                          taps.gaussian_or_one(sx, truncate, 2), cval),
                            "add", mode, cval, tiled_only=False)

    return engine.apply(image, body, out_dtype="float", plane_dtype="wide")


# ----------------------------------------------------------------------------- denoising
def bilateral(image, *, sigma_color, sigma_spatial, radius, mode):
    c = _layout.channels(image)
    r = radius
    off = np.arange(-r, r + 1, dtype=np.float64)
    spatial = np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) /
                     (2 * sigma_spatial * sigma_spatial)).ravel()

    def body(planes):  # in the planes' dtype, as the CPU's (float32 but for float64)
        t = planes.dtype.type
        out = runtime.empty(planes.shape, planes.dtype)
        runtime.launch(denoise.cuda_kernels().bilateral,
                       (planes.shape[2], planes.shape[1], planes.shape[0] // c),
                       planes, c, r, runtime.constant(spatial.astype(planes.dtype)),
                       t(1.0 / (2 * sigma_color * sigma_color)), MODES[mode], out)
        return out

    return engine.apply(image, body)


def nl_means(image, *, h, patch_size, patch_distance, sigma):
    c = _layout.channels(image)
    o, d = patch_size // 2, patch_distance
    pad = o + d + 1

    def body(planes):
        padded = border.pad(planes, pad, pad, pad, pad, MODES["mirror"], 0.0)
        out = runtime.empty(planes.shape, planes.dtype)
        t = planes.dtype.type  # the scalars in the planes' dtype: no float64 in float32
        runtime.launch(denoise.cuda_nl_means(planes.dtype.name).nl_means,
                       (planes.shape[2], planes.shape[1], planes.shape[0] // c),
                       padded, c, pad, o, d, t(1.0 / (c * h * h * patch_size * patch_size)),
                       t(c * 2.0 * sigma * sigma), out)
        return out

    return engine.apply(image, body)


def bm3d(image, *, sigma, profile, data_range, origin=(0, 0), noise=None,
         extent=None):
    """Each image of a batch through the CUDA BM3D driver on float32 (H, W, C) device
    arrays (the layout kernels move planes to channels-last and back); ``data_range``
    None (float images): measured on the whole batch as the CPU does; ``origin``: the
    reference grid's (a chunk's place in a larger image); ``noise``, ``extent``: as the
    CPU's."""
    if sigma == 0.0:
        return copy(image)
    from . import bm3d as kernels  # the largest kernels: compiled only when used

    c = _layout.channels(image)
    k = engine.layout.cuda_kernels()

    def body(planes):
        P, H, W = planes.shape
        n = P // c
        rng = data_range if data_range is not None else \
            kernels.measured_range_cuda(planes, n, c)
        hwc = runtime.empty((n, H, W, c), np.float32)
        zero = np.float32(0.0)  # bounds in the planes' dtype: no float64 in the kernel
        runtime.launch(k.scatter, (W, H, P), planes, hwc, zero, zero, False)
        for i in range(n):
            hwc[i].copy_to_device(kernels.bm3d_hwc_cuda_range(hwc[i], sigma, profile,
                                                              rng, origin, noise, extent))
        out = runtime.empty(planes.shape, np.float32)
        runtime.launch(k.gather, (W, H, P), hwc, out)
        return out

    return engine.apply(image, body, plane_dtype=np.float32)


def to_host(image):
    """The image on the host: reductions to one number run there (``imgops._dispatch``)."""
    return image if isinstance(image, np.ndarray) else runtime.as_device(image).copy_to_host()


def copy(image):
    return engine.apply(image, lambda p: p, plane_dtype="native")


# ----------------------------------------------------------------------------- canny
def canny(image, *, sigma, low, high, use_quantiles, dmax):
    """Smoothing, gradients and non-maximum suppression on the GPU; the hysteresis (a
    flood fill) on the host. NumPy in -> NumPy out, device in -> device out."""
    host = isinstance(image, np.ndarray)
    dev = runtime.as_device(image)
    x = runtime.empty((1, *dev.shape), np.float64)
    runtime.launch(engine.layout.cuda_kernels().gather, (dev.shape[1], dev.shape[0], 1),
                   runtime.as4d(dev), x)
    x = engine.scale(x, 1.0 / dmax) if dev.dtype.kind == "u" else x
    if sigma > 1e-15:
        g = taps.gaussian_kernel1d(sigma, 4.0)
        passes = [(0, g), (1, g)]
        smoothed = engine.separable(x, passes, "constant", 0.0)
        ones = engine.empty_like(x)
        ones[:] = 1.0
        bleed = engine.separable(ones, passes, "constant", 0.0)
        smoothed = engine.combine(smoothed, bleed, "div_eps")
    else:
        smoothed = engine.scale(x, 1.0 / (1.0 + np.finfo(np.float64).eps))
    sobel = taps.SMOOTH["sobel"]
    isobel = engine.separable(smoothed, [(0, taps.DERIV), (1, sobel)], "reflect", 0.0)
    jsobel = engine.separable(smoothed, [(1, taps.DERIV), (0, sobel)], "reflect", 0.0)
    magnitude = engine.combine(isobel, jsobel, "hypot")
    if use_quantiles:
        low, high = np.percentile(magnitude.copy_to_host(), [100.0 * low, 100.0 * high])
    suppressed = runtime.empty(magnitude.shape[1:], np.float64)
    runtime.launch2d(denoise.cuda_kernels().nms, magnitude.shape[:0:-1], isobel[0], jsobel[0],
                     magnitude[0], nms.low32(low), suppressed)
    out = np.empty(suppressed.shape, bool)
    nms.hysteresis(suppressed.copy_to_host(), high, out)
    return out if host else runtime.to_device(out)


# ----------------------------------------------------------------------------- pooling
def max_pool_planes(planes, geometry):
    kh, kw, sh, sw, ph, pw, ho, wo = geometry
    out = engine.empty_like(planes, (planes.shape[0], ho, wo))
    runtime.launch(resample.cuda_kernels().max_pool, out.shape[::-1], planes, kh, kw, sh, sw,
                   ph, pw, out)
    return out


def avg_pool_planes(planes, geometry, count_include_pad):
    kh, kw, sh, sw, ph, pw, ho, wo = geometry
    out = engine.empty_like(planes, (planes.shape[0], ho, wo))
    runtime.launch(resample.cuda_kernels().avg_pool, out.shape[::-1], planes, kh, kw, sh, sw,
                   ph, pw, bool(count_include_pad), out)
    return out


def max_pool(image, *, geometry):
    return engine.apply(image, lambda p: max_pool_planes(p, geometry), plane_dtype="native")


def avg_pool(image, *, geometry, count_include_pad):
    return engine.apply(image, lambda p: avg_pool_planes(p, geometry, count_include_pad))


# ----------------------------------------------------------------------------- resampling
def resize(image, *, shape, method, align_corners):
    """One tap pass per axis whose size changes."""

    def body(planes):
        P = planes.shape[0]
        k = resample.cuda_kernels()
        for axis, n_out in enumerate(shape):
            n_in = planes.shape[1 + axis]
            if n_in == n_out:  # every method is the identity at equal sizes
                continue
            idx, w = taps.resize_taps(n_in, n_out, method, align_corners)
            shp = (P, n_out, planes.shape[2]) if axis == 0 else (P, planes.shape[1], n_out)
            out = engine.empty_like(planes, shp)
            fn = k.taps_cols if axis == 0 else k.taps_rows
            runtime.launch(fn, shp[::-1], planes, runtime.constant(idx),
                           runtime.constant(w.astype(planes.dtype)), out)
            planes = out
        return planes

    return engine.apply(image, body)


def conv_transpose(image, *, weight, bias, stride, padding, groups, out_hw):
    channels = _layout.channels(image)
    (sh, sw), (ph, pw), (ho, wo) = stride, padding, out_hw
    h, w = _layout.spatial(image)
    cout = bias.size

    def body(planes):
        n = planes.shape[0] // channels
        x = planes.reshape(n, channels, h, w)
        out = engine.empty_like(planes, (n, cout, ho, wo))
        runtime.launch(resample.cuda_kernels().conv_transpose, (wo, ho, n * cout), x,
                       runtime.to_device(np.ascontiguousarray(weight, planes.dtype)),
                       runtime.to_device(np.ascontiguousarray(bias, planes.dtype)),
                       sh, sw, ph, pw, groups, out)
        return out.reshape(n * cout, ho, wo)

    return engine.apply(image, body)


# ----------------------------------------------------------------------------- NCHW blocks
def _nchw(x):
    """(device x, whether the caller gave a host array)."""
    return runtime.as_device(x), isinstance(x, np.ndarray)


def _back(out, host: bool):
    return runtime.download(out) if host else out


def nn_conv2d(x, *, weight, bias, stride, padding, out_hw):
    x, host = _nchw(x)
    n = x.shape[0]
    cout = bias.size
    out = runtime.empty((n, cout, *out_hw), x.dtype)
    runtime.launch(nn.cuda_kernels().conv2d, (out_hw[1], out_hw[0], n * cout), x,
                   runtime.to_device(weight.astype(x.dtype)),
                   runtime.to_device(bias.astype(x.dtype)), *stride, *padding, out)
    return _back(out, host)


def nn_conv_transpose2d(x, *, weight, bias, stride, padding, out_hw):
    x, host = _nchw(x)
    n = x.shape[0]
    cout = bias.size
    out = runtime.empty((n, cout, *out_hw), x.dtype)
    runtime.launch(resample.cuda_kernels().conv_transpose, (out_hw[1], out_hw[0], n * cout),
                   x, runtime.to_device(weight.astype(x.dtype)),
                   runtime.to_device(bias.astype(x.dtype)), *stride, *padding, 1, out)
    return _back(out, host)


def nn_max_pool2d(x, *, geometry):
    x, host = _nchw(x)
    n, c, h, w = x.shape
    out = max_pool_planes(x.reshape(n * c, h, w), geometry)
    return _back(out.reshape(n, c, *out.shape[1:]), host)


def nn_avg_pool2d(x, *, geometry, count_include_pad):
    x, host = _nchw(x)
    n, c, h, w = x.shape
    out = avg_pool_planes(x.reshape(n * c, h, w), geometry, count_include_pad)
    return _back(out.reshape(n, c, *out.shape[1:]), host)


def nn_relu(x):
    x, host = _nchw(x)
    n, c, h, w = x.shape
    flat = x.reshape(n * c, h, w)
    out = runtime.empty(flat.shape, x.dtype)
    runtime.launch(nn.cuda_kernels().relu, flat.shape[::-1], flat, out)
    return _back(out.reshape(n, c, h, w), host)
