"""Dask arrays: every image operation chunk by chunk, never gathering the image.

The dispatch layer hands a dask array here with the operation's record
(``imgops._ops.Op``: checks, halo, output dtype) and a ``compute(name, block,
**arguments)`` that runs an operation in memory on a NumPy block. Each output chunk is
one task that reads the input region it needs and computes it in memory:

- Stencils (the filters, ``bilateral``, ``nl_means``) go through :func:`map_stencil`:
  the output keeps the input's chunks; each chunk is computed from the chunk plus the
  record's halo, taken from the neighbouring chunks however many of them the halo spans
  (no rechunking). ``"wrap"`` borders are extended here (the other side of the image);
  every other border is left to the in-memory operation, whose blocks at the border
  reach the image's own edge (see :func:`map_stencil`).
- Pools, ``resize`` (so ``downsample`` and ``upsample``) and ``conv_transpose`` map
  each OUTPUT chunk to the input rows and columns it reads, with the global geometry
  (pool windows and divisors, resize index tables of the whole image, transposed
  convolution offsets), so a chunk's values are the whole image's.
- :func:`estimate_noise` is a reduction: each chunk, read with a 1-pixel overlap, sums
  ``|I * N|`` over its share of the valid region.

Tasks run Numba's parallel kernels under :func:`numba_threads`, which gives each task
its share of the process's Numba threads (see :func:`task_threads`).

Importing this module does not import Dask; :func:`is_dask_array` never does. Like the
other targets, it imports only the helpers below it (``_layout``, ``_validate``,
``_shared``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from . import _layout
from . import _validate as _v
from ._shared.noise import immerkaer_sigma, immerkaer_sums

__all__ = ["is_dask_array", "map_stencil", "map_index", "estimate_noise", "resize_taps",
           "numba_threads", "task_threads", "run"]


def is_dask_array(obj) -> bool:
    """Whether ``obj`` is a ``dask.array.Array``; never imports Dask to say no.

    Examples
    --------
    >>> is_dask_array(np.zeros(3))
    False
    """
    da = sys.modules.get("dask.array")
    if da is None:  # nobody imported dask.array: obj cannot be one of its arrays
        return False
    return isinstance(obj, da.Array)


# ------------------------------------------------------------------------ Numba threads
_SERIAL = threading.Lock()  # serialises kernels when Numba runs the workqueue layer


def _current_worker():
    """The distributed Worker running this thread, or None (distributed never imported
    here)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:  # not inside a worker's task
        return None


def task_threads() -> int:
    """How many Numba threads one Dask task may use in this process.

    ``T`` is the number of Dask threads that run tasks in this process and
    ``N = numba.config.NUMBA_NUM_THREADS`` the size of Numba's pool:

    - ``dask.config`` key ``"imgops.numba-threads"``, when set, wins (capped at ``N``);
    - on a ``distributed`` worker: ``N // T`` with ``T`` the worker's ``nthreads``,
      capped at ``OMP_NUM_THREADS`` when set (the nanny sets it to 1 by default:
      the worker threads are the parallelism, as for NumPy's BLAS);
    - in a thread of the local threaded scheduler: ``N // T`` with ``T`` the
      ``"num_workers"`` config or the CPU count (Dask's default pool size);
    - in the main thread (synchronous scheduler, or a plain call): the thread's own
      ``numba.get_num_threads()``.

    Returns
    -------
    int
        At least 1.
    """
    import numba

    total = int(numba.config.NUMBA_NUM_THREADS)
    dask = sys.modules.get("dask")
    if dask is not None:
        wanted = dask.config.get("imgops.numba-threads", None)
        if wanted:
            return max(1, min(int(wanted), total))
    worker = _current_worker()
    if worker is not None:
        n = total // max(1, int(getattr(getattr(worker, "state", worker), "nthreads", 1)))
        omp = os.environ.get("OMP_NUM_THREADS", "")
        if omp.isdigit() and int(omp) > 0:
            n = min(n, int(omp))
    elif threading.current_thread() is threading.main_thread() or dask is None:
        n = numba.get_num_threads()
    else:
        pool = dask.config.get("num_workers", None) or dask.system.CPU_COUNT
        n = total // max(1, int(pool))
    return max(1, n)


@contextlib.contextmanager
def numba_threads(n: int | None = None) -> Iterator[int]:
    """Run the body with ``n`` Numba threads in this thread (default :func:`task_threads`).

    ``numba.set_num_threads`` is thread-local: each Dask thread sets its own share and
    the previous value is restored on exit. Under the ``workqueue`` threading layer,
    which aborts when two threads launch parallel kernels at once, bodies also take a
    process-wide lock; ``omp`` and ``tbb`` run them concurrently.

    Yields
    ------
    int
        The number of threads set.
    """
    import numba

    previous = numba.get_num_threads()  # also starts Numba's pool, which fixes its layer
    n = task_threads() if n is None else n
    n = max(1, min(int(n), int(numba.config.NUMBA_NUM_THREADS)))
    numba.set_num_threads(n)
    serial = _SERIAL if numba.threading_layer() == "workqueue" else contextlib.nullcontext()
    try:
        with serial:
            yield n
    finally:
        numba.set_num_threads(previous)


# ------------------------------------------------------------------------ checks, layout
def _check(image, name: str = "image"):
    """A checked dask image: supported dtype and ndim, known chunks, one channel chunk."""
    if not is_dask_array(image):
        raise TypeError(f"{name} must be a dask.array.Array; got {type(image).__name__}")
    _v.check_image(image, name, device=True)  # dtype, ndim and emptiness rules
    if any(math.isnan(c) for cs in image.chunks for c in cs):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() "
                         "first")
    if image.ndim >= 3 and image.numblocks[-1] > 1:
        image = image.rechunk({image.ndim - 1: -1})  # channels are computed together
    return image


def _spatial_axes(ndim: int) -> tuple[int, int]:
    return (1, 2) if ndim == 4 else (0, 1)


def _hw(image) -> tuple[int, int]:
    ay, ax = _spatial_axes(image.ndim)
    return int(image.shape[ay]), int(image.shape[ax])


def _bounds(chunks: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(chunks)]).astype(np.int64)


def _channels(image) -> int:
    return 1 if image.ndim == 2 else int(image.shape[-1])


def map_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Source indices of the (possibly out-of-range) indices ``i`` on an axis of length
    ``n``: SciPy's extension rules, for any distance from the border, as the in-memory
    kernels apply them (``-1`` for ``"constant"``: use cval)."""
    i = np.asarray(i, dtype=np.int64)
    inside = (i >= 0) & (i < n)
    if mode == "reflect":  # d c b a | a b c d | d c b a
        r = np.mod(i, 2 * n)
        out = np.where(r < n, r, 2 * n - 1 - r)
    elif mode == "mirror":  # d c b | a b c d | c b a
        if n == 1:
            out = np.zeros_like(i)
        else:
            r = np.mod(i, 2 * n - 2)
            out = np.where(r < n, r, 2 * n - 2 - r)
    elif mode == "nearest":
        out = np.clip(i, 0, n - 1)
    elif mode == "wrap":
        out = np.mod(i, n)
    else:
        out = np.full_like(i, -1)
    return np.where(inside, i, out)


def _to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float results to ``dtype``: integers rounded to nearest and saturated."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


# ------------------------------------------------------------------------ region graph
@dataclass(frozen=True, eq=False)
class _Axis:
    """What one output chunk reads along one spatial axis.

    ``pieces``: ``(input chunk, lo, hi)`` local slices, in chunk order; ``take``: where
    the requested source indices lie in the pieces' concatenation (a slice when they
    are consecutive); ``ctx``: what the block function needs about this axis.
    """

    pieces: tuple
    take: object
    ctx: object


def _axis(idx: np.ndarray, bounds: np.ndarray, ctx) -> _Axis:
    idx = np.asarray(idx, dtype=np.int64)
    chunk = np.searchsorted(bounds, idx, side="right") - 1
    pieces, start = [], np.zeros(len(bounds), np.int64)
    pos = 0
    for c in np.unique(chunk):
        sel = idx[chunk == c]
        lo, hi = int(sel.min() - bounds[c]), int(sel.max() + 1 - bounds[c])
        pieces.append((int(c), lo, hi))
        start[c] = pos - lo
        pos += hi - lo
    take = start[chunk] + idx - bounds[chunk]
    if take.size and np.array_equal(take, np.arange(take[0], take[0] + take.size)):
        take = slice(int(take[0]), int(take[0]) + take.size)
    return _Axis(tuple(pieces), take, ctx)


@dataclass(frozen=True, eq=False)
class _Plan:
    """One output chunk's task: how to assemble its region and what to run on it.
    A plain object in the graph, so Dask never mistakes its fields for tasks or keys."""

    fn: Callable
    ay: int
    ax: int
    ny: int
    nx: int
    take_y: object
    take_x: object
    ctx_y: object
    ctx_x: object


def _assemble(plan: _Plan, slivers: Sequence[np.ndarray]) -> np.ndarray:
    """The region, C-contiguous (one kernel specialisation, one copy): the pieces
    (row-major over y and x) copied into place, or, where the border is extended by
    reflection or wrapping, concatenated and then gathered."""
    ay, ax, ny, nx = plan.ay, plan.ax, plan.ny, plan.nx
    if not (isinstance(plan.take_y, slice) and isinstance(plan.take_x, slice)):
        rows = [np.concatenate(slivers[r * nx:(r + 1) * nx], axis=ax) for r in range(ny)]
        region = np.concatenate(rows, axis=ay)
        for axis, take in ((ay, plan.take_y), (ax, plan.take_x)):
            if isinstance(take, slice):
                index = [slice(None)] * region.ndim
                index[axis] = take
                region = region[tuple(index)]
            else:
                region = np.take(region, take, axis=axis)
        return np.ascontiguousarray(region)
    first = slivers[0]
    if ny == nx == 1 and plan.take_y == slice(0, first.shape[ay]) and \
            plan.take_x == slice(0, first.shape[ax]):
        return np.ascontiguousarray(first)
    ys = np.cumsum([0] + [slivers[r * nx].shape[ay] for r in range(ny)])
    xs = np.cumsum([0] + [slivers[c].shape[ax] for c in range(nx)])
    (t0, t1), (u0, u1) = (plan.take_y.start, plan.take_y.stop), \
        (plan.take_x.start, plan.take_x.stop)
    shape = list(first.shape)
    shape[ay], shape[ax] = t1 - t0, u1 - u0
    region = np.empty(shape, first.dtype)
    for r in range(ny):
        y0, y1 = max(ys[r], t0), min(ys[r + 1], t1)
        for c in range(nx):
            x0, x1 = max(xs[c], u0), min(xs[c + 1], u1)
            if y0 >= y1 or x0 >= x1:
                continue
            dst = [slice(None)] * region.ndim
            src = [slice(None)] * region.ndim
            dst[ay], dst[ax] = slice(y0 - t0, y1 - t0), slice(x0 - u0, x1 - u0)
            src[ay], src[ax] = slice(y0 - ys[r], y1 - ys[r]), slice(x0 - xs[c], x1 - xs[c])
            region[tuple(dst)] = slivers[r * nx + c][tuple(src)]
    return region


def _cut(chunk: np.ndarray, pieces: tuple) -> tuple:
    """The pieces of an input chunk that regions read: the whole chunk as it is, the
    others copied (a view would keep the whole chunk in memory until every region
    reading a piece of it has run)."""
    out = []
    for index in pieces:
        piece = chunk[index]
        out.append(chunk if piece.shape == chunk.shape else np.array(piece, copy=True))
    return tuple(out)


def _block(plan: _Plan, *slivers: np.ndarray) -> np.ndarray:
    """One output chunk: assemble its region, run the block function on it."""
    region = _assemble(plan, slivers)
    with numba_threads():
        return plan.fn(region, plan.ctx_y, plan.ctx_x)


def _region_array(src, name: str, axes_y: Sequence[_Axis], axes_x: Sequence[_Axis],
                  fn: Callable, dtype, out_chunks: tuple, out_key: Callable):
    """A dask array whose block ``out_key(b, j, i)`` is ``fn(region, ctx_y, ctx_x)``.

    ``b`` runs over the input's batch chunks (one for 2-D and 3-D images), ``j`` and
    ``i`` over ``axes_y`` and ``axes_x``, each naming the input region of one output
    chunk along that axis. The region's pieces are sliced from the input chunks by
    small tasks of their own (only they travel between workers).
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    nd = src.ndim
    ay, ax = _spatial_axes(nd)
    nbatch = src.numblocks[0] if nd == 4 else 1
    sliver, split = f"{name}-piece", f"{name}-split"
    dsk: dict = {}
    # Each input chunk is cut once, by one task, into every piece that regions read of
    # it (the whole chunk is a piece too, uncopied): the chunk is then free as soon as
    # it is cut, not held until the last region reading a piece of it has run.
    cuts: dict = {}  # input chunk key -> [piece index, ...]
    for b in range(nbatch):
        for j, py in enumerate(axes_y):
            for i, px in enumerate(axes_x):
                deps = []
                for yc, ylo, yhi in py.pieces:
                    for xc, xlo, xhi in px.pieces:
                        key = (src.name,) + ((b,) if nd == 4 else ()) + (yc, xc) + \
                            ((0,) if nd >= 3 else ())
                        index = [slice(None)] * nd
                        index[ay], index[ax] = slice(ylo, yhi), slice(xlo, xhi)
                        pieces = cuts.setdefault(key, [])
                        pieces.append(tuple(index))
                        skey = (sliver, b, j, i, yc, xc)
                        dsk[skey] = (operator.getitem, (split,) + key[1:], len(pieces) - 1)
                        deps.append(skey)
                plan = _Plan(fn, ay, ax, len(py.pieces), len(px.pieces), py.take, px.take,
                             py.ctx, px.ctx)
                dsk[(name,) + out_key(b, j, i)] = (_block, plan, *deps)
    for key, pieces in cuts.items():
        dsk[(split,) + key[1:]] = (_cut, key, tuple(pieces))
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[src])
    meta = np.empty((0,) * len(out_chunks), dtype)
    return da.Array(graph, name, out_chunks, meta=meta)


def _image_key(nd_out: int, nd_in: int) -> Callable:
    """Output block index of an image-shaped result: batch chunk, spatial, channel 0."""
    def key(b, j, i):
        return ((b,) if nd_in == 4 else ()) + (j, i) + ((0,) if nd_out >= 3 else ())
    return key


def _image_chunks(src, ychunks: tuple, xchunks: tuple, channels: int, nd_out: int) -> tuple:
    if nd_out == 2:
        return (ychunks, xchunks)
    if nd_out == 3:
        return (ychunks, xchunks, (channels,))
    return (src.chunks[0], ychunks, xchunks, (channels,))


def _name(prefix: str, *parts) -> str:
    from dask.base import tokenize

    return f"{prefix}-{tokenize(*parts)}"


# ------------------------------------------------------------------------ stencils
def _crop(func: Callable, dtype, ay: int, ax: int, origin_arg: str | None,
          region: np.ndarray, ctx_y, ctx_x) -> np.ndarray:
    """func on the region, cropped to the chunk (a copy: the region can be freed); with
    ``origin_arg``, func is also told the region's first row and column in the image."""
    if origin_arg is None:
        out = func(region)
    else:
        out = func(region, **{origin_arg: (ctx_y[2], ctx_x[2])})
    if not isinstance(out, np.ndarray) or out.ndim != region.ndim or \
            out.shape[ay] != region.shape[ay] or out.shape[ax] != region.shape[ax]:
        raise ValueError("map_stencil's func must return an array of its input's layout and "
                         f"spatial shape; got {getattr(out, 'shape', type(out).__name__)} "
                         f"for {region.shape}")
    (sy, ly, _), (sx, lx, _) = ctx_y, ctx_x
    index = [slice(None)] * out.ndim
    index[ay], index[ax] = slice(sy, sy + ly), slice(sx, sx + lx)
    return np.array(out[tuple(index)], dtype=dtype, copy=True, order="C")


def _stencil_axis(chunks: Sequence[int], n: int, h: int, mode: str) -> list[_Axis]:
    """Per chunk of one axis: the source indices of the chunk plus ``h`` each side, and
    (chunk's start in them, chunk's length, their first index in the image)."""
    bounds = _bounds(chunks)
    axes = []
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        if mode == "constant":  # clipped at the border: func extends with its own cval
            lo, hi = max(0, s - h), min(n, e + h)
            idx, start = np.arange(lo, hi), s - lo
        else:  # extended here, as the kernels extend: any distance, periodic
            idx, start = map_index(np.arange(s - h, e + h), n, mode), h
        axes.append(_axis(idx, bounds, (int(start), int(e - s), int(s - start))))
    return axes


def map_stencil(image, func: Callable[[np.ndarray], np.ndarray], halo: int | tuple[int, int],
                *, mode: str, cval: float = 0.0, dtype=None, origin_arg: str | None = None):
    """Apply an in-memory stencil operation chunk by chunk, with halos.

    Parameters
    ----------
    image : dask.array.Array
        ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, chunked in any way (a chunked
        channel axis is made one chunk; batch chunks are kept).
    func : callable
        ``func(block) -> ndarray``: the in-memory operation on a NumPy block of the same
        layout, returning the same layout and spatial shape, applying ``mode`` (and
        ``cval``) itself, e.g. ``lambda b: imgops.gaussian(b, 2.0, mode=mode)``. It must
        be picklable for a distributed cluster (``functools.partial`` of a module
        function is; cloudpickle takes lambdas).
    halo : int or (int, int)
        ``(hy, hx)``: how many input rows and columns each side an output pixel reads
        (for a chain of passes, the sum of their radii along that axis).
    mode : {"reflect", "mirror", "nearest", "constant", "wrap"}
        The border mode ``func`` applies. For ``"reflect"``, ``"mirror"``,
        ``"nearest"`` and ``"wrap"`` a block at the image border is extended here by
        ``mode`` (the same index rule as the kernels, for any halo, larger than the
        image included), so ``func``'s own border rule only touches the halo, which is
        cropped. For ``"constant"`` a block at the border is handed over unextended on
        that side and ``func`` extends it with its ``cval``: a chain of passes (Sobel,
        Laplace) extends every intermediate result with cval, which no padding of the
        input reproduces. (Any local operation is exact this way, whatever its border
        rule; only ``"wrap"`` needs the other side of the image.)
    cval : float
        The value ``func`` uses outside the image in ``"constant"`` mode (checked only;
        ``func`` applies it).
    dtype : dtype, optional
        The result's dtype; default the input's.
    origin_arg : str, optional
        Also pass ``func`` the (row, column) in the image of each block's first sample,
        as this keyword (``bm3d`` lays its reference grid by it).

    Returns
    -------
    dask.array.Array
        Lazy, with the input's chunks (channel axis: one chunk), equal to
        ``func(image.compute())``. Each task reads its chunk plus the halo from the
        chunks it overlaps, however many: halos larger than a chunk, or than the image,
        need no rechunking.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.from_array(np.arange(30.0).reshape(5, 6), chunks=2)
    >>> roll = lambda b: np.roll(b, 1, axis=1)  # reads one column to the left
    >>> bool((map_stencil(x, roll, (0, 1), mode="wrap").compute() == roll(x.compute())).all())
    True
    """
    image = _check(image)
    _v.check_mode(mode)
    _v.check_float(cval, "cval")
    hy, hx = _v.pair(halo, "halo", low=0)
    dtype = np.dtype(image.dtype if dtype is None else dtype)
    ay, ax = _spatial_axes(image.ndim)
    H, W = _hw(image)
    axes_y = _stencil_axis(image.chunks[ay], H, hy, mode)
    axes_x = _stencil_axis(image.chunks[ax], W, hx, mode)
    fn = functools.partial(_crop, func, dtype, ay, ax, origin_arg)
    name = _name("imgops-stencil", image.name, func, (hy, hx), mode, cval, dtype.str,
                 origin_arg)
    chunks = _image_chunks(image, image.chunks[ay], image.chunks[ax], _channels(image),
                           image.ndim)
    return _region_array(image, name, axes_y, axes_x, fn, dtype, chunks,
                         _image_key(image.ndim, image.ndim))


def _out_dtype(op, dtype) -> np.dtype:
    kind = getattr(op, "out_dtype", "same")
    return _v.edge_dtype(dtype) if kind == "float" else \
        np.dtype(np.float64) if kind == "float64" else np.dtype(dtype)


def _stencil(image, op, params: dict, arguments: dict, compute: Callable):
    """A stencil record: the in-memory operation on each chunk plus ``op.halo(params)``.

    ``"wrap"`` is extended here; every other border is left to the operation itself
    (``"constant"`` handling in :func:`map_stencil`), so its own rule applies there as in
    memory, whatever it is (non-local means mirrors, for one). ``"valid"`` correlations
    are computed with any border, then cropped to the valid part.
    """
    mode = params.get("mode", "constant")
    halo = tuple(int(h) for h in op.halo(params))
    dtype = _out_dtype(op, image.dtype)
    if mode != "valid":
        func = functools.partial(compute, op.name, **arguments)
        return map_stencil(image, func, halo, mode="wrap" if mode == "wrap" else "constant",
                           cval=params.get("cval", 0.0), dtype=dtype,
                           origin_arg="origin" if "origin" in params else None)
    func = functools.partial(compute, op.name, **{**arguments, "mode": "nearest"})
    full = map_stencil(image, func, halo, mode="constant", dtype=dtype)
    kh, kw = params["kernel"].shape
    by, bx = params["before"] or (kh // 2, kw // 2)
    H, W = _hw(image)
    ay, ax = _spatial_axes(image.ndim)
    index = [slice(None)] * image.ndim
    index[ay], index[ax] = slice(by, by + H - kh + 1), slice(bx, bx + W - kw + 1)
    return full[tuple(index)]


# ------------------------------------------------------------------------ estimate_noise
def _noise_sums(region: np.ndarray, ctx_y, ctx_x, finite_only: bool = False) -> np.ndarray:
    """The in-memory estimate's sums and counts over the region's interior, per (batch
    item, channel), shaped (1, 1, N, 2C): sums then counts."""
    sums, counts = immerkaer_sums(_layout.as4d(region), finite_only)
    return np.concatenate([sums, counts], axis=1)[None, None]


def estimate_noise(image, finite_only: bool = False) -> float:
    """``imgops.estimate_noise`` of a dask array, as a reduction over the chunks.

    Each chunk, read with a 1-pixel overlap (clipped at the border), sums ``|I * N|``
    over its share of the valid region, per batch item and channel, in float64, and
    counts the terms; the sums and counts are added across chunks and finished by the
    same formula as the in-memory estimate. Computed now (with the current Dask
    scheduler); equal to the in-memory value to relative 1e-6.

    Returns
    -------
    float
    """
    image = _check(image)
    H, W = _hw(image)
    if H < 3 or W < 3:
        raise ValueError(f"image must be at least 3x3 to estimate noise; got {H}x{W}")
    ay, ax = _spatial_axes(image.ndim)

    def axes(chunks, n):
        bounds = _bounds(chunks)
        return [_axis(np.arange(max(0, s - 1), min(n, e + 1)), bounds, None)
                for s, e in zip(bounds[:-1], bounds[1:], strict=True)]

    axes_y, axes_x = axes(image.chunks[ay], H), axes(image.chunks[ax], W)
    batch = image.chunks[0] if image.ndim == 4 else (1,)
    c = _channels(image)
    chunks = ((1,) * len(axes_y), (1,) * len(axes_x), batch, (2 * c,))
    name = _name("imgops-noise", image.name)
    sums = functools.partial(_noise_sums, finite_only=finite_only)
    parts = _region_array(image, name, axes_y, axes_x, sums, np.float64, chunks,
                          lambda b, j, i: (j, i, b, 0))
    total = np.asarray(parts.sum(axis=(0, 1)).compute())
    return immerkaer_sigma(total[:, :c], total[:, c:], finite_only)


# ------------------------------------------------------------------------ resampling
def _scaled_chunks(chunks: Sequence[int], n_in: int, n_out: int) -> tuple[int, ...]:
    """Output chunks along one axis: the input's chunk boundaries scaled to ``n_out``
    (rounded to nearest; chunks that vanish are dropped)."""
    b = _bounds(chunks)
    scaled = np.unique((2 * b * n_out + n_in) // (2 * n_in))
    scaled[0], scaled[-1] = 0, n_out
    return tuple(int(d) for d in np.diff(scaled) if d > 0)


def _out_axes(in_chunks, n_in, out_chunks, region_of) -> list[_Axis]:
    """Per output chunk ``[o0, o1)``: ``region_of(o0, o1) -> (lo, hi, ctx)``, the input
    range it reads (clipped to the image, never empty) and its context."""
    bounds = _bounds(in_chunks)
    ob = _bounds(out_chunks)
    axes = []
    for o0, o1 in zip(ob[:-1], ob[1:], strict=True):
        lo, hi, ctx = region_of(int(o0), int(o1))
        lo, hi = min(max(lo, 0), n_in - 1), max(min(hi, n_in), 1)
        hi = max(hi, lo + 1)
        axes.append(_axis(np.arange(lo, hi), bounds, ctx))
    return axes


def _resampled(image, prefix: str, token, geometry_y, geometry_x, fn, dtype,
               channels: int | None = None):
    """The output of a resampling op: ``geometry_* = (n_out, region_of)`` per axis."""
    ay, ax = _spatial_axes(image.ndim)
    H, W = _hw(image)
    (ho, region_y), (wo, region_x) = geometry_y, geometry_x
    ych = _scaled_chunks(image.chunks[ay], H, ho)
    xch = _scaled_chunks(image.chunks[ax], W, wo)
    axes_y = _out_axes(image.chunks[ay], H, ych, region_y)
    axes_x = _out_axes(image.chunks[ax], W, xch, region_x)
    channels = _channels(image) if channels is None else channels
    nd_out = 3 if image.ndim == 2 and channels > 1 else image.ndim
    chunks = _image_chunks(image, ych, xch, channels, nd_out)
    name = _name(prefix, image.name, token)
    return _region_array(image, name, axes_y, axes_x, fn, dtype, chunks,
                         _image_key(nd_out, image.ndim))


def _pad_spatial(region, ay, ax, widths_y, widths_x, value):
    if widths_y == (0, 0) and widths_x == (0, 0):
        return region
    widths = [(0, 0)] * region.ndim
    widths[ay], widths[ax] = widths_y, widths_x
    return np.pad(region, widths, constant_values=value)


def _pool_region(k: int, s: int, p: int, n: int):
    """Output rows [o0, o1) read input rows [o0 s - p, (o1 - 1) s - p + k): the part in
    the image, and the rows of padding before and after it."""
    def region_of(o0, o1):
        a, b = o0 * s - p, (o1 - 1) * s - p + k
        return a, b, (o0, o1, max(0, -a), max(0, b - n))
    return region_of


def _max_pool_block(compute, geometry, ay, ax, region, ctx_y, ctx_x):
    kh, kw, sh, sw = geometry
    fill = -np.inf if region.dtype.kind == "f" else np.iinfo(region.dtype).min
    r = _pad_spatial(region, ay, ax, ctx_y[2:], ctx_x[2:], fill)  # padding never wins
    return compute("max_pool", r, size=(kh, kw), stride=(sh, sw))


def _pool_divisor(o0, o1, k, s, p, n, include_pad) -> np.ndarray:
    """PyTorch's avg_pool2d divisor along one axis for outputs o0..o1-1."""
    start = np.arange(o0, o1) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return (end - start).astype(np.float64)
    return (np.minimum(end, n) - np.maximum(start, 0)).astype(np.float64)


def _avg_pool_block(compute, geometry, include_pad, ay, ax, region, ctx_y, ctx_x):
    kh, kw, sh, sw, ph, pw, H, W = geometry
    r = _pad_spatial(region.astype(np.float64), ay, ax, ctx_y[2:], ctx_x[2:], 0.0)
    sums = compute("avg_pool", r, size=(kh, kw), stride=(sh, sw)) * (kh * kw)
    dy = _pool_divisor(ctx_y[0], ctx_y[1], kh, sh, ph, H, include_pad)
    dx = _pool_divisor(ctx_x[0], ctx_x[1], kw, sw, pw, W, include_pad)
    shape = [1] * sums.ndim
    shape[ay], shape[ax] = dy.size, dx.size
    div = (dy[:, None] * dx[None, :]).reshape(shape)
    return _to_dtype(sums / div, region.dtype)


def _pool(image, op, params: dict, compute: Callable):
    """``max_pool`` exactly: each output chunk reads the rows and columns its windows
    cover, the implicit padding added at the border as values that never win.
    ``avg_pool``: window sums in float64 (zero padding) divided by PyTorch's divisor
    from the global geometry (``count_include_pad``, ``ceil_mode``'s overhanging
    windows), rounded once."""
    kh, kw, sh, sw, ph, pw, ho, wo = params["geometry"]
    H, W = _hw(image)
    ay, ax = _spatial_axes(image.ndim)
    if op.name == "max_pool":
        fn = functools.partial(_max_pool_block, compute, (kh, kw, sh, sw), ay, ax)
        token = params["geometry"]
    else:
        include = bool(params["count_include_pad"])
        fn = functools.partial(_avg_pool_block, compute, (kh, kw, sh, sw, ph, pw, H, W),
                               include, ay, ax)
        token = (params["geometry"], include)
    return _resampled(image, f"imgops-{op.name}", (token, compute),
                      (ho, _pool_region(kh, sh, ph, H)), (wo, _pool_region(kw, sw, pw, W)),
                      fn, image.dtype)


def resize_taps(n_in: int, n_out: int, method: str, align_corners: bool
                ) -> tuple[np.ndarray, np.ndarray]:
    """Index and weight tables ``(n_out, T)`` of one axis of ``imgops.resize``: the
    in-memory resize's own tables (computed exactly from the global sizes), so a chunk's
    outputs take their rows of the whole axis's tables."""
    from ._shared.taps import resize_taps as tables

    return tables(n_in, n_out, method, align_corners)


def _taps_region(idx: np.ndarray, w: np.ndarray):
    def region_of(o0, o1):
        sub = idx[o0:o1]
        lo = int(sub.min())
        return lo, int(sub.max()) + 1, (sub - lo, w[o0:o1])
    return region_of


def _identity_region(o0, o1):
    return o0, o1, None


def _resize_block(compute, nearest: bool, kernels: bool, ay, ax, region, ctx_y, ctx_x):
    """The region resampled with its rows of the global tables: through the in-memory
    resize's own kernels where the records offer them (``resample_taps``: the same
    arithmetic, so the same values); else in NumPy, a gather for nearest (exact, the
    input's dtype) and weighted sums in float64 rounded once for the others."""
    if kernels:
        tables = []
        for axis, ctx in ((ay, ctx_y), (ax, ctx_x)):
            n = region.shape[axis]
            tables += ctx if ctx is not None else (np.arange(n)[:, None], np.ones((n, 1)))
        iy, wy, ix, wx = tables
        return compute("resample_taps", region, iy=iy, wy=wy, ix=ix, wx=wx, nearest=nearest)
    out = region if nearest else region.astype(np.float64)
    for axis, ctx in ((ay, ctx_y), (ax, ctx_x)):
        if ctx is None:  # equal sizes: every method is the identity
            continue
        idx, w = ctx
        if nearest:
            out = np.take(out, idx[:, 0], axis=axis)
            continue
        shape = [1] * out.ndim
        shape[axis] = idx.shape[0]
        acc = None
        for t in range(idx.shape[1]):
            term = np.take(out, idx[:, t], axis=axis) * w[:, t].reshape(shape)
            acc = term if acc is None else acc + term
        out = acc
    return out if nearest else _to_dtype(out, region.dtype)


def _has_table_kernels(compute: Callable, dtype) -> bool:
    """Whether the records hold ``resample_taps`` (the CPU kernels' entry that resamples
    with given tables): tried once on a 1x1 image."""
    one = np.zeros((1, 1), dtype)
    tables = (np.zeros((1, 1), np.int64), np.ones((1, 1)))
    try:
        compute("resample_taps", one, iy=tables[0], wy=tables[1], ix=tables[0],
                wx=tables[1], nearest=True)
    except (KeyError, NotImplementedError):
        return False
    return True


def _resize(image, op, params: dict, compute: Callable, backend: str):
    """Each output chunk takes its rows of the whole image's index and weight tables
    (:func:`resize_taps`) and reads the input range they index; the output's chunk
    boundaries are the input's, scaled."""
    ho, wo = params["shape"]
    method, align = params["method"], bool(params["align_corners"])
    H, W = _hw(image)
    ay, ax = _spatial_axes(image.ndim)
    geo = []
    for n_in, n_out in ((H, ho), (W, wo)):
        if n_in == n_out:
            geo.append((n_out, _identity_region))
        else:
            geo.append((n_out, _taps_region(*resize_taps(n_in, n_out, method, align))))
    kernels = backend != "cuda" and _has_table_kernels(compute, image.dtype)
    fn = functools.partial(_resize_block, compute, method.startswith("nearest"), kernels,
                           ay, ax)
    return _resampled(image, "imgops-resize", (ho, wo, method, align, compute), geo[0],
                      geo[1], fn, image.dtype)


def _conv_region(k: int, s: int, p: int, n: int):
    """Output rows [o0, o1) receive input rows i with o = i s - p + t, 0 <= t < k; a
    chunk that none reaches (output_padding's last rows) reads one row, placed outside
    it. The context holds the first row read: the block places the region's result."""
    def region_of(o0, o1):
        lo = min(max(-(-(o0 + p - k + 1) // s), 0), n - 1)
        hi = max(min((o1 - 1 + p) // s + 1, n), lo + 1)
        return lo, hi, (o0, o1, lo)
    return region_of


def _conv_block(compute, kernel, strides, padding, bias, nd_out, ay, ax, region, ctx_y,
                ctx_x):
    """The region's transposed convolution (float64, no padding) placed at its global
    offset in the chunk's outputs, then the bias, rounded once."""
    (sh, sw), (ph, pw) = strides, padding
    full = compute("conv_transpose", region.astype(np.float64), kernel=kernel,
                   stride=(sh, sw))
    if full.ndim < nd_out:  # a gray image whose kernel gives several channels
        full = full[..., None]
    (o0, o1, iy0), (p0, p1, ix0) = ctx_y, ctx_x
    gy, gx = iy0 * sh - ph, ix0 * sw - pw  # global row and column of full[0, 0]
    shape = list(full.shape)
    shape[ay], shape[ax] = o1 - o0, p1 - p0
    out = np.zeros(shape)
    ys, ye = max(o0, gy), min(o1, gy + full.shape[ay])
    xs, xe = max(p0, gx), min(p1, gx + full.shape[ax])
    if ys < ye and xs < xe:
        dst = [slice(None)] * out.ndim
        src = [slice(None)] * out.ndim
        dst[ay], dst[ax] = slice(ys - o0, ye - o0), slice(xs - p0, xe - p0)
        src[ay], src[ax] = slice(ys - gy, ye - gy), slice(xs - gx, xe - gx)
        out[tuple(dst)] = full[tuple(src)]
    out += bias if nd_out >= 3 else bias[0]
    return _to_dtype(out, region.dtype)


def _conv_transpose(image, params: dict, arguments: dict, compute: Callable):
    """Each output chunk reads the input rows and columns that contribute to it; their
    transposed convolution (float64) is placed at its global offset, the bias added and
    the result rounded once."""
    kernel = np.asarray(arguments["kernel"], dtype=np.float64)
    (sh, sw), (ph, pw) = params["stride"], params["padding"]
    ho, wo = params["out_hw"]
    bias = np.asarray(params["bias"], dtype=np.float64)
    kh, kw = kernel.shape[-2:]
    H, W = _hw(image)
    ay, ax = _spatial_axes(image.ndim)
    cout = bias.size
    nd_out = 3 if image.ndim == 2 and cout > 1 else image.ndim
    fn = functools.partial(_conv_block, compute, kernel, (sh, sw), (ph, pw), bias, nd_out,
                           ay, ax)
    return _resampled(image, "imgops-conv-transpose",
                      (kernel, sh, sw, ph, pw, ho, wo, bias, compute),
                      (ho, _conv_region(kh, sh, ph, H)), (wo, _conv_region(kw, sw, pw, W)),
                      fn, image.dtype, channels=cout)


# ------------------------------------------------------------------------ entry point
def run(op, image, backend: str, arguments: dict, compute: Callable):
    """The dispatch layer's entry: operation ``op`` (its record) on a dask array.

    Parameters
    ----------
    op : imgops._ops.Op
        The record: its ``check`` validates ``arguments`` (now, before any task runs),
        its ``halo`` sizes a stencil's overlap, its ``out_dtype`` the result's dtype.
    image : dask.array.Array
    backend : {"auto", "cpu", "cuda"}
        Where each chunk is computed.
    arguments : dict
        The public function's keyword arguments.
    compute : callable
        ``compute(name, block, **arguments) -> ndarray``: operation ``name`` on a NumPy
        block, in memory (the dispatch layer passes its own ``run`` with ``backend``).
        It travels with the tasks, so on a cluster it must be picklable.

    Returns
    -------
    dask.array.Array or float
        Lazy for every image operation; ``estimate_noise`` returns its float.
    """
    image = _check(image)
    if op.name == "canny":
        raise NotImplementedError("canny on a dask array: hysteresis follows edges across "
                                  "the whole image; compute it (image.compute()) and call "
                                  "imgops.canny on the NumPy array")
    if getattr(op, "layout", "image") != "image":
        raise NotImplementedError(f"{op.name} does not take a dask array")
    params = op.check(image, **arguments)
    compute("copy", np.zeros((1, 1), image.dtype))  # the backend's rules, now
    if op.name == "estimate_noise":
        return estimate_noise(image, **params)
    if op.name == "copy":
        return image.copy()
    if op.name in ("max_pool", "avg_pool"):
        return _pool(image, op, params, compute)
    if op.name == "resize":
        return _resize(image, op, params, compute, backend)
    if op.name == "conv_transpose":
        return _conv_transpose(image, params, arguments, compute)
    if getattr(op, "halo", None) is not None and getattr(op, "out_size", None) is None:
        return _stencil(image, op, params, arguments, compute)
    raise NotImplementedError(f"{op.name} does not take a dask array")
