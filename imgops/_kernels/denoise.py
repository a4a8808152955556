"""Denoising engines: bilateral, fast non-local means, canny's suppression and hysteresis.

Each works on one image's channel stack ``(C, H, W)`` at a time (channels are
measured together), already extended at the border by ``border.pad``.
"""

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from .border import sample


@njit(parallel=True, cache=True, fastmath={"contract", "arcp", "reassoc"})
def bilateral(padded, r, spatial, inv2sc2, lut, out):
    """out(p) = sum_q w q / sum_q w, w = spatial[q - p] * exp(-|I(p) - I(q)|^2 / 2 sc^2).

    padded (C, H + 2r, W + 2r); spatial ((2r+1)^2) holds exp(-|q-p|^2 / 2 ss^2). Each
    output row is built offset by offset over whole row vectors (contiguous loads). For
    8-bit images the squared color distance is an integer and ``lut`` holds the color
    weight of every possible value (exact, no exp per sample); otherwise lut is empty.
    """
    C, H, W = out.shape
    k = 2 * r + 1
    use_lut = lut.shape[0] > 0
    for y in prange(H):
        num = np.zeros((C, W))
        den = np.zeros(W)
        d2 = np.empty(W)
        w = np.empty(W)
        for i in range(k):
            for j in range(k):
                d2[:] = 0.0
                for c in range(C):
                    a = padded[c, y + i, j:j + W]
                    b = padded[c, y + r, r:r + W]
                    for x in range(W):
                        t = a[x] - b[x]
                        d2[x] += t * t
                sw = spatial[i * k + j]
                if use_lut:
                    for x in range(W):
                        v = d2[x]
                        w[x] = sw * (lut[int(v)] if v == v else np.nan)
                else:
                    for x in range(W):
                        w[x] = sw * math.exp(-d2[x] * inv2sc2)
                for x in range(W):
                    den[x] += w[x]
                for c in range(C):
                    a = padded[c, y + i, j:j + W]
                    nc = num[c]
                    for x in range(W):
                        nc[x] += w[x] * a[x]
        for c in range(C):
            for x in range(W):
                out[c, y, x] = num[c, x] / den[x]


@njit(inline="always", cache=True)
def _diff_row(padded, rp, uy, ux, c0, var2c, dr):
    """dr[i] = sum_c (P[c, rp, c0 + i] - P[c, rp + uy, c0 + i + ux])^2 - var2c."""
    C = padded.shape[0]
    L = dr.shape[0]
    a = padded[0, rp, c0:c0 + L]
    b = padded[0, rp + uy, c0 + ux:c0 + ux + L]
    for i in range(L):
        t = a[i] - b[i]
        dr[i] = t * t - var2c
    for c in range(1, C):
        a = padded[c, rp, c0:c0 + L]
        b = padded[c, rp + uy, c0 + ux:c0 + ux + L]
        for i in range(L):
            t = a[i] - b[i]
            dr[i] += t * t


@njit(parallel=True, cache=True, fastmath={"contract", "arcp", "reassoc"})
def nl_means(padded, pad, o, d, inv_h2s2, var2c, out):
    """scikit-image's fast non-local means (Darbon et al.; Froment), as a gather.

    For every search offset u in [-d, d]^2 the patch distance of p and p + u is
    the sum over rows and columns (p - o, p + o] of the channel-summed squared
    difference minus 2 C sigma^2 (scikit-image's finite-difference integral
    covers s - 1 samples per axis), found by running sums: the cost does not
    depend on the patch size. Weight exp(-max(dist, 0) / (C h^2 s^2)), zero
    beyond 5, with scikit-image's approximate exp (Schraudolph 1999: the high
    32 bits of a float64 set to int(1072632447 + 1512775 y)), which also avoids
    a transcendental call per weight.

    Work is split in stripes of R rows; per offset, each difference row is computed
    once into a ring of the 2o rows the vertical window holds.

    padded (C, H + 2 pad, W + 2 pad), pad >= o + d; out (C, H, W).
    """
    C, H, W = out.shape
    R = 32
    nstripes = (H + R - 1) // R
    L = W + 2 * o
    K = max(2 * o, 1)
    M = (W + 3) // 4  # the horizontal window sums run as 4 independent chains of M
    dt = padded.dtype
    for st in prange(nstripes):
        y0 = st * R
        y1 = min(H, y0 + R)
        acc = np.zeros((C, y1 - y0, W), dtype=dt)
        wsum = np.zeros((y1 - y0, W), dtype=dt)
        V = np.zeros(4 * M + 2 * o, dtype=dt)
        ring = np.empty((K, L), dtype=dt)
        fresh = np.empty(L, dtype=dt)
        sums = np.empty(4 * M)
        wgt = np.empty(W, dtype=dt)
        wbits = np.zeros(W, dtype=np.int64)
        wexp = wbits.view(np.float64)
        dist = np.empty(W)
        c0 = pad - o + 1  # padded column of the first window sample of image column 0
        for uy in range(-d, d + 1):
            for ux in range(-d, d + 1):
                V[:] = 0.0
                for rr in range(y0 - o + 1, y0 + o + 1):  # the window of row y0
                    dr = ring[(rr - (y0 - o + 1)) % K]
                    _diff_row(padded, rr + pad, uy, ux, c0, var2c, dr)
                    for i in range(L):
                        V[i] += dr[i]
                for y in range(y0, y1):
                    if y > y0 and o > 0:  # slide: row y + o enters, row y - o leaves
                        slot = ring[(y - o - (y0 - o + 1)) % K]
                        _diff_row(padded, y + o + pad, uy, ux, c0, var2c, fresh)
                        for i in range(L):
                            V[i] += fresh[i] - slot[i]
                            slot[i] = fresh[i]
                    # window sums over columns (x - o, x + o]: four running sums side by
                    # side, so the adds do not wait on each other; slice views keep the
                    # indices provably non-negative (no wraparound checks in the loop)
                    s0 = 0.0
                    s1 = 0.0
                    s2 = 0.0
                    s3 = 0.0
                    for i in range(2 * o):
                        s0 += V[i]
                        s1 += V[M + i]
                        s2 += V[2 * M + i]
                        s3 += V[3 * M + i]
                    sums[0] = s0
                    sums[M] = s1
                    sums[2 * M] = s2
                    sums[3 * M] = s3
                    h0 = V[0:M - 1]
                    h1 = V[M:2 * M - 1]
                    h2 = V[2 * M:3 * M - 1]
                    h3 = V[3 * M:4 * M - 1]
                    t0 = V[2 * o:2 * o + M - 1]
                    t1 = V[M + 2 * o:M + 2 * o + M - 1]
                    t2 = V[2 * M + 2 * o:2 * M + 2 * o + M - 1]
                    t3 = V[3 * M + 2 * o:3 * M + 2 * o + M - 1]
                    o0 = sums[1:M]
                    o1 = sums[M + 1:2 * M]
                    o2 = sums[2 * M + 1:3 * M]
                    o3 = sums[3 * M + 1:4 * M]
                    for i in range(M - 1):
                        s0 += t0[i] - h0[i]
                        s1 += t1[i] - h1[i]
                        s2 += t2[i] - h2[i]
                        s3 += t3[i] - h3[i]
                        o0[i] = s0
                        o1[i] = s1
                        o2[i] = s2
                        o3[i] = s3
                    ry = y - y0
                    for x in range(W):
                        dx = min(max(sums[x], 0.0) * inv_h2s2, 6.0)
                        dist[x] = dx
                        wbits[x] = np.int64(np.int32(1072632447.0 - 1512775.0 * dx)) << 32
                    ws = wsum[ry]
                    for x in range(W):
                        w = wexp[x] if dist[x] <= 5.0 else 0.0
                        wgt[x] = w
                        ws[x] += w
                    for c in range(C):
                        src = padded[c, y + uy + pad, pad + ux:pad + ux + W]
                        a = acc[c, ry]
                        for x in range(W):
                            a[x] += wgt[x] * src[x]
        for c in range(C):
            for ry in range(y1 - y0):
                for x in range(W):
                    out[c, y0 + ry, x] = acc[c, ry, x] / wsum[ry, x]


@njit(inline="always", cache=True)
def nms_at(isobel, jsobel, magnitude, x, y, low):
    """Canny's non-maximum suppression at (x, y) with bilinear interpolation along the
    gradient (scikit-image's rule) and the low threshold; the outermost pixels are never
    edges. Returns the kept magnitude or 0."""
    H, W = magnitude.shape
    m = magnitude[x, y]
    if x == 0 or y == 0 or x == H - 1 or y == W - 1 or not (m >= low):
        return 0.0
    gi = isobel[x, y]
    gj = jsobel[x, y]
    down = gi <= 0
    left = gj <= 0
    ai = abs(gi)
    aj = abs(gj)
    if (not down and not left) or (down and left):
        if ai > aj:
            w = aj / ai
            n11, n12 = magnitude[x + 1, y], magnitude[x + 1, y + 1]
            n21, n22 = magnitude[x - 1, y], magnitude[x - 1, y - 1]
        else:
            w = ai / aj
            n11, n12 = magnitude[x, y + 1], magnitude[x + 1, y + 1]
            n21, n22 = magnitude[x, y - 1], magnitude[x - 1, y - 1]
    else:
        if ai < aj:
            w = ai / aj
            n11, n12 = magnitude[x, y + 1], magnitude[x - 1, y + 1]
            n21, n22 = magnitude[x, y - 1], magnitude[x + 1, y - 1]
        else:
            w = aj / ai
            n11, n12 = magnitude[x - 1, y], magnitude[x - 1, y + 1]
            n21, n22 = magnitude[x + 1, y], magnitude[x + 1, y - 1]
    if n12 * w + n11 * (1.0 - w) <= m and n22 * w + n21 * (1.0 - w) <= m:
        return m
    return 0.0


@njit(parallel=True, cache=True)
def nonmax_suppression(isobel, jsobel, magnitude, low, out):
    H, W = magnitude.shape
    for x in prange(H):
        for y in range(W):
            out[x, y] = nms_at(isobel, jsobel, magnitude, x, y, low)


@njit(cache=True)
def hysteresis(suppressed, high, out):
    """Keep the 8-connected components of suppressed > 0 that hold a value >= high."""
    H, W = suppressed.shape
    stack = np.empty(H * W, dtype=np.int64)
    top = 0
    for i in range(H):
        for j in range(W):
            out[i, j] = False
            if suppressed[i, j] >= high and suppressed[i, j] > 0:
                out[i, j] = True
                stack[top] = i * W + j
                top += 1
    while top > 0:
        top -= 1
        i = stack[top] // W
        j = stack[top] - i * W
        for di in range(-1, 2):
            for dj in range(-1, 2):
                a = i + di
                b = j + dj
                if a >= 0 and a < H and b >= 0 and b < W and not out[a, b] \
                        and suppressed[a, b] > 0:
                    out[a, b] = True
                    stack[top] = a * W + b
                    top += 1


@njit(inline="always", cache=True)
def _schraudolph_exp(y):
    """scikit-image's approximate exp(y) (Schraudolph 1999) without bit casts: the high
    32 bits i = int(1072632447 + 1512775 y) hold exponent i >> 20 and mantissa i & 0xFFFFF
    (the low 32 bits are zero), so the value is exact in float64 arithmetic."""
    i = int(1072632447.0 + 1512775.0 * y)
    return math.ldexp(1.0 + (i & 0xFFFFF) / 1048576.0, (i >> 20) - 1023)


@njit(inline="always", cache=True)
def _bilateral_weight(src, n, C, y, x, dy, dx, spatial_w, inv2sc2, mode):
    """SPEC's bilateral weight of the sample (y + dy, x + dx) for pixel (y, x), per thread."""
    d2 = 0.0
    for c in range(C):
        t = sample(src, n * C + c, y + dy, x + dx, mode, 0.0) - src[n * C + c, y, x]
        d2 += t * t
    return spatial_w * math.exp(-d2 * inv2sc2)


@njit(inline="always", cache=True)
def _nlm_weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c):
    """The nl-means weight of pixel (y, x) for offset (uy, ux), by direct patch sums."""
    dist = 0.0
    for r in range(y - o + 1, y + o + 1):
        for q in range(x - o + 1, x + o + 1):
            for c in range(C):
                t = padded[n * C + c, r + pad, q + pad] - \
                    padded[n * C + c, r + uy + pad, q + ux + pad]
                dist += t * t
            dist -= var2c
    dist = max(dist, 0.0) * inv_h2s2
    return _schraudolph_exp(-dist) if dist <= 5.0 else 0.0


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twins: one thread per pixel, windows read through the shared border rule."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda

    @cuda.jit
    def bilateral_cuda(src, C, r, spatial, inv2sc2, mode, out):
        x, y, n = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and n < P // C:
            k = 2 * r + 1
            den = 0.0
            for i in range(k):
                for j in range(k):
                    den += _bilateral_weight(src, n, C, y, x, i - r, j - r, spatial[i * k + j],
                                             inv2sc2, mode)
            for c in range(C):
                num = 0.0
                for i in range(k):
                    for j in range(k):
                        num += _bilateral_weight(src, n, C, y, x, i - r, j - r,
                                                 spatial[i * k + j], inv2sc2, mode) * \
                            sample(src, n * C + c, y + i - r, x + j - r, mode, 0.0)
                out[n * C + c, y, x] = num / den

    @cuda.jit
    def nl_means_cuda(padded, C, pad, o, d, inv_h2s2, var2c, out):
        """Per pixel: the same patch distances as the CPU's running sums, summed directly."""
        x, y, n = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and n < P // C:
            reach = o + d  # a non-finite sample this close makes the output NaN (as the CPU)
            for r in range(y - reach, y + reach + 1):
                for q in range(x - reach, x + reach + 1):
                    for c in range(C):
                        v = padded[n * C + c, r + pad, q + pad]
                        if v - v != 0:
                            for cc in range(C):
                                out[n * C + cc, y, x] = np.nan
                            return
            wsum = 0.0
            for uy in range(-d, d + 1):
                for ux in range(-d, d + 1):
                    wsum += _nlm_weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2, var2c)
            for c in range(C):
                acc = 0.0
                for uy in range(-d, d + 1):
                    for ux in range(-d, d + 1):
                        acc += _nlm_weight(padded, n, C, y, x, uy, ux, o, pad, inv_h2s2,
                                           var2c) * padded[n * C + c, y + uy + pad, x + ux + pad]
                out[n * C + c, y, x] = acc / wsum

    @cuda.jit
    def nms_cuda(isobel, jsobel, magnitude, low, out):
        y, x = cuda.grid(2)
        H, W = magnitude.shape
        if x < H and y < W:
            out[x, y] = nms_at(isobel, jsobel, magnitude, x, y, low)

    return SimpleNamespace(bilateral=bilateral_cuda, nl_means=nl_means_cuda, nms=nms_cuda)
