"""Denoising engines on the CPU: bilateral filter, non-local means, Immerkaer's noise
estimate."""

import math

import numpy as np
from numba import njit, prange

from .._shared.weights import schraudolph_exp


@njit(parallel=True, cache=True, fastmath={"contract", "arcp", "reassoc"})
def bilateral(padded, r, spatial, inv2sc2, out):
    """out(p) = sum_q w q / sum_q w, w = spatial[q - p] * exp(-|I(p) - I(q)|^2 / 2 sc^2).

    padded (C, H + 2r, W + 2r); spatial ((2r+1)^2) holds exp(-|q-p|^2 / 2 ss^2). Each
    output row is built offset by offset over row segments of XB pixels (contiguous
    loads; the segment's sums stay in L1 across the offsets), in the planes' dtype
    (float32 for all but float64 images: twice the lanes, and a float32 exp).
    """
    C, H, W = out.shape
    k = 2 * r + 1
    single = padded.itemsize == 4
    XB = 512
    nxb = (W + XB - 1) // XB
    for job in prange(H * nxb):
        y = job // nxb
        x0 = (job - y * nxb) * XB
        n = min(XB, W - x0)
        num = np.zeros((C, n), dtype=padded.dtype)
        den = np.zeros(n, dtype=padded.dtype)
        d2 = np.empty(n, dtype=padded.dtype)
        w = np.empty(n, dtype=padded.dtype)
        ebits = np.empty(n, dtype=np.int64)
        ebits32 = np.empty(n, dtype=np.int32)
        for i in range(k):
            for j in range(k):
                d2[:] = 0
                for c in range(C):
                    a = padded[c, y + i, x0 + j:x0 + j + n]
                    b = padded[c, y + r, x0 + r:x0 + r + n]
                    for x in range(n):
                        t = a[x] - b[x]
                        d2[x] += t * t
                sw = spatial[i * k + j]
                if single:
                    _exp_scaled32(d2, -inv2sc2, sw, w, ebits32)
                else:
                    _exp_scaled(d2, -inv2sc2, sw, w, ebits)
                for x in range(n):
                    den[x] += w[x]
                for c in range(C):
                    a = padded[c, y + i, x0 + j:x0 + j + n]
                    nc = num[c]
                    for x in range(n):
                        nc[x] += w[x] * a[x]
        for c in range(C):
            orow = out[c, y, x0:x0 + n]
            nc = num[c]
            for x in range(n):
                orow[x] = nc[x] / den[x]


_F32 = np.float32


_LOG2E32 = _F32(1.4426950408889634)


_LN2_HI32 = _F32(0.693145751953125)  # ln 2 split as Cephes' expf: k * hi exact


_LN2_LO32 = _F32(1.428606765330187e-06)


_EXP32_TAYLOR = tuple(_F32(1.0 / math.factorial(n)) for n in range(7, -1, -1))


@njit(inline="always", cache=True)
def _exp_scaled32(a, scale, factor, out, bits):
    """``_exp_scaled`` in float32: Taylor to r^7 (relative error < 1e-7 on |r| <= ln 2 /
    2), 2^k in the float32 exponent bits; arguments below -87 give exp(-87)."""
    n = a.shape[0]
    c = _EXP32_TAYLOR
    s = _F32(scale)
    f = _F32(factor)
    for x in range(n):
        t = s * _F32(a[x])
        t = t if not t < _F32(-87.0) else _F32(-87.0)
        kf = np.rint(t * _LOG2E32)
        r = (t - kf * _LN2_HI32) - kf * _LN2_LO32
        p = c[0]
        for j in range(1, 8):
            p = p * r + c[j]
        out[x] = f * p
        bits[x] = (np.int32(kf) + 127) << 23 if kf == kf else 0
    scales = bits.view(np.float32)
    for x in range(n):
        out[x] *= scales[x]


_LOG2E = 1.4426950408889634


_LN2_HI = 0.6931471803691238  # ln 2 split so that k * _LN2_HI is exact for |k| < 2^20


_LN2_LO = 1.9082149292705877e-10


_EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(12, -1, -1))


@njit(inline="always", cache=True)
def _exp_scaled(a, scale, factor, out, bits):
    """out[x] = factor * exp(scale * a[x]) for arguments <= 0, vectorised (this Numba has
    no vector libm): k = rint(t / ln 2), r = t - k ln 2 (|r| <= ln 2 / 2, Cody-Waite),
    exp(r) by its Taylor polynomial to r^12 (relative error < 1e-14), times 2^k built in
    the exponent bits. Arguments below -708 give exp(-708) (~1e-308, a zero weight); NaN
    stays NaN."""
    n = a.shape[0]
    c = _EXP_TAYLOR
    for x in range(n):
        t = scale * a[x]
        t = t if not t < -708.0 else -708.0
        kf = np.rint(t * _LOG2E)
        r = (t - kf * _LN2_HI) - kf * _LN2_LO
        p = c[0]
        for j in range(1, 13):  # Horner; a constant trip count, unrolled by LLVM
            p = p * r + c[j]
        out[x] = factor * p
        bits[x] = (np.int64(kf) + 1023) << 52 if kf == kf else 0
    scales = bits.view(np.float64)
    for x in range(n):
        out[x] *= scales[x]


@njit(cache=True)  # not inlined: compiled once, not per call site
def _diff_row(padded, rp, uy, ux, c0, var2c, dr):
    """dr[i] = sum_c (P[c, rp, c0 + i] - P[c, rp + uy, c0 + i + ux])^2 - var2c."""
    C = padded.shape[0]
    L = dr.shape[0]
    if C == 3:  # colour in one pass: one store stream, six loads (vectorised)
        a0 = padded[0, rp, c0:c0 + L]
        b0 = padded[0, rp + uy, c0 + ux:c0 + ux + L]
        a1 = padded[1, rp, c0:c0 + L]
        b1 = padded[1, rp + uy, c0 + ux:c0 + ux + L]
        a2 = padded[2, rp, c0:c0 + L]
        b2 = padded[2, rp + uy, c0 + ux:c0 + ux + L]
        for i in range(L):
            t0 = a0[i] - b0[i]
            t1 = a1[i] - b1[i]
            t2 = a2[i] - b2[i]
            dr[i] = t0 * t0 + t1 * t1 + t2 * t2 - var2c
        return
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
    """scikit-image's fast non-local means (Darbon et al.; Froment).

    The patch distance of p and p + u is the sum over rows and columns (p - o, p + o]
    of the channel-summed squared difference minus 2 C sigma^2 (scikit-image's
    finite-difference integral covers s - 1 samples per axis), found by a running sum
    down the rows and a binary-decomposed sum along them: the cost grows only with
    log2 of the patch size (not with its area). Weight exp(-max(dist, 0) / (C h^2 s^2)),
    zero beyond 5, with scikit-image's approximate exp (Schraudolph 1999: the high 32
    bits of a float64 set to int(1072632447 + 1512775 y)), which also avoids a
    transcendental call per weight.

    The distance is symmetric, so as in scikit-image only half of the search offsets
    are measured (u with uy > 0, or uy = 0 and ux > 0): each weight serves the pair
    both ways, p gathering I(p + u) and p + u gathering I(p). The null shift has the
    same weight w0 everywhere and is added at the end.

    Work is split in stripes of R >= d rows of p. A stripe accumulates into its own
    buffer, rows [y0 - d, y1 + d) by columns [-d, W + d); its rows [y1, y1 + d) belong
    to the next stripe, which adds them (``tail``) to its first d rows (``head``) once
    every stripe is done. Per offset, each difference row is computed once into a ring
    of the 2o rows the vertical window holds.

    padded (C, H + 2 pad, W + 2 pad), pad >= o + d + 1; out (C, H, W).
    """
    C, H, W = out.shape
    R = max(32, d)
    nst = (H + R - 1) // R
    K = max(2 * o, 1)
    Wb = W + 2 * d
    dt = padded.dtype
    w0 = schraudolph_exp(0.0)
    inv32 = _F32(inv_h2s2)
    head = np.zeros((nst, C + 1, d, W), dtype=dt)
    tail = np.zeros((nst, C + 1, d, W), dtype=dt)
    for st in prange(nst):
        y0 = st * R
        y1 = min(H, y0 + R)
        loc = np.zeros((C + 1, y1 - y0 + 2 * d, Wb), dtype=dt)
        V = np.zeros(W + d + 2 * o, dtype=dt)
        ring = np.empty((K, W + d + 2 * o), dtype=dt)
        fresh = np.empty(W + d + 2 * o, dtype=dt)
        sums = np.empty(W + d, dtype=dt)
        pw = np.empty((2, W + d + 2 * o), dtype=dt)  # scratch of the window sums
        wbits = np.zeros(W + d, dtype=np.int32)
        wgt = wbits.view(np.float32)
        for uy in range(d + 1):
            ys = max(-uy, y0 - d) if st == 0 else y0
            for ux in range(-d, d + 1):
                if uy == 0 and ux <= 0:
                    continue
                xa = min(0, -ux)
                n = W + abs(ux)  # p in [xa, xa + n): p or p + u is in the image
                L = n + 2 * o
                c0 = pad + xa - o + 1  # padded column of the first window sample
                V[:] = 0.0
                for rr in range(ys - o + 1, ys + o + 1):  # the window of row ys
                    dr = ring[(rr - (ys - o + 1)) % K, :L]
                    _diff_row(padded, rr + pad, uy, ux, c0, var2c, dr)
                    for i in range(L):
                        V[i] += dr[i]
                for y in range(ys, y1):
                    if y > ys and o > 0:  # slide: row y + o enters, row y - o leaves
                        slot = ring[(y - ys - 1) % K, :L]
                        fr = fresh[:L]
                        _diff_row(padded, y + o + pad, uy, ux, c0, var2c, fr)
                        for i in range(L):
                            V[i] += fr[i] - slot[i]
                            slot[i] = fr[i]
                    wsum = _window_sums(V[:L], 2 * o, sums[:n], pw)
                    # scikit-image's float64 exp approximation has a 20-bit mantissa, so it
                    # is exact in float32: exponent rebased from 1023 to 127, mantissa << 3.
                    # Its int(1072632447 - 1512775 dx) is 1072632447 - ceil(1512775 dx),
                    # here in float32 (all lanes of a vector; 1512775 dx < 2^23): at most
                    # one unit of the 20-bit mantissa off, a relative 1e-6
                    for x in range(n):
                        dx = min(max(_F32(wsum[x]), _F32(0.0)) * inv32, _F32(6.0))
                        t = np.int32(np.ceil(dx * _F32(1512775.0)))
                        wbits[x] = (np.int32(1072632447 - 939524096) - t) << np.int32(3) \
                            if dx <= _F32(5.0) else np.int32(0)
                    lp = y - y0 + d  # buffer row of p, then of p + u
                    lq = lp + uy
                    bp = xa + d  # buffer column of p, then of p + u
                    bq = bp + ux
                    ws = wgt[:n]
                    wp = loc[C, lp, bp:bp + n]
                    wq = loc[C, lq, bq:bq + n]
                    # one store stream per loop: LLVM then vectorises behind a cheap
                    # overlap check (two streams in one loop stay scalar)
                    for x in range(n):
                        wp[x] += ws[x]
                    for x in range(n):
                        wq[x] += ws[x]
                    for c in range(C):
                        sp = padded[c, y + uy + pad, pad + xa + ux:pad + xa + ux + n]
                        ap = loc[c, lp, bp:bp + n]
                        for x in range(n):
                            ap[x] += ws[x] * sp[x]
                        sq = padded[c, y + pad, pad + xa:pad + xa + n]
                        aq = loc[c, lq, bq:bq + n]
                        for x in range(n):
                            aq[x] += ws[x] * sq[x]
        for y in range(y0, y1):
            if y < y0 + d:
                head[st, :, y - y0] = loc[:, y - y0 + d, d:d + W]
            else:
                _finish_row(loc[:, y - y0 + d, d:d + W], padded, y, pad, w0, out)
        if st + 1 < nst:
            for k in range(min(d, H - y1)):
                tail[st, :, k] = loc[:, y1 - y0 + d + k, d:d + W]
    for st in prange(nst):
        y0 = st * R
        for k in range(min(d, H - y0)):
            part = head[st, :, k]
            if st > 0:
                part += tail[st - 1, :, k]
            _finish_row(part, padded, y0 + k, pad, w0, out)


@njit(cache=True)  # not inlined: compiled once, not per call site
def _window_sums(V, k, sums, pw):
    """Returns the window sums V[x] + ... + V[x + k - 1] for x < len(sums) (len(V) >=
    len(sums) + k - 1), by binary decomposition: partial sums over 1, 2, 4, ... samples,
    each built from the previous by one shifted vector add, and added in where k has a
    1 bit. Every loop is contiguous and vectorised; the work grows with log2(k) only (a
    running sum would be flat in k but scalar, slower for the patch sizes used). The
    result is ``sums``, or for k a power of two the last partial itself (in ``pw``, or V
    for k = 1): no copy."""
    n = sums.shape[0]
    if k == 0:
        sums[:] = 0
        return sums
    cur = V
    width = 1
    first = True
    off = 0
    valid = V.shape[0]
    ping = 0
    while True:
        if k & 1:
            seg = cur[off:off + n]
            if first and k == 1:  # the only term: handed over as it is
                return seg
            if first:
                for x in range(n):
                    sums[x] = seg[x]
                first = False
            else:
                for x in range(n):
                    sums[x] += seg[x]
            off += width
        k >>= 1
        if k == 0:
            return sums
        nxt = pw[ping]
        ping = 1 - ping
        m = valid - width
        a = cur[0:m]
        b = cur[width:width + m]
        for x in range(m):
            nxt[x] = a[x] + b[x]
        cur = nxt[0:m]
        valid = m
        width *= 2


@njit(cache=True)  # not inlined: compiled once, not per call site
def _finish_row(part, padded, y, pad, w0, out):
    """out[:, y] = (sum w I + w0 I(p)) / (sum w + w0); part (C + 1, W) holds the sums."""
    C, _, W = out.shape
    for c in range(C):
        src = padded[c, y + pad, pad:pad + W]
        for x in range(W):
            out[c, y, x] = (part[c, x] + w0 * src[x]) / (part[C, x] + w0)
