"""Linear stencil engines: 1-D correlation passes, 2-D correlation, running-sum box.

All work on C-contiguous ``(P, H, W)`` float stacks. The inner loops run over
contiguous x through slice views (``seg = row[j:j + W]; seg[x]``) rather than
run-time offsets (``row[x + j]``): the latter makes Numba emit a wraparound
check that stops LLVM from vectorising (measured 3-12x slower).

Every weight is applied, zeros included, so a NaN reaches every output whose
window holds it (SPEC's rule; SciPy's 1-D passes do the same).
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from .border import fill_line, map_index, sample


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


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twins: one thread per output pixel, grid (x, y, plane); the border rule is
    the shared ``map_index``/``sample``."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda

    @cuda.jit
    def correlate1d(src, w, before, axis, mode, cval, out):
        """One 1-D pass along axis 0 (H) or 1 (W)."""
        x, y, p = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and p < P:
            s = 0.0
            for j in range(w.shape[0]):
                if axis == 0:
                    sy = map_index(y + j - before, H, mode)
                    v = cval if sy < 0 else src[p, sy, x]
                else:
                    sx = map_index(x + j - before, W, mode)
                    v = cval if sx < 0 else src[p, y, sx]
                s += w[j] * v
            out[p, y, x] = s

    @cuda.jit
    def correlate2d(src, w, by, bx, mode, cval, valid, out):
        x, y, p = cuda.grid(3)
        P, Ho, Wo = out.shape
        if x < Wo and y < Ho and p < P:
            s = 0.0
            for i in range(w.shape[0]):
                for j in range(w.shape[1]):
                    if valid:
                        v = src[p, y + i, x + j]
                    else:
                        v = sample(src, p, y + i - by, x + j - bx, mode, cval)
                    s += w[i, j] * v
            out[p, y, x] = s

    @cuda.jit
    def combine(a, b, op, factor, out):
        """op 0: a + b; 1: hypot(a, b); 2: a / (b + float64 eps); 3: a * factor."""
        x, y, p = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and p < P:
            u = a[p, y, x]
            v = b[p, y, x]
            if op == 0:
                out[p, y, x] = u + v
            elif op == 1:
                out[p, y, x] = math.sqrt(u * u + v * v)
            elif op == 2:
                out[p, y, x] = u / (v + 2.220446049250313e-16)
            else:
                out[p, y, x] = u * factor

    return SimpleNamespace(correlate1d=correlate1d, correlate2d=correlate2d, combine=combine)


@functools.cache
def cuda_tiled(dtype_name: str) -> SimpleNamespace:
    """Shared-memory tiled CUDA stencils for planes of ``dtype_name`` (see
    ``border.RPT``): each input pixel is read from global memory once per tile, each
    thread keeps RPT outputs in registers.

    ``two_pass``: out = A, A + B or hypot(A, B) (op 0, 1, 2), where each of A and B is a
    column pass then a row pass (SciPy's chained 1-D filters: the row pass extends the
    column pass's result with its own cval in constant mode). The taps of both pairs
    are packed in ``w``: ``wya, wxa, wyb, wxb``; each pass starts ``b`` taps before its
    output, and the tile's halo (top, bottom, left, right) covers both pairs.
    ``correlate2d``: a 2-D correlation from the tile.
    """
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda, types

    from .border import RPT, cuda_tile

    T = getattr(types, dtype_name)
    zero = np.dtype(dtype_name).type(0)  # sums in the planes' dtype, as the CPU passes
    load_tile = cuda_tile()

    @cuda.jit(device=True)
    def column_pass(tile, mid, w, w0, ky, oy, TH, TC, xs, W, constant, cvx):
        """mid[r, c] = sum_i w[w0 + i] * tile[r + oy + i, c]; columns outside the image
        hold cvx in constant mode."""
        r = cuda.threadIdx.y
        while r < TH:
            c = cuda.threadIdx.x
            while c < TC:
                gx = xs + c
                if constant and (gx < 0 or gx >= W):
                    mid[r * TC + c] = cvx
                else:
                    s = zero
                    base = (r + oy) * TC + c
                    for i in range(ky):
                        s += w[w0 + i] * tile[base + i * TC]
                    mid[r * TC + c] = s
                c += cuda.blockDim.x
            r += cuda.blockDim.y

    @cuda.jit(device=True)
    def row_pass(mid, w, w0, kx, ox, TC, q):
        """The row pass at this thread's q-th output row."""
        r = cuda.threadIdx.y + q * cuda.blockDim.y
        base = r * TC + cuda.threadIdx.x + ox
        s = zero
        for j in range(kx):
            s += w[w0 + j] * mid[base + j]
        return s

    @cuda.jit
    def two_pass(src, w, kya, kxa, bya, bxa, cvxa, kyb, kxb, byb, bxb, cvxb, op,
                 top, bottom, left, right, mode, cval, out):
        P, H, W = out.shape
        TH = cuda.blockDim.y * RPT
        TW = cuda.blockDim.x
        TC = TW + left + right
        TR = TH + top + bottom
        x0 = cuda.blockIdx.x * TW
        y0 = cuda.blockIdx.y * TH
        p = cuda.blockIdx.z
        smem = cuda.shared.array(0, T)
        tile = smem[:TR * TC]
        mid = smem[TR * TC:TR * TC + TH * TC]
        load_tile(src, p, y0 - top, x0 - left, TR, TC, mode, cval, tile)
        res = cuda.local.array(RPT, T)
        constant = mode == 3
        for pair in range(1 if op == 0 else 2):
            first = pair == 0
            ky = kya if first else kyb
            wy0 = 0 if first else kya + kxa
            cuda.syncthreads()  # the tile is loaded / the first pair's row pass is done
            column_pass(tile, mid, w, wy0, ky, top - (bya if first else byb), TH, TC,
                        x0 - left, W, constant, cvxa if first else cvxb)
            cuda.syncthreads()
            for q in range(RPT):
                v = row_pass(mid, w, wy0 + ky, kxa if first else kxb,
                             left - (bxa if first else bxb), TC, q)
                if first:
                    res[q] = v
                elif op == 1:
                    res[q] += v
                else:
                    res[q] = math.sqrt(res[q] * res[q] + v * v)
        x = x0 + cuda.threadIdx.x
        for q in range(RPT):
            y = y0 + cuda.threadIdx.y + q * cuda.blockDim.y
            if x < W and y < H:
                out[p, y, x] = res[q]

    @cuda.jit
    def correlate2d(src, w, top, left, mode, cval, out):
        """out[p, y, x] = sum w[i, j] * ext(src)[p, y + i - top, x + j - left]."""
        P, Ho, Wo = out.shape
        kh, kw = w.shape
        TH = cuda.blockDim.y * RPT
        TC = cuda.blockDim.x + kw - 1
        TR = TH + kh - 1
        x0 = cuda.blockIdx.x * cuda.blockDim.x
        y0 = cuda.blockIdx.y * TH
        p = cuda.blockIdx.z
        tile = cuda.shared.array(0, T)
        load_tile(src, p, y0 - top, x0 - left, TR, TC, mode, cval, tile)
        cuda.syncthreads()
        x = x0 + cuda.threadIdx.x
        for q in range(RPT):
            r = cuda.threadIdx.y + q * cuda.blockDim.y
            s = zero
            for i in range(kh):
                base = (r + i) * TC + cuda.threadIdx.x
                for j in range(kw):
                    s += w[i, j] * tile[base + j]
            if x < Wo and y0 + r < Ho:
                out[p, y0 + r, x] = s

    return SimpleNamespace(two_pass=two_pass, correlate2d=correlate2d)


# ----------------------------------------------------------------------------- fused, HWC
# The fast path for two-pass filters on the caller's own layout: an image (N, H, W, C) is
# viewed as rows of L = W*C interleaved samples. Per output row, the column pass writes
# into a row buffer (accumulated in the weights' dtype), the buffer is extended in x by
# whole pixels, and the row pass reads it with taps C samples apart, so both inner loops
# run over contiguous memory. Input conversion, both passes and the rounding/saturation
# of integer outputs happen in one sweep: no plane stack, no intermediate image.


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
    """orow = acc, rounded and saturated to [lo, hi] (in acc's dtype: ``_core.int_range``)
    for integer outputs."""
    if integer:
        for i in range(acc.shape[0]):
            orow[i] = min(max(np.rint(acc[i]), lo), hi)
    else:
        for i in range(acc.shape[0]):
            orow[i] = acc[i]


@njit(inline="always", cache=True)
def _store_divided(acc, orow, m, s, d):
    """orow = acc / d rounded to nearest, ties to even (as ``np.rint`` of the exact mean),
    for integer sums: t = acc + d // 2, v = t * m >> s (m, s: d's exact reciprocal,
    ``_engine.reciprocal``), less one where t was a multiple of d (a tie) and v odd."""
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
def separable_hwc(src, wy, by, wx, bx, C, mode, cval_y, cval_x, lo, hi, integer, m, s, d,
                  out):
    """Column pass (wy, extended with cval_y) then row pass (wx, extended with cval_x).

    With integer weights (a box on uint8: uint16 sums, 32 lanes per AVX-512 vector, as
    OpenCV's fixed point) and m != 0, the sums are divided exactly by d, whose
    reciprocal is (m, s), and rounded to nearest.
    """
    N, H, L = src.shape
    W = L // C
    kx = wx.shape[0]
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        buf = np.empty((W + kx - 1) * C, dtype=wy.dtype)
        acc = np.empty(L, dtype=wy.dtype)
        _column_pass(src, n, y, wy, by, mode, cval_y, C, bx, buf)
        _extend_x(buf, bx, W, C, mode, cval_x)
        _row_pass(buf, wx, C, L, acc)
        if m != 0:
            _store_divided(acc, out[n, y], m, s, d)
        else:
            _store(acc, out[n, y], lo, hi, integer)


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
    pass extending the image by itself (cval in constant mode)."""
    N, H, L = src.shape
    W = L // C
    one = np.ones(1, dtype=d2.dtype)
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        a = np.empty(L, dtype=d2.dtype)
        b = np.empty((W + 2) * C, dtype=d2.dtype)
        acc = np.empty(L, dtype=d2.dtype)
        _column_pass(src, n, y, d2, 1, mode, cval, C, 0, a)
        _column_pass(src, n, y, one, 0, mode, cval, C, 1, b)  # the row itself, converted
        _extend_x(b, 1, W, C, mode, cval)
        _row_pass(b, d2, C, L, acc)
        orow = out[n, y]
        for i in range(L):
            orow[i] = a[i] + acc[i]
