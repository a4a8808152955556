"""Strided 2-D convolution of NCHW batches (the ``imgops.nn`` building block), CPU."""

from numba import njit, prange

from .._shared.windows import strided_range


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
                    ox0, ox1 = strided_range(pw, kx, sw, W, Wo)  # ix = ox*sw - pw + kx
                    for ox in range(ox0, ox1):
                        orow[ox] += wv * irow[ox * sw - pw + kx]
