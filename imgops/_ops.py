"""One record per operation: its checks, output rule, footprint and implementations.

The public functions are thin: they hand their arguments to
``imgops._dispatch.run(name, ...)``, which finds the record here, checks the image
and the arguments with the record's ``check``, and runs the CPU or CUDA
implementation the record names (or, for a dask array, maps it over chunks with
the record's footprint). The command line's method choices, the tests' tables
and the benchmarks read these records instead of repeating lists.

A record's fields:

``check(image, **arguments) -> dict``
    Validates the arguments (the image is already checked) and returns the
    keyword parameters the implementations take.
``out_dtype``
    ``"same"`` (the input's dtype, integers rounded half to even and saturated),
    ``"float"`` (float32, float64 for float64 input), ``"float64"``, ``"bool"`` or
    ``"scalar"``.
``halo(params) -> (rows, cols)``
    Stencils: how many input rows and columns beyond an output region it reads
    (``None``: the operation is not a stencil).
``out_size(h, w, params) -> (ho, wo)`` and ``source(axis, start, stop, n_in, params)``
    Pools and resampling: the output size, and the input index range an output
    index range reads along an axis.
``cpu``, ``cuda``
    ``"function"`` names in ``imgops._cpu.ops`` and ``imgops._cuda.ops``.
``reference``
    The implementation the operation agrees with (tests and docs read it).
``example``
    Small valid arguments (for an image in [0, 1]): the tests run every record
    with them.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import _layout
from . import _validate as v

LAYOUTS = "image"  # (H, W), (H, W, C) or (N, H, W, C)


@dataclass(frozen=True)
class Op:
    """How one operation is checked, sized and run (see the module docstring)."""

    name: str
    family: str
    check: Callable[..., dict]
    cpu: str | None
    cuda: str | None
    reference: str
    out_dtype: str = "same"
    halo: Callable[[dict], tuple[int, int]] | None = None
    out_size: Callable[[int, int, dict], tuple[int, int]] | None = None
    layout: str = LAYOUTS
    ndims: tuple[int, ...] = (2, 3, 4)
    methods: tuple[str, ...] = ()
    example: dict | None = None


# ----------------------------------------------------------------------------- checks
def _mode(mode, allow_valid=False):
    return v.check_mode(mode, allow_valid=allow_valid)


def _cval(cval):
    """Any real number (NaN too, as SciPy takes it)."""
    if isinstance(cval, bool) or not isinstance(cval, (int, float, np.integer, np.floating)):
        raise TypeError(f"cval must be a real number; got {cval!r}")
    return float(cval)


def _check_correlate(image, kernel, mode="reflect", cval=0.0):
    k = v.check_kernel(kernel)
    mode = _mode(mode, allow_valid=True)
    _check_valid(image, k, mode)
    return {"kernel": k, "mode": mode, "cval": _cval(cval), "before": None}


def _check_convolve(image, kernel, mode="reflect", cval=0.0):
    k = v.check_kernel(kernel)
    mode = _mode(mode, allow_valid=True)
    _check_valid(image, k, mode)
    return {"kernel": np.ascontiguousarray(k[::-1, ::-1]), "mode": mode, "cval": _cval(cval),
            "before": ((k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2)}


def _check_valid(image, k, mode):
    h, w = _layout.spatial(image)
    if mode == "valid" and (h < k.shape[0] or w < k.shape[1]):
        raise ValueError(f"mode='valid' needs the image ({h}x{w}) at least as large as "
                         f"the kernel ({k.shape[0]}x{k.shape[1]})")


def _sigmas(sigma):
    return v.pair(sigma, "sigma", v.check_float, low=0.0)


def _truncate(truncate):
    return v.check_float(truncate, "truncate", low=0.0, low_open=True)


def _check_gaussian(image, sigma, truncate=4.0, mode="reflect", cval=0.0):
    return {"sigma": _sigmas(sigma), "truncate": _truncate(truncate), "mode": _mode(mode),
            "cval": _cval(cval)}


def _check_box(image, size=3, mode="reflect", cval=0.0):
    return {"size": v.pair(size, "size", low=1), "mode": _mode(mode), "cval": _cval(cval)}


MEDIAN_MAX = 101


def _check_median(image, size=3, mode="reflect", cval=0.0):
    return {"size": v.check_int(size, "size", low=1, high=MEDIAN_MAX), "mode": _mode(mode),
            "cval": _cval(cval)}


def _edge_check(name):
    def check(image, axis=None, mode="reflect", cval=0.0):
        if axis is not None:
            axis = v.check_int(axis, "axis", low=-2, high=1) % 2
        return {"name": name, "axis": axis, "mode": _mode(mode), "cval": _cval(cval)}
    return check


def _check_laplace(image, mode="reflect", cval=0.0):
    return {"mode": _mode(mode), "cval": _cval(cval)}


def _check_bilateral(image, sigma_color, sigma_spatial, radius=None, mode="reflect"):
    sc = v.check_float(sigma_color, "sigma_color", low=0.0, low_open=True)
    ss = v.check_float(sigma_spatial, "sigma_spatial", low=0.0, low_open=True)
    r = max(2, math.ceil(3 * ss)) if radius is None else v.check_int(radius, "radius",
                                                                     low=0, high=256)
    return {"sigma_color": sc, "sigma_spatial": ss, "radius": r, "mode": _mode(mode)}


def _check_nl_means(image, h, patch_size=7, patch_distance=11, sigma=0.0):
    s = v.check_int(patch_size, "patch_size", low=1, high=101)
    return {"h": v.check_float(h, "h", low=0.0, low_open=True),
            "patch_size": s + 1 if s % 2 == 0 else s,  # even sizes made odd, as scikit-image
            "patch_distance": v.check_int(patch_distance, "patch_distance", low=0, high=100),
            "sigma": v.check_float(sigma, "sigma", low=0.0)}


BM3D_PROFILES = ("fast", "normal")


def _check_bm3d(image, sigma, profile="normal", origin=(0, 0), data_range=None,
                extent=None):
    dt = v.native(image.dtype)
    if data_range is not None:  # not public: a Dask chunk gets the whole image's
        data_range = v.check_float(data_range, "data_range", low=0.0, low_open=True)
    elif dt.kind == "u":
        data_range = float(np.iinfo(dt).max)
    level, noise = bm3d_noise(sigma, _layout.channels(image))
    return {"sigma": level,
            # None: white noise of one sigma in every channel (the scalar path); else the
            # noise's covariance in the 8 x 8 DCT, (C, C, 8, 8) or (1, 1, 8, 8)
            "noise": noise,
            "profile": v.check_choice(profile, "profile", BM3D_PROFILES),
            # the nominal range the block-matching thresholds scale with: the integer
            # dtype's maximum; for floats (None) the targets measure it on the data
            # (imgops._shared.bm3d.data_range_of), so that bm3d(k x, k sigma) = k bm3d(x,
            # sigma)
            "data_range": data_range,
            # not public: a Dask chunk's place in the image, whose reference grid it uses,
            # and the image's (height, width), whose size picks the parameters
            "origin": v.pair(origin, "origin", low=None),
            "extent": None if extent is None else v.pair(extent, "extent", low=1)}


_BM3D_SIGMA = ("sigma must be a real number, a sequence of one value per channel, a noise "
               "PSD shaped (M, N) or (M, N, C), or an imgops.NoiseModel")


class BM3DNoise:
    """BM3D's noise reduced to its covariance on the lags -16..16 (not public): what a
    Dask image's chunks get instead of a PSD (:func:`bm3d_chunk_arguments`)."""

    def __init__(self, acf: np.ndarray):
        self.acf = np.asarray(acf, np.float64)


def bm3d_noise(sigma, channels: int) -> tuple[float, np.ndarray | None]:
    """BM3D's noise argument checked and reduced to ``(level, noise)``.

    ``noise`` is None for white noise of one standard deviation ``level`` in every
    channel (a real number, or per-channel values all equal); otherwise the noise's
    covariance between the channels on the lags -16..16 (``acf`` of
    :mod:`imgops._shared.bm3d`, float64 ``(C, C, 33, 33)``, or ``(1, 1, 33, 33)`` for
    every channel alike and independent), and ``level`` its standard deviation per
    pixel, root mean over the channels (0: no noise, the image comes back as a copy):

    - per-channel standard deviations (1-D, length C): each channel white, the channels
      independent;
    - a PSD (``(M, N)``: every channel, independent; ``(M, N, C)``: one per channel,
      independent), the ``bm3d`` package's ``sigma_psd`` convention;
    - a :class:`imgops._noise.NoiseModel`: the covariance that gives its ``cov`` (C or 1
      channels) exactly (``dct_cov_acf``); its intensity law is not used.
    """
    from ._noise import NoiseModel

    if isinstance(sigma, BM3DNoise):
        return _bm3d_level(sigma.acf, channels)
    if isinstance(sigma, NoiseModel):
        cov = np.asarray(sigma.cov, np.float64)
        if cov.shape[0] not in (1, channels):
            raise ValueError(f"sigma: the noise model has {cov.shape[0]} channels; the image "
                             f"has {channels}")
        from ._shared.bm3d import dct_cov_acf  # loads Numba: only here

        return _bm3d_level(dct_cov_acf(cov), channels)
    if isinstance(sigma, np.ndarray) and sigma.ndim == 0:
        sigma = sigma[()]
    if isinstance(sigma, numbers.Real) or isinstance(sigma, bool):
        return v.check_float(sigma, "sigma", low=0.0), None
    if isinstance(sigma, (str, bytes, dict)):
        raise TypeError(f"{_BM3D_SIGMA}; got {type(sigma).__name__}")
    try:
        a = np.asarray(sigma)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{_BM3D_SIGMA}; got {type(sigma).__name__}") from e
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{_BM3D_SIGMA}; got an array of dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.ndim == 0:
        return v.check_float(float(a), "sigma", low=0.0), None
    if a.ndim > 3:
        raise ValueError(f"sigma as a PSD must be 2-D (M, N) or 3-D (M, N, C); got shape "
                         f"{a.shape}")
    if a.size == 0:
        raise ValueError(f"sigma is empty (shape {a.shape})")
    what = "per-channel sigma" if a.ndim == 1 else "sigma (a PSD)"
    if not np.isfinite(a).all():
        raise ValueError(f"{what} must be finite")
    if (a < 0).any():
        raise ValueError(f"{what} must be >= 0")
    if a.ndim == 1:
        if a.size != channels:
            raise ValueError(f"sigma has {a.size} values; the image has {channels} "
                             f"channel{'s' if channels != 1 else ''}")
        if (a == a[0]).all():  # one sigma: the scalar path, bitwise
            return float(a[0]), None
        from ._shared.bm3d import white_acf  # loads Numba: only here

        return _bm3d_level(white_acf(a), channels)
    if a.ndim == 3 and a.shape[2] != channels:
        raise ValueError(f"sigma (a PSD) has {a.shape[2]} channels (shape {a.shape}); the "
                         f"image has {channels}")
    if not a.any():
        return 0.0, None
    from ._shared.bm3d import psd_acf  # loads Numba: only here

    return _bm3d_level(psd_acf(a), channels)


def _bm3d_level(acf: np.ndarray, channels: int) -> tuple[float, np.ndarray | None]:
    from ._shared.bm3d import check_noise, noise_level

    acf = check_noise(acf, channels)
    level = noise_level(acf, channels)
    return (level, acf) if level > 0 else (0.0, None)


def bm3d_chunk_arguments(image, sigma) -> dict:
    """The hidden arguments a Dask image's chunks need for BM3D: ``{"extent": (H, W)}``,
    the whole image's height and width (its size picks the parameters); for a float
    image with noise, ``{"data_range": R}``, R measured now on the whole image as the
    in-memory targets measure it (the same sites and windows, in float32), so that every
    chunk scales its thresholds alike; and for a PSD, ``{"sigma": BM3DNoise}`` holding
    its covariance on the lags -16..16 (all that the chunks compute from, without the
    PSD in every task). ``{}`` for other images than Dask arrays."""
    da = sys.modules.get("dask.array")
    if da is None or not isinstance(image, da.Array):
        return {}
    x = image if image.ndim == 4 else image[None] if image.ndim == 3 else image[None, ..., None]
    if x.ndim != 4:
        return {}  # the checks will refuse it
    level, noise = bm3d_noise(sigma, int(x.shape[3]))
    out = {"extent": (int(x.shape[1]), int(x.shape[2]))}
    if noise is not None and np.ndim(sigma) >= 2:
        out["sigma"] = BM3DNoise(noise)
    if np.dtype(image.dtype).kind != "f" or not level > 0:
        return out
    import dask

    from ._shared.bm3d import (  # loads Numba: only here
        data_range_of,
        range_grid,
        range_windows,
        site_values,
    )

    grid = range_grid(*(int(d) for d in x.shape))
    windows = dask.compute(*(x[:, ry, rx, :].astype(np.float32)
                             for ry, rx in range_windows(*grid)))
    sample = site_values(windows)

    def whole_max_abs():
        f = x.astype(np.float32)
        return float(da.where(da.isfinite(f), abs(f), 0).max().compute())

    return {**out, "data_range": data_range_of(sample, whole_max_abs)}


def _check_estimate_noise(image, finite_only=False):
    h, w = _layout.spatial(image)
    if h < 3 or w < 3:
        raise ValueError(f"image must be at least 3x3 to estimate noise; got {h}x{w}")
    # finite_only (denoise's own use): leave out windows touching NaN or infinity
    return {"finite_only": bool(finite_only)}


def _check_canny(image, sigma=1.0, low_threshold=None, high_threshold=None,
                 use_quantiles=False):
    if image.ndim != 2:
        raise ValueError(f"canny takes a 2-D (H, W) image; got shape {image.shape}")
    sigma = v.check_float(sigma, "sigma", low=0.0)
    dt = v.native(image.dtype)
    dmax = float(np.iinfo(dt).max) if dt.kind == "u" else 1.0
    lo, hi = 0.1, 0.2
    if use_quantiles:
        if low_threshold is not None:
            lo = v.check_float(low_threshold, "low_threshold", low=0, high=1)
        if high_threshold is not None:
            hi = v.check_float(high_threshold, "high_threshold", low=0, high=1)
    else:
        if low_threshold is not None:
            lo = v.check_float(low_threshold, "low_threshold") / dmax
        if high_threshold is not None:
            hi = v.check_float(high_threshold, "high_threshold") / dmax
    if hi < lo:
        raise ValueError("low_threshold must not exceed high_threshold")
    return {"sigma": sigma, "low": lo, "high": hi, "use_quantiles": bool(use_quantiles),
            "dmax": dmax}


def _check_max_pool(image, size=2, stride=None, padding=0, ceil_mode=False):
    return {"geometry": v.pool_geometry(*_layout.spatial(image), size, stride, padding,
                                        ceil_mode)}


def _check_avg_pool(image, size=2, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True):
    return {**_check_max_pool(image, size, stride, padding, ceil_mode),
            "count_include_pad": bool(count_include_pad)}


RESIZE_METHODS = ("nearest", "nearest-exact", "bilinear", "area")
DOWNSAMPLE_METHODS = ("area", "max", "avg", "nearest", "bilinear")
UPSAMPLE_METHODS = ("bilinear", "nearest", "transposed")


def _check_resize(image, shape, method="bilinear", align_corners=False):
    shape = v.check_shape(shape)
    v.check_choice(method, "method", RESIZE_METHODS)
    if align_corners and method != "bilinear":
        raise ValueError("align_corners applies to method='bilinear' only")
    return {"shape": shape, "method": method, "align_corners": bool(align_corners)}


def _check_resample_taps(image, iy, wy, ix, wx, nearest=False):
    """Per axis, a table ``(n_out, T)`` of source indices into the image and one of
    their weights (imgops._dask resizes a chunk with its rows of the whole image's)."""
    h, w = _layout.spatial(image)
    params = {"nearest": bool(nearest)}
    for axis, idx, wt, n in (("y", iy, wy, h), ("x", ix, wx, w)):
        idx, wt = np.asarray(idx), np.asarray(wt, dtype=np.float64)
        if idx.ndim != 2 or idx.shape != wt.shape or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(f"i{axis} and w{axis} must be non-empty (n_out, T) tables of the "
                             "same shape, integer indices")
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"i{axis} must index the image's {n} samples along that axis")
        params[f"i{axis}"], params[f"w{axis}"] = np.ascontiguousarray(idx, np.int64), wt
    return params


def _check_conv_transpose(image, kernel, stride=2, padding=0, output_padding=0, bias=None):
    if isinstance(kernel, (list, tuple)):
        kernel = np.asarray(kernel)
    if not isinstance(kernel, np.ndarray) or kernel.ndim not in (2, 4):
        raise ValueError("kernel must be a 2-D (kh, kw) or 4-D (C_in, C_out, kh, kw) array")
    k = v.check_kernel(kernel, "kernel", ndim=kernel.ndim)
    sh, sw = v.pair(stride, "stride", low=1)
    ph, pw = v.pair(padding, "padding", low=0)
    oph, opw = v.pair(output_padding, "output_padding", low=0)
    if oph >= sh or opw >= sw:
        raise ValueError(f"output_padding must be smaller than stride {(sh, sw)}; "
                         f"got {(oph, opw)}")
    h, w = _layout.spatial(image)
    kh, kw = k.shape[-2:]
    ho, wo = v.conv_output_size(h, kh, sh, ph, oph), v.conv_output_size(w, kw, sw, pw, opw)
    if ho < 1 or wo < 1:
        raise ValueError(f"padding {(ph, pw)} leaves no output for this image and kernel")
    channels = _layout.channels(image)
    if k.ndim == 4:
        if k.shape[0] != channels:
            raise ValueError(f"kernel has C_in={k.shape[0]} but the image has {channels} "
                             "channel(s)")
        cout, groups, weight = k.shape[1], 1, k
    else:
        cout, groups = channels, channels
        weight = np.broadcast_to(k, (channels, 1, kh, kw))
    return {"weight": weight, "bias": v.check_bias(bias, cout), "stride": (sh, sw),
            "padding": (ph, pw), "groups": groups, "out_hw": (ho, wo)}


# ----------------------------------------------------------------------------- NCHW checks
def _check_weight(weight, cin: int, transposed: bool) -> np.ndarray:
    w = v.check_kernel(weight, "weight", ndim=4)
    axis = 0 if transposed else 1
    if w.shape[axis] != cin:
        raise ValueError(f"weight {w.shape} expects {w.shape[axis]} input channels; "
                         f"x has {cin}")
    return w


def _check_conv2d(x, weight, bias=None, stride=1, padding=0):
    n, cin, h, w = x.shape
    wt = _check_weight(weight, cin, transposed=False)
    cout, _, kh, kw = wt.shape
    sh, sw = v.pair(stride, "stride", low=1)
    ph, pw = v.pair(padding, "padding", low=0)
    if h + 2 * ph < kh or w + 2 * pw < kw:
        raise ValueError(f"kernel {(kh, kw)} is larger than the padded input "
                         f"{(h + 2 * ph, w + 2 * pw)}")
    return {"weight": wt, "bias": v.check_bias(bias, cout), "stride": (sh, sw),
            "padding": (ph, pw), "out_hw": ((h + 2 * ph - kh) // sh + 1,
                                            (w + 2 * pw - kw) // sw + 1)}


def _check_conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    n, cin, h, w = x.shape
    wt = _check_weight(weight, cin, transposed=True)
    _, cout, kh, kw = wt.shape
    sh, sw = v.pair(stride, "stride", low=1)
    ph, pw = v.pair(padding, "padding", low=0)
    oph, opw = v.pair(output_padding, "output_padding", low=0)
    if oph >= sh or opw >= sw:
        raise ValueError(f"output_padding must be smaller than stride {(sh, sw)}")
    ho, wo = v.conv_output_size(h, kh, sh, ph, oph), v.conv_output_size(w, kw, sw, pw, opw)
    if ho < 1 or wo < 1:
        raise ValueError("padding leaves no output for this input and weight")
    return {"weight": wt, "bias": v.check_bias(bias, cout), "stride": (sh, sw),
            "padding": (ph, pw), "out_hw": (ho, wo)}


def _check_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    return {"geometry": v.pool_geometry(x.shape[2], x.shape[3], kernel_size, stride, padding,
                                        ceil_mode)}


def _check_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                      count_include_pad=True):
    return {**_check_pool2d(x, kernel_size, stride, padding, ceil_mode),
            "count_include_pad": bool(count_include_pad)}


def _check_lookup(image, x0, step, ys):
    """A table on an even grid (``imgops._vst.Table``): ``ys[k]`` at ``x0 + k step``."""
    ys = np.array(ys, np.float64)  # a writable copy: the kernels' one signature
    if ys.ndim != 1 or ys.size < 2 or not np.isfinite(ys).all():
        raise ValueError("ys must be a 1-D table of at least two finite values")
    return {"x0": v.check_float(x0, "x0"), "step": v.check_float(step, "step", low=0.0,
                                                                  low_open=True), "ys": ys}


def _check_gat_counts(image, x0, step, ys, top, s2):
    """`_check_lookup`'s table, its top and the Gaussian part's variance in counts."""
    return {**_check_lookup(image, x0, step, ys), "top": v.check_float(top, "top"),
            "s2": v.check_float(s2, "s2", low=0.0)}


def _no_params(x):
    return {}


# ----------------------------------------------------------------------------- footprints
def _radius(k: int, before: int | None = None) -> int:
    """Input samples a window of ``k`` reads on its farther side."""
    b = k // 2 if before is None else before
    return max(b, k - 1 - b)


def _halo_kernel(p):
    kh, kw = p["kernel"].shape
    by, bx = p["before"] or (kh // 2, kw // 2)
    return _radius(kh, by), _radius(kw, bx)


def _halo_gaussian(p):
    return tuple(int(p["truncate"] * s + 0.5) if s > 1e-15 else 0 for s in p["sigma"])


def _halo_size(p):
    size = p["size"]
    ky, kx = (size, size) if isinstance(size, int) else size
    return _radius(ky), _radius(kx)


def _halo_pool(p):
    kh, kw, sh, sw, ph, pw, ho, wo = p["geometry"]
    return kh, kw


def _pool_size(h, w, p):
    return p["geometry"][6:]


# ----------------------------------------------------------------------------- the table
_FILTER = "scipy.ndimage.{} applied per channel in float64, same mode and cval"

OPS: dict[str, Op] = {op.name: op for op in [
    Op("correlate", "stencil", _check_correlate, "correlate", "correlate",
       _FILTER.format("correlate") + " ('valid': scipy.signal.correlate2d)",
       halo=_halo_kernel),
    Op("convolve", "stencil", _check_convolve, "correlate", "correlate",
       _FILTER.format("convolve") + " ('valid': scipy.signal.convolve2d)",
       halo=_halo_kernel),
    Op("gaussian", "stencil", _check_gaussian, "gaussian", "gaussian",
       _FILTER.format("gaussian_filter"), halo=_halo_gaussian),
    Op("box", "stencil", _check_box, "box", "box", _FILTER.format("uniform_filter"),
       halo=_halo_size),
    Op("median", "stencil", _check_median, "median", "median",
       _FILTER.format("median_filter") + ", exactly", halo=_halo_size),
    Op("sobel", "edge", _edge_check("sobel"), "edge", "edge", _FILTER.format("sobel"),
       out_dtype="float", halo=lambda p: (1, 1)),
    Op("prewitt", "edge", _edge_check("prewitt"), "edge", "edge", _FILTER.format("prewitt"),
       out_dtype="float", halo=lambda p: (1, 1)),
    Op("scharr", "edge", _edge_check("scharr"), "edge", "edge",
       _FILTER.format("correlate") + " with the 3x3 Scharr kernels", out_dtype="float",
       halo=lambda p: (1, 1)),
    Op("laplace", "edge", _check_laplace, "laplace", "laplace", _FILTER.format("laplace"),
       out_dtype="float", halo=lambda p: (1, 1)),
    Op("gaussian_laplace", "edge", _check_gaussian, "gaussian_laplace", "gaussian_laplace",
       _FILTER.format("gaussian_laplace"), out_dtype="float", halo=_halo_gaussian),
    Op("bilateral", "denoise", _check_bilateral, "bilateral", "bilateral",
       "the bilateral formula over the (2r+1)^2 window (Tomasi and Manduchi 1998)",
       halo=lambda p: (p["radius"], p["radius"])),
    Op("nl_means", "denoise", _check_nl_means, "nl_means", "nl_means",
       "skimage.restoration.denoise_nl_means(fast_mode=True, preserve_range=True)",
       halo=lambda p: (p["patch_size"] // 2 + p["patch_distance"] + 1,) * 2),
    Op("bm3d", "denoise", _check_bm3d, "bm3d", "bm3d",
       "BM3D/CBM3D (Dabov et al. 2007); quality reference: the bm3d package",
       # chunks see the blocks that their groups' blocks match, and those of the basic
       # estimate: about two search windows and blocks each side
       halo=lambda p: (80, 80), methods=BM3D_PROFILES),
    # on a GPU: the image comes to the host and the CPU sums run (one number out)
    Op("estimate_noise", "reduce", _check_estimate_noise, "estimate_noise", "to_host",
       "Immerkaer's estimator (1996) over the valid region", out_dtype="scalar",
       halo=lambda p: (1, 1)),
    Op("copy", "util", _no_params, "copy", "copy", "the input itself",
       halo=lambda p: (0, 0)),
    # the variance-stabilizing maps (imgops._vst's tables, read on the host)
    Op("lookup", "util", _check_lookup, "lookup", None,
       "imgops._vst.lookup (linear interpolation on an even grid, end segments beyond)",
       out_dtype="float64", halo=lambda p: (0, 0)),
    Op("gat_counts", "util", _check_gat_counts, "gat_counts", None,
       "imgops._vst.gat_inverse (the GAT's exact unbiased inverse), in counts",
       out_dtype="float64", halo=lambda p: (0, 0)),
    Op("canny", "feature", _check_canny, "canny", "canny", "skimage.feature.canny",
       out_dtype="bool", ndims=(2,)),
    Op("max_pool", "pool", _check_max_pool, "max_pool", "max_pool",
       "torch.nn.functional.max_pool2d", out_size=_pool_size, halo=_halo_pool),
    Op("avg_pool", "pool", _check_avg_pool, "avg_pool", "avg_pool",
       "torch.nn.functional.avg_pool2d", out_size=_pool_size, halo=_halo_pool),
    Op("resize", "resample", _check_resize, "resize", "resize",
       "torch.nn.functional.interpolate (antialias off)",
       out_size=lambda h, w, p: p["shape"], methods=RESIZE_METHODS),
    Op("resample_taps", "resample", _check_resample_taps, "resample_taps", None,
       "imgops.resize's kernels with given index and weight tables",
       out_size=lambda h, w, p: (p["iy"].shape[0], p["ix"].shape[0])),
    Op("conv_transpose", "resample", _check_conv_transpose, "conv_transpose",
       "conv_transpose", "torch.nn.functional.conv_transpose2d",
       out_size=lambda h, w, p: p["out_hw"]),
    Op("nn.conv2d", "nn", _check_conv2d, "nn_conv2d", "nn_conv2d",
       "torch.nn.functional.conv2d", layout="nchw", ndims=(4,)),
    Op("nn.conv_transpose2d", "nn", _check_conv_transpose2d, "nn_conv_transpose2d",
       "nn_conv_transpose2d", "torch.nn.functional.conv_transpose2d", layout="nchw",
       ndims=(4,)),
    Op("nn.max_pool2d", "nn", _check_pool2d, "nn_max_pool2d", "nn_max_pool2d",
       "torch.nn.functional.max_pool2d", layout="nchw", ndims=(4,)),
    Op("nn.avg_pool2d", "nn", _check_avg_pool2d, "nn_avg_pool2d", "nn_avg_pool2d",
       "torch.nn.functional.avg_pool2d", layout="nchw", ndims=(4,)),
    Op("nn.relu", "nn", _no_params, "nn_relu", "nn_relu", "torch.relu", layout="nchw",
       ndims=(4,)),
]}

# Small valid arguments of each operation on an image in [0, 1].
_EXAMPLES = {
    "correlate": {"kernel": np.arange(6.0).reshape(3, 2) / 15},
    "convolve": {"kernel": np.arange(6.0).reshape(3, 2) / 15},
    "gaussian": {"sigma": 1.0}, "box": {"size": 3}, "median": {"size": 3},
    "sobel": {}, "prewitt": {}, "scharr": {}, "laplace": {}, "gaussian_laplace": {"sigma": 1.0},
    "bilateral": {"sigma_color": 0.1, "sigma_spatial": 1.0},
    "nl_means": {"h": 0.1, "patch_size": 3, "patch_distance": 2},
    "bm3d": {"sigma": 0.05, "profile": "fast"}, "estimate_noise": {}, "copy": {},
    "canny": {}, "max_pool": {"size": 2}, "avg_pool": {"size": 2}, "resize": {"shape": (5, 7)},
    "conv_transpose": {"kernel": np.ones((2, 2)) / 4},
}
OPS = {name: replace(op, example=_EXAMPLES.get(name)) for name, op in OPS.items()}

# Operations built from the ones above (the public function composes them).
COMPOSITES = {
    "downsample": DOWNSAMPLE_METHODS,
    "upsample": UPSAMPLE_METHODS,
    "denoise": ("bm3d", "nl_means", "bilateral", "median", "gaussian"),
}

EDGE_METHODS = ("sobel", "prewitt", "scharr", "laplace", "gaussian_laplace", "canny")
BLUR_METHODS = ("gaussian", "box", "median")

# The choices each composite or command offers, for the command line and the docs.
METHODS: dict[str, tuple[str, ...]] = {
    "denoise": COMPOSITES["denoise"],
    "blur": BLUR_METHODS,
    "edges": EDGE_METHODS,
    "resize": RESIZE_METHODS,
    "downsample": DOWNSAMPLE_METHODS,
    "upsample": UPSAMPLE_METHODS,
    "mode": tuple(v.MODES),
    "profile": BM3D_PROFILES,
}

__all__ = ["OPS", "Op", "COMPOSITES", "METHODS", "EDGE_METHODS", "BLUR_METHODS",
           "RESIZE_METHODS", "DOWNSAMPLE_METHODS", "UPSAMPLE_METHODS", "BM3D_PROFILES"]
