"""Resampling engines: weighted taps along one axis, pooling windows, transposed and
strided convolution.

``taps_rows``/``taps_cols`` apply a sparse 1-D resampling matrix given as
``(index[o, t], weight[o, t])``: nearest (1 tap), bilinear (2 taps) and area
(the window's taps) are all this one engine, run along H and then along W.
"""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def taps_cols(src, idx, w, out):
    """out[p, o, :] = sum_t w[o, t] * src[p, idx[o, t], :]   (along H; rows contiguous)."""
    P = src.shape[0]
    Ho = out.shape[1]
    W = src.shape[2]
    T = idx.shape[1]
    for job in prange(P * Ho):
        p = job // Ho
        o = job - p * Ho
        orow = out[p, o]
        srow = src[p, idx[o, 0]]
        w0 = w[o, 0]
        for x in range(W):
            orow[x] = w0 * srow[x]
        for t in range(1, T):
            srow = src[p, idx[o, t]]
            wt = w[o, t]
            for x in range(W):
                orow[x] += wt * srow[x]


@njit(parallel=True, cache=True)
def taps_rows(src, idx, w, out):
    """out[p, y, o] = sum_t w[o, t] * src[p, y, idx[o, t]]   (along W)."""
    P, H, _ = src.shape
    Wo = out.shape[2]
    T = idx.shape[1]
    for job in prange(P * H):
        p = job // H
        y = job - p * H
        srow = src[p, y]
        orow = out[p, y]
        for o in range(Wo):
            s = w[o, 0] * srow[idx[o, 0]]
            for t in range(1, T):
                s += w[o, t] * srow[idx[o, t]]
            orow[o] = s


@njit(parallel=True, cache=True)
def max_pool(src, kh, kw, sh, sw, ph, pw, out):
    """PyTorch's max_pool2d (dilation 1): the padding never wins; NaN wins."""
    P, H, W = src.shape
    _, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        y0 = oy * sh - ph
        y1 = min(y0 + kh, H)
        y0 = max(y0, 0)
        orow = out[p, oy]
        for ox in range(Wo):
            x0 = ox * sw - pw
            x1 = min(x0 + kw, W)
            x0 = max(x0, 0)
            m = src[p, y0, x0]
            for y in range(y0, y1):
                row = src[p, y]
                for x in range(x0, x1):
                    v = row[x]
                    if v > m or v != v:
                        m = v
                    if m != m:
                        break
            orow[ox] = m


@njit(parallel=True, cache=True)
def max_pool_2x2(src, out):
    """The common case, size = stride = 2, no padding: branch-free rows."""
    P, H, W = src.shape
    _, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        r0 = src[p, 2 * oy]
        r1 = src[p, min(2 * oy + 1, H - 1)]
        orow = out[p, oy]
        for ox in range(Wo):
            x0 = 2 * ox
            x1 = min(x0 + 1, W - 1)
            a = max(r0[x0], r0[x1])
            b = max(r1[x0], r1[x1])
            orow[ox] = max(a, b)
            if r0[x0] != r0[x0] or r0[x1] != r0[x1] or r1[x0] != r1[x0] or r1[x1] != r1[x1]:
                orow[ox] = np.nan  # only reachable for floats


@njit(parallel=True, cache=True)
def avg_pool(src, kh, kw, sh, sw, ph, pw, count_include_pad, out):
    """PyTorch's avg_pool2d: windows clipped to the padded image, divisor per its rule."""
    P, H, W = src.shape
    _, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        y0 = oy * sh - ph
        y1 = min(y0 + kh, H + ph)
        hpad = y1 - y0
        y0 = max(y0, 0)
        y1 = min(y1, H)
        orow = out[p, oy]
        for ox in range(Wo):
            x0 = ox * sw - pw
            x1 = min(x0 + kw, W + pw)
            wpad = x1 - x0
            x0 = max(x0, 0)
            x1 = min(x1, W)
            s = 0.0
            for y in range(y0, y1):
                row = src[p, y]
                for x in range(x0, x1):
                    s += row[x]
            if count_include_pad:
                div = hpad * wpad
            else:
                div = (y1 - y0) * (x1 - x0)
            orow[ox] = s / div


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
                    # x = ix * sw - pw + kx within [0, Wo)
                    ix0 = 0
                    if pw - kx > 0:
                        ix0 = (pw - kx + sw - 1) // sw
                    ix1 = min(W, (Wo - 1 + pw - kx) // sw + 1)
                    for ix in range(ix0, ix1):
                        orow[ix * sw - pw + kx] += wv * irow[ix]


@njit(parallel=True, cache=True)
def conv2d(src, weight, bias, sh, sw, ph, pw, out):
    """PyTorch's conv2d (groups 1, dilation 1, zero padding) on NCHW."""
    N, Cin, H, W = src.shape
    _, Cout, Ho, Wo = out.shape
    kh, kw = weight.shape[2], weight.shape[3]
    for job in prange(N * Cout * Ho):
        n = job // (Cout * Ho)
        r = job - n * Cout * Ho
        co = r // Ho
        oy = r - co * Ho
        orow = out[n, co, oy]
        for ox in range(Wo):
            orow[ox] = bias[co]
        for ci in range(Cin):
            for ky in range(kh):
                iy = oy * sh - ph + ky
                if iy < 0 or iy >= H:
                    continue
                irow = src[n, ci, iy]
                for kx in range(kw):
                    wv = weight[co, ci, ky, kx]
                    # ix = ox * sw - pw + kx within [0, W)
                    ox0 = 0
                    if pw - kx > 0:
                        ox0 = (pw - kx + sw - 1) // sw
                    ox1 = min(Wo, (W - 1 + pw - kx) // sw + 1)
                    for ox in range(ox0, ox1):
                        orow[ox] += wv * irow[ox * sw - pw + kx]
