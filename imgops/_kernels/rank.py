"""Rank (median) engine, exact, in the image's own dtype.

Five algorithms, chosen by window and dtype:
- 3x3: each column's three samples sorted once per row, then the median of nine from
  the sorted triples (max of lows, median of middles, min of highs) (``median3_hwc``).
- 5x5: the pruned selection network unrolled into straight-line code on 25 scalars,
  vectorised over x, values kept in registers (``median_nets.median5_hwc``, generated
  by ``network_source``).
- other windows up to 7x7 (6x6 for uint8): the same networks applied step by step to
  row tiles (``selection_network`` / ``median_network_hwc``), vectorised over x.
- uint8, windows of 7x7 and more: Huang's sliding histogram, O(k) per pixel.
- otherwise: gather the window and select (quickselect).
The first three run fused on the caller's (N, H, W*C) layout; the others on padded
``(P, H + k - 1, W + k - 1)`` plane stacks.
A window holding NaN gives NaN.
"""

import functools
from types import SimpleNamespace

import numpy as np
from numba import njit, prange

from .border import map_index, sample


@njit(inline="always", cache=True)
def _sort3(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b, c = c, b
    if a > b:
        a, b = b, a
    return a, b, c


@njit(inline="always", cache=True)
def _med3(a, b, c):
    return max(min(a, b), min(max(a, b), c))


@njit(inline="always", cache=True)
def _select(a, n, r):
    """The r-th smallest of a[:n] (a is reordered)."""
    lo = 0
    hi = n - 1
    while hi > lo:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if r <= j:
            hi = j
        elif r >= i:
            lo = i
        else:
            break
    return a[r]


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
                orow[x] = _select(win, n, r)


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


def selection_network(n: int, rank: int) -> np.ndarray:
    """Compare-exchange steps that leave the rank-th smallest of n values at ``rank``.

    Batcher's odd-even merge sort on the next power of two (steps reaching past n
    dropped: those slots hold +inf), pruned backwards to the steps the output
    depends on. Rows are (i, j, what): what 0 = both min->i and max->j, 1 = only
    min->i needed, 2 = only max->j needed.
    """
    size = 1
    while size < n:
        size *= 2
    steps = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        a, b = i + j, i + j + k
                        if b < n:
                            steps.append((a, b))
            k //= 2
        p *= 2
    needed = {rank}
    kept = []
    for a, b in reversed(steps):
        na, nb = a in needed, b in needed
        if na or nb:
            kept.append((a, b, 0 if na and nb else 1 if na else 2))
            needed |= {a, b}
    return np.array(kept[::-1], dtype=np.int64).reshape(-1, 3)


CUDA_LOCAL = 121  # windows up to 11x11 are selected in per-thread local memory


@functools.cache
def cuda_kernels() -> SimpleNamespace:
    """CUDA twin: one thread per pixel gathers its window (through the shared border rule)
    and selects with the shared quickselect; larger windows count ranks instead."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda, float64

    @cuda.jit
    def median(src, k, mode, cval, out):
        x, y, p = cuda.grid(3)
        P, H, W = out.shape
        if x < W and y < H and p < P:
            n = k * k
            r = n // 2
            h = k // 2
            bad = False
            if n <= CUDA_LOCAL:
                win = cuda.local.array(CUDA_LOCAL, float64)
                m = 0
                for i in range(k):
                    for j in range(k):
                        v = sample(src, p, y + i - h, x + j - h, mode, cval)
                        bad |= v != v
                        win[m] = v
                        m += 1
                res = _select(win, n, r)
            else:  # rank by counting: the value with r smaller and more than r not larger
                res = 0.0
                for a in range(n):
                    va = sample(src, p, y + a // k - h, x + a % k - h, mode, cval)
                    bad |= va != va
                    less = 0
                    leq = 0
                    for b in range(n):
                        vb = sample(src, p, y + b // k - h, x + b % k - h, mode, cval)
                        less += vb < va
                        leq += vb <= va
                    if less <= r and r < leq:
                        res = va
            out[p, y, x] = res
            if bad:
                out[p, y, x] = np.nan

    return SimpleNamespace(median=median)


@functools.cache
def cuda_tiled(dtype_name: str) -> SimpleNamespace:
    """Shared-memory tiled median for windows up to CUDA_LOCAL samples (``border.RPT``
    rows per thread): 3x3 and 5x5 through the generated scalar networks (registers),
    the others by quickselect on a per-thread copy of the window."""
    global cuda  # module global: the simulator swaps it inside kernels
    from numba import cuda, types

    from .border import RPT, cuda_tile
    from .median_nets import median3_at, median5_at

    T = getattr(types, dtype_name)
    load_tile = cuda_tile()

    @cuda.jit
    def median(src, k, mode, cval, out):
        P, H, W = out.shape
        TH = cuda.blockDim.y * RPT
        TC = cuda.blockDim.x + k - 1
        TR = TH + k - 1
        x0 = cuda.blockIdx.x * cuda.blockDim.x
        y0 = cuda.blockIdx.y * TH
        p = cuda.blockIdx.z
        h = k // 2
        tile = cuda.shared.array(0, T)
        load_tile(src, p, y0 - h, x0 - h, TR, TC, mode, cval, tile)
        cuda.syncthreads()
        win = cuda.local.array(CUDA_LOCAL, T)
        n = k * k
        x = x0 + cuda.threadIdx.x
        for q in range(RPT):
            r = cuda.threadIdx.y + q * cuda.blockDim.y
            base = r * TC + cuda.threadIdx.x
            if k == 3:
                res, bad = median3_at(tile, base, TC)
            elif k == 5:
                res, bad = median5_at(tile, base, TC)
            else:
                bad = False
                for i in range(k):
                    for j in range(k):
                        v = tile[base + i * TC + j]
                        bad |= v != v
                        win[i * k + j] = v
                res = _select(win, n, n // 2)
            if x < W and y0 + r < H:
                out[p, y0 + r, x] = res
                if bad:
                    out[p, y0 + r, x] = np.nan

    return SimpleNamespace(median=median)


@njit(inline="always", cache=True)
def _extended_rows(src, n, y, k, C, mode, cval, rows):
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
            _extended_rows(src, n, y, 3, C, mode, cval, rows)
            r0 = rows[0]
            r1 = rows[1]
            r2 = rows[2]
            for i in range(E):
                a, b, c = _sort3(r0[i], r1[i], r2[i])
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
                a, b, c = _sort3(r0[i], r1[i], r2[i])
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
            b = _med3(m0[i], m1[i], m2[i])
            c = min(min(h0[i], h1[i]), h2[i])
            orow[i] = _med3(a, b, c)
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
        _extended_rows(src, n, y, k, C, mode, cval, rows)
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


# ----------------------------------------------------------------------------- unrolled
UNROLLED = (5,)  # windows whose networks are generated as straight-line code
SCALAR_NETS = (3, 5)  # ... and as scalar functions (the CUDA kernels' per-thread median)


def _network_lines(net, n: int, indent: str, bad: str) -> list[str]:
    """Straight-line code on scalars v0 .. v(n-1): ``bad`` = any of them NaN, then the
    network's compare-exchanges (both outputs, or only the min or max one kept)."""
    lines = [f"{indent}{bad} = (v0 != v0)"]
    lines += [f"{indent}{bad} |= (v{e} != v{e})" for e in range(1, n)]
    for a, b, what in net:
        if what == 0:
            lines.append(f"{indent}v{a}, v{b} = min(v{a}, v{b}), max(v{a}, v{b})")
        elif what == 1:
            lines.append(f"{indent}v{a} = min(v{a}, v{b})")
        else:
            lines.append(f"{indent}v{b} = max(v{a}, v{b})")
    return lines


def network_source(sizes=UNROLLED, scalar_sizes=SCALAR_NETS) -> str:
    """Source of ``median_nets.py``: per k, a fused k x k median whose selection network is
    unrolled into straight-line compare-exchanges on k*k scalars, inside a loop over x
    that LLVM vectorises. The values stay in registers for the whole network; the tiled
    ``median_network_hwc`` loads and stores two rows per step instead (memory-bound,
    2-3x slower for 5x5). Regenerate with ``python -m imgops._kernels.rank``.
    """
    out = ['"""Generated by ``python -m imgops._kernels.rank`` (``rank.network_source``).',
           "", "Do not edit: tests/test_filters.py checks this file against the generator.",
           '"""', "", "import numpy as np", "from numba import njit, prange", "",
           "from .rank import _extended_rows", ""]
    for k in sizes:
        n = k * k
        r = n // 2
        net = selection_network(n, r)
        out += ["", "@njit(parallel=True, cache=True)",
                f"def median{k}_hwc(src, C, mode, cval, out):",
                f'    """Exact {k}x{k} median on (N, H, W*C) rows ({len(net)} compare-exchanges '
                'per sample)."""',
                "    N, H, L = src.shape",
                "    for job in prange(N * H):",
                "        n = job // H",
                "        y = job - n * H",
                f"        rows = np.empty(({k}, (L // C + {k - 1}) * C), dtype=src.dtype)",
                f"        _extended_rows(src, n, y, {k}, C, mode, cval, rows)",
                "        bad = np.empty(L, dtype=np.bool_)",
                "        orow = out[n, y]"]
        for i in range(k):
            for j in range(k):
                out.append(f"        s{i * k + j} = rows[{i}, {j} * C:{j} * C + L]")
        out += ["        for x in range(L):"]
        for e in range(n):
            out.append(f"            v{e} = s{e}[x]")
        out += _network_lines(net, n, " " * 12, "bad[x]")
        out += [f"            orow[x] = v{r}",
                "        for x in range(L):",
                "            if bad[x]:",
                "                orow[x] = np.nan  # only reachable for floats", ""]
    for k in scalar_sizes:
        n = k * k
        r = n // 2
        net = selection_network(n, r)
        out += ["", "@njit(inline=\"always\", cache=True)",
                f"def median{k}_at(a, i0, stride):",
                f'    """(median, NaN seen) of the {k}x{k} window a[i0 + i * stride + j] of a',
                f'    flat array ({len(net)} compare-exchanges on scalars)."""']
        for i in range(k):
            for j in range(k):
                out.append(f"    v{i * k + j} = a[i0 + {i} * stride + {j}]")
        out += _network_lines(net, n, " " * 4, "bad")
        out += [f"    return v{r}, bad", ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name("median_nets.py").write_text(network_source())
