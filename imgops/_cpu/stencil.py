"""Linear stencil engines on the CPU: 1-D correlation passes, 2-D correlation,
running-sum box, and the fused passes that work on the caller's layout.

All work on C-contiguous arrays. Inner loops run over contiguous x through slice
views (``seg = row[j:j + W]; seg[x]``) rather than run-time offsets
(``row[x + j]``), which make Numba emit a wraparound check that stops LLVM from
vectorising.

Every weight is applied, zeros included, so a NaN reaches every output whose
window holds it (SciPy's 1-D passes do the same).
"""

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .._shared.border import fill_line, map_index
from .rounding import store_int


class Taps(NamedTuple):
    """One 1-D pass: its weights, the samples before the centre, and the value
    outside the image in constant mode."""

    weights: np.ndarray
    before: int
    cval: float


class IntStore(NamedTuple):
    """How sums become outputs: saturation bounds ``[lo, hi]`` and rounding when
    ``integer``; with ``mul != 0``, exact division of integer sums by ``div`` through
    its reciprocal ``(mul, shift)`` (``engine.reciprocal``)."""

    lo: float
    hi: float
    integer: bool
    mul: np.uint32
    shift: np.uint32
    div: np.uint32


@njit(parallel=True, cache=True)
def correlate_rows(src, w, before, mode, cval, out):
    """out[p, y, x] = sum_j w[j] * ext(src)[p, y, x + j - before]  (along W)."""
    P, H, W = src.shape
    k = w.shape[0]
    for idx in prange(P * H):
        p = idx // H
        y = idx - p * H
        buf = np.empty(W + k - 1, dtype=out.dtype)
        fill_line(src[p, y], buf, before, mode, cval)
        orow = out[p, y]
        for x in range(W):
            orow[x] = 0
        for j in range(k):
            wj = w[j]
            seg = buf[j:j + W]
            for x in range(W):
                orow[x] += wj * seg[x]


@njit(parallel=True, cache=True)
def correlate_cols(src, w, before, mode, cval, out):
    """out[p, y, x] = sum_j w[j] * ext(src)[p, y + j - before, x]  (along H)."""
    P, H, W = src.shape
    for idx in prange(P * H):
        p = idx // H
        y = idx - p * H
        _column_pass(src, p, y, w, before, mode, cval, 1, 0, out[p, y])


@njit(parallel=True, cache=True)
def correlate_valid(src, w, out):
    """Valid 2-D correlation: out[p, y, x] = sum w[i, j] * src[p, y + i, x + j]."""
    P, Ho, Wo = out.shape
    kh, kw = w.shape
    for idx in prange(P * Ho):
        p = idx // Ho
        y = idx - p * Ho
        orow = out[p, y]
        for x in range(Wo):
            orow[x] = 0
        for i in range(kh):
            srow = src[p, y + i]
            for j in range(kw):
                wij = w[i, j]
                seg = srow[j:j + Wo]
                for x in range(Wo):
                    orow[x] += wij * seg[x]


@njit(inline="always", cache=True)
def _direct_mean(buf, k, out):
    n = out.shape[0]
    inv = 1.0 / k
    for x in range(n):
        s = 0.0
        for j in range(k):
            s += buf[x + j]
        out[x] = s * inv


@njit(parallel=True, cache=True)
def box_rows(src, k, before, mode, cval, out):
    """Mean over k samples along W, by running sums in float64 (cost independent of k).

    Lines holding NaN or inf fall back to direct sums, so non-finite values reach
    only the outputs whose windows hold them.
    """
    P, H, W = src.shape
    inv = 1.0 / k
    for idx in prange(P * H):
        p = idx // H
        y = idx - p * H
        buf = np.empty(W + k - 1, dtype=out.dtype)
        fill_line(src[p, y], buf, before, mode, cval)
        orow = out[p, y]
        finite = True
        for x in range(buf.shape[0]):
            if not np.isfinite(buf[x]):
                finite = False
                break
        if not finite:
            _direct_mean(buf, k, orow)
            continue
        s = 0.0
        for j in range(k):
            s += buf[j]
        orow[0] = s * inv
        tail = buf[k:k + W - 1]
        head = buf[0:W - 1]
        for x in range(W - 1):
            s += tail[x] - head[x]
            orow[x + 1] = s * inv


@njit(parallel=True, cache=True)
def box_cols(src, k, before, mode, cval, out, chunk, finite):
    """Mean over k samples along H: float64 running sums over rows, ``chunk`` rows a task.

    Planes holding NaN or inf (``finite[p]`` false) use direct sums instead.
    """
    P, H, W = src.shape
    nchunks = (H + chunk - 1) // chunk
    inv = 1.0 / k
    for idx in prange(P * nchunks):
        p = idx // nchunks
        y0 = (idx - p * nchunks) * chunk
        y1 = min(y0 + chunk, H)
        acc = np.zeros(W, dtype=np.float64)
        if not finite[p]:
            for y in range(y0, y1):
                acc[:] = 0.0
                for j in range(k):
                    _add_row(src, p, map_index(y + j - before, H, mode), cval, acc, 1.0)
                orow = out[p, y]
                for x in range(W):
                    orow[x] = acc[x] * inv
            continue
        for j in range(k):
            _add_row(src, p, map_index(y0 + j - before, H, mode), cval, acc, 1.0)
        for y in range(y0, y1):
            orow = out[p, y]
            for x in range(W):
                orow[x] = acc[x] * inv
            if y + 1 < y1:
                _add_row(src, p, map_index(y + k - before, H, mode), cval, acc, 1.0)
                _add_row(src, p, map_index(y - before, H, mode), cval, acc, -1.0)


@njit(inline="always", cache=True)
def _add_row(src, p, sy, cval, acc, sign):
    W = acc.shape[0]
    if sy < 0:
        c = sign * cval
        for x in range(W):
            acc[x] += c
    else:
        srow = src[p, sy]
        for x in range(W):
            acc[x] += sign * srow[x]


@njit(cache=True)  # not inlined: compiled once per signature, not per call site
def _column_pass(src, n, y, w, before, mode, cval, C, bx, buf):
    """buf's interior = sum_j w[j] * ext(src)[n, y + j - before]: taps up to four at a
    time, so the row buffer is loaded and stored once per group, not once per tap."""
    H = src.shape[1]
    L = src.shape[2]
    inner = buf[bx * C:bx * C + L]
    k = w.shape[0]
    for i in range(L):
        inner[i] = 0
    j = 0
    while k - j >= 2:  # groups of 4, then one of 3 or 2
        g = min(4, k - j)
        s0 = map_index(y + j - before, H, mode)
        s1 = map_index(y + j + 1 - before, H, mode)
        s2 = map_index(y + j + min(2, g - 1) - before, H, mode)
        s3 = map_index(y + j + g - 1 - before, H, mode)
        if min(min(s0, s1), min(s2, s3)) < 0:  # a constant-mode row: one tap at a time
            break
        r0 = src[n, s0]
        r1 = src[n, s1]
        r2 = src[n, s2]
        r3 = src[n, s3]
        w0, w1 = w[j], w[j + 1]
        if g == 4:
            w2, w3 = w[j + 2], w[j + 3]
            for i in range(L):
                inner[i] += (w0 * r0[i] + w1 * r1[i]) + (w2 * r2[i] + w3 * r3[i])
        elif g == 3:
            w2 = w[j + 2]
            for i in range(L):
                inner[i] += (w0 * r0[i] + w1 * r1[i]) + w2 * r2[i]
        else:
            for i in range(L):
                inner[i] += w0 * r0[i] + w1 * r1[i]
        j += g
    for t in range(j, k):
        wj = w[t]
        sy = map_index(y + t - before, H, mode)
        if sy < 0:
            c = wj * cval
            for i in range(L):
                inner[i] += c
        else:
            row = src[n, sy]
            for i in range(L):
                inner[i] += wj * row[i]


@njit(inline="always", cache=True)
def _extend_x(buf, bx, W, C, mode, cval):
    """Fill the bx pixels before and the pixels after the interior of a row buffer."""
    total = buf.shape[0] // C
    for xb in range(bx):
        sx = map_index(xb - bx, W, mode)
        for c in range(C):
            buf[xb * C + c] = cval if sx < 0 else buf[(bx + sx) * C + c]
    for xb in range(bx + W, total):
        sx = map_index(xb - bx, W, mode)
        for c in range(C):
            buf[xb * C + c] = cval if sx < 0 else buf[(bx + sx) * C + c]


@njit(cache=True)  # not inlined: compiled once per signature, not per call site
def _row_pass(buf, w, C, L, acc):
    """acc = sum_j w[j] * buf[j C : j C + L]."""
    for i in range(L):
        acc[i] = 0
    _add_row_taps(buf, w, C, L, acc)


@njit(cache=True)  # not inlined: compiled once per signature, not per call site
def _add_row_taps(buf, w, C, L, acc):
    """acc += sum_j w[j] * buf[j C : j C + L], taps four at a time (as ``_column_pass``)."""
    k = w.shape[0]
    j = 0
    while j + 4 <= k:
        s0 = buf[j * C:j * C + L]
        s1 = buf[(j + 1) * C:(j + 1) * C + L]
        s2 = buf[(j + 2) * C:(j + 2) * C + L]
        s3 = buf[(j + 3) * C:(j + 3) * C + L]
        w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
        for i in range(L):
            acc[i] += (w0 * s0[i] + w1 * s1[i]) + (w2 * s2[i] + w3 * s3[i])
        j += 4
    if k - j >= 2:  # two or three taps left: one more pass
        s0 = buf[j * C:j * C + L]
        s1 = buf[(j + 1) * C:(j + 1) * C + L]
        w0, w1 = w[j], w[j + 1]
        if k - j == 3:
            s2 = buf[(j + 2) * C:(j + 2) * C + L]
            w2 = w[j + 2]
            for i in range(L):
                acc[i] += (w0 * s0[i] + w1 * s1[i]) + w2 * s2[i]
        else:
            for i in range(L):
                acc[i] += w0 * s0[i] + w1 * s1[i]
    elif k - j == 1:
        wj = w[j]
        seg = buf[j * C:j * C + L]
        for i in range(L):
            acc[i] += wj * seg[i]


@njit(inline="always", cache=True)
def _store(acc, orow, lo, hi, integer):
    """orow = acc, rounded and saturated to [lo, hi] (in acc's dtype: ``_validate.int_range``)
    for integer outputs."""
    if integer:
        for i in range(acc.shape[0]):
            orow[i] = store_int(acc[i], lo, hi)
    else:
        for i in range(acc.shape[0]):
            orow[i] = acc[i]


@njit(inline="always", cache=True)
def _store_divided(acc, orow, m, s, d):
    """orow = acc / d rounded to nearest, ties to even (as ``np.rint`` of the exact mean),
    for integer sums: t = acc + d // 2, v = t * m >> s (m, s: d's exact reciprocal,
    ``engine.reciprocal``), less one where t was a multiple of d (a tie) and v odd."""
    half = d >> 1
    if d & 1:
        for i in range(acc.shape[0]):
            orow[i] = ((np.uint32(acc[i]) + half) * m) >> s
    else:
        for i in range(acc.shape[0]):
            t = np.uint32(acc[i]) + half
            v = (t * m) >> s
            orow[i] = v - (((v * d) == t) & ((v & 1) == 1))


@njit(parallel=True, cache=True)
def separable_hwc(src, col, row, C, mode, store, out):
    """Column pass ``col`` then row pass ``row`` (each ``Taps``: weights, samples
    before the centre, the value outside the image in constant mode), stored through
    ``store`` (``IntStore``).

    With integer weights (a box on uint8: uint16 sums, 32 lanes per AVX-512 vector, as
    OpenCV's fixed point) and ``store.mul != 0``, the sums are divided exactly by
    ``store.div``, whose reciprocal is ``(store.mul, store.shift)``, and rounded to
    nearest.
    """
    N, H, L = src.shape
    W = L // C
    kx = row.weights.shape[0]
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        buf = np.empty((W + kx - 1) * C, dtype=col.weights.dtype)
        acc = np.empty(L, dtype=col.weights.dtype)
        _column_pass(src, n, y, col.weights, col.before, mode, col.cval, C, row.before, buf)
        _extend_x(buf, row.before, W, C, mode, row.cval)
        _row_pass(buf, row.weights, C, L, acc)
        if store.mul != 0:
            _store_divided(acc, out[n, y], store.mul, store.shift, store.div)
        else:
            _store(acc, out[n, y], store.lo, store.hi, store.integer)


@njit(parallel=True, cache=True)
def gradient_hwc(src, d, s, C, mode, cval, cvx_a, cvx_b, out):
    """hypot(rows: d then s, columns: s then d) in one sweep: the gradient magnitude of
    sobel, prewitt and scharr (d the derivative, s the smoothing, both of length 3)."""
    N, H, L = src.shape
    W = L // C
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        a = np.empty((W + 2) * C, dtype=d.dtype)
        b = np.empty((W + 2) * C, dtype=d.dtype)
        ga = np.empty(L, dtype=d.dtype)
        gb = np.empty(L, dtype=d.dtype)
        _column_pass(src, n, y, d, 1, mode, cval, C, 1, a)
        _column_pass(src, n, y, s, 1, mode, cval, C, 1, b)
        _extend_x(a, 1, W, C, mode, cvx_a)
        _extend_x(b, 1, W, C, mode, cvx_b)
        _row_pass(a, s, C, L, ga)
        _row_pass(b, d, C, L, gb)
        orow = out[n, y]
        for i in range(L):
            orow[i] = np.sqrt(ga[i] * ga[i] + gb[i] * gb[i])


@njit(parallel=True, cache=True)
def correlate2d_hwc(src, w, by, bx, C, mode, cval, lo, hi, integer, out):
    """Any 2-D kernel on (N, H, W*C) rows: per output row, the kh source rows it needs are
    extended in x (whole pixels) into row buffers, then every tap is a contiguous FMA."""
    N, H, L = src.shape
    W = L // C
    kh, kw = w.shape
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        rows = np.empty((kh, (W + kw - 1) * C), dtype=w.dtype)
        acc = np.zeros(L, dtype=w.dtype)
        for i in range(kh):
            buf = rows[i]
            sy = map_index(y + i - by, H, mode)
            inner = buf[bx * C:bx * C + L]
            if sy < 0:
                buf[:] = cval
                continue
            srow = src[n, sy]
            for t in range(L):
                inner[t] = srow[t]
            _extend_x(buf, bx, W, C, mode, cval)
        for i in range(kh):
            _add_row_taps(rows[i], w[i], C, L, acc)
        _store(acc, out[n, y], lo, hi, integer)


@njit(parallel=True, cache=True)
def laplace_hwc(src, d2, C, mode, cval, out):
    """SciPy's laplace in one sweep: [1, -2, 1] down the columns plus along the rows, each
    pass extending the image by itself (cval in constant mode). Each second difference
    is summed as ``(u - c) + (d - c)``: neighbours' differences, exact in float32 for
    values within a factor 2 of each other, so data far from zero (an offset of 1000
    under a signal of 1) keeps float32 accuracy relative to the result (``u - 2c + d``
    loses it to the rounding of ``u - 2c``). ``d2`` gives the compute dtype only."""
    N, H, L = src.shape
    W = L // C
    one = np.ones(1, dtype=d2.dtype)
    cv = d2.dtype.type(cval)
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        b = np.empty((W + 2) * C, dtype=d2.dtype)
        _column_pass(src, n, y, one, 0, mode, cval, C, 1, b)  # the row itself, converted
        _extend_x(b, 1, W, C, mode, cval)
        s0 = map_index(y - 1, H, mode)
        s2 = map_index(y + 1, H, mode)
        orow = out[n, y]
        for i in range(L):
            c = b[i + C]
            u = cv if s0 < 0 else d2.dtype.type(src[n, s0, i])
            d = cv if s2 < 0 else d2.dtype.type(src[n, s2, i])
            orow[i] = ((u - c) + (d - c)) + ((b[i] - c) + (b[i + 2 * C] - c))
