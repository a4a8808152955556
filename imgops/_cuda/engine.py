"""The CUDA engine: plane stacks on the device, 1-D and 2-D correlation, tiled pairs.

``apply`` takes a NumPy array (copied over, the result copied back) or any
device array (Numba, CuPy, PyTorch: a Numba device array comes back, no host
round trip), gathers it into ``(P, H, W)`` planes on the device, runs a body on
them and scatters the result into the caller's layout. Separable pairs of passes
(a column pass then a row pass, or two such gradients combined) run as one
shared-memory tiled launch where the tile fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import _layout, _validate
from .._shared.taps import ONE, rank1_factors
from . import layout, runtime, stencil


def apply(image, body: Callable, *, out_dtype: str = "same", plane_dtype=None):
    """Run ``body`` on the image's planes on the GPU: NumPy in -> NumPy out, device
    array in -> device array out. ``out_dtype``/``plane_dtype`` as the CPU engine's."""
    host = isinstance(image, np.ndarray)
    dev = runtime.as_device(image)
    dtype = _validate.native(dev.dtype)
    plane_dtype = _validate.plane_dtype(dtype, plane_dtype)
    v = runtime.as4d(dev)
    n, h, w, c = v.shape
    k = layout.cuda_kernels()
    if c == 1 and dtype == plane_dtype and dev.is_c_contiguous():
        planes = dev.reshape(n, h, w)  # one channel in the compute dtype: planes already
    else:
        planes = runtime.empty((n * c, h, w), plane_dtype)
        runtime.launch(k.gather, (w, h, n * c), v, planes)
    result = body(planes)
    odt = {"same": dtype, "float": _validate.edge_dtype(dtype)}.get(out_dtype, result.dtype)
    P, ho, wo = result.shape
    shape = _layout.shaped(dev.ndim, n, ho, wo, P // n)
    if P // n == 1 and result.dtype == odt and result is not planes:
        out = result.reshape(*shape)  # the planes are the output: no scatter pass
        return runtime.download(out) if host else out
    out = runtime.empty(shape, odt)
    lo, hi = _validate.int_range(odt, result.dtype)  # in the planes' dtype: no float64
    runtime.launch(k.scatter, (wo, ho, P), result, runtime.as4d(out), lo, hi,
                   np.dtype(odt).kind == "u")
    return runtime.download(out) if host else out


def empty_like(planes, shape=None, dtype=None):
    """An uninitialised device stack."""
    return runtime.empty(planes.shape if shape is None else shape,
                         planes.dtype if dtype is None else dtype)


_COMBINE = {"add": 0, "hypot": 1, "div_eps": 2, "scale": 3}


def combine(a, b, op: str):
    """Elementwise a + b, hypot(a, b), a / (b + float64 eps) (canny's bleed-over
    correction), or a * b for a number b ("scale")."""
    out = empty_like(a)
    bb = a if op == "scale" else b
    runtime.launch(stencil.cuda_kernels().combine, (a.shape[2], a.shape[1], a.shape[0]),
                   a, bb, _COMBINE[op], float(b) if op == "scale" else 0.0, out)
    return out


def scale(a, factor: float):
    return combine(a, factor, "scale")


def correlate1d(planes, weights: np.ndarray, axis: int, before: int, mode: str, cval: float):
    """One 1-D correlation pass along ``axis`` (0: rows/H, 1: columns/W)."""
    out = empty_like(planes)
    w = np.ascontiguousarray(weights, dtype=planes.dtype)
    P, H, W = planes.shape
    runtime.launch(stencil.cuda_kernels().correlate1d, (W, H, P), planes, runtime.constant(w),
                   before, axis, _validate.MODES[mode], planes.dtype.type(cval), out)
    return out


def separable(planes, passes: Sequence[tuple], mode: str, cval: float):
    """Chain 1-D passes ``(axis, weights[, before])`` with SciPy's per-pass border rule;
    two passes on different axes run as one tiled launch where that is exact."""
    if len(passes) <= 2 and len({p[0] for p in passes}) == len(passes) and (
            passes[0][0] == 0 or mode != "constant" or cval == 0):
        # a row pass first equals a column pass first unless a nonzero cval meets the border
        by_axis = {p[0]: (np.asarray(p[1], np.float64),
                          p[2] if len(p) > 2 else len(p[1]) // 2) for p in passes}
        (wy, by), (wx, bx) = (by_axis.get(ax, (ONE, 0)) for ax in (0, 1))
        out = pairs(planes, (wy, by, wx, bx, cval), None, "add", mode, cval)
        if out is not None:
            return out
    for p in passes:
        axis, w = p[0], np.asarray(p[1], dtype=np.float64)
        before = p[2] if len(p) > 2 else w.size // 2
        planes = correlate1d(planes, w, axis, before, mode, cval)
    return planes


_PAIR_OPS = {"add": 1, "hypot": 2}


def pairs(planes, a: tuple, b: tuple | None, op: str, mode: str, cval: float,
          tiled_only: bool = True):
    """A, or A + B / hypot(A, B) (``op``), where each pair ``(wy, by, wx, bx, cvx)`` is a
    column pass ``wy`` (extended with cval) then a row pass ``wx`` (extended with cvx).

    One shared-memory tiled launch; None when the tile does not fit and
    ``tiled_only`` (the caller then has its own route), else pass by pass.
    """
    groups = [a] if b is None else [a, b]
    halo = (max(g[1] for g in groups), max(g[0].size - 1 - g[1] for g in groups),
            max(g[3] for g in groups), max(g[2].size - 1 - g[3] for g in groups))
    if min(halo) >= 0:
        bb = a if b is None else b
        w = np.concatenate([a[0], a[2], bb[0], bb[2]]).astype(planes.dtype)
        out = empty_like(planes)
        k = stencil.cuda_tiled(planes.dtype.name).two_pass
        t = planes.dtype.type
        if runtime.launch_tiled(k, out.shape, halo, lambda th, tw, tr, tc: (tr + th) * tc,
                                planes.dtype.itemsize, planes, runtime.constant(w),
                                a[0].size, a[2].size, a[1], a[3], t(a[4]),
                                bb[0].size, bb[2].size, bb[1], bb[3], t(bb[4]),
                                0 if b is None else _PAIR_OPS[op], *halo,
                                _validate.MODES[mode], t(cval), out):
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


def correlate2d(planes, kernel: np.ndarray, mode: str, cval: float,
                before: tuple[int, int] | None = None):
    """2-D correlation with SciPy's ``ndimage.correlate`` semantics (or ``valid``)."""
    kh, kw = kernel.shape
    P, H, W = planes.shape
    by, bx = before if before is not None else (kh // 2, kw // 2)
    w = np.ascontiguousarray(kernel, planes.dtype)
    if mode == "valid":
        out = empty_like(planes, (P, H - kh + 1, W - kw + 1))
        # every sample the outputs read is inside: any mode loads the tile
        if not _tiled_correlate2d(planes, w, (0, kh - 1, 0, kw - 1),
                                  _validate.MODES["nearest"], 0, out):
            runtime.launch(stencil.cuda_kernels().correlate2d, (W - kw + 1, H - kh + 1, P),
                           planes, runtime.constant(w), 0, 0, 0, planes.dtype.type(0), True,
                           out)
        return out
    factors = rank1_factors(kernel) if kh > 1 and kw > 1 else None
    if kh == 1 or kw == 1:
        factors = (kernel[:, 0].copy(), np.ones(1)) if kw == 1 else (np.ones(1), kernel[0].copy())
    if factors is not None:
        u, v = factors
        # The row pass sees, outside the image, what a column of cval became: cval*sum(u).
        return pairs(planes, (u, by, v, bx, cval * float(np.sum(u))), None, "add", mode, cval,
                     tiled_only=False)
    out = empty_like(planes)
    if not _tiled_correlate2d(planes, w, (by, kh - 1 - by, bx, kw - 1 - bx),
                              _validate.MODES[mode], cval, out):
        runtime.launch(stencil.cuda_kernels().correlate2d, (W, H, P), planes,
                       runtime.constant(w), by, bx, _validate.MODES[mode],
                       planes.dtype.type(cval), False, out)
    return out


def _tiled_correlate2d(planes, w, halo, mode: int, cval, out) -> bool:
    return runtime.launch_tiled(stencil.cuda_tiled(planes.dtype.name).correlate2d, out.shape,
                                halo, lambda th, tw, tr, tc: tr * tc, planes.dtype.itemsize,
                                planes, runtime.constant(w), halo[0], halo[2], mode,
                                planes.dtype.type(cval), out)


def box(planes, size: tuple[int, int], mode: str, cval: float):
    """Mean over a ``size`` window: direct window sums, one pass per axis as SciPy orders
    them."""
    passes = [(ax, np.full(k, 1.0 / k)) for ax, k in ((0, size[0]), (1, size[1])) if k > 1]
    return separable(planes, passes, mode, cval)
