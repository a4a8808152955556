"""The CPU engine: plane stacks, 1-D and 2-D correlation, box sums, fused sweeps.

Two routes run every CPU operation:

- planes: ``apply`` gathers the image into a C-contiguous ``(P, H, W)`` stack
  in the compute dtype (one parallel pass), runs a body on it, and scatters the
  result back into the caller's layout, rounding and saturating integers (one
  pass);
- fused: the ``fused_*`` functions run both passes of a separable filter (or a
  whole 2-D stencil) in one sweep on the caller's own ``(N, H, W*C)`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import _layout, _validate
from .._shared.taps import rank1_factors
from . import border, layout, stencil


# ----------------------------------------------------------------------------- planes
def to_planes(image: np.ndarray, dtype=None) -> np.ndarray:
    """A C-contiguous, native-order ``(P, H, W)`` stack of ``image`` in ``dtype``.

    May be a view of ``image`` (kernels never write to their inputs).
    """
    dtype = _validate.native(image.dtype if dtype is None else dtype)
    if image.ndim == 2 and image.dtype == dtype and image.flags.c_contiguous:
        return image[None]
    src = image if image.dtype.isnative else image.astype(_validate.native(image.dtype))
    v = _layout.as4d(src)
    planes = np.empty((v.shape[0] * v.shape[3], v.shape[1], v.shape[2]), dtype)
    layout.gather(v, planes)
    return planes


def restore(planes: np.ndarray, image, dtype=None) -> np.ndarray:
    """Planes back to ``image``'s layout in ``dtype`` (default: the planes' dtype),
    integers rounded half to even and saturated. The plane count may differ from the
    image's (channels mixed)."""
    dtype = planes.dtype if dtype is None else _validate.native(dtype)
    n = _layout.batch(image)
    P, h, w = planes.shape
    if image.ndim == 2 and P == 1 and dtype == planes.dtype:
        return planes[0]
    out = np.empty(_layout.shaped(image.ndim, n, h, w, P // n), dtype)
    lo, hi = _validate.int_range(dtype, planes.dtype)
    layout.scatter(np.ascontiguousarray(planes), _layout.as4d(out), lo, hi, dtype.kind == "u")
    return out


def apply(image: np.ndarray, body: Callable[[np.ndarray], np.ndarray], *,
          out_dtype: str = "same", plane_dtype=None) -> np.ndarray:
    """Run ``body`` on ``image``'s ``(P, H, W)`` planes; restore layout and dtype.

    out_dtype: "same" (the input's dtype, integers rounded and saturated), "float"
    (float32, float64 for float64 input) or "raw" (whatever body returns).
    plane_dtype: the planes' dtype policy (``_validate.plane_dtype``).
    """
    dtype = _validate.native(image.dtype)
    planes = to_planes(image, _validate.plane_dtype(dtype, plane_dtype))
    result = body(planes)
    if np.may_share_memory(result, image):
        result = result.copy()  # planes may view the input: never hand the input back
    if out_dtype == "same":
        return restore(result, image, dtype)
    if out_dtype == "float":
        return restore(result, image, _validate.edge_dtype(dtype))
    return restore(result, image)


# ----------------------------------------------------------------------------- plane engines
def correlate1d(planes: np.ndarray, weights: np.ndarray, axis: int, before: int, mode: str,
                cval: float) -> np.ndarray:
    """One 1-D correlation pass along ``axis`` (0: rows/H, 1: columns/W)."""
    out = np.empty_like(planes)
    w = np.ascontiguousarray(weights, dtype=planes.dtype)
    fn = stencil.correlate_cols if axis == 0 else stencil.correlate_rows
    fn(planes, w, before, _validate.MODES[mode], planes.dtype.type(cval), out)
    return out


def separable(planes: np.ndarray, passes: Sequence[tuple], mode: str, cval: float
              ) -> np.ndarray:
    """Chain 1-D passes ``(axis, weights[, before])``; each pass extends its own input
    with ``cval``, as ``scipy.ndimage``'s chained 1-D filters do."""
    for p in passes:
        axis, w = p[0], np.asarray(p[1], dtype=np.float64)
        before = p[2] if len(p) > 2 else w.size // 2
        planes = correlate1d(planes, w, axis, before, mode, cval)
    return planes


def column_row(planes: np.ndarray, pair: tuple, mode: str, cval: float) -> np.ndarray:
    """A column pass then a row pass, ``pair = (wy, by, wx, bx, cvx)``: the row pass
    extends with ``cvx``; passes of a single unit tap are skipped."""
    wy, by, wx, bx, cvx = pair
    out = planes
    if wy.size > 1 or wy[0] != 1:
        out = correlate1d(out, wy, 0, by, mode, cval)
    if wx.size > 1 or wx[0] != 1:
        out = correlate1d(out, wx, 1, bx, mode, cvx)
    return out


def combine(a: np.ndarray, b, op: str) -> np.ndarray:
    """a + b, hypot(a, b), a / (b + float64 eps) (canny's bleed-over) or a * b."""
    if op == "add":
        return a + b
    if op == "hypot":
        return np.hypot(a, b)
    if op == "div_eps":
        return a / (b + np.finfo(np.float64).eps)
    return a * b


def separable_factors(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(u, v)`` with ``kernel == outer(u, v)`` (a row or column kernel, or rank 1), or
    None."""
    kh, kw = kernel.shape
    if kh == 1 or kw == 1:
        return (kernel[:, 0].copy(), np.ones(1)) if kw == 1 else (np.ones(1), kernel[0].copy())
    return rank1_factors(kernel)


def correlate2d(planes: np.ndarray, kernel: np.ndarray, mode: str, cval: float,
                before: tuple[int, int] | None = None) -> np.ndarray:
    """2-D correlation with SciPy's ``ndimage.correlate`` semantics (or ``valid``)."""
    kh, kw = kernel.shape
    P, H, W = planes.shape
    by, bx = before if before is not None else (kh // 2, kw // 2)
    w = np.ascontiguousarray(kernel, planes.dtype)
    if mode == "valid":
        out = np.empty((P, H - kh + 1, W - kw + 1), planes.dtype)
        stencil.correlate_valid(planes, w, out)
        return out
    factors = separable_factors(kernel)
    if factors is not None:
        u, v = factors
        # The row pass sees, outside the image, what a column of cval became: cval*sum(u).
        return column_row(planes, (u, by, v, bx, cval * float(np.sum(u))), mode, cval)
    out = np.empty_like(planes)
    padded = border.pad(planes, by, kh - 1 - by, bx, kw - 1 - bx, _validate.MODES[mode], cval)
    stencil.correlate_valid(padded, w, out)
    return out


def box(planes: np.ndarray, size: tuple[int, int], mode: str, cval: float) -> np.ndarray:
    """Mean over a ``size`` window: a running-sum pass along H, then along W (as SciPy)."""
    ky, kx = size
    m = _validate.MODES[mode]
    cv = planes.dtype.type(cval)
    if ky > 1:
        out = np.empty_like(planes)
        finite = np.isfinite(planes).all(axis=(1, 2))
        stencil.box_cols(planes, ky, ky // 2, m, cv, out, 64, finite)
        planes = out
    if kx > 1:
        out = np.empty_like(planes)
        stencil.box_rows(planes, kx, kx // 2, m, cv, out)
        planes = out
    return planes


# ----------------------------------------------------------------------------- fused sweeps
def fused_io(image: np.ndarray, out_dtype: str = "same", wide: bool = False):
    """(source, output, compute dtype, output dtype) of a fused sweep: the source is the
    image in native order, C-contiguous; the output has its shape, and the input's dtype
    ("same"), the edge filters' ("float") or the compute dtype ("compute"). ``wide``:
    weights that cancel, computed as ``_validate.plane_dtype``'s "wide" says."""
    dtype = _validate.native(image.dtype)
    src = np.ascontiguousarray(image, dtype=dtype)
    cdt = _validate.plane_dtype(dtype, "wide" if wide else None)
    odt = {"same": dtype, "compute": cdt}.get(out_dtype, _validate.edge_dtype(dtype))
    out = np.empty(src.shape, odt)
    return src, out, cdt, odt


def reciprocal(d: int, bits: int = 16) -> tuple[int, int]:
    """(m, s) with (q * m) >> s == q // d for every 0 <= q < 2**bits: m = ceil(2**s / d)
    overshoots by e < d, and q * e < 2**s. The product fits 32 bits for q < 2**(bits - 1)
    (a uint8 box up to 9x9 sums to at most 20655 + 40). Checked in tests/test_filters.py."""
    s = bits + (d - 1).bit_length()
    return -(-(1 << s) // d), s


def fused_two_pass(image, wy, wx, *, mode: str, cval: float, cval_x: float,
                   before: tuple[int, int], out_dtype: str = "same",
                   divisor: int = 0, wide: bool = False) -> np.ndarray:
    """Column pass ``wy`` (extended with cval) then row pass ``wx`` (extended with
    cval_x), fused on the caller's layout in one sweep (``out_dtype`` and ``wide`` as
    :func:`fused_io` takes them).

    ``divisor``: integer weights on uint8 (a box's ones), summed exactly in uint16 and
    divided by ``divisor`` with rounding to nearest; cval must then be an integer.
    """
    src, out, cdt, odt = fused_io(image, out_dtype, wide)
    s3, c = _layout.rows_view(src)
    o3, _ = _layout.rows_view(out)
    lo, hi = _validate.int_range(odt, cdt)
    store = stencil.IntStore(lo, hi, odt.kind == "u", *([np.uint32(0)] * 3))
    if divisor:
        cdt = np.dtype(np.uint16)
        m, sh = reciprocal(divisor)
        store = store._replace(mul=np.uint32(m), shift=np.uint32(sh), div=np.uint32(divisor))
    stencil.separable_hwc(s3, stencil.Taps(np.asarray(wy, cdt), before[0], cdt.type(cval)),
                          stencil.Taps(np.asarray(wx, cdt), before[1], cdt.type(cval_x)),
                          c, _validate.MODES[mode], store, o3)
    return out


def fused_pair(image, pair: tuple, mode: str, cval: float, out_dtype: str = "float"
               ) -> np.ndarray:
    """:func:`column_row`'s ``(wy, by, wx, bx, cvx)`` pass pair, fused on the caller's
    layout, for weights that cancel (``wide``)."""
    wy, by, wx, bx, cvx = pair
    return fused_two_pass(image, wy, wx, mode=mode, cval=cval, cval_x=cvx, before=(by, bx),
                          out_dtype=out_dtype, wide=True)


def fused_gradient(image, deriv, smooth, *, mode: str, cval: float, cvx_a: float,
                   cvx_b: float) -> np.ndarray:
    """hypot(deriv down the columns then smooth along the rows, smooth down then deriv
    along), fused; the row passes extend with cvx_a and cvx_b. float32 out (float64
    for float64)."""
    src, out, cdt, _ = fused_io(image, "float", wide=True)
    s3, c = _layout.rows_view(src)
    o3, _ = _layout.rows_view(out)
    stencil.gradient_hwc(s3, np.asarray(deriv, cdt), np.asarray(smooth, cdt), c,
                         _validate.MODES[mode], cdt.type(cval), cdt.type(cvx_a),
                         cdt.type(cvx_b), o3)
    return out


def fused_correlate2d(image, kernel, *, mode: str, cval: float, before: tuple[int, int]
                      ) -> np.ndarray:
    """A general 2-D correlation fused on the caller's layout, SciPy's semantics."""
    src, out, cdt, odt = fused_io(image, "same", wide=_validate.cancels(kernel))
    s3, c = _layout.rows_view(src)
    o3, _ = _layout.rows_view(out)
    lo, hi = _validate.int_range(odt, cdt)
    stencil.correlate2d_hwc(s3, np.ascontiguousarray(kernel, cdt), before[0], before[1], c,
                            _validate.MODES[mode], cdt.type(cval), lo, hi, odt.kind == "u", o3)
    return out


def fused_laplace(image, *, mode: str, cval: float) -> np.ndarray:
    """SciPy's laplace fused on the caller's layout; float32 out (float64 for float64)."""
    src, out, cdt, _ = fused_io(image, "float")  # exact differences: no need to widen
    s3, c = _layout.rows_view(src)
    o3, _ = _layout.rows_view(out)
    stencil.laplace_hwc(s3, np.array([1.0, -2.0, 1.0], cdt), c, _validate.MODES[mode],
                        cdt.type(cval), o3)
    return out
