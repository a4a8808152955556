"""Resampling engines on the CPU: weighted taps along each axis, pooling windows,
transposed convolution.

Resizing applies a sparse 1-D resampling matrix per axis, given as ``(index[o, t],
weight[o, t])``: nearest (1 tap), bilinear (2 taps) and area (the window's taps) are
all this one engine. Both axes run in one sweep on the caller's (N, H, W*C) rows:
``resample_hwc`` (vertical taps, then the horizontal gather), ``upsample_hwc``
(bilinear upsampling: each source row gathered once, output rows blended) and
``nearest_hwc`` (a copy). The common 2x2 pools also run on the caller's layout
(``*_pool_2x2_hwc``); the general ones on planes.
"""

import numpy as np
from numba import njit, prange

from .._shared.rounding import shift_half_even
from .._shared.windows import avg_pool_at, max_pool_at, strided_range
from .rounding import store_int


@njit(parallel=True, cache=True)
def max_pool(src, kh, kw, sh, sw, ph, pw, out):
    P, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        orow = out[p, oy]
        for ox in range(Wo):
            orow[ox] = max_pool_at(src, p, oy, ox, kh, kw, sh, sw, ph, pw)


@njit(parallel=True, cache=True)
def avg_pool(src, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    P, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        orow = out[p, oy]
        for ox in range(Wo):
            orow[ox] = avg_pool_at(src, p, oy, ox, kh, kw, sh, sw, ph, pw, count_include_pad,
                                   0.0)


@njit(parallel=True, cache=True)
def conv_transpose(src, weight, bias, sh, sw, ph, pw, groups, out):
    """PyTorch's conv_transpose2d on (N, Cin, H, W) -> (N, Cout, Ho, Wo).

    weight is (Cin, Cout // groups, kh, kw); each output row gathers the input rows
    that reach it and scatters along x within the row (one thread owns the row).
    """
    N, Cin, H, W = src.shape
    _, Cout, Ho, Wo = out.shape
    kh, kw = weight.shape[2], weight.shape[3]
    cin_g = Cin // groups
    cout_g = Cout // groups
    for job in prange(N * Cout * Ho):
        n = job // (Cout * Ho)
        r = job - n * Cout * Ho
        co = r // Ho
        y = r - co * Ho
        g = co // cout_g
        cog = co - g * cout_g
        orow = out[n, co, y]
        for x in range(Wo):
            orow[x] = bias[co]
        for ky in range(kh):
            t = y + ph - ky
            if t < 0 or t % sh != 0:
                continue
            iy = t // sh
            if iy >= H:
                continue
            for ci in range(g * cin_g, (g + 1) * cin_g):
                irow = src[n, ci, iy]
                for kx in range(kw):
                    wv = weight[ci, cog, ky, kx]
                    ix0, ix1 = strided_range(pw, kx, sw, Wo, W)  # x = ix*sw - pw + kx
                    for ix in range(ix0, ix1):
                        orow[ix * sw - pw + kx] += wv * irow[ix]


@njit(parallel=True, cache=True, fastmath={"contract"})
def resample_hwc(src, iy, wy, ix, wx, lo, hi, integer, out):
    """Resize (N, H, W*C) rows to (N, Ho, Wo*C) with tap tables for both axes: the
    vertical taps blend whole source rows (contiguous), the horizontal taps gather
    from that row per output sample (``ix``, ``wx``: (Tx, Wo*C) tables of sample
    offsets and weights, so the gather is one flat loop whatever C is), then one
    rounding store; conversion, both passes and rounding in one sweep."""
    N, H, L = src.shape
    Ho = out.shape[1]
    Lo = out.shape[2]
    Ty = iy.shape[1]
    for job in prange(N * Ho):
        n = job // Ho
        y = job - n * Ho
        row = np.empty(L, dtype=wy.dtype)
        r0 = src[n, iy[y, 0]]
        w0 = wy[y, 0]
        if Ty == 2:  # bilinear: both taps in one pass
            r1 = src[n, iy[y, 1]]
            w1 = wy[y, 1]
            for i in range(L):
                row[i] = w0 * r0[i] + w1 * r1[i]
        else:
            for i in range(L):
                row[i] = w0 * r0[i]
            for t in range(1, Ty):
                wt = wy[y, t]
                srow = src[n, iy[y, t]]
                for i in range(L):
                    row[i] += wt * srow[i]
        orow = out[n, y]
        acc = np.empty(Lo, dtype=wy.dtype)
        _resize_row(row, ix, wx, acc)
        if integer:
            for i in range(Lo):
                orow[i] = store_int(acc[i], lo, hi)
        else:
            for i in range(Lo):
                orow[i] = acc[i]


ROW_BLOCK = 64  # output rows per job where consecutive rows share work


@njit(inline="always", cache=True)
def _row_block(job, nb, Ho):
    """Image n and output rows [y0, y1) of job ``job`` (nb blocks of ROW_BLOCK per image)."""
    n = job // nb
    y0 = (job - n * nb) * ROW_BLOCK
    return n, y0, min(Ho, y0 + ROW_BLOCK)


@njit(inline="always", cache=True)
def _resize_row(srow, ix, wx, dst):
    """dst[i] = sum_t wx[t, i] srow[ix[t, i]]: one row's horizontal taps (a gather)."""
    Lo = dst.shape[0]
    i0 = ix[0]
    v0 = wx[0]
    if ix.shape[0] == 2:
        i1 = ix[1]
        v1 = wx[1]
        for i in range(Lo):
            dst[i] = v0[i] * srow[i0[i]] + v1[i] * srow[i1[i]]
        return
    for i in range(Lo):
        dst[i] = v0[i] * srow[i0[i]]
    for t in range(1, ix.shape[0]):
        idx = ix[t]
        wts = wx[t]
        for i in range(Lo):
            dst[i] += wts[i] * srow[idx[i]]


@njit(parallel=True, cache=True, fastmath={"contract"})
def upsample_hwc(src, iy, wy, ix, wx, lo, hi, integer, out):
    """Two vertical taps per output row and more output rows than source rows
    (bilinear upsampling): the horizontal gather is the costly part, so each source
    row is resized horizontally once per block of 64 output rows (a two-row cache:
    the taps only move down), and each output row blends two such rows (contiguous),
    rounds and stores. Shapes and tables as ``resample_hwc``."""
    N, H, L = src.shape
    Ho = out.shape[1]
    Lo = out.shape[2]
    nb = (Ho + ROW_BLOCK - 1) // ROW_BLOCK
    for job in prange(N * nb):
        n, y0, y1 = _row_block(job, nb, Ho)
        hb = np.empty((2, Lo), dtype=wy.dtype)
        frow = np.empty(L, dtype=wy.dtype)  # an integer row converted once, then gathered
        keys = np.full(2, -1)
        for y in range(y0, y1):
            ra = iy[y, 0]
            rb = iy[y, 1]
            for r, other in ((ra, rb), (rb, ra)):
                if keys[0] != r and keys[1] != r:  # keep the slot holding the other row
                    slot = 1 if keys[0] == other else 0
                    if integer:
                        frow[:] = src[n, r]
                        _resize_row(frow, ix, wx, hb[slot])
                    else:
                        _resize_row(src[n, r], ix, wx, hb[slot])
                    keys[slot] = r
            ha = hb[0] if keys[0] == ra else hb[1]
            hc = hb[0] if keys[0] == rb else hb[1]
            w0 = wy[y, 0]
            w1 = wy[y, 1]
            orow = out[n, y]
            if integer:
                for i in range(Lo):
                    orow[i] = store_int(w0 * ha[i] + w1 * hc[i], lo, hi)
            else:
                for i in range(Lo):
                    orow[i] = w0 * ha[i] + w1 * hc[i]


@njit(cache=True)  # not inlined: compiled once per signature
def _up2_row(srow, C, h):
    """h = 4 x the bilinear 2x upsampling of one row (W pixels of C samples; PyTorch's
    align_corners=False): the two outputs between pixels i and i + 1 are 3 s_i + s_i+1
    and s_i + 3 s_i+1, the outer two 4 s. Integer sums are exact in h's dtype."""
    L = srow.shape[0]
    W = L // C
    one = h.dtype.type(1)
    for c in range(C):
        h[c] = 4 * (one * srow[c])
        h[(2 * W - 1) * C + c] = 4 * (one * srow[(W - 1) * C + c])
    if C == 3:  # constant strides, written out: LLVM vectorises the interleaved accesses
        for i in range(W - 1):
            a0 = one * srow[3 * i]
            a1 = one * srow[3 * i + 1]
            a2 = one * srow[3 * i + 2]
            b0 = one * srow[3 * i + 3]
            b1 = one * srow[3 * i + 4]
            b2 = one * srow[3 * i + 5]
            h[6 * i + 3] = 3 * a0 + b0
            h[6 * i + 4] = 3 * a1 + b1
            h[6 * i + 5] = 3 * a2 + b2
            h[6 * i + 6] = a0 + 3 * b0
            h[6 * i + 7] = a1 + 3 * b1
            h[6 * i + 8] = a2 + 3 * b2
    elif C == 1:
        for i in range(W - 1):
            a = one * srow[i]
            b = one * srow[i + 1]
            h[2 * i + 1] = 3 * a + b
            h[2 * i + 2] = a + 3 * b
    else:
        for i in range(W - 1):
            for c in range(C):
                a = one * srow[i * C + c]
                b = one * srow[(i + 1) * C + c]
                h[(2 * i + 1) * C + c] = 3 * a + b
                h[(2 * i + 2) * C + c] = a + 3 * b


@njit(inline="always", cache=True)
def _store_sixteenth(ha, hb, wa, wb, integer, orow):
    """orow = (wa ha + wb hb) / 16: rounded half to even in integer arithmetic (exact),
    or scaled for floats."""
    if integer:
        for i in range(orow.shape[0]):
            q = np.uint32(wa * ha[i] + wb * hb[i])  # (types for floats too: never run)
            orow[i] = shift_half_even(q, 4)
    else:
        for i in range(orow.shape[0]):
            orow[i] = (wa * ha[i] + wb * hb[i]) * 0.0625


@njit(parallel=True, cache=True)
def upsample2x_hwc(src, C, wide, integer, out):
    """Bilinear 2x upsampling (align_corners=False) by phases, no tables or gathers: each
    source row is upsampled horizontally once (``_up2_row``, 4x scaled), and the output
    rows between source rows j and j + 1 are (3 h_j + h_j+1) / 16 and (h_j + 3 h_j+1) / 16,
    the outer two rows 4 h / 16. uint8 works in uint16 (exact; rounded half to even as
    np.rint of the exact value), uint16 in uint32, floats in their compute dtype."""
    N, H, L = src.shape
    Lo = out.shape[2]
    nb = (H + ROW_BLOCK - 1) // ROW_BLOCK  # blocks of source rows j (pairs j, j + 1)
    wt = wide.dtype.type
    for job in prange(N * nb):
        n = job // nb
        j0 = (job - n * nb) * ROW_BLOCK
        j1 = min(H, j0 + ROW_BLOCK)
        hb = np.empty((2, Lo), dtype=wide.dtype)
        _up2_row(src[n, j0], C, hb[0])
        if j0 == 0:
            _store_sixteenth(hb[0], hb[0], wt(4), wt(0), integer, out[n, 0])
        for j in range(j0, j1):
            cur = hb[(j - j0) & 1]
            if j + 1 == H:
                _store_sixteenth(cur, cur, wt(4), wt(0), integer, out[n, 2 * H - 1])
                break
            nxt = hb[(j - j0 + 1) & 1]
            _up2_row(src[n, j + 1], C, nxt)
            _store_sixteenth(cur, nxt, wt(3), wt(1), integer, out[n, 2 * j + 1])
            _store_sixteenth(cur, nxt, wt(1), wt(3), integer, out[n, 2 * j + 2])


@njit(parallel=True, cache=True)
def nearest_hwc(src, iy, ix, C, out):
    """Nearest-neighbour resize on the caller's layout, a pure copy (any dtype):
    out[n, y, i] = src[n, iy[y], ix[i]] with ix the flat sample offset per output. An
    output row with the same source row as the one above is a copy of it (contiguous);
    a row doubled in width (2x with ix[i] = i // 2C C + i % C) duplicates pixels without
    the table (written out for colour: vectorised)."""
    N, H, L = src.shape
    Ho = out.shape[1]
    Lo = out.shape[2]
    double = Lo == 2 * L
    if double:
        for i in range(Lo):
            if ix[i] != (i // (2 * C)) * C + i % C:
                double = False
                break
    nb = (Ho + ROW_BLOCK - 1) // ROW_BLOCK
    for job in prange(N * nb):
        n, y0, y1 = _row_block(job, nb, Ho)
        for y in range(y0, y1):
            orow = out[n, y]
            if y > y0 and iy[y] == iy[y - 1]:
                orow[:] = out[n, y - 1]
                continue
            srow = src[n, iy[y]]
            if double and C == 3:
                for p in range(L // 3):
                    a, b, c = srow[3 * p], srow[3 * p + 1], srow[3 * p + 2]
                    orow[6 * p] = a
                    orow[6 * p + 1] = b
                    orow[6 * p + 2] = c
                    orow[6 * p + 3] = a
                    orow[6 * p + 4] = b
                    orow[6 * p + 5] = c
            elif double and C == 1:
                for p in range(L):
                    orow[2 * p] = srow[p]
                    orow[2 * p + 1] = srow[p]
            else:
                for i in range(Lo):
                    orow[i] = srow[ix[i]]


@njit(inline="always", cache=True)
def _every_other_group(t, C, orow):
    """orow = groups 0, 2, 4, ... of C samples of t (the pairs' results kept)."""
    if C == 1:
        for ox in range(orow.shape[0]):
            orow[ox] = t[2 * ox]
        return
    if C == 3:  # colour: constant strides, so LLVM vectorises the interleaved accesses
        for ox in range(orow.shape[0] // 3):
            orow[3 * ox] = t[6 * ox]
            orow[3 * ox + 1] = t[6 * ox + 1]
            orow[3 * ox + 2] = t[6 * ox + 2]
        return
    i = 0
    for ox in range(orow.shape[0] // C):
        for k in range(2 * C * ox, 2 * C * ox + C):
            orow[i] = t[k]
            i += 1


@njit(parallel=True, cache=True)
def max_pool_2x2_hwc(src, C, out):
    """2x2 windows at stride 2 on the caller's layout (src (N, H, W*C), out (N, Ho, Wo*C),
    2 Ho <= H, 2 Wo <= W): the vertical maximum of two whole rows, then of sample pairs
    C apart. A NaN wins, as in PyTorch."""
    N, H, L = src.shape
    Ho = out.shape[1]
    Lo = out.shape[2]
    Wo = Lo // C
    for job in prange(N * Ho):
        n = job // Ho
        oy = job - n * Ho
        r0 = src[n, 2 * oy]
        r1 = src[n, 2 * oy + 1]
        tmp = np.empty(2 * Lo, dtype=src.dtype)
        for i in range(2 * Lo):
            a = r0[i]
            b = r1[i]
            tmp[i] = a if a != a or a >= b else b
        orow = out[n, oy]
        if C == 1:
            for ox in range(Wo):
                a = tmp[2 * ox]
                b = tmp[2 * ox + 1]
                orow[ox] = a if a != a or a >= b else b
            continue
        M = 2 * Lo - C
        ta = tmp[0:M]
        tb = tmp[C:C + M]
        v = np.empty(M, dtype=src.dtype)
        for k in range(M):
            a = ta[k]
            b = tb[k]
            v[k] = a if a != a or a >= b else b
        _every_other_group(v, C, orow)


@njit(parallel=True, cache=True)
def avg_pool_2x2_hwc(src, C, out):
    """2x2 means at stride 2 on the caller's layout (shapes as ``max_pool_2x2_hwc``),
    floats: two whole rows added, then samples C apart (both passes contiguous), then
    every other group of C kept."""
    N, H, L = src.shape
    Ho = out.shape[1]
    M = 2 * out.shape[2] - C
    for job in prange(N * Ho):
        n = job // Ho
        oy = job - n * Ho
        r0 = src[n, 2 * oy]
        r1 = src[n, 2 * oy + 1]
        orow = out[n, oy]
        if C == 1:  # one pass, pairs loaded as interleaved vectors
            for ox in range(orow.shape[0]):
                orow[ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * 0.25
            continue
        t = np.empty(M + C, dtype=src.dtype)
        for i in range(M + C):
            t[i] = r0[i] + r1[i]
        if C == 3:  # only the kept outputs, written out: vectorised interleaved accesses
            for ox in range(orow.shape[0] // 3):
                orow[3 * ox] = (t[6 * ox] + t[6 * ox + 3]) * 0.25
                orow[3 * ox + 1] = (t[6 * ox + 1] + t[6 * ox + 4]) * 0.25
                orow[3 * ox + 2] = (t[6 * ox + 2] + t[6 * ox + 5]) * 0.25
            continue
        a = t[0:M]
        b = t[C:C + M]
        v = np.empty(M, dtype=src.dtype)
        for k in range(M):
            v[k] = (a[k] + b[k]) * 0.25
        _every_other_group(v, C, orow)


@njit(parallel=True, cache=True)
def avg_pool_2x2_hwc_int(src, C, wide, out):
    """``avg_pool_2x2_hwc`` for unsigned integers: the two rows summed in ``wide``'s
    dtype (uint16 for uint8: 32 lanes per AVX-512 vector), then each kept output from
    two of those sums, rounded half to even; no output computed and thrown away."""
    N, H, L = src.shape
    Ho = out.shape[1]
    Lo = out.shape[2]
    for job in prange(N * Ho):
        n = job // Ho
        oy = job - n * Ho
        r0 = src[n, 2 * oy]
        r1 = src[n, 2 * oy + 1]
        t = np.empty(2 * Lo, dtype=wide.dtype)
        for i in range(2 * Lo):
            t[i] = wide.dtype.type(r0[i]) + wide.dtype.type(r1[i])
        orow = out[n, oy]
        if C == 1:
            for ox in range(Lo):
                orow[ox] = shift_half_even(t[2 * ox] + t[2 * ox + 1], 2)
        elif C == 3:  # constant strides: LLVM vectorises the interleaved accesses
            for ox in range(Lo // 3):
                orow[3 * ox] = shift_half_even(t[6 * ox] + t[6 * ox + 3], 2)
                orow[3 * ox + 1] = shift_half_even(t[6 * ox + 1] + t[6 * ox + 4], 2)
                orow[3 * ox + 2] = shift_half_even(t[6 * ox + 2] + t[6 * ox + 5], 2)
        else:
            for ox in range(Lo // C):
                for c in range(C):
                    k = 2 * C * ox + c
                    orow[C * ox + c] = shift_half_even(t[k] + t[k + C], 2)
