"""Median filters on the CPU: quickselect on padded planes, a histogram for uint8,
and selection networks fused on the caller's layout."""

import numpy as np
from numba import njit, prange

from .._shared.border import map_index
from .._shared.rank import med3, quickselect, sort3


@njit(parallel=True, cache=True)
def median_select(padded, k, out):
    P, H, W = out.shape
    n = k * k
    r = n // 2
    for idx in prange(P * H):
        p = idx // H
        y = idx - p * H
        win = np.empty(n, dtype=padded.dtype)
        orow = out[p, y]
        for x in range(W):
            m = 0
            bad = False
            for i in range(k):
                row = padded[p, y + i]
                for j in range(k):
                    v = row[x + j]
                    bad |= v != v
                    win[m] = v
                    m += 1
            if bad:
                orow[x] = np.nan
            else:
                orow[x] = quickselect(win, n, r)


@njit(parallel=True, cache=True)
def median_hist_u8(padded, k, out):
    """Huang's sliding-histogram median for uint8: O(k) updates per pixel."""
    P, H, W = out.shape
    r = (k * k) // 2
    for idx in prange(P * H):
        p = idx // H
        y = idx - p * H
        hist = np.zeros(256, dtype=np.int32)
        for i in range(k):
            row = padded[p, y + i]
            for j in range(k):
                hist[row[j]] += 1
        # running position: m = value of the median, below = count of samples < m
        m = 0
        below = 0
        while below + hist[m] <= r:
            below += hist[m]
            m += 1
        orow = out[p, y]
        orow[0] = m
        for x in range(1, W):
            for i in range(k):
                row = padded[p, y + i]
                vo = row[x - 1]
                vi = row[x + k - 1]
                hist[vo] -= 1
                if vo < m:
                    below -= 1
                hist[vi] += 1
                if vi < m:
                    below += 1
            while below > r:
                m -= 1
                below -= hist[m]
            while below + hist[m] <= r:
                below += hist[m]
                m += 1
            orow[x] = m


@njit(inline="always", cache=True)
def extended_rows(src, n, y, k, C, mode, cval, rows):
    """The k source rows of output row y, each extended by k//2 pixels on the left and
    k - 1 - k//2 on the right (whole pixels, C interleaved samples each)."""
    N, H, L = src.shape
    W = L // C
    h = k // 2
    total = rows.shape[1] // C
    for i in range(k):
        buf = rows[i]
        sy = map_index(y + i - h, H, mode)
        if sy < 0:
            buf[:] = cval
            continue
        srow = src[n, sy]
        inner = buf[h * C:h * C + L]
        for t in range(L):
            inner[t] = srow[t]
        for xb in range(h):
            sx = map_index(xb - h, W, mode)
            for c in range(C):
                buf[xb * C + c] = cval if sx < 0 else srow[sx * C + c]
        for xb in range(h + W, total):
            sx = map_index(xb - h, W, mode)
            for c in range(C):
                buf[xb * C + c] = cval if sx < 0 else srow[sx * C + c]


@njit(parallel=True, cache=True)
def median3_hwc(src, C, mode, cval, floats, out):
    """Exact 3x3 median on (N, H, W*C) rows in the image's own dtype, fused with the
    border extension: columns sorted once per row, then max-of-lows, median-of-middles,
    min-of-highs across each window's three columns."""
    N, H, L = src.shape
    W = L // C
    E = (W + 2) * C
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        lo = np.empty(E, dtype=src.dtype)
        mi = np.empty(E, dtype=src.dtype)
        hi = np.empty(E, dtype=src.dtype)
        sy0 = map_index(y - 1, H, mode)
        sy2 = map_index(y + 1, H, mode)
        if sy0 < 0 or sy2 < 0:  # a constant-mode row: extended copies of the three rows
            rows = np.empty((3, E), dtype=src.dtype)
            extended_rows(src, n, y, 3, C, mode, cval, rows)
            r0 = rows[0]
            r1 = rows[1]
            r2 = rows[2]
            for i in range(E):
                a, b, c = sort3(r0[i], r1[i], r2[i])
                lo[i] = a
                mi[i] = b
                hi[i] = c
        else:  # columns sorted straight from the source rows, the border columns mapped
            r0 = src[n, sy0]
            r1 = src[n, y]
            r2 = src[n, sy2]
            lo_in = lo[C:C + L]
            mi_in = mi[C:C + L]
            hi_in = hi[C:C + L]
            for i in range(L):
                a, b, c = sort3(r0[i], r1[i], r2[i])
                lo_in[i] = a
                mi_in[i] = b
                hi_in[i] = c
            for xb in (0, W + 1):
                sx = map_index(xb - 1, W, mode)
                for c in range(C):
                    if sx < 0:
                        lo[xb * C + c] = cval
                        mi[xb * C + c] = cval
                        hi[xb * C + c] = cval
                    else:
                        lo[xb * C + c] = lo[(sx + 1) * C + c]
                        mi[xb * C + c] = mi[(sx + 1) * C + c]
                        hi[xb * C + c] = hi[(sx + 1) * C + c]
        l0 = lo[0:L]
        l1 = lo[C:C + L]
        l2 = lo[2 * C:2 * C + L]
        m0 = mi[0:L]
        m1 = mi[C:C + L]
        m2 = mi[2 * C:2 * C + L]
        h0 = hi[0:L]
        h1 = hi[C:C + L]
        h2 = hi[2 * C:2 * C + L]
        orow = out[n, y]
        for i in range(L):
            a = max(max(l0[i], l1[i]), l2[i])
            b = med3(m0[i], m1[i], m2[i])
            c = min(min(h0[i], h1[i]), h2[i])
            orow[i] = med3(a, b, c)
        if floats:  # a window holding NaN gives NaN (integers skip the two passes);
            # a column's sorted triple holds NaN where it is unordered: lo, mi or hi NaN
            bad = np.empty(E, dtype=np.bool_)
            for i in range(E):
                bad[i] = (lo[i] != lo[i]) or (mi[i] != mi[i]) or (hi[i] != hi[i])
            b0 = bad[0:L]
            b1 = bad[C:C + L]
            b2 = bad[2 * C:2 * C + L]
            for i in range(L):
                if b0[i] or b1[i] or b2[i]:
                    orow[i] = np.nan


@njit(parallel=True, cache=True)
def median_network_hwc(src, k, net, rank, C, mode, cval, out):
    """Exact k x k median (k <= 7) on (N, H, W*C) rows: the selection network runs on
    tiles of T samples of the k*k shifted, border-extended rows (tiles stay in cache)."""
    N, H, L = src.shape
    W = L // C
    n_el = k * k
    S = net.shape[0]
    T = 256
    for job in prange(N * H):
        n = job // H
        y = job - n * H
        rows = np.empty((k, (W + k - 1) * C), dtype=src.dtype)
        extended_rows(src, n, y, k, C, mode, cval, rows)
        buf = np.empty((n_el, T), dtype=src.dtype)
        bad = np.empty(T, dtype=np.bool_)
        orow = out[n, y]
        for t0 in range(0, L, T):
            m = min(T, L - t0)
            bad[:] = False
            for i in range(k):
                for j in range(k):
                    seg = rows[i, j * C + t0:j * C + t0 + m]
                    b = buf[i * k + j]
                    for t in range(m):
                        v = seg[t]
                        b[t] = v
                        bad[t] |= v != v
            for s in range(S):
                ba = buf[net[s, 0]]
                bb = buf[net[s, 1]]
                what = net[s, 2]
                if what == 0:
                    for t in range(m):
                        u = ba[t]
                        v = bb[t]
                        ba[t] = min(u, v)
                        bb[t] = max(u, v)
                elif what == 1:
                    for t in range(m):
                        ba[t] = min(ba[t], bb[t])
                else:
                    for t in range(m):
                        bb[t] = max(ba[t], bb[t])
            res = buf[rank]
            for t in range(m):
                orow[t0 + t] = res[t]
                if bad[t]:
                    orow[t0 + t] = np.nan  # only reachable for floats
