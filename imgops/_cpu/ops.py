"""Every operation on the CPU: one function per operation record (``imgops._ops``).

Each takes a checked NumPy image and the record's checked parameters, and picks
its route: the fused sweeps on the caller's layout where they apply, else the
plane engine. Nothing here validates arguments.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _layout, _validate
from .._shared import nms, taps
from .._shared.networks import selection_network
from .._shared.noise import immerkaer_sigma, immerkaer_sums
from . import border, denoise, engine, feature, median_nets, rank, resample, vst
from . import nn as nn_kernels

MODES = _validate.MODES


# ----------------------------------------------------------------------------- filters
def correlate(image, *, kernel, mode, cval, before):
    """General kernels (not valid, not rank 1) run fused on the caller's layout; so do
    rank-1 kernels whose weights cancel, as two 1-D passes computed wide (the planes
    would widen too, at about 5x the time); the others through the plane engine (rank-1
    kernels as two 1-D passes)."""
    cancels = _validate.cancels(kernel)
    if mode != "valid":
        b = before if before is not None else (kernel.shape[0] // 2, kernel.shape[1] // 2)
        factors = engine.separable_factors(kernel)
        if factors is None:
            return engine.fused_correlate2d(image, kernel, mode=mode, cval=cval, before=b)
        if cancels:  # the row pass sees, outside the image, cval * sum(u) (as the planes')
            u, v = factors
            return engine.fused_two_pass(image, u, v, mode=mode, cval=cval,
                                         cval_x=cval * float(np.sum(u)), before=b,
                                         wide=True)
    return engine.apply(image, lambda p: engine.correlate2d(p, kernel, mode, cval, before),
                        plane_dtype="wide" if cancels else None)


def gaussian(image, *, sigma, truncate, mode, cval):
    """Both passes fused on the caller's layout."""
    wy, wx = (taps.gaussian_or_one(s, truncate) for s in sigma)
    return engine.fused_two_pass(image, wy, wx, mode=mode, cval=cval, cval_x=cval,
                                 before=(wy.size // 2, wx.size // 2))


BOX_DIRECT = 9  # up to this window, direct sums in one fused sweep beat running sums


def box(image, *, size, mode, cval):
    ky, kx = size
    if max(ky, kx) > BOX_DIRECT:
        return engine.apply(image, lambda p: engine.box(p, (ky, kx), mode, cval))
    # small windows: direct sums, both passes fused on the caller's layout; uint8 in exact
    # integer sums (one rounding, of the exact mean) when cval is an integer
    if image.dtype == np.uint8 and (mode != "constant" or (
            float(cval).is_integer() and 0 <= cval <= 255)):
        c = int(cval) if mode == "constant" else 0
        return engine.fused_two_pass(image, np.ones(ky), np.ones(kx), mode=mode, cval=c,
                                     cval_x=c * ky, before=(ky // 2, kx // 2), divisor=ky * kx)
    return engine.fused_two_pass(image, np.full(ky, 1.0 / ky), np.full(kx, 1.0 / kx),
                                 mode=mode, cval=cval, cval_x=cval, before=(ky // 2, kx // 2))


def _network_max(dtype) -> int:
    """Largest window the fused selection networks take (uint8 7x7: the histogram wins)."""
    return 6 if dtype == np.uint8 else 7


@functools.cache
def _median_net(k: int) -> np.ndarray:
    return selection_network(k * k, (k * k) // 2)


def median(image, *, size, mode, cval):
    """3x3 to 7x7 through selection networks on the caller's layout; larger windows by
    quickselect (a histogram for uint8) on padded planes; all in the image's dtype."""
    k = size
    dt = _validate.native(image.dtype)
    cv = dt.type(_validate.native_cval(cval, dt))
    if 2 <= k <= _network_max(dt):
        src = np.ascontiguousarray(image, dtype=dt)
        out = np.empty_like(src)
        s3, c = _layout.rows_view(src)
        o3, _ = _layout.rows_view(out)
        if k == 3:
            rank.median3_hwc(s3, c, MODES[mode], cv, dt.kind == "f", o3)
        elif k == 5:  # unrolled by tools/gen_median_nets.py
            median_nets.median5_hwc(s3, c, MODES[mode], cv, o3)
        else:
            rank.median_network_hwc(s3, k, _median_net(k), (k * k) // 2, c, MODES[mode], cv,
                                    o3)
        return out

    def body(planes):
        if k == 1:
            return planes
        out = np.empty_like(planes)
        h = k // 2
        padded = border.pad(planes, h, k - 1 - h, h, k - 1 - h, MODES[mode], cv)
        if planes.dtype == np.uint8 and k >= 7:
            rank.median_hist_u8(padded, k, out)
        else:
            rank.median_select(padded, k, out)
        return out

    return engine.apply(image, body, plane_dtype="native")


def _gradient(planes, name, axis, mode, cval):
    """Derivative along ``axis``, smoothing along the other: sobel and prewitt as SciPy's
    chain (each pass extended with cval), scharr as one 2-D correlation."""
    smooth = taps.SMOOTH[name]
    if name == "scharr":
        k = np.outer(taps.DERIV, smooth) if axis == 0 else np.outer(smooth, taps.DERIV)
        return engine.correlate2d(planes, k, mode, cval)
    return engine.separable(planes, [(axis, taps.DERIV), (1 - axis, smooth)], mode, cval)


def edge(image, *, name, axis, mode, cval):
    """The magnitude fused on the caller's layout where the column-first order is exact
    (scharr always; sobel and prewitt unless a nonzero cval meets the border)."""
    smooth = taps.SMOOTH[name]
    exact = name == "scharr" or mode != "constant" or cval == 0
    cvx_a = 0.0 if name == "scharr" else cval
    cvx_b = cval * smooth.sum() if name == "scharr" else cval
    if axis is None and exact:
        return engine.fused_gradient(image, taps.DERIV, smooth, mode=mode, cval=cval,
                                     cvx_a=cvx_a, cvx_b=cvx_b)
    if exact:  # one gradient: a column pass then a row pass
        return engine.fused_pair(image, taps.centered(taps.DERIV, smooth, cvx_a) if axis == 0
                                 else taps.centered(smooth, taps.DERIV, cvx_b), mode, cval)

    def body(planes):
        if axis is not None:
            return _gradient(planes, name, axis, mode, cval)
        return engine.combine(_gradient(planes, name, 0, mode, cval),
                              _gradient(planes, name, 1, mode, cval), "hypot")

    return engine.apply(image, body, out_dtype="float", plane_dtype="wide")


def laplace(image, *, mode, cval):
    return engine.fused_laplace(image, mode=mode, cval=cval)


def gaussian_laplace(image, *, sigma, truncate, mode, cval):
    """The sum over both axes of the second derivative along it, smoothed along the
    other (each term a column pass then a row pass, SciPy's chain, fused), uint16 and
    float32 in float64 (their weights cancel), the terms added before rounding."""
    sy, sx = sigma
    a = taps.centered(taps.gaussian_or_one(sy, truncate, 2),
                      taps.gaussian_or_one(sx, truncate), cval)
    b = taps.centered(taps.gaussian_or_one(sy, truncate),
                      taps.gaussian_or_one(sx, truncate, 2), cval)
    total = engine.fused_pair(image, a, mode, cval, "compute")
    total += engine.fused_pair(image, b, mode, cval, "compute")
    return total.astype(_validate.edge_dtype(_validate.native(image.dtype)), copy=False)


# ----------------------------------------------------------------------------- denoising
def _per_image(planes: np.ndarray, channels: int, fn) -> np.ndarray:
    """Run ``fn`` on each image's ``(C, H, W)`` channel stack of a ``(N*C, H, W)`` stack."""
    out = [fn(planes[i:i + channels]) for i in range(0, planes.shape[0], channels)]
    return out[0] if len(out) == 1 else np.concatenate(out)


def _nan_reach(stack: np.ndarray, radius: int, mode: str) -> np.ndarray | None:
    """Where a non-finite sample lies within ``radius`` (Chebyshev), or None if none."""
    bad = ~np.isfinite(stack).all(axis=0)
    if not bad.any():
        return None
    m = bad[None].astype(np.float64)
    k = np.ones(2 * radius + 1)
    return engine.separable(m, [(0, k), (1, k)], mode, 0.0)[0] > 0


def bilateral(image, *, sigma_color, sigma_spatial, radius, mode):
    """Planes in float32 (float64 for float64 images), all channels of an image at once."""
    c = _layout.channels(image)
    r = radius
    off = np.arange(-r, r + 1, dtype=np.float64)
    spatial = np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) /
                     (2 * sigma_spatial * sigma_spatial)).ravel()

    def one(stack):
        padded = border.pad(stack, r, r, r, r, MODES[mode], 0.0)
        out = np.empty(stack.shape, stack.dtype)
        denoise.bilateral(padded, r, spatial.astype(stack.dtype),
                          1.0 / (2 * sigma_color * sigma_color), out)
        return out

    return engine.apply(image, lambda p: _per_image(p, c, one))


def nl_means(image, *, h, patch_size, patch_distance, sigma):
    """Float32 planes for 8/16-bit and float32 images (float64 for float64): half the
    memory traffic and twice the SIMD width; the sums that need it stay in float64."""
    c = _layout.channels(image)
    o, d = patch_size // 2, patch_distance
    pad = o + d + 1

    def one(stack):
        reach = _nan_reach(stack, o + d, "mirror")
        if reach is not None:
            stack = np.where(np.isfinite(stack), stack, 0.0)
        padded = border.pad(stack, pad, pad, pad, pad, MODES["mirror"], 0.0)
        out = np.empty(stack.shape, stack.dtype)
        denoise.nl_means(padded, pad, o, d,
                         1.0 / (stack.shape[0] * h * h * patch_size * patch_size),
                         stack.shape[0] * 2.0 * sigma * sigma, out)
        if reach is not None:
            out[:, reach] = np.nan
        return out

    return engine.apply(image, lambda p: _per_image(p, c, one))


def bm3d(image, *, sigma, profile, data_range, origin=(0, 0), noise=None,
         extent=None):
    """Each image of a batch through the BM3D driver in float32 (H, W, C); sigma 0 gives
    the image back unchanged (a copy); ``data_range`` None (float images): measured on
    the whole batch (``kernels.measured_range``); ``origin``: the reference grid's (a
    chunk's place in a larger image); ``noise``: the noise's DCT-domain covariance when
    it is not white of one sigma (``imgops._ops.bm3d_noise``); ``extent``: the larger
    image's (height, width), whose size picks the parameters (None: each image's own)."""
    if sigma == 0.0:
        return copy(image)
    from . import bm3d as kernels  # the largest kernels: compiled only when used

    v = _layout.as4d(np.ascontiguousarray(image, dtype=np.float32))
    if data_range is None:
        data_range = kernels.measured_range(v)
    out = np.empty(v.shape, np.float32)
    for n in range(v.shape[0]):
        out[n] = kernels.bm3d_hwc_range(np.ascontiguousarray(v[n]), sigma, profile,
                                        data_range, origin, noise, extent)
    N, H, W, C = out.shape
    planes = np.ascontiguousarray(out.transpose(0, 3, 1, 2)).reshape(N * C, H, W)
    return engine.restore(planes, image, _validate.native(image.dtype))


def estimate_noise(image, finite_only=False):
    """Immerkaer's sums per channel over the valid region, then the mean sigma (with
    ``finite_only``: over the windows free of NaN and infinities)."""
    src = _layout.as4d(image)
    return immerkaer_sigma(*immerkaer_sums(src, finite_only), finite_only)


def _flat_io(image):
    """The image's samples in a flat contiguous array in native byte order, and a float64
    one for the result."""
    flat = np.ascontiguousarray(image, dtype=_validate.native(image.dtype)).reshape(-1)
    return flat, np.empty(image.size, np.float64)


def lookup(image, *, x0, step, ys):
    """The table ``ys`` on the even grid ``x0 + k step`` read at every sample (float64)."""
    flat, out = _flat_io(image)
    vst.lookup_flat(flat, x0, 1.0 / step, ys, out)
    return out.reshape(image.shape)


def gat_counts(image, *, x0, step, ys, top, s2):
    """The GAT's unbiased inverse, in counts, of every sample (float64)."""
    flat, out = _flat_io(image)
    vst.gat_counts_flat(flat, x0, 1.0 / step, ys, top, s2, out)
    return out.reshape(image.shape)


def copy(image):
    """The image unchanged, in a new array (``denoise`` of a noiseless image)."""
    return engine.apply(image, lambda p: p, plane_dtype="native")


# ----------------------------------------------------------------------------- canny
def _canny_gradients(image, sigma, dmax):
    """scikit-image's canny steps, in its dtypes and SciPy's arithmetic order (so that
    ties in the suppression break the same way): float32 images stay float32 between
    passes, integers become float64 times 1 / max; Gaussian smoothing with a constant
    border divided by the smoothed ones plus eps (the bleed-over), then Sobel (reflect),
    magnitude sqrt(i * i + j * j)."""
    ft = np.float32 if _validate.native(image.dtype) == np.float32 else np.float64
    x = np.multiply(image, 1.0 / dmax) if image.dtype.kind == "u" else \
        np.asarray(image, dtype=ft)  # native byte order, any strides

    def pass1d(a, w, sym, axis, mode):
        r = w.shape[0] // 2
        m = MODES[mode]
        pad = border.pad(a[None], r, r, 0, 0, m, 0.0) if axis == 0 else \
            border.pad(a[None], 0, 0, r, r, m, 0.0)
        out = np.empty(a.shape, ft)
        feature.scipy_pass(pad[0], w, sym, axis, out)
        return out

    eps = np.finfo(ft).eps
    if sigma > 1e-15:
        g = taps.gaussian_kernel1d(sigma, 4.0)[::-1].copy()

        def blur(a):
            return pass1d(pass1d(a, g, 1, 0, "constant"), g, 1, 1, "constant")

        bleed = blur(np.ones(x.shape, ft)) + eps
        smoothed = blur(x)
    else:  # SciPy skips the axes; the bleed-over is then 1 + eps
        bleed = np.ones(x.shape, ft) + eps
        smoothed = x.astype(ft)
    smoothed /= bleed
    sobel = taps.SMOOTH["sobel"]
    isobel = pass1d(pass1d(smoothed, taps.DERIV, -1, 0, "reflect"), sobel, 1, 1, "reflect")
    jsobel = pass1d(pass1d(smoothed, taps.DERIV, -1, 1, "reflect"), sobel, 1, 0, "reflect")
    magnitude = isobel * isobel
    magnitude += jsobel * jsobel
    np.sqrt(magnitude, out=magnitude)
    return isobel, jsobel, magnitude


def canny(image, *, sigma, low, high, use_quantiles, dmax):
    isobel, jsobel, magnitude = _canny_gradients(image, sigma, dmax)
    if use_quantiles:
        low, high = np.percentile(magnitude, [100.0 * low, 100.0 * high])
    suppressed = np.empty(magnitude.shape, magnitude.dtype)
    feature.nonmax_suppression(isobel, jsobel, magnitude, nms.low32(low), suppressed)
    out = np.empty(suppressed.shape, bool)
    # NumPy compares the float32 magnitudes with the threshold in float32
    nms.hysteresis(suppressed, float(magnitude.dtype.type(high)), out)
    return out


# ----------------------------------------------------------------------------- pooling
def _resized_io(image, ho: int, wo: int):
    """(source rows, C, output, output rows) of a fused resampling sweep."""
    src = np.ascontiguousarray(image, dtype=_validate.native(image.dtype))
    rows, c = _layout.rows_view(src)
    out = np.empty(_layout.shaped(image.ndim, rows.shape[0], ho, wo, c), src.dtype)
    return rows, c, out, _layout.rows_view(out)[0]


def _is_2x2(image, geometry) -> bool:
    """The plain 2x2 pool, fused on the caller's layout."""
    kh, kw, sh, sw, ph, pw, ho, wo = geometry
    h, w = _layout.spatial(image)
    return (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0) and 2 * ho <= h and 2 * wo <= w


def max_pool_planes(planes, geometry):
    kh, kw, sh, sw, ph, pw, ho, wo = geometry
    out = np.empty((planes.shape[0], ho, wo), planes.dtype)
    resample.max_pool(planes, kh, kw, sh, sw, ph, pw, out)
    return out


def avg_pool_planes(planes, geometry, count_include_pad):
    kh, kw, sh, sw, ph, pw, ho, wo = geometry
    out = np.empty((planes.shape[0], ho, wo), planes.dtype)
    resample.avg_pool(planes, kh, kw, sh, sw, ph, pw, bool(count_include_pad), out)
    return out


def max_pool(image, *, geometry):
    if _is_2x2(image, geometry):
        rows, c, out, orows = _resized_io(image, *geometry[6:])
        resample.max_pool_2x2_hwc(rows, c, orows)
        return out
    return engine.apply(image, lambda p: max_pool_planes(p, geometry), plane_dtype="native")


def avg_pool(image, *, geometry, count_include_pad):
    if _is_2x2(image, geometry):
        rows, c, out, orows = _resized_io(image, *geometry[6:])
        if out.dtype.kind == "u":  # sums of four fit twice the width
            wide = np.empty(0, np.uint16 if out.dtype.itemsize == 1 else np.uint32)
            resample.avg_pool_2x2_hwc_int(rows, c, wide, orows)
        else:
            resample.avg_pool_2x2_hwc(rows, c, orows)
        return out
    return engine.apply(image, lambda p: avg_pool_planes(p, geometry, count_include_pad))


# ----------------------------------------------------------------------------- resampling
def _edge_taps_finite(rows, c) -> bool:
    """Whether source row 1 and column 1 are finite (the 2x phases read them with
    weight 0 where PyTorch's first output reads them too)."""
    if rows.dtype.kind != "f":
        return True
    return bool(np.isfinite(rows[:, 1:2]).all() and np.isfinite(rows[:, :, c:2 * c]).all())


def resize(image, *, shape, method, align_corners):
    """Both axes in one sweep on the caller's layout."""
    ho, wo = shape
    h, w = _layout.spatial(image)
    iy, wy = taps.resize_taps(h, ho, method, align_corners)
    ix, wx = taps.resize_taps(w, wo, method, align_corners)
    if method == "bilinear" and not align_corners and (ho, wo) == (2 * h, 2 * w):
        rows, c, out, orows = _resized_io(image, ho, wo)
        if _edge_taps_finite(rows, c):  # 2x by phases: no tables, no gathers
            integer = out.dtype.kind == "u"
            cdt = _validate.compute_dtype(out.dtype)
            wide = {1: np.uint16, 2: np.uint32}.get(out.dtype.itemsize) if integer else cdt
            resample.upsample2x_hwc(rows, c, np.empty(0, wide), integer, orows)
            return out
    return resample_taps(image, iy=iy, wy=wy, ix=ix, wx=wx,
                         nearest=method.startswith("nearest"))


def resample_taps(image, *, iy, wy, ix, wx, nearest):
    """``image`` resampled with per-axis tables ``(n_out, T)``: source indices into
    ``image`` and their weights (``nearest``: one tap, copied, exact).

    What resize runs once its tables are made. A chunk of a larger image (imgops._dask)
    passes its rows of the whole image's tables, shifted to the region it read: the
    same kernels, so the chunk's values are the whole image's.
    """
    rows, c, out, orows = _resized_io(image, iy.shape[0], ix.shape[0])
    # per output sample (pixel x, channel k): offset ix * C + k into the row, weight wx
    ixe = (ix.T[:, :, None] * c + np.arange(c)).reshape(ix.shape[1], -1).astype(np.int32)
    if nearest:  # a copy: no arithmetic, any dtype, exact
        resample.nearest_hwc(rows, np.ascontiguousarray(iy[:, 0]), ixe[0].copy(), c, orows)
        return out
    cdt = _validate.compute_dtype(out.dtype)
    wxe = np.repeat(wx.T, c, axis=1).astype(cdt)
    lo, hi = _validate.int_range(out.dtype, cdt)
    fn = resample.upsample_hwc if iy.shape[1] == 2 and iy.shape[0] > rows.shape[1] else \
        resample.resample_hwc
    fn(rows, np.ascontiguousarray(iy), wy.astype(cdt), ixe, wxe, lo, hi,
       out.dtype.kind == "u", orows)
    return out


def conv_transpose(image, *, weight, bias, stride, padding, groups, out_hw):
    """Each image's channels as a (1, C, H, W) batch through the transposed convolution."""
    channels = _layout.channels(image)
    (sh, sw), (ph, pw), (ho, wo) = stride, padding, out_hw
    h, w = _layout.spatial(image)
    cout = bias.size

    def body(planes):
        n = planes.shape[0] // channels
        x = planes.reshape(n, channels, h, w)
        out = np.empty((n, cout, ho, wo), planes.dtype)
        resample.conv_transpose(x, np.ascontiguousarray(weight, planes.dtype),
                                np.ascontiguousarray(bias, planes.dtype), sh, sw, ph, pw,
                                groups, out)
        return out.reshape(n * cout, ho, wo)

    return engine.apply(image, body)


# ----------------------------------------------------------------------------- NCHW blocks
def nn_conv2d(x, *, weight, bias, stride, padding, out_hw):
    n = x.shape[0]
    out = np.empty((n, bias.size, *out_hw), x.dtype)
    nn_kernels.conv2d(x, weight.astype(x.dtype), bias.astype(x.dtype), *stride, *padding, out)
    return out


def nn_conv_transpose2d(x, *, weight, bias, stride, padding, out_hw):
    n = x.shape[0]
    out = np.empty((n, bias.size, *out_hw), x.dtype)
    resample.conv_transpose(x, weight.astype(x.dtype), bias.astype(x.dtype), *stride,
                            *padding, 1, out)
    return out


def nn_max_pool2d(x, *, geometry):
    n, c, h, w = x.shape
    out = max_pool_planes(x.reshape(n * c, h, w), geometry)
    return out.reshape(n, c, *out.shape[1:])


def nn_avg_pool2d(x, *, geometry, count_include_pad):
    n, c, h, w = x.shape
    out = avg_pool_planes(x.reshape(n * c, h, w), geometry, count_include_pad)
    return out.reshape(n, c, *out.shape[1:])


def nn_relu(x):
    return np.where(x < 0, x.dtype.type(0), x)
