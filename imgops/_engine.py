"""Engine front ends: run the kernels of ``imgops._kernels`` on plane stacks.

Every public filter is a few lines on top of these: ``apply`` (check, lay out,
run, restore, cast), ``separable`` (a chain of 1-D passes with SciPy's per-pass
border rule), ``correlate2d`` (any 2-D kernel; rank-1 kernels become two 1-D
passes) and ``box`` (running sums).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from . import _core, _cuda
from ._kernels import border, stencil
from ._kernels import layout as layout_kernels


def apply(image, body: Callable[[np.ndarray], np.ndarray], *, out_dtype: str = "same",
          backend: str = "auto", plane_dtype=None, mode: str | None = None,
          allow_valid: bool = False) -> np.ndarray:
    """Check ``image``, run ``body`` on its ``(P, H, W)`` planes, restore layout and dtype.

    out_dtype: "same" (the input's dtype, integers rounded and saturated) or
    "float" (float32, float64 for float64 input), or "raw" (whatever body returns).
    plane_dtype: the planes' dtype policy given to ``_core.plane_dtype``: None for the
    compute dtype, "native" for the input's own dtype, "wide" for float64 uint16 planes.
    """
    backend = _core.resolve_backend(backend, image)
    if mode is not None:
        _core.check_mode(mode, allow_valid=allow_valid)
    if backend == "cuda":
        return _apply_cuda(image, body, out_dtype, plane_dtype)
    image = _core.check_image(image)
    dtype = _core.native(image.dtype)
    plane_dtype = _core.plane_dtype(dtype, plane_dtype)
    planes, layout = _core.to_planes(image, plane_dtype)
    result = body(planes)
    if isinstance(result, np.ndarray) and np.may_share_memory(result, image):
        result = result.copy()  # planes may view the input: never hand the input back
    if out_dtype == "same":
        return layout.restore(result, dtype)
    if out_dtype == "float":
        return layout.restore(result, _core.edge_dtype(dtype))
    return layout.restore(result)


def _apply_cuda(image, body, out_dtype, plane_dtype):
    """The same body on the GPU: NumPy in -> NumPy out, device array in -> device out."""
    host = isinstance(image, np.ndarray)
    if host:
        image = _core.check_image(image)
    dev = _cuda.as_device(image)
    _core.check_image(dev, device=True)
    dtype = _core.native(dev.dtype)
    plane_dtype = _core.plane_dtype(dtype, plane_dtype)
    v = _cuda.as4d(dev)
    n, h, w, c = v.shape
    k = layout_kernels.cuda_kernels()
    if c == 1 and dtype == plane_dtype and dev.is_c_contiguous():
        planes = dev.reshape(n, h, w)  # one channel in the compute dtype: planes already
    else:
        planes = _cuda.empty((n * c, h, w), plane_dtype)
        _cuda.launch(k.gather, (w, h, n * c), v, planes)
    result = body(planes)
    odt = {"same": dtype, "float": _core.edge_dtype(dtype)}.get(out_dtype, result.dtype)
    P, ho, wo = result.shape
    co = P // n
    shape = (ho, wo) if dev.ndim == 2 and co == 1 else (ho, wo, co) if dev.ndim <= 3 \
        else (n, ho, wo, co)
    if co == 1 and result.dtype == odt and result is not planes:
        out = result.reshape(*shape)  # the planes are the output: no scatter pass
        return _cuda.download(out) if host else out
    out = _cuda.empty(shape, odt)
    lo, hi = _core.int_range(odt)
    _cuda.launch(k.scatter, (wo, ho, P), result, _cuda.as4d(out), lo, hi,
                 np.dtype(odt).kind == "u")
    return _cuda.download(out) if host else out


def empty_like(planes, shape=None, dtype=None):
    """An uninitialised stack on the planes' side (host or device)."""
    shape = planes.shape if shape is None else shape
    dtype = planes.dtype if dtype is None else dtype
    return _cuda.empty(shape, dtype) if _cuda.is_device(planes) else np.empty(shape, dtype)


_COMBINE = {"add": 0, "hypot": 1, "div_eps": 2, "scale": 3}


def combine(a, b, op: str):
    """Elementwise on either side: a + b, hypot(a, b), a / (b + float64 eps) (canny's
    bleed-over correction), or a * b for a number b ("scale")."""
    if _cuda.is_device(a):
        out = empty_like(a)
        bb = a if op == "scale" else b
        _cuda.launch(stencil.cuda_kernels().combine, (a.shape[2], a.shape[1], a.shape[0]),
                     a, bb, _COMBINE[op], float(b) if op == "scale" else 0.0, out)
        return out
    if op == "add":
        return a + b
    if op == "hypot":
        return np.hypot(a, b)
    if op == "div_eps":
        return a / (b + np.finfo(np.float64).eps)
    return a * b


def scale(a, factor: float):
    return combine(a, factor, "scale")


def correlate1d(planes: np.ndarray, weights: np.ndarray, axis: int, before: int, mode: str,
                cval: float) -> np.ndarray:
    """One 1-D correlation pass along ``axis`` (0: rows/H, 1: columns/W)."""
    out = empty_like(planes)
    w = np.ascontiguousarray(weights, dtype=planes.dtype)
    cv = planes.dtype.type(cval)
    if _cuda.is_device(planes):
        P, H, W = planes.shape
        _cuda.launch(stencil.cuda_kernels().correlate1d, (W, H, P), planes, _cuda.constant(w),
                     before, axis, _core.MODES[mode], cv, out)
        return out
    fn = stencil.correlate_cols if axis == 0 else stencil.correlate_rows
    fn(planes, w, before, _core.MODES[mode], cv, out)
    return out


def separable(planes: np.ndarray, passes: Sequence[tuple], mode: str, cval: float
              ) -> np.ndarray:
    """Chain 1-D passes ``(axis, weights[, before])``; each pass extends its own input
    with ``cval``, as ``scipy.ndimage``'s chained 1-D filters do."""
    if _cuda.is_device(planes) and len(passes) <= 2 and len({p[0] for p in passes}) == \
            len(passes) and (passes[0][0] == 0 or mode != "constant" or cval == 0):
        # one tiled launch: a row pass first equals a column pass first unless a nonzero
        # cval meets the border
        by_axis = {p[0]: (np.asarray(p[1], np.float64),
                          p[2] if len(p) > 2 else len(p[1]) // 2) for p in passes}
        (wy, by), (wx, bx) = (by_axis.get(ax, (_ONE, 0)) for ax in (0, 1))
        out = pairs(planes, (wy, by, wx, bx, cval), None, "add", mode, cval)
        if out is not None:
            return out
    for p in passes:
        axis, w = p[0], np.asarray(p[1], dtype=np.float64)
        before = p[2] if len(p) > 2 else w.size // 2
        planes = correlate1d(planes, w, axis, before, mode, cval)
    return planes


_ONE = np.ones(1)
_PAIR_OPS = {"add": 1, "hypot": 2}


def centered(wy, wx, cvx: float) -> tuple:
    """A pair (column taps, row taps) centred on the output, as ``pairs`` takes it."""
    wy, wx = np.asarray(wy, np.float64), np.asarray(wx, np.float64)
    return wy, wy.size // 2, wx, wx.size // 2, cvx


def pairs(planes, a: tuple, b: tuple | None, op: str, mode: str, cval: float,
          tiled_only: bool = True):
    """A, or A + B / hypot(A, B) (``op``), where each pair ``(wy, by, wx, bx, cvx)`` is a
    column pass ``wy`` (extended with cval) then a row pass ``wx`` (extended with cvx).

    Device planes run as one shared-memory tiled launch; None when the tile does not
    fit and ``tiled_only`` (the caller then has its own route), else pass by pass.
    """
    m = _core.MODES[mode]
    if _cuda.is_device(planes):
        groups = [a] if b is None else [a, b]
        halo = (max(g[1] for g in groups), max(g[0].size - 1 - g[1] for g in groups),
                max(g[3] for g in groups), max(g[2].size - 1 - g[3] for g in groups))
        if min(halo) >= 0:
            bb = a if b is None else b
            w = np.concatenate([a[0], a[2], bb[0], bb[2]]).astype(planes.dtype)
            out = empty_like(planes)
            k = stencil.cuda_tiled(planes.dtype.name).two_pass
            t = planes.dtype.type
            if _cuda.launch_tiled(k, out.shape, halo, lambda th, tw, tr, tc: (tr + th) * tc,
                                  planes.dtype.itemsize, planes, _cuda.constant(w),
                                  a[0].size, a[2].size, a[1], a[3], t(a[4]),
                                  bb[0].size, bb[2].size, bb[1], bb[3], t(bb[4]),
                                  0 if b is None else _PAIR_OPS[op], *halo, m, t(cval), out):
                return out
        if tiled_only:
            return None

    def run(g):
        wy, by, wx, bx, cvx = g
        out = planes
        if wy.size > 1 or wy[0] != 1:
            out = correlate1d(out, wy, 0, by, mode, cval)
        if wx.size > 1 or wx[0] != 1:
            out = correlate1d(out, wx, 1, bx, mode, cvx)
        return out

    return run(a) if b is None else combine(run(a), run(b), op)


def rank1_factors(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(u, v)`` with ``kernel == outer(u, v)`` exactly (to rounding), or None."""
    i0, j0 = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    pivot = kernel[i0, j0]
    if pivot == 0:
        return None
    u = kernel[:, j0].copy()
    v = kernel[i0, :] / pivot
    if np.allclose(np.outer(u, v), kernel, rtol=0, atol=1e-12 * abs(pivot)):
        return u, v
    return None


def correlate2d(planes: np.ndarray, kernel: np.ndarray, mode: str, cval: float,
                before: tuple[int, int] | None = None) -> np.ndarray:
    """2-D correlation with SciPy's ``ndimage.correlate`` semantics (or ``valid``)."""
    kh, kw = kernel.shape
    P, H, W = planes.shape
    by, bx = before if before is not None else (kh // 2, kw // 2)
    w = np.ascontiguousarray(kernel, planes.dtype)
    if mode == "valid":
        out = empty_like(planes, (P, H - kh + 1, W - kw + 1))
        if _cuda.is_device(planes):
            # every sample the outputs read is inside: any mode loads the tile
            if not _tiled_correlate2d(planes, w, (0, kh - 1, 0, kw - 1), border.NEAREST, 0,
                                      out):
                _cuda.launch(stencil.cuda_kernels().correlate2d, (W - kw + 1, H - kh + 1, P),
                             planes, _cuda.constant(w), 0, 0, 0, planes.dtype.type(0), True,
                             out)
        else:
            stencil.correlate_valid(planes, w, out)
        return out
    factors = rank1_factors(kernel) if kh > 1 and kw > 1 else None
    if kh == 1 or kw == 1:
        factors = (kernel[:, 0].copy(), np.ones(1)) if kw == 1 else (np.ones(1), kernel[0].copy())
    if factors is not None:
        u, v = factors
        # The row pass sees, outside the image, what a column of cval became: cval*sum(u).
        out = pairs(planes, (u, by, v, bx, cval * float(np.sum(u))), None, "add", mode, cval)
        if out is not None:
            return out
        if kh > 1 or u[0] != 1:
            planes = correlate1d(planes, u, 0, by, mode, cval)
        if kw > 1 or v[0] != 1:
            planes = correlate1d(planes, v, 1, bx, mode, cval * float(np.sum(u)))
        return planes
    out = empty_like(planes)
    if _cuda.is_device(planes):
        if not _tiled_correlate2d(planes, w, (by, kh - 1 - by, bx, kw - 1 - bx),
                                  _core.MODES[mode], cval, out):
            _cuda.launch(stencil.cuda_kernels().correlate2d, (W, H, P), planes,
                         _cuda.constant(w), by, bx, _core.MODES[mode],
                         planes.dtype.type(cval), False, out)
        return out
    padded = border.pad(planes, by, kh - 1 - by, bx, kw - 1 - bx, _core.MODES[mode], cval)
    stencil.correlate_valid(padded, w, out)
    return out


def _tiled_correlate2d(planes, w, halo, mode: int, cval, out) -> bool:
    return _cuda.launch_tiled(stencil.cuda_tiled(planes.dtype.name).correlate2d, out.shape,
                              halo, lambda th, tw, tr, tc: tr * tc, planes.dtype.itemsize,
                              planes, _cuda.constant(w), halo[0], halo[2], mode,
                              planes.dtype.type(cval), out)


def box(planes: np.ndarray, size: tuple[int, int], mode: str, cval: float) -> np.ndarray:
    """Mean over a ``size`` window: a running-sum pass along H, then along W (as SciPy)."""
    ky, kx = size
    if _cuda.is_device(planes):  # direct window sums: one pass per axis, as SciPy orders them
        passes = [(ax, np.full(k, 1.0 / k)) for ax, k in ((0, ky), (1, kx)) if k > 1]
        return separable(planes, passes, mode, cval)
    m = _core.MODES[mode]
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


# ----------------------------------------------------------------------------- fused CPU path
def _rows_view(image: np.ndarray) -> tuple[np.ndarray, int]:
    """(N, H, W*C) view of a C-contiguous native image, and C."""
    v = _core._as4d(image)
    n, h, w, c = v.shape
    return v.reshape(n, h, w * c), c


def on_cpu(image, backend: str) -> bool:
    """Whether the call runs on the CPU (then the fused kernels apply)."""
    return _core.resolve_backend(backend, image) == "cpu"


def _fused_io(image, out_dtype):
    image = _core.check_image(image)
    dtype = _core.native(image.dtype)
    src = np.ascontiguousarray(image, dtype=dtype)
    odt = dtype if out_dtype == "same" else _core.edge_dtype(dtype)
    out = np.empty(src.shape, odt)
    return src, out, _core.compute_dtype(dtype), odt


def reciprocal(d: int, bits: int = 16) -> tuple[int, int]:
    """(m, s) with (q * m) >> s == q // d for every 0 <= q < 2**bits: m = ceil(2**s / d)
    overshoots by e < d, and q * e < 2**s. The product fits 32 bits for q < 2**(bits - 1)
    (a uint8 box up to 9x9 sums to at most 20655 + 40). Checked in tests/test_filters.py."""
    s = bits + (d - 1).bit_length()
    return -(-(1 << s) // d), s


def fused_two_pass(image, wy, wx, *, mode: str, cval: float, cval_x: float,
                   before: tuple[int, int], out_dtype: str = "same",
                   divisor: int = 0) -> np.ndarray:
    """Column pass ``wy`` (extended with cval) then row pass ``wx`` (extended with
    cval_x), fused on the caller's layout in one sweep (CPU).

    ``divisor``: integer weights on uint8 (a box's ones), summed exactly in uint16 and
    divided by ``divisor`` with rounding to nearest; cval must then be an integer.
    """
    _core.check_mode(mode)
    src, out, cdt, odt = _fused_io(image, out_dtype)
    s3, c = _rows_view(src)
    o3, _ = _rows_view(out)
    integer = odt.kind == "u"
    lo, hi = _core.int_range(odt, cdt)
    m = sh = 0
    if divisor:
        cdt = np.dtype(np.uint16)
        m, sh = reciprocal(divisor)
    u32 = np.uint32
    stencil.separable_hwc(s3, np.asarray(wy, cdt), before[0], np.asarray(wx, cdt),
                          before[1], c, _core.MODES[mode], cdt.type(cval), cdt.type(cval_x),
                          lo, hi, integer, u32(m), u32(sh), u32(divisor), o3)
    return out


def fused_gradient(image, d, s, *, mode: str, cval: float, cvx_a: float, cvx_b: float
                   ) -> np.ndarray:
    """hypot(d down the columns then s along the rows, s down then d along), fused (CPU);
    the row passes extend with cvx_a and cvx_b. float32 out (float64 for float64)."""
    _core.check_mode(mode)
    src, out, cdt, _ = _fused_io(image, "float")
    s3, c = _rows_view(src)
    o3, _ = _rows_view(out)
    stencil.gradient_hwc(s3, np.asarray(d, cdt), np.asarray(s, cdt), c, _core.MODES[mode],
                         cdt.type(cval), cdt.type(cvx_a), cdt.type(cvx_b), o3)
    return out


def fused_correlate2d(image, kernel, *, mode: str, cval: float, before: tuple[int, int]
                      ) -> np.ndarray:
    """A general 2-D correlation fused on the caller's layout (CPU), SciPy's semantics."""
    src, out, cdt, odt = _fused_io(image, "same")
    s3, c = _rows_view(src)
    o3, _ = _rows_view(out)
    integer = odt.kind == "u"
    lo, hi = _core.int_range(odt, cdt)
    stencil.correlate2d_hwc(s3, np.ascontiguousarray(kernel, cdt), before[0], before[1], c,
                            _core.MODES[mode], cdt.type(cval), lo, hi, integer, o3)
    return out


def fused_laplace(image, *, mode: str, cval: float) -> np.ndarray:
    """SciPy's laplace fused on the caller's layout (CPU); float32 out (float64 for
    float64)."""
    _core.check_mode(mode)
    src, out, cdt, _ = _fused_io(image, "float")
    s3, c = _rows_view(src)
    o3, _ = _rows_view(out)
    stencil.laplace_hwc(s3, np.array([1.0, -2.0, 1.0], cdt), c, _core.MODES[mode],
                        cdt.type(cval), o3)
    return out
