"""Linear stencils on the GPU: per-pixel twins and shared-memory tiled kernels."""

import functools
import math
from types import SimpleNamespace

import numpy as np
from numba import cuda, types

from .._shared.border import map_index, sample
from .tiles import RPT, cuda_tile


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twins: one thread per output pixel, grid (x, y, plane); the border rule is
    the shared ``map_index``/``sample``."""

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


    T = getattr(types, dtype_name)
    zero = np.dtype(dtype_name).type(0)  # sums in the planes' dtype, as the CPU passes
    load_tile = cuda_tile()

    @cuda.jit(device=True)
    def column_pass(tile, mid, w, w0, ky, oy, TH, TC, xs, W, constant, cvx):
        """mid[r, c] = sum_i w[w0 + i] * tile[r + oy + i, c]; columns outside the image
        hold cvx in constant mode."""
        r = cuda.threadIdx.y
        while r < TH:
            row = r * TC  # once per row: no 64-bit multiply in the loops below
            c = cuda.threadIdx.x
            while c < TC:
                gx = xs + c
                if constant and (gx < 0 or gx >= W):
                    mid[row + c] = cvx
                else:
                    s = zero
                    t = row + oy * TC + c  # tap i's sample: one add per tap
                    for i in range(ky):
                        s += w[w0 + i] * tile[t]
                        t += TC
                    mid[row + c] = s
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
            base = r * TC + cuda.threadIdx.x  # row i of the window: one add per row
            for i in range(kh):
                for j in range(kw):
                    s += w[i, j] * tile[base + j]
                base += TC
            if x < Wo and y0 + r < Ho:
                out[p, y0 + r, x] = s

    return SimpleNamespace(two_pass=two_pass, correlate2d=correlate2d)
