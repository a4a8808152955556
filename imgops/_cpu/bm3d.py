"""BM3D denoising on the CPU (Dabov, Foi, Katkovnik, Egiazarian, IEEE TIP 2007; colour:
CBM3D, ICIP 2007; Lebrun, IPOL 2012).

Two stages on each group of channels:

1. Block matching on the noisy image; 3-D transform of each group (2-D biorthogonal 1.5
   transform of its blocks, Haar along the group); hard thresholding at ``lambda3d *
   sigma``; inverse transform and aggregation of the blocks weighted by ``kaiser /
   (sigma^2 * N_nonzero)``: the basic estimate.
2. Block matching on the basic estimate; collaborative Wiener filtering of the noisy
   group (2-D DCT, Haar) with the basic group's spectrum as the oracle; aggregation
   weighted by ``kaiser / (sigma^2 * sum(w^2))``.

Implementation
--------------
* Block distances: for one row of reference blocks and one row of the search window,
  each image column's sums of the 8 squared row differences are computed for all the
  window's horizontal offsets at once, one offset per vector lane (39 offsets: two
  16-lane vectors and one of 8); pairs of adjacent columns are added into a ring of 8,
  and at each reference column four of those pairs give its 8-wide window sums, stored
  straight into the reference's row of distances. No per-block loops, no transposition:
  on camera 512 x 512 (normal profile, 2 threads) a stage's matching took 47-52 ms with
  the offsets in the outer loop (columns in lanes, every column's window sums, then each
  reference copying its distances out of them) and 30-36 ms this way, the groups
  bitwise the same. Work is split over rows of reference blocks. The ``group - 1``
  nearest candidates are selected below a threshold found by vectorised counts from the
  neighbouring reference's (exact), ties broken by the offset, so the selection does not
  depend on the scan order.
* 2-D transforms: each block of a group is transformed where the group uses it, from
  the image's pixels, as vector code (``imgops._cpu.simd``: the shared scalar
  butterflies traced into vector instructions, bitwise the scalar results), two blocks
  per 16-lane vector (a group's blocks in pairs, a lone block with itself; the Wiener
  stage's noisy and basic blocks at one position); the inverse transform adds the
  blocks into the aggregation buffer in the same pass. On 512 x 512 images here one
  block per eight-lane vector made the whole denoiser 1.4-1.7x faster than the scalar
  code (fast profile: camera 47 -> 31 ms, astronaut 117 -> 69 ms), two per vector
  another 6-14 %. A table of every
  block's vertical pass (8 values per pixel, computed once per stage and shared by the
  blocks that start on a row) was measured against per-block transforms: it was slower
  here (the fast profile 1.3-1.45x) and took 32 bytes per pixel and channel.
* Aggregation: the rows of reference blocks are cut into chunks, large enough that
  chunks k and k + 4 reach no common row; the chunks k = 0 mod 4 add into the image in
  parallel, then those k = 1 mod 4, and so on, so every pixel gets its blocks in a fixed
  order and the result depends neither on the thread schedule nor on the number of
  threads.
  The denominator is accumulated as each block's weight at its origin and spread by
  the separable Kaiser window afterwards (half the scattered writes).
* float32 throughout.

Profiles
--------
``"normal"``: 8 x 8 blocks; reference step 3; 39 x 39 search window; up to 16 blocks
per group in stage 1 and 32 in stage 2; ``tau_match = 3000`` (stage 1) and ``400``
(stage 2), distances being ``|block difference|^2 / 64`` on the 0-255 scale, ``5000``
and ``3500`` for ``sigma > 40`` (0-255 scale); Kaiser window beta = 2 (the papers'). For
white noise, each group's 3-D coefficients get their exact noise variances (Makinen,
Azzari, Foi, IEEE TIP 2020; ``imgops._shared.bm3d.overlap_variance``): a group's blocks
overlap wherever the content is smooth, share pixels and so noise, and the group's mean
then carries up to n times one block's noise variance, the differences of overlapping
blocks less. The hard threshold is ``3.0`` times each coefficient's standard deviation
and the Wiener shrinkage's noise variance 0.4 times its variance (the ``bm3d``
package's white-noise values). Against the package on 126 crops of 64-256 pixels of 14
photographs at sigma 15/25/40, 4 noise draws each (``benchmarks/bm3d_small.py``): mean
+0.014 dB, 2 cases below -0.1 (worst -0.11; both -0.05 over 12 draws), where BM3D's
single variance sigma^2 with ``lambda3d = 2.7`` gave -0.066 dB, 26 cases below -0.1 and
-0.49 at worst (smooth crops: cell, moon); over the groups' transforms the variances cost
25-40 % more time (512 x 512 photographs). Other departures from the papers, each
measured against the package on 256 x 256 crops of photographs at sigma 15-60:

* the blocks stay 8 x 8 for sigma > 40 (the paper's 12 x 12 / 11 x 11 are not used), and
  stage 1 matches on pixels rather than on coefficients prefiltered at ``lambda2d = 2``
  (that prefilter with 8 x 8 blocks lost 0.2-0.4 dB at sigma 40-60);
* stage 1's ``tau_match`` is at least ``3 sigma^2`` (1.5 times the distance that noise
  alone puts between identical blocks): with 3000 the groups collapse near sigma 40
  (camera at sigma 40: -0.16 dB from the reference with 3000, -0.04 dB with the floor);
* colour: the chroma channels keep their 2-D coefficients' variances and shrink at 0.8
  sigma in the Wiener stage (``imgops._shared.bm3d.WIENER_CHROMA``: exact variances in
  all three channels lost 0.1 dB on average on colour crops).

``"fast"``: reference step 5, 31 x 31 search window, 16 blocks per group in both
stages, and stage 2 reuses stage 1's groups instead of matching again on the basic
estimate; the same exact variances, its Wiener stage on gray images at 0.65 sigma up
to sigma 20, 0.75 from 35 (``fast_wiener``). The geometry was chosen among the
variants measured (steps 4-7, windows 13-39, groups 8-32, with and without stage-2
matching; 256 x 256 crops of camera, brick, astronaut, coffee and chelsea at sigma
15/25/40) as the quickest within
0.3 dB of the reference everywhere; on full 512 x 512 photographs it takes a fifth
(gray) to a quarter (colour) of the normal profile's time. Re-matching on the basic
estimate with a small window was worse as well as slower; step 6 or a 25 x 25 window
lost 0.35-0.4 dB on the brick texture; step 4 cost 40 % more time. With white noise on
images of fewer than 32 768 pixels (``FAST_SMALL_PIXELS``, the whole image's size, not a
chunk's) it steps by 3 and matches stage 2 again, as the normal profile: every 5 pixels
a small image has few references (cell 64 at sigma 15 -0.70 dB, brick 64 at 40 -0.53).
On the 126 crops: mean -0.042 dB, none below -0.3 (worst -0.29).

Noise that is not white (below) keeps BM3D's per-2-D-coefficient variances with the
papers' ``lambda3d = 2.7`` (2.8 above sigma 40), the chroma channels' hard threshold 1.1
times luminance's (``CHROMA_LAMBDA``), and the fast profile's Wiener stage at 0.95 sigma
up to sigma = 20 (0-255 scale), rising linearly to sigma at 35.

Colour: three channels are taken to the opponent colour space of CBM3D (``Y = (R + G +
B) / 3``, ``U = (R - B) / 2``, ``V = (R - 2G + B) / 4``), each transformed channel's sigma
being sigma times its row's norm; blocks are matched on Y alone and the same groups
filter all three, each channel aggregated with its own weights. Any other channel count
is denoised channel by channel.

Noise that is not white of one sigma (per-channel sigmas, a PSD, a noise model: the
drivers' ``noise``, its covariance on the lags -16..16): each 2-D coefficient q of both
block transforms gets its own variance v_q (exact for stationary noise; see
``imgops._shared.bm3d``), so the kernels take per-coefficient hard thresholds
``lambda3d sqrt(v_q)`` and Wiener variances, and weight a group by ``1 / sum(v_q)`` over
its kept coefficients (stage 1) or ``1 / sum(w_q^2 v_q)`` (stage 2). The kernels hold
one relative variance per 3-D coefficient (the groups' overlap variances for white
noise, 1 otherwise), so one code path serves both. Where
the matched channel's noise is correlated, stage 1 matches on it whitened by the noise's
spectrum and the normal profile's stage 2 on the basic estimate partly whitened
(``whiten``, ``correlated_params``).

Units: "the 0-255 scale" above means a nominal range R of 255; data of range R has its
thresholds tau scaled by (R / 255)^2 and sigma compared with 40 R / 255. R is the integer
dtype's maximum, or for float images measured on the data (:func:`measured_range`: a
statistic homogeneous of degree 1), so that the result scales with float data: every
other quantity is already relative (thresholds in sigmas, Wiener weights b^2 / (b^2 +
sigma^2), aggregation weights 1 / sigma^2 on both sides of a division), and the whole
chain is equivariant to a few float32 ulps (bitwise for powers of two).

Edge cases: an image smaller than a block is extended by symmetric reflection to 8 x 8
and the result cropped; the search window is clipped to the image (mirrored padding was
measured: it lost 0.02-0.15 dB, mirrored noise matching itself); the last row and column
of reference blocks lie on the image's last 8 rows and columns, so every pixel gets an
estimate. Non-finite samples (NaN, +-inf) are treated as missing: they are filled before
denoising (each from the mean of its finite 8-neighbours, repeatedly for up to 8 passes,
then from the channel's finite mean, 0 if none) and written back unchanged in the
output, so the output is non-finite exactly where the input is and finite elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .._shared.bm3d import (
    BIOR,
    BLOCK,
    BLOCK2,
    DCT,
    OPP,
    OPP_INV,
    PAIR_ROWS,
    TAB_BIOR,
    TAB_DCT,
    THRESHOLD_MARGIN,
    Profile,
    Whitener,
    add_covariance,
    channel_noise,
    colour_lambda,
    data_range_of,
    finite_max_abs,
    haar_forward,
    haar_inverse,
    hard_threshold,
    insert_best,
    integer_levels,
    integer_tau,
    kaiser_1d,
    kaiser_window,
    kept_variance,
    overlap_tree,
    pair_offset,
    pow2_floor,
    profile_params,
    range_grid,
    range_windows,
    ref_positions,
    resolve_noise,
    shrinkage,
    site_values,
    ssd_limit,
    stage1_tau,
    stage_plan,
    wiener_shrink,
    wiener_variance,
)
from .simd import (
    column_ssd,
    fwd2_pair,
    gather_le16,
    inv2_accumulate_pair,
    le_mask16,
    popcount,
    window_sums,
)

_F = np.float32
_FMAX = _F(np.finfo(np.float32).max)
MAX_WINDOW = 40  # match_pixels's widest search window (lanes)


# ----------------------------------------------------------------------------- kernels
@njit(inline="always", cache=True, error_model="numpy")
def _count_within(drow, lim):
    """How many of the distances ``drow`` are at most ``lim`` (a vector compare and a bit
    count per 16)."""
    n = drow.size
    n16 = n - n % 16
    total = 0
    for b in range(0, n16, 16):
        total += popcount(le_mask16(drow, b, lim))
    for j in range(n16, n):
        total += 1 if drow[j] <= lim else 0
    return total


@njit(cache=True, error_model="numpy")
def _select(drow, side, cap, max_ssd, guess, best_d, best_o, cand):
    """The ``cap - 1`` nearest candidates within ``max_ssd`` of one reference from its row
    ``drow`` of window distances (``side^2``, raster order; +inf where a candidate is
    outside the image, and at the reference itself, which is put first). Ranked by
    :func:`precedes`, so the result is the same as any full scan's. Returns the number
    of blocks (reference included); ``cand`` (``side^2`` int32) is scratch space.

    A threshold ``hi`` is found first with vectorised counts: the neighbouring
    reference's last distance (``guess``), widened until at least ``cap - 1`` candidates
    lie within it (or it reaches ``max_ssd``), then halved towards a lower bound while it
    holds more than about 1.5 times that many. Only the candidates within ``hi`` are then
    gathered, 16 distances at a time by a vector compare and a compressing store
    (:func:`~imgops._cpu.simd.gather_le16`), and sorted in. Exact: every one of the
    ``cap - 1`` nearest lies within ``hi``. Camera 512 x 512, one thread: the fast
    profile's 10,609 references took 16.5 ms with one sorted scan below the guess, 9.6 ms
    gathering row by row, 7.9 ms with masks per 64 distances built by scalar compares;
    the normal profile's 28,561, 36 ms row by row, 28-34 ms with those masks (stage 1,
    stage 2), 24-33 ms with vector compares and the set bits walked one by one, 19-27
    ms with the compressing store (the walk's branches mispredicted).
    """
    center = (side * side) // 2
    need = cap - 1
    # +inf marks the candidates outside the image: never within any threshold, even when
    # max_ssd itself overflowed float32 (an enormous sigma)
    max_ssd = min(max_ssd, _FMAX)
    hi = min(guess, max_ssd)
    c_hi = _count_within(drow, hi)
    lo = _F(0.0)
    while c_hi < need and hi < max_ssd:
        lo = hi
        # a guess of 0 (the neighbour had cap - 1 exact copies: a flat area) cannot grow
        hi = min(hi * _F(1.5), max_ssd) if hi > 0 else max_ssd
        c_hi = _count_within(drow, hi)
    for _ in range(8):
        if c_hi <= need + need // 2 + 1:
            break
        mid = lo + _F(0.5) * (hi - lo)  # lo + hi could overflow float32
        c = _count_within(drow, mid)
        if c >= need:
            hi = mid
            c_hi = c
        else:
            lo = mid
    k = 0
    n = drow.size
    n16 = n - n % 16
    for base in range(0, n16, 16):
        k += gather_le16(drow, base, hi, cand, k)
    for j in range(n16, n):
        if drow[j] <= hi:
            cand[k] = j
            k += 1
    best_d[0] = _F(0.0)
    best_o[0] = center
    m = 1
    lim = hi
    for i in range(k):
        o = cand[i]
        d = drow[o]
        if d <= lim:
            m = insert_best(best_d, best_o, m, cap, d, o)
            if m == cap:
                lim = min(lim, best_d[cap - 1])
    return m


@njit(inline="always", cache=True, error_model="numpy")
def _window_row(img, y, pad, yc, hw, refat, dist, base, cb, p2, n16, n8):
    """One row of the search window for one row of references: every column's sums of
    the 8 squared row differences for all the row's horizontal offsets at once (lanes),
    pairs of adjacent columns into the ring ``p2`` (8 columns), and at each reference
    column its 8-wide window sums into ``dist[ix, base:base + side]``; +inf where the
    candidate leaves the image. ``n16``, ``n8``: the lanes, as constants."""
    W = img.shape[1]
    side = 2 * hw + 1
    L = 16 * n16 + 8 * n8
    inf = _F(np.inf)
    for x in range(W):
        co = (x & 1) * L
        column_ssd(img, y, x, pad, yc, cb, co, L - co, p2, ((x - 1) & 7) * L, x >= 1,
                   n16, n8)
        x0 = x - (BLOCK - 1)  # the window starting at x0 is complete
        if x0 >= 0 and refat[x0] >= 0:
            drow = dist[refat[x0]]
            window_sums(p2, (x0 & 7) * L, ((x0 + 2) & 7) * L, ((x0 + 4) & 7) * L,
                        ((x0 + 6) & 7) * L, drow, base, n16, n8)
            # candidate column x0 + l - hw must lie in 0 .. W - 8
            for lane in range(min(hw - x0, side)):
                drow[base + lane] = inf
            for lane in range(max(W - BLOCK - x0 + hw + 1, 0), side):
                drow[base + lane] = inf


@njit(parallel=True, cache=True, error_model="numpy")
def match_pixels(img, ys, xs, hw, cap, max_ssd, my, mx, mn):
    """Block matching by pixel distances for every reference ``(ys[i], xs[j])``.

    Writes the group's block positions ``(my, mx)[i, j, :n]`` (nearest first, the
    reference first) and ``mn[i, j] = n``, the largest power of two not above the number
    of candidates within ``max_ssd`` (at most ``cap``).

    Per row of references and window row, along the image row: each column's sums of
    the 8 squared row differences for all the window's horizontal offsets at once (one
    offset per vector lane, :func:`~imgops._cpu.simd.column_ssd`), then at each
    reference column its 8-wide window sums, stored straight into the reference's row of
    distances. The sums are the scalar order (rows in order, then the columns pairwise)
    that the CUDA twin's ``block_ssd`` uses.
    """
    H, W = img.shape
    nrx = xs.size
    side = 2 * hw + 1
    nn = side * side
    if side > MAX_WINDOW:
        raise ValueError("the search window is at most 40 wide")
    L = 32 if side <= 32 else 40  # lanes: two 16-lane vectors, and one of 8 for 40
    inf = _F(np.inf)
    pad = np.zeros((H, W + L), _F)  # room for every lane of every column
    pad[:, hw:hw + W] = img
    refat = np.full(W, -1, np.int64)  # reference column -> its index
    for ix in range(nrx):
        refat[xs[ix]] = ix
    for iy in prange(ys.size):
        y = ys[iy]
        # a window row's spare lanes spill into the next row (written after it) or past
        # the last one
        dist = np.empty((nrx, nn + L), _F)
        cb = np.empty(2 * L, _F)
        p2 = np.empty(BLOCK * L, _F)
        for r in range(side):
            yc = y + r - hw
            base = r * side
            if yc < 0 or yc > H - BLOCK:
                for ix in range(nrx):
                    dist[ix, base:base + side] = inf
            elif L == 40:  # the normal profile's 39-wide window
                _window_row(img, y, pad, yc, hw, refat, dist, base, cb, p2, 2, 1)
            else:  # the fast profile's 31
                _window_row(img, y, pad, yc, hw, refat, dist, base, cb, p2, 2, 0)
        best_d = np.empty(cap, _F)
        best_o = np.empty(cap, np.int64)
        cand = np.empty(nn, np.int32)
        guess = max_ssd
        for ix in range(nrx):
            xr = xs[ix]
            drow = dist[ix, :nn]
            drow[nn // 2] = inf
            m = _select(drow, side, cap, max_ssd, guess, best_d, best_o, cand)
            guess = best_d[cap - 1] * _F(1.1) if m == cap else max_ssd
            n = pow2_floor(m)
            mn[iy, ix] = n
            for i in range(n):
                my[iy, ix, i] = y + best_o[i] // side - hw
                mx[iy, ix, i] = xr + best_o[i] % side - hw


@njit(cache=True, error_model="numpy")
def _overlap_variance(gy, gx, n, tab, vr, acc, ok, off, prow, poff):
    """:func:`~imgops._shared.bm3d.overlap_variance` on all 64 columns, bitwise: the
    overlapping pairs are listed first, without branches (each ``a``'s offsets and
    tests over ``b`` as vector code, then a compaction), and added in the same order.
    On 512 x 512 camera's groups, one thread: stage 1 27 -> 16 ms, stage 2 83 -> 50 ms
    (its 32-block groups hold 148 overlapping pairs on average: testing the 496 pairs
    one branch at a time mispredicted). ``ok``, ``off`` (32), ``prow``, ``poff`` (496):
    int32 scratch."""
    zero = _F(0.0)
    ry = tab.shape[0] - 1
    rx = (tab.shape[1] - 1) // 2
    for i in range(n):
        for k in range(BLOCK2):
            vr[i, k] = zero
    m = 0
    for a in range(n - 1):
        ya = gy[a]
        xa = gx[a]
        for b in range(a + 1, n):
            dy, dx, near = pair_offset(ya, xa, gy[b], gx[b], ry, rx)
            ok[b] = 1 if near else 0
            off[b] = (dy << 6) | (rx + dx)  # tab's columns: 2 rx + 1 <= 47 < 64
        rows = PAIR_ROWS[a]
        for b in range(a + 1, n):
            prow[m] = rows[b]
            poff[m] = off[b]
            m += ok[b]
    for i in range(m):
        o = poff[i]
        add_covariance(vr, prow[i], tab, o >> 6, o & 63, 0, BLOCK2)
    overlap_tree(vr, acc, n, 0, BLOCK2)


@njit(inline="always", cache=True, error_model="numpy")
def _variance_scratch(cap):
    """A thread's arrays for a group's variances, groups of up to ``cap`` blocks:
    ``vr`` (the exact ones), ``pacc`` (the tree's sums), ``ones`` (the 2-D
    coefficients' own, relative 1) and :func:`_overlap_variance`'s int32 scratch."""
    pairs = cap * (cap - 1) // 2 + 1
    return (np.empty((cap, BLOCK2), _F), np.empty((cap, BLOCK2), _F),
            np.ones((cap, BLOCK2), _F), np.empty(cap, np.int32), np.empty(cap, np.int32),
            np.empty(pairs, np.int32), np.empty(pairs, np.int32))


@njit(parallel=True, cache=True, error_model="numpy")
def ht_aggregate(planes, my, mx, mn, limit, thr, rel, inv_var, exact, tab, win, starts,
                 ends, num, wsum):
    """Stage 1: hard-threshold every group and aggregate its blocks.

    Groups are the first ``min(mn, limit)`` blocks of the matches ``(my, mx, mn)`` in
    the planes (C, H, W), each block in the biorthogonal transform; thr[c, q] = lambda3d
    sqrt(v_cq), the threshold of 2-D coefficient q (all 3-D coefficients of that 2-D
    frequency), v_cq = sigma_c^2 rel[c, q] its noise variance, inv_var[c] = 1 /
    sigma_c^2; a group's weight is ``1 / sum(v_q)`` over the coefficients kept (white
    noise: ``1 / (sigma^2 N_kept)``). ``exact``: each 3-D coefficient's variance is also
    multiplied by its group's overlap factor (:func:`~imgops._shared.bm3d.overlap_variance`
    with the covariance table ``tab``), computed once per group for all channels.
    Chunk k takes reference rows ``starts[k]:ends[k]`` and adds into ``num`` and
    ``wsum`` (C, H, W): ``num`` gets the weighted, windowed blocks, ``wsum`` each block's
    weight at its origin (:func:`spread_divide` makes the denominator of it). The chunks
    of one call must not reach the same rows (see :func:`chunk_phases`).
    """
    C = num.shape[0]
    cap = my.shape[2]
    nrx = my.shape[1]
    for k in prange(starts.size):
        g = np.empty((cap, BLOCK2), _F)
        kwin = np.empty(BLOCK2, _F)
        kept = np.empty(BLOCK2, _F)
        vr, pacc, ones, ok, off, prow, poff = _variance_scratch(cap)
        for iy in range(starts[k], ends[k]):
            for ix in range(nrx):
                n = min(mn[iy, ix], limit)
                gy = my[iy, ix]
                gx = mx[iy, ix]
                if exact:
                    _overlap_variance(gy, gx, n, tab, vr, pacc, ok, off, prow, poff)
                for c in range(C):
                    # the chroma channels keep their 2-D coefficients' variances
                    vc = vr if exact and c == 0 else ones
                    plane = planes[c]
                    # two blocks at once (n is a power of two; a lone block is paired
                    # with itself)
                    for i in range(0, n, 2):
                        j = min(i + 1, n - 1)
                        fwd2_pair(BIOR, plane, gy[i], gx[i], g[i], plane, gy[j], gx[j],
                                  g[j])
                    haar_forward(g, n, 0, BLOCK2)
                    hard_threshold(g, n, 0, BLOCK2, thr[c], vc, kept)
                    haar_inverse(g, n, 0, BLOCK2)
                    w = inv_var[c] / kept_variance(kept, rel[c])
                    for q in range(BLOCK2):
                        kwin[q] = w * win[q]
                    nc = num[c]
                    wc = wsum[c]
                    for i in range(0, n, 2):  # a lone block (n = 1) is added once
                        j = min(i + 1, n - 1)
                        inv2_accumulate_pair(BIOR, g[i], g[j], kwin, nc, gy[i], gx[i],
                                             gy[j], gx[j], j > i)
                    for i in range(n):
                        wc[gy[i], gx[i]] += w


@njit(parallel=True, cache=True, error_model="numpy")
def wiener_aggregate(noisy, basic, my, mx, mn, limit, var, rel, inv_var, exact, tab, win,
                     starts, ends, num, wsum):
    """Stage 2: collaborative Wiener filtering of the groups of ``noisy`` with the same
    groups of ``basic`` (the first stage's estimate) as the oracle, both in the 2-D DCT;
    otherwise as :func:`ht_aggregate`; var[c, q]: the shrinkage's noise variance of 2-D
    coefficient q (:func:`~imgops._shared.bm3d.wiener_var` times rel[c, q]), rel[c, q]
    its noise variance relative to sigma_c^2 (1 for white noise), inv_var[c] = 1 /
    sigma_c^2; a group's weight is ``1 / sum(w^2 v_q)``; ``exact``, ``tab``: as there."""
    C = num.shape[0]
    cap = my.shape[2]
    nrx = my.shape[1]
    for k in prange(starts.size):
        gz = np.empty((cap, BLOCK2), _F)
        gb = np.empty((cap, BLOCK2), _F)
        kwin = np.empty(BLOCK2, _F)
        acc = np.empty(BLOCK2, _F)
        vr, pacc, ones, ok, off, prow, poff = _variance_scratch(cap)
        for iy in range(starts[k], ends[k]):
            for ix in range(nrx):
                n = min(mn[iy, ix], limit)
                gy = my[iy, ix]
                gx = mx[iy, ix]
                if exact:
                    _overlap_variance(gy, gx, n, tab, vr, pacc, ok, off, prow, poff)
                for c in range(C):
                    # the chroma channels keep their 2-D coefficients' variances
                    vc = vr if exact and c == 0 else ones
                    zc = noisy[c]
                    bc = basic[c]
                    for i in range(n):  # both blocks at once, one per vector half
                        fwd2_pair(DCT, zc, gy[i], gx[i], gz[i], bc, gy[i], gx[i], gb[i])
                    haar_forward(gz, n, 0, BLOCK2)
                    haar_forward(gb, n, 0, BLOCK2)
                    wiener_shrink(gb, gz, n, 0, BLOCK2, var[c], vc, acc)
                    haar_inverse(gz, n, 0, BLOCK2)
                    w = inv_var[c] / wiener_variance(acc, rel[c])
                    for q in range(BLOCK2):
                        kwin[q] = w * win[q]
                    nc = num[c]
                    wc = wsum[c]
                    for i in range(0, n, 2):  # a lone block (n = 1) is added once
                        j = min(i + 1, n - 1)
                        inv2_accumulate_pair(DCT, gz[i], gz[j], kwin, nc, gy[i], gx[i],
                                             gy[j], gx[j], j > i)
                    for i in range(n):
                        wc[gy[i], gx[i]] += w


@njit(parallel=True, cache=True, error_model="numpy")
def spread_divide(num, wsum, k, out):
    """out = num / den (``out`` may be ``num``), den[c, y, x] = sum_{u, v < 8} wsum[c,
    y - u, x - v] k[u] k[v]: the aggregation's denominator from the blocks' weights at
    their origins (the Kaiser window is separable), summed down the rows first, then
    along the row."""
    C, H, W = wsum.shape
    for cy in prange(C * H):
        c = cy // H
        y = cy - c * H
        t = np.zeros(W, _F)
        for u in range(min(BLOCK, y + 1)):
            src = wsum[c, y - u]
            ku = k[u]
            for x in range(W):
                t[x] += ku * src[x]
        den = np.zeros(W, _F)
        for v in range(BLOCK):
            kv = k[v]
            dst = den[v:]
            src = t[:W - v]
            for x in range(W - v):
                dst[x] += kv * src[x]
        o = out[c, y]
        nr = num[c, y]
        for x in range(W):
            o[x] = nr[x] / den[x]


@njit(parallel=True, cache=True, error_model="numpy")
def mix3(m, src, dst):
    """dst[i] = sum_j m[i, j] src[j] for three planes (C = 3, H, W): the colour transform
    (einsum took 2.5 ms for 512 x 512 here, this 0.1 ms; BLAS's threads would compete
    with Numba's)."""
    H = src.shape[1]
    for y in prange(H):
        a, b, c = src[0, y], src[1, y], src[2, y]
        for i in range(3):
            m0, m1, m2 = m[i, 0], m[i, 1], m[i, 2]
            o = dst[i, y]
            for x in range(a.size):
                o[x] = m0 * a[x] + m1 * b[x] + m2 * c[x]


# ----------------------------------------------------------------------------- driver
#: The aggregation's phases: chunk k of the reference rows adds into the image in phase
#: k mod PHASES, with the other chunks of its phase in parallel (see chunk_phases)
PHASES = 4


def chunk_phases(ys: np.ndarray, hw: int, H: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference rows ``ys`` cut into chunks, as PHASES phases of ``(starts, ends)``:
    chunk k in phase k mod PHASES. A chunk's blocks reach the rows ``ys[first] - hw`` to
    ``ys[last] + hw + 7``; the chunks are made just large enough that chunk k and chunk
    k + PHASES never reach the same row, so the chunks of one phase can add into the
    image in parallel. The cut depends on the image alone.

    With two phases a chunk had to span the whole reach (``2 hw + 8`` rows): a 128 x 128
    image had 2 chunks in the normal profile (one per phase: its aggregation ran on one
    thread) and 3 in the fast one; now 8 and 8 (256 x 256: 5 -> 16). Measured with 2
    threads, alternated in one process, median of 9: the normal profile on 128 x 128
    crops 1.47-1.53x faster, correlated noise on camera 128 1.11x and moon 256 1.07x,
    the blind default on a 512 x 512 PolyU crop (its pilot runs on 128 x 128 tiles)
    1.03x; 512 x 512 images 0.98-1.03x."""
    n = ys.size
    step = max(int(np.diff(ys).max()), 1) if n > 1 else 1  # the grid's step
    # chunks of m rows: chunk k + PHASES starts (PHASES - 1) m + 1 rows after chunk k's
    # last, which must be at least its reach (2 hw + 8 pixels) away
    reach = -(-(2 * hw + BLOCK) // step)
    m = max(1, -(-(reach - 1) // (PHASES - 1)))
    nchunk = max(1, n // m)
    while True:
        bounds = np.linspace(0, n, nchunk + 1).round().astype(np.int64)
        tops = np.maximum(ys[bounds[:-1]] - hw, 0)
        bottoms = np.minimum(ys[bounds[1:] - 1] + hw + BLOCK, H)
        if nchunk <= PHASES or np.all(bottoms[:-PHASES] <= tops[PHASES:]):
            break
        nchunk -= 1
    starts, ends = bounds[:-1], bounds[1:]
    return [(starts[i::PHASES].copy(), ends[i::PHASES].copy()) for i in range(PHASES)]


def _aggregate(kernel, args, ys, hw, k1, num, wsum):
    """Run an aggregation kernel over the chunks of reference rows, phase by phase
    (:func:`chunk_phases`), adding into ``num`` and ``wsum`` (zeroed here), and
    divide by the spread weights in place: returns ``num``. Every pixel gets its blocks
    in a fixed order (phase by phase, in order within a chunk), so the result depends
    neither on the thread schedule nor on the number of threads. Compared with a stripe
    of rows per chunk summed afterwards, this takes a third of the memory; on this
    machine, whose first touch of fresh memory is slow, the fast profile's colour runs
    were 10-15 % quicker."""
    num.fill(0.0)
    wsum.fill(0.0)
    for starts, ends in chunk_phases(ys, hw, num.shape[1]):
        if starts.size:
            kernel(*args, starts, ends, num, wsum)
    spread_divide(num, wsum, k1, num)
    return num


def _match(img, stage, tau, ys, xs):
    cap = stage.group
    my = np.empty((ys.size, xs.size, cap), np.int32)
    mx = np.empty((ys.size, xs.size, cap), np.int32)
    mn = np.empty((ys.size, xs.size), np.int32)
    match_pixels(img, ys, xs, stage.half_window, cap, ssd_limit(tau), my, mx, mn)
    return my, mx, mn


def bm3d_planes(planes: np.ndarray, sigmas: np.ndarray, p: Profile, scale: float,
                lambda_scale: np.ndarray | None = None, origin=(0, 0),
                rel_ht: np.ndarray | None = None,
                rel_wiener: np.ndarray | None = None,
                match_r: np.ndarray | None = None,
                tabs: tuple[np.ndarray, np.ndarray] = (TAB_BIOR, TAB_DCT)) -> np.ndarray:
    """Both BM3D stages on the channel stack ``planes`` (C, H, W), H, W >= 8, matched on
    channel 0; ``sigmas[c]`` per channel (the noise's standard deviation per pixel);
    ``scale`` = 255 / the data's nominal range (the thresholds tau are on the 0-255
    scale); ``lambda_scale[c]`` multiplies the hard threshold of channel c (default 1);
    ``origin``: the planes' first row and column in a larger image, whose reference grid
    is used (``ref_positions``); ``rel_ht``, ``rel_wiener`` (``(C, 64)``, default all 1:
    white noise): each 2-D coefficient's noise variance relative to ``sigmas[c]^2`` in
    the biorthogonal and the DCT transform (:func:`~imgops._shared.bm3d.shrinkage`);
    ``match_r``: the autocovariance of channel 0's noise when it is correlated (stage 1
    then matches on channel 0 whitened: :func:`~imgops._shared.bm3d.whiten`); ``tabs``:
    the tables of the groups' exact variances in stage 1 and 2 where ``p.exact``
    (:func:`~imgops._shared.bm3d.overlap_variance`; white noise's by default)."""
    C, H, W = planes.shape
    oy, ox = origin
    k1 = np.empty(BLOCK, _F)
    kaiser_1d(p.beta, k1)
    win = np.empty(BLOCK2, _F)
    kaiser_window(p.beta, win)
    sig = np.asarray(sigmas, _F)
    sh = shrinkage(p, sig, lambda_scale, rel_ht, rel_wiener)
    norm = 1.0 / (scale * scale)  # distances in the data's units
    m1, m2 = stage_plan(p)

    ys, xs = ref_positions(H, m1.step, oy), ref_positions(W, m1.step, ox)
    wh = None if match_r is None else Whitener(match_r, (H, W))
    match = planes[0] if wh is None else wh(planes[0], p.whiten_ht)
    tau1 = stage1_tau(p, norm, sig[0])
    levels = integer_levels(match) if wh is None else None
    if levels is not None:  # quantized data: exact distances (see integer_levels)
        match, unit = levels
        tau1 = integer_tau(tau1, unit)
    thr = sh.thr if levels is None else sh.thr * THRESHOLD_MARGIN
    my, mx, mn = _match(match, m1, tau1, ys, xs)
    wsum = np.empty(planes.shape, _F)  # both stages' weights
    basic = _aggregate(ht_aggregate, (planes, my, mx, mn, p.ht.group, thr, sh.rel_ht,
                                      sh.inv_var, p.exact, tabs[0], win), ys,
                       m1.half_window, k1,
                       np.empty(planes.shape, _F), wsum)
    if p.rematch:
        ys, xs = ref_positions(H, m2.step, oy), ref_positions(W, m2.step, ox)
        match = basic[0] if wh is None else wh(basic[0], p.whiten_wiener)
        my, mx, mn = _match(match, m2, m2.tau * norm, ys, xs)
    return _aggregate(wiener_aggregate, (planes, basic, my, mx, mn, p.wiener.group,
                                         sh.var_wiener, sh.rel_wiener, sh.inv_var,
                                         p.exact and p.exact_wiener,
                                         tabs[1], win),
                      ys, m2.half_window, k1, np.empty(planes.shape, _F), wsum)


def fill_nonfinite(planes: np.ndarray, bad: np.ndarray, passes: int = 8) -> None:
    """Fill the non-finite samples of ``planes`` (C, H, W) in place: each pass gives every
    missing sample with a finite 8-neighbour the mean of those neighbours; what remains
    after ``passes`` takes its channel's finite mean (0 if none)."""
    C, H, W = planes.shape
    for c in range(C):
        miss = bad[c].copy()
        if not miss.any():
            continue
        p = planes[c]
        ok = ~miss
        p[miss] = 0.0
        for _ in range(passes):
            if not miss.any():
                break
            val = np.pad(np.where(ok, p, 0.0), 1)
            cnt = np.pad(ok.astype(_F), 1)
            s = np.zeros((H, W), _F)
            n = np.zeros((H, W), _F)
            for dy in range(3):
                for dx in range(3):
                    s += val[dy:dy + H, dx:dx + W]
                    n += cnt[dy:dy + H, dx:dx + W]
            new = miss & (n > 0)
            p[new] = s[new] / n[new]
            ok |= new
            miss &= ~new
        if miss.any():
            p[miss] = p[ok].mean() if ok.any() else 0.0


def measured_range(images: np.ndarray) -> float:
    """The nominal range of the float images ``(N, H, W, C)`` (float32, as the driver
    sees them): :func:`~imgops._shared.bm3d.data_range_of` of the pseudo-medians of
    the 3 x 3 windows at the sites :func:`~imgops._shared.bm3d.range_grid` picks in
    every image and channel."""
    n, h, w, c = images.shape
    grid = range_grid(n, h, w, c)
    windows = [images[:, ry, rx, :] for ry, rx in range_windows(*grid)]
    return data_range_of(site_values(windows), lambda: finite_max_abs(images))


def bm3d_hwc(image: np.ndarray, sigma: float, profile: str, noise=None) -> np.ndarray:
    """BM3D (CBM3D for three channels) of a float32 ``(H, W, C)`` image.

    Parameters
    ----------
    image : ndarray
        float32, C-contiguous, shaped ``(H, W, C)``, any ``C >= 1``, values in the
        image's own units (0-255 for data that came from uint8).
    sigma : float
        Standard deviation of the white Gaussian noise, in the image's units (> 0); not
        read when `noise` is given.
    profile : {"normal", "fast"}
    noise : ndarray, optional
        The noise's covariance between the channels on the lags -16..16
        (:mod:`imgops._shared.bm3d`'s ``acf``: ``acf[c, d, 16 + dy, 16 + dx] = E[n_c(y,
        x) n_d(y + dy, x + dx)]``), ``(C, C, 33, 33)`` or ``(1, 1, 33, 33)`` (the same in
        every channel, the channels independent), float64, in the image's units squared
        (``psd_acf`` of a PSD, ``dct_cov_acf`` of ``imgops._noise.NoiseModel.cov``):
        correlated noise, or noise that differs between channels.

    Returns
    -------
    ndarray
        float32 ``(H, W, C)``; non-finite exactly where the input is.

    Notes
    -----
    The matching thresholds ``tau_match`` and the switch to the large-noise parameters
    (``sigma > 40``) are defined on the 0-255 scale; :func:`bm3d_hwc_range` takes the
    data's nominal range for other units (``bm3d_hwc`` is it with 255).
    """
    return bm3d_hwc_range(image, sigma, profile, 255.0, noise=noise)


def bm3d_hwc_range(image: np.ndarray, sigma: float, profile: str,
                   data_range: float, origin=(0, 0), noise=None,
                   extent=None) -> np.ndarray:
    """:func:`bm3d_hwc` for data whose nominal range is ``data_range`` (the public
    function's: the integer dtype's maximum, or :func:`measured_range` for float
    images): tau_match scales with its square, the large-noise switch with it.
    ``origin``: the image's first row and column in a larger one (a chunk's), whose
    reference grid is used. ``noise``: as :func:`bm3d_hwc`'s; the large-noise switch
    then reads the noise's level (:func:`~imgops._shared.bm3d.noise_level`: the root
    mean per-pixel variance over the channels for colour, each channel's own
    otherwise), and a noiseless channel comes back as it is. ``extent``: the larger
    image's (height, width), whose size picks the parameters (``profile_params``);
    None: this image's."""
    image = np.ascontiguousarray(image, dtype=_F)
    if image.ndim != 3 or min(image.shape) < 1:
        raise ValueError(f"image must be (H, W, C) with H, W, C >= 1; got {image.shape}")
    H, W, C = image.shape
    sigma, noise = resolve_noise(sigma, noise, C)
    if sigma == 0.0:
        return image.copy()
    data_range = float(data_range)
    if not math.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be finite and > 0; got {data_range}")
    scale = 255.0 / data_range
    pixels = math.prod(extent or (H, W))
    planes = image.transpose(2, 0, 1).copy()  # a copy always: the fill works in place
    bad = ~np.isfinite(planes)
    has_bad = bool(bad.any())
    if has_bad:
        fill_nonfinite(planes, bad)
    ph, pw = max(H, BLOCK), max(W, BLOCK)
    if (ph, pw) != (H, W):
        planes = np.pad(planes, ((0, 0), (0, ph - H), (0, pw - W)), mode="symmetric")
    if C == 3:
        p, sig, rel_ht, rel_wiener, match, tabs = channel_noise(noise, sigma, scale,
                                                                profile, OPP, True, pixels)
        opp = np.empty(planes.shape, _F)
        mix3(OPP.astype(_F), planes, opp)
        est = bm3d_planes(opp, sig, p, scale, colour_lambda(p), origin, rel_ht, rel_wiener,
                          match, tabs)
        out = np.empty(est.shape, _F)
        mix3(OPP_INV.astype(_F), est, out)
    else:
        out = np.empty(planes.shape, _F)
        for c in range(C):
            p, sig, rel_ht, rel_wiener, match, tabs = channel_noise(
                noise, sigma, scale, profile, np.eye(C)[c:c + 1], False, pixels)
            if sig[0] == 0.0:  # a noiseless channel: as it is
                out[c] = planes[c]
                continue
            out[c] = bm3d_planes(planes[c:c + 1], sig, p, scale, origin=origin,
                                 rel_ht=rel_ht, rel_wiener=rel_wiener, match_r=match,
                                 tabs=tabs)[0]
    out = np.ascontiguousarray(out[:, :H, :W].transpose(1, 2, 0))
    if has_bad:
        badhwc = bad.transpose(1, 2, 0)
        out[badhwc] = image[badhwc]
    return out


def prime() -> None:
    """Compile (or load) the aggregation kernels, Wiener stage first, and the layout's
    scatter to 8- and 16-bit results, on a tiny image with the driver's own argument
    types, without running block matching or the column transforms. A second process
    runs this while the first, cold, compiles those: the first then loads these from
    Numba's cache instead of compiling them itself (the command line does this on a cold
    cache; ``tests/test_bm3d_kernels.py`` checks that the signatures are the ones a real
    call needs)."""
    H = W = 2 * BLOCK
    p = profile_params(25.0, "fast")
    m1, m2 = stage_plan(p)
    k1 = np.empty(BLOCK, _F)
    kaiser_1d(p.beta, k1)
    win = np.empty(BLOCK2, _F)
    kaiser_window(p.beta, win)
    one = np.ones(1, _F)  # sigma-derived per-channel arrays: 1 / var
    ones = np.ones((1, BLOCK2), _F)  # per coefficient: thresholds, variances
    planes = np.zeros((1, H, W), _F)
    for wiener, stage in ((True, m2), (False, m1)):  # Wiener's first: a cold run's last
        ys, xs = ref_positions(H, stage.step), ref_positions(W, stage.step)
        shape = (ys.size, xs.size, max(p.ht.group, p.wiener.group))
        my = np.broadcast_to(ys.astype(np.int32)[:, None, None], shape).copy()
        mx = np.broadcast_to(xs.astype(np.int32)[None, :, None], shape).copy()
        mn = np.ones(shape[:2], np.int32)  # each reference matched to itself
        if wiener:
            kernel, args = wiener_aggregate, (planes, planes, my, mx, mn, p.wiener.group,
                                              ones, ones, one, p.exact, TAB_DCT, win)
        else:
            kernel, args = ht_aggregate, (planes, my, mx, mn, p.ht.group, ones, ones, one,
                                          p.exact, TAB_BIOR, win)
        _aggregate(kernel, args, ys, stage.half_window, k1, np.empty((1, H, W), _F),
                   np.empty((1, H, W), _F))
        if wiener:  # then the results of 8- and 16-bit images (the layout's scatter to
            # them), which a cold run reaches after its last stage
            from . import engine

            for dt in (np.uint8, np.uint16):
                engine.restore(planes, np.empty((H, W), dt), np.dtype(dt))
