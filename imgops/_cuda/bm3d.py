"""BM3D denoising on the GPU: the CUDA twin of ``imgops._cpu.bm3d`` (same parameters,
same shared per-block arithmetic from ``imgops._shared.bm3d``).

Kernels:

* matching: one thread per reference block scans its search window, computes each
  distance with ``block_ssd`` (the CPU's summation order) and keeps the nearest with
  ``insert_best`` (ranked by distance, then offset: the CPU's selection);
* collaborative filtering: one thread block per reference, 64 threads (one per 2-D
  coefficient) over a group held in shared memory; thread i < n transforms and, after
  the shrinkage, inverts block i of the group; the 1-D Haar transform, the hard
  threshold or the Wiener shrinkage run down one coefficient column per thread;
  aggregation by atomic adds (the blocks' weights at their origins, spread by the
  separable Kaiser window afterwards as on the CPU);
* per-pixel kernels for the non-finite fill, the colour transform with the reflection
  of images smaller than a block, the division and the way back.

Noise that is not white of one sigma: the same per-coefficient thresholds, Wiener
variances and group weights as the CPU's (one column per thread); the whitening of the
matched plane for correlated noise is one FFT on the host (the plane is copied there
and back).

Results agree with the CPU's to float32 rounding (atomic adds sum in another order; a
near-tie in the second matching can then pick another block). On a GPU the rounding
differs in the arithmetic too: numba-cuda 0.30 passes no ``-fma`` option to NVVM, whose
default contracts a multiply and an add into one fused operation (NVIDIA/numba-cuda
issue 118), so ``block_ssd`` and the butterflies may round differently from the CPU's
separate operations; the simulator, running Python, cannot show it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from .._shared.bm3d import (
    BIOR,
    BLOCK,
    BLOCK2,
    DCT,
    OPP,
    OPP_INV,
    TAB_BIOR,
    TAB_DCT,
    THRESHOLD_MARGIN,
    Profile,
    Whitener,
    block_ssd,
    channel_noise,
    colour_lambda,
    data_range_of,
    finite_max_abs,
    fwd2_at,
    haar_forward,
    haar_inverse,
    hard_threshold,
    insert_best,
    integer_levels,
    integer_tau,
    inv2,
    kaiser_1d,
    kaiser_window,
    kept_variance,
    overlap_variance,
    pow2_floor,
    range_grid,
    ref_positions,
    resolve_noise,
    shrinkage,
    ssd_limit,
    stage1_tau,
    stage_plan,
    wiener_shrink,
    wiener_variance,
)

MAX_GROUP = 32  # the largest group of any profile
FILL_PASSES = 8  # as the CPU's fill_nonfinite
_F = np.float32
_T2 = (16, 16)  # threads per block of the per-pixel kernels


# ----------------------------------------------------------------------------- kernels
@cuda.jit
def _match_kernel(img, ys, xs, hw, cap, max_ssd, my, mx, mn):
    ix, iy = cuda.grid(2)
    if iy >= ys.size or ix >= xs.size:
        return
    H, W = img.shape
    y = ys[iy]
    xr = xs[ix]
    side = 2 * hw + 1
    center = hw * side + hw
    best_d = cuda.local.array(MAX_GROUP, _F)
    best_o = cuda.local.array(MAX_GROUP, np.int64)
    best_d[0] = _F(0.0)
    best_o[0] = center
    m = 1
    for yc in range(max(0, y - hw), min(H - BLOCK, y + hw) + 1):
        for xc in range(max(0, xr - hw), min(W - BLOCK, xr + hw) + 1):
            o = (yc - y + hw) * side + xc - xr + hw
            if o != center:
                d = block_ssd(img, y, xr, yc, xc)
                if d <= max_ssd:
                    m = insert_best(best_d, best_o, m, cap, d, o)
    n = pow2_floor(m)
    mn[iy, ix] = n
    for i in range(n):
        my[iy, ix, i] = y + best_o[i] // side - hw
        mx[iy, ix, i] = xr + best_o[i] % side - hw


@cuda.jit
def _ht_kernel(img, kind, my, mx, mn, limit, thr, rel, inv_var, exact, tab, win, num,
               wsum):
    ix = cuda.blockIdx.x
    iy = cuda.blockIdx.y
    t = cuda.threadIdx.x
    g = cuda.shared.array((MAX_GROUP, BLOCK2), _F)
    vr = cuda.shared.array((MAX_GROUP, BLOCK2), _F)
    kept = cuda.shared.array(BLOCK2, _F)
    blk = cuda.local.array(BLOCK2, _F)
    n = min(mn[iy, ix], limit)
    for c in range(img.shape[0]):
        if c == 0 or (exact and c == 1):
            # each thread its own column of vr, and of g for the tree's sums (no local
            # array), before g holds the group
            _group_variance(my[iy, ix], mx[iy, ix], n, exact and c == 0, tab, vr, g, t)
            cuda.syncthreads()
        if t < n:
            fwd2_at(kind, img[c], my[iy, ix, t], mx[iy, ix, t], g[t])
        cuda.syncthreads()
        haar_forward(g, n, t, t + 1)
        hard_threshold(g, n, t, t + 1, thr[c], vr, kept)
        haar_inverse(g, n, t, t + 1)
        cuda.syncthreads()
        w = inv_var[c] / kept_variance(kept, rel[c])
        if t < n:
            inv2(kind, g[t], blk)
            _scatter(blk, w, win, num, wsum, c, my[iy, ix, t], mx[iy, ix, t])
        cuda.syncthreads()


@cuda.jit
def _wiener_kernel(z, b, my, mx, mn, limit, var, rel, inv_var, exact, tab, win, num, wsum):
    ix = cuda.blockIdx.x
    iy = cuda.blockIdx.y
    t = cuda.threadIdx.x
    gz = cuda.shared.array((MAX_GROUP, BLOCK2), _F)
    gb = cuda.shared.array((MAX_GROUP, BLOCK2), _F)
    vr = cuda.shared.array((MAX_GROUP, BLOCK2), _F)
    acc = cuda.shared.array(BLOCK2, _F)
    blk = cuda.local.array(BLOCK2, _F)
    n = min(mn[iy, ix], limit)
    for c in range(z.shape[0]):
        if c == 0 or (exact and c == 1):  # as in _ht_kernel, gz for the tree's sums
            _group_variance(my[iy, ix], mx[iy, ix], n, exact and c == 0, tab, vr, gz, t)
            cuda.syncthreads()
        if t < n:
            fwd2_at(DCT, z[c], my[iy, ix, t], mx[iy, ix, t], gz[t])
            fwd2_at(DCT, b[c], my[iy, ix, t], mx[iy, ix, t], gb[t])
        cuda.syncthreads()
        haar_forward(gz, n, t, t + 1)
        haar_forward(gb, n, t, t + 1)
        wiener_shrink(gb, gz, n, t, t + 1, var[c], vr, acc)
        haar_inverse(gz, n, t, t + 1)
        cuda.syncthreads()
        w = inv_var[c] / wiener_variance(acc, rel[c])  # the CPU's order
        if t < n:
            inv2(DCT, gz[t], blk)
            _scatter(blk, w, win, num, wsum, c, my[iy, ix, t], mx[iy, ix, t])
        cuda.syncthreads()


@cuda.jit(device=True)
def _group_variance(gy, gx, n, exact, tab, vr, acc, t):
    """Column t of the group's relative variances ``vr[:n]``: its overlap variances
    (``overlap_variance``) if ``exact``, else 1. Called for channel 0 (``exact``: the
    profile's) and, with exact variances, again for channel 1 (``exact`` False): the
    chroma channels keep their 2-D coefficients' variances, as on the CPU."""
    if exact:
        overlap_variance(gy, gx, n, tab, vr, acc, t, t + 1)
    else:
        for i in range(n):
            vr[i, t] = _F(1.0)


@cuda.jit(device=True)
def _scatter(blk, w, win, num, wsum, c, py, px):
    for u in range(BLOCK):
        for v in range(BLOCK):
            q = BLOCK * u + v
            cuda.atomic.add(num, (c, py + u, px + v), (w * win[q]) * blk[q])
    cuda.atomic.add(wsum, (c, py, px), w)


@cuda.jit
def _finish_kernel(num, wsum, k1, out):
    """out = num / (the blocks' weights spread by the separable Kaiser window), in the
    CPU's order (down the rows first, then along the row)."""
    x, y = cuda.grid(2)
    C, H, W = num.shape
    if x >= W or y >= H:
        return
    for c in range(C):
        den = _F(0.0)
        for v in range(min(BLOCK, x + 1)):
            t = _F(0.0)
            for u in range(min(BLOCK, y + 1)):
                t += k1[u] * wsum[c, y - u, x - v]
            den += k1[v] * t
        out[c, y, x] = num[c, y, x] / den


@cuda.jit
def _flag_nonfinite(src, flag):
    x, y = cuda.grid(2)
    H, W, C = src.shape
    if x < W and y < H:
        for c in range(C):
            v = src[y, x, c]
            if not (v - v == 0):
                flag[0] = 1


@cuda.jit
def _init_ok(src, ok):
    x, y = cuda.grid(2)
    H, W, C = src.shape
    if x < W and y < H:
        for c in range(C):
            v = src[y, x, c]
            good = v - v == 0
            ok[y, x, c] = 1 if good else 0
            if not good:
                src[y, x, c] = _F(0.0)


@cuda.jit
def _fill_pass(src, ok, dst, ok_out, flag):
    """One pass of the CPU's fill: a missing sample with finite 8-neighbours takes their
    mean (summed over the 3 x 3 window in the CPU's order)."""
    x, y = cuda.grid(2)
    H, W, C = src.shape
    if x >= W or y >= H:
        return
    for c in range(C):
        if ok[y, x, c]:
            dst[y, x, c] = src[y, x, c]
            ok_out[y, x, c] = 1
            continue
        s = _F(0.0)
        n = _F(0.0)
        for dy in range(3):
            for dx in range(3):
                yy = y + dy - 1
                xx = x + dx - 1
                if 0 <= yy < H and 0 <= xx < W and ok[yy, xx, c]:
                    s += src[yy, xx, c]
                    n += _F(1.0)
        if n > 0:
            dst[y, x, c] = s / n
            ok_out[y, x, c] = 1
        else:
            dst[y, x, c] = _F(0.0)
            ok_out[y, x, c] = 0
            flag[0] = 1


@cuda.jit(device=True)
def _mirror(i, n):
    """Symmetric extension (NumPy's "symmetric" padding) of index ``i >= 0``."""
    j = i % (2 * n)
    return 2 * n - 1 - j if j >= n else j


@cuda.jit
def _to_planes(src, mat, c0, planes):
    """planes[k] = sum_j mat[k, j] src[..., c0 + j], the image extended by reflection to
    the planes' size."""
    x, y = cuda.grid(2)
    K, PH, PW = planes.shape
    if x >= PW or y >= PH:
        return
    H, W, _ = src.shape
    sy = _mirror(y, H)
    sx = _mirror(x, W)
    for k in range(K):
        a = _F(0.0)
        for j in range(mat.shape[1]):
            a += mat[k, j] * src[sy, sx, c0 + j]
        planes[k, y, x] = a


@cuda.jit
def _from_planes(est, mat, c0, out):
    """out[..., c0 + j] = sum_k mat[j, k] est[k] on the output's rows and columns."""
    x, y = cuda.grid(2)
    H, W, _ = out.shape
    if x >= W or y >= H:
        return
    for j in range(mat.shape[0]):
        a = _F(0.0)
        for k in range(mat.shape[1]):
            a += mat[j, k] * est[k, y, x]
        out[y, x, c0 + j] = a


@cuda.jit
def _restore_nonfinite(src, out):
    x, y = cuda.grid(2)
    H, W, C = out.shape
    if x < W and y < H:
        for c in range(C):
            v = src[y, x, c]
            if not (v - v == 0):
                out[y, x, c] = v


@cuda.jit(device=True)
def _med3(a, b, c):
    lo = a if a < b else b
    hi = b if a < b else a
    m = hi if hi < c else c
    return m if m > lo else lo


@cuda.jit
def _range_sample(planes, s, k, out):
    """out[p, i, j]: the site (s i, s j) of plane p as the CPU's ``site_values`` gives
    it: the median of the three row medians of its 3 x 3 window (k = 3), NaN if the
    window holds a non-finite value; the pixel itself for k = 1."""
    j, i, p = cuda.grid(3)
    if p >= out.shape[0] or i >= out.shape[1] or j >= out.shape[2]:
        return
    y = s * i
    x = s * j
    if k == 1:
        out[p, i, j] = planes[p, y, x]
        return
    ok = True
    for dy in range(3):
        for dx in range(3):
            v = planes[p, y + dy, x + dx]
            if not (v - v == 0):
                ok = False
    if not ok:
        out[p, i, j] = _F(np.nan)
        return
    r0 = _med3(planes[p, y, x], planes[p, y, x + 1], planes[p, y, x + 2])
    r1 = _med3(planes[p, y + 1, x], planes[p, y + 1, x + 1], planes[p, y + 1, x + 2])
    r2 = _med3(planes[p, y + 2, x], planes[p, y + 2, x + 1], planes[p, y + 2, x + 2])
    out[p, i, j] = _med3(r0, r1, r2)


# ----------------------------------------------------------------------------- driver
def measured_range_cuda(planes, n: int, c: int) -> float:
    """The nominal range of the device planes ``(n * c, H, W)`` (float32): the CPU's
    ``measured_range`` (the same sites and values, computed here and brought to the
    host; the whole image only when the sample says nothing)."""
    P, H, W = planes.shape
    s, k, hs, ws = range_grid(n, H, W, c)
    out = cuda.device_array((P, hs, ws), _F)
    threads = (16, 8, 1)
    grid = tuple(math.ceil(d / t) for d, t in zip(out.shape[::-1], threads, strict=True))
    _range_sample[grid, threads](planes, s, k, out)
    return data_range_of(out.copy_to_host(), lambda: finite_max_abs(planes.copy_to_host()))


def _grid2(w: int, h: int) -> tuple[tuple[int, int], tuple[int, int]]:
    return (math.ceil(w / _T2[0]), math.ceil(h / _T2[1])), _T2


def _match(img, stage, tau, ys, xs):
    cap = stage.group
    my = cuda.device_array((ys.size, xs.size, cap), np.int32)
    mx = cuda.device_array((ys.size, xs.size, cap), np.int32)
    mn = cuda.device_array((ys.size, xs.size), np.int32)
    grid = (math.ceil(xs.size / 8), math.ceil(ys.size / 8))
    _match_kernel[grid, (8, 8)](img, cuda.to_device(ys), cuda.to_device(xs),
                                stage.half_window, cap, ssd_limit(tau), my, mx, mn)
    return my, mx, mn


def _finish(num, wsum, k1, shape):
    out = cuda.device_array(shape, _F)
    grid, block = _grid2(shape[2], shape[1])
    _finish_kernel[grid, block](num, wsum, k1, out)
    return out


def bm3d_planes_cuda(planes, sigmas: np.ndarray, p: Profile, scale: float,
                     lambda_scale: np.ndarray | None = None, origin=(0, 0),
                     rel_ht: np.ndarray | None = None, rel_wiener: np.ndarray | None = None,
                     match_r: np.ndarray | None = None,
                     tabs: tuple[np.ndarray, np.ndarray] = (TAB_BIOR, TAB_DCT)):
    """Both BM3D stages on the device planes (C, H, W), H, W >= 8, matched on channel 0;
    as ``imgops._cpu.bm3d.bm3d_planes`` (``origin``, the per-coefficient variances
    ``rel_ht``, ``rel_wiener`` and the group variances' tables ``tabs`` too).
    ``match_r``: the autocovariance of channel 0's noise when it is correlated: stage 1
    then matches on channel 0 whitened, on the host (``imgops._shared.bm3d.whiten``: one
    FFT of the plane; the plane goes to the host and the whitened one back)."""
    C, H, W = planes.shape
    oy, ox = origin
    k1h = np.empty(BLOCK, _F)
    kaiser_1d(p.beta, k1h)
    winh = np.empty(BLOCK2, _F)
    kaiser_window(p.beta, winh)
    k1, win = cuda.to_device(k1h), cuda.to_device(winh)
    sig = np.asarray(sigmas, _F)
    sh = shrinkage(p, sig, lambda_scale, rel_ht, rel_wiener)
    norm = 1.0 / (scale * scale)
    m1, m2 = stage_plan(p)
    inv_var = cuda.to_device(sh.inv_var)

    ys, xs = ref_positions(H, m1.step, oy), ref_positions(W, m1.step, ox)
    wh = None if match_r is None else Whitener(match_r, (H, W))
    match = planes[0] if wh is None else \
        cuda.to_device(wh(planes[0].copy_to_host(), p.whiten_ht))
    tau1 = stage1_tau(p, norm, sig[0])
    levels = integer_levels(planes[0].copy_to_host()) if wh is None else None
    if levels is not None:  # quantized data: exact distances (as the CPU's)
        match, tau1 = cuda.to_device(levels[0]), integer_tau(tau1, levels[1])
    thr = sh.thr if levels is None else sh.thr * THRESHOLD_MARGIN
    my, mx, mn = _match(match, m1, tau1, ys, xs)
    num = cuda.to_device(np.zeros((C, H, W), _F))
    wsum = cuda.to_device(np.zeros((C, H, W), _F))
    _ht_kernel[(xs.size, ys.size), BLOCK2](planes, BIOR, my, mx, mn, p.ht.group,
                                           cuda.to_device(thr), cuda.to_device(sh.rel_ht),
                                           inv_var, p.exact, cuda.to_device(tabs[0]), win,
                                           num, wsum)
    basic = _finish(num, wsum, k1, (C, H, W))

    if p.rematch:
        ys, xs = ref_positions(H, m2.step, oy), ref_positions(W, m2.step, ox)
        match = basic[0] if wh is None or p.whiten_wiener == 0 else \
            cuda.to_device(wh(basic[0].copy_to_host(), p.whiten_wiener))
        my, mx, mn = _match(match, m2, m2.tau * norm, ys, xs)
    num = cuda.to_device(np.zeros((C, H, W), _F))
    wsum = cuda.to_device(np.zeros((C, H, W), _F))
    _wiener_kernel[(xs.size, ys.size), BLOCK2](planes, basic, my, mx, mn, p.wiener.group,
                                               cuda.to_device(sh.var_wiener),
                                               cuda.to_device(sh.rel_wiener), inv_var,
                                               p.exact and p.exact_wiener,
                                               cuda.to_device(tabs[1]), win, num,
                                               wsum)
    return _finish(num, wsum, k1, (C, H, W))


def _fill_nonfinite(src) -> None:
    """The CPU's fill of non-finite samples, in place on the device copy ``src``."""
    H, W, C = src.shape
    grid, block = _grid2(W, H)
    ok = cuda.device_array((H, W, C), np.uint8)
    _init_ok[grid, block](src, ok)
    dst = cuda.device_array_like(src)
    ok2 = cuda.device_array_like(ok)
    flag = cuda.to_device(np.ones(1, np.int32))
    for _ in range(FILL_PASSES):
        if not flag.copy_to_host()[0]:
            break
        flag = cuda.to_device(np.zeros(1, np.int32))
        _fill_pass[grid, block](src, ok, dst, ok2, flag)
        src.copy_to_device(dst)
        ok, ok2 = ok2, ok
    if flag.copy_to_host()[0]:  # a hole wider than the passes reach: the channel's mean
        host, okh = src.copy_to_host(), ok.copy_to_host().astype(bool)
        for c in range(C):
            miss = ~okh[..., c]
            if miss.any():
                good = host[..., c][~miss]
                host[..., c][miss] = good.mean() if good.size else 0.0
        src.copy_to_device(host)


def bm3d_hwc_cuda(image_dev, sigma: float, profile: str, noise=None):
    """BM3D (CBM3D for three channels) of a float32 ``(H, W, C)`` Numba device array;
    returns a new device array. As ``imgops._cpu.bm3d.bm3d_hwc`` (parameters, ``noise``,
    non-finite samples, small images)."""
    return bm3d_hwc_cuda_range(image_dev, sigma, profile, 255.0, noise=noise)


def bm3d_hwc_cuda_range(image_dev, sigma: float, profile: str, data_range: float,
                        origin=(0, 0), noise=None, extent=None):
    """:func:`bm3d_hwc_cuda` for data whose nominal range is ``data_range``; ``origin``,
    ``noise`` and ``extent`` as the CPU's ``bm3d_hwc_range``."""
    if len(image_dev.shape) != 3 or min(image_dev.shape) < 1:
        raise ValueError(f"image must be (H, W, C) with H, W, C >= 1; got {image_dev.shape}")
    if np.dtype(image_dev.dtype) != np.float32:
        raise ValueError(f"image must be float32; got {image_dev.dtype}")
    H, W, C = image_dev.shape
    sigma, noise = resolve_noise(sigma, noise, C)
    if sigma == 0.0:
        out = cuda.device_array((H, W, C), _F)
        out.copy_to_device(image_dev)
        return out
    data_range = float(data_range)
    if not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be finite and > 0; got {data_range}")
    scale = 255.0 / data_range
    pixels = math.prod(extent or (H, W))
    grid, block = _grid2(W, H)
    flag = cuda.to_device(np.zeros(1, np.int32))
    _flag_nonfinite[grid, block](image_dev, flag)
    has_bad = bool(flag.copy_to_host()[0])
    src = image_dev
    if has_bad:
        src = cuda.device_array_like(image_dev)
        src.copy_to_device(image_dev)
        _fill_nonfinite(src)
    ph, pw = max(H, BLOCK), max(W, BLOCK)
    pgrid, pblock = _grid2(pw, ph)
    out = cuda.device_array((H, W, C), _F)
    if C == 3:
        p, sig, rel_ht, rel_wiener, match_r, tabs = channel_noise(noise, sigma, scale,
                                                                  profile, OPP, True, pixels)
        planes = cuda.device_array((3, ph, pw), _F)
        _to_planes[pgrid, pblock](src, cuda.to_device(OPP.astype(_F)), 0, planes)
        est = bm3d_planes_cuda(planes, sig, p, scale, colour_lambda(p), origin, rel_ht,
                               rel_wiener, match_r, tabs)
        _from_planes[grid, block](est, cuda.to_device(OPP_INV.astype(_F)), 0, out)
    else:
        one = cuda.to_device(np.ones((1, 1), _F))
        for c in range(C):
            planes = cuda.device_array((1, ph, pw), _F)
            _to_planes[pgrid, pblock](src, one, c, planes)
            p, sig, rel_ht, rel_wiener, match_r, tabs = channel_noise(
                noise, sigma, scale, profile, np.eye(C)[c:c + 1], False, pixels)
            if sig[0] == 0.0:  # a noiseless channel: as it is (the fill's values
                est = planes  # where it was not finite, restored below)
                _from_planes[grid, block](est, one, c, out)
                continue
            est = bm3d_planes_cuda(planes, sig, p, scale, origin=origin, rel_ht=rel_ht,
                                   rel_wiener=rel_wiener, match_r=match_r, tabs=tabs)
            _from_planes[grid, block](est, one, c, out)
    if has_bad:
        _restore_nonfinite[grid, block](image_dev, out)
    return out
