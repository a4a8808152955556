"""Resampling engines: weighted taps along one axis, pooling windows, transposed and
strided convolution.

Resizing applies a sparse 1-D resampling matrix per axis, given as ``(index[o, t],
weight[o, t])``: nearest (1 tap), bilinear (2 taps) and area (the window's taps) are
all this one engine (``resample_hwc`` on the CPU, ``taps_cols``/``taps_rows`` on CUDA).
"""

import functools
from types import SimpleNamespace

import numpy as np
from numba import njit, prange


@njit(inline="always", cache=True)
def max_pool_at(src, p, oy, ox, kh, kw, sh, sw, ph, pw):
    """One output of PyTorch's max_pool2d: the padding never wins; NaN wins."""
    H = src.shape[1]
    W = src.shape[2]
    y0 = oy * sh - ph
    y1 = min(y0 + kh, H)
    y0 = max(y0, 0)
    x0 = ox * sw - pw
    x1 = min(x0 + kw, W)
    x0 = max(x0, 0)
    m = src[p, y0, x0]
    for y in range(y0, y1):
        for x in range(x0, x1):
            v = src[p, y, x]
            if v > m or v != v:
                m = v
    return m


@njit(inline="always", cache=True)
def avg_pool_at(src, p, oy, ox, kh, kw, sh, sw, ph, pw, count_include_pad):
    """One output of PyTorch's avg_pool2d: window clipped to the padded image, divisor by
    its rule."""
    H = src.shape[1]
    W = src.shape[2]
    y0 = oy * sh - ph
    y1 = min(y0 + kh, H + ph)
    x0 = ox * sw - pw
    x1 = min(x0 + kw, W + pw)
    div = (y1 - y0) * (x1 - x0)
    y0 = max(y0, 0)
    y1 = min(y1, H)
    x0 = max(x0, 0)
    x1 = min(x1, W)
    if not count_include_pad:
        div = (y1 - y0) * (x1 - x0)
    s = 0.0
    for y in range(y0, y1):
        for x in range(x0, x1):
            s += src[p, y, x]
    return s / div


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
    P, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        orow = out[p, oy]
        for ox in range(Wo):
            orow[ox] = avg_pool_at(src, p, oy, ox, kh, kw, sh, sw, ph, pw, count_include_pad)


@njit(inline="always", cache=True)
def _strided_range(pad, k, stride, n_to, n_from):
    """The i in [i0, i1) with 0 <= i * stride - pad + k < n_to and i < n_from."""
    i0 = 0
    if pad - k > 0:
        i0 = (pad - k + stride - 1) // stride
    return i0, min(n_from, (n_to - 1 + pad - k) // stride + 1)


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
                    ix0, ix1 = _strided_range(pw, kx, sw, Wo, W)  # x = ix*sw - pw + kx
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
                    ox0, ox1 = _strided_range(pw, kx, sw, W, Wo)  # ix = ox*sw - pw + kx
                    for ox in range(ox0, ox1):
                        orow[ox] += wv * irow[ox * sw - pw + kx]


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twins: one thread per output pixel; pools share their per-output bodies."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda

    @cuda.jit
    def max_pool_cuda(src, kh, kw, sh, sw, ph, pw, out):
        x, y, p = cuda.grid(3)
        P, Ho, Wo = out.shape
        if x < Wo and y < Ho and p < P:
            out[p, y, x] = max_pool_at(src, p, y, x, kh, kw, sh, sw, ph, pw)

    @cuda.jit
    def avg_pool_cuda(src, kh, kw, sh, sw, ph, pw, count_include_pad, out):
        x, y, p = cuda.grid(3)
        P, Ho, Wo = out.shape
        if x < Wo and y < Ho and p < P:
            out[p, y, x] = avg_pool_at(src, p, y, x, kh, kw, sh, sw, ph, pw,
                                       count_include_pad)

    @cuda.jit
    def taps_cols_cuda(src, idx, w, out):
        x, y, p = cuda.grid(3)
        P, Ho, W = out.shape
        if x < W and y < Ho and p < P:
            s = 0.0
            for t in range(idx.shape[1]):
                s += w[y, t] * src[p, idx[y, t], x]
            out[p, y, x] = s

    @cuda.jit
    def taps_rows_cuda(src, idx, w, out):
        x, y, p = cuda.grid(3)
        P, H, Wo = out.shape
        if x < Wo and y < H and p < P:
            s = 0.0
            for t in range(idx.shape[1]):
                s += w[x, t] * src[p, y, idx[x, t]]
            out[p, y, x] = s

    @cuda.jit
    def conv_transpose_cuda(src, weight, bias, sh, sw, ph, pw, groups, out):
        """Gather form: output (y, x) sums inputs iy = (y + ph - ky) / sh (exact)."""
        x, y, job = cuda.grid(3)
        N, Cout, Ho, Wo = out.shape
        if x < Wo and y < Ho and job < N * Cout:
            n = job // Cout
            co = job - n * Cout
            Cin, H, W = src.shape[1], src.shape[2], src.shape[3]
            kh, kw = weight.shape[2], weight.shape[3]
            cin_g = Cin // groups
            cout_g = Cout // groups
            g = co // cout_g
            cog = co - g * cout_g
            s = bias[co]
            for ky in range(kh):
                t = y + ph - ky
                if t < 0 or t % sh != 0 or t // sh >= H:
                    continue
                iy = t // sh
                for kx in range(kw):
                    u = x + pw - kx
                    if u < 0 or u % sw != 0 or u // sw >= W:
                        continue
                    ix = u // sw
                    for ci in range(g * cin_g, (g + 1) * cin_g):
                        s += weight[ci, cog, ky, kx] * src[n, ci, iy, ix]
            out[n, co, y, x] = s

    @cuda.jit
    def conv2d_cuda(src, weight, bias, sh, sw, ph, pw, out):
        x, y, job = cuda.grid(3)
        N, Cout, Ho, Wo = out.shape
        if x < Wo and y < Ho and job < N * Cout:
            n = job // Cout
            co = job - n * Cout
            Cin, H, W = src.shape[1], src.shape[2], src.shape[3]
            s = bias[co]
            for ci in range(Cin):
                for ky in range(weight.shape[2]):
                    iy = y * sh - ph + ky
                    if iy < 0 or iy >= H:
                        continue
                    for kx in range(weight.shape[3]):
                        ix = x * sw - pw + kx
                        if ix >= 0 and ix < W:
                            s += weight[co, ci, ky, kx] * src[n, ci, iy, ix]
            out[n, co, y, x] = s

    @cuda.jit
    def relu_cuda(src, out):
        x, y, p = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and p < P:
            v = src[p, y, x]
            out[p, y, x] = 0.0 if v < 0 else v

    return SimpleNamespace(max_pool=max_pool_cuda, avg_pool=avg_pool_cuda, relu=relu_cuda,
                           taps_cols=taps_cols_cuda, taps_rows=taps_rows_cuda,
                           conv_transpose=conv_transpose_cuda, conv2d=conv2d_cuda)


@njit(parallel=True, cache=True)
def resample_hwc(src, iy, wy, ix, wx, C, lo, hi, integer, out):
    """Resize (N, H, W*C) rows to (N, Ho, Wo*C) with tap tables for both axes: the
    vertical taps blend whole source rows (contiguous), the horizontal taps gather
    from that row tap by tap (``ix`` holds sample offsets, pixel index times C), then
    one rounding store; conversion, both passes and rounding in one sweep."""
    N, H, L = src.shape
    Ho = out.shape[1]
    Lo = out.shape[2]
    Wo = Lo // C
    Ty = iy.shape[1]
    Tx = ix.shape[1]
    for job in prange(N * Ho):
        n = job // Ho
        y = job - n * Ho
        row = np.zeros(L, dtype=wy.dtype)
        for t in range(Ty):
            wt = wy[y, t]
            srow = src[n, iy[y, t]]
            for i in range(L):
                row[i] += wt * srow[i]
        acc = np.zeros(Lo, dtype=wy.dtype)
        for t in range(Tx):
            idx = ix[:, t]
            wts = wx[:, t]
            if C == 1:
                for x in range(Wo):
                    acc[x] += wts[x] * row[idx[x]]
            else:
                for x in range(Wo):
                    base = idx[x]
                    wv = wts[x]
                    for c in range(C):
                        acc[x * C + c] += wv * row[base + c]
        orow = out[n, y]
        if integer:
            for i in range(Lo):
                orow[i] = min(max(np.rint(acc[i]), lo), hi)
        else:
            for i in range(Lo):
                orow[i] = acc[i]


@njit(parallel=True, cache=True)
def avg_pool_2x2(src, out):
    """size = stride = 2, no padding, even sizes: the mean of each 2x2 block."""
    P, Ho, Wo = out.shape
    for job in prange(P * Ho):
        p = job // Ho
        oy = job - p * Ho
        r0 = src[p, 2 * oy]
        r1 = src[p, 2 * oy + 1]
        orow = out[p, oy]
        for ox in range(Wo):
            orow[ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * 0.25
