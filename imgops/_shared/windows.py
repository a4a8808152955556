"""Pooling windows: one output of a max or average pool, for both targets."""

from numba import njit


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
def avg_pool_at(src, p, oy, ox, kh, kw, sh, sw, ph, pw, count_include_pad, acc):
    """One output of PyTorch's avg_pool2d: window clipped to the padded image, divisor by
    its rule. ``acc`` is the sum's start, a zero of the dtype to sum in: float64 on the
    CPU, the planes' dtype on the GPU (no float64 instruction in a float32 kernel)."""
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
    s = acc
    for y in range(y0, y1):
        for x in range(x0, x1):
            s += src[p, y, x]
    return s / src.dtype.type(div)  # exact below 2^24 samples: no float64 division


@njit(inline="always", cache=True)
def strided_range(pad, k, stride, n_to, n_from):
    """The i in [i0, i1) with 0 <= i * stride - pad + k < n_to and i < n_from."""
    i0 = 0
    if pad - k > 0:
        i0 = (pad - k + stride - 1) // stride
    return i0, min(n_from, (n_to - 1 + pad - k) // stride + 1)
