"""A NumPy model of gray BM3D, to test why imgops trails the ``bm3d`` package on small
crops of smooth content (see docs/benchmarks.rst, "Small crops and smooth content").

    python benchmarks/bm3d_variance_model.py cell,moon 15,25      # images, sigmas

Both stages as imgops's normal profile runs them (8x8 blocks, reference step 3, 39x39
search window, 16 / 32 blocks, tau 3000 / 400, biorthogonal 1.5 then DCT, Haar along the
group, Kaiser beta 2), in two variants:

- plain: every 3-D coefficient's noise variance sigma^2 (BM3D's papers, and imgops);
- exact: the variance of each coefficient (k along the group, m in the block) of the
  group actually formed: blocks that overlap share pixels, so their white noise is
  correlated, and the pair (i, j) at offset d adds ``H[k, i] H[k, j] A_m(d)``, with
  ``A_m(d) = sum_x b_m(x) b_m(x + d)`` the autocorrelation of basis function m (Mäkinen,
  Azzari, Foi, IEEE TIP 2020, for any stationary noise; here white).

With the exact variances, lambda 3.0 and the Wiener regularization mu^2 0.4 (the
package's white-noise values), the model matches the package where imgops trails it.
Slow (pure NumPy, a few seconds per 64x64 crop): crops of 64 and 128 px. Prints PSNR
(dB) per case: the package, imgops, the model plain (lambda 2.7, mu^2 1) and exact.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.fft import dct

from imgops._shared.bm3d import BIOR15, BIOR15_INV

B = 8
KAISER = np.outer(np.kaiser(B, 2.0), np.kaiser(B, 2.0))


def _haar(n: int) -> np.ndarray:
    """The orthonormal Haar transform of length n (a power of two), rows coarse first."""
    if n == 1:
        return np.ones((1, 1))
    h = _haar(n // 2)
    return np.vstack([np.kron(h, [1, 1]), np.kron(np.eye(n // 2), [1, -1])]) / np.sqrt(2)


HAAR = {n: _haar(n) for n in (1, 2, 4, 8, 16, 32)}


def _autocorrelation(t2: np.ndarray) -> np.ndarray:
    """(64, 15, 15): each 2-D basis function's autocorrelation at offsets -7..7."""
    basis = t2.reshape(64, B, B)
    ac = np.zeros((64, 2 * B - 1, 2 * B - 1))
    for dy in range(1 - B, B):
        for dx in range(1 - B, B):
            a = basis[:, max(0, dy):B + min(0, dy), max(0, dx):B + min(0, dx)]
            b = basis[:, max(0, -dy):B + min(0, -dy), max(0, -dx):B + min(0, -dx)]
            ac[:, dy + B - 1, dx + B - 1] = (a * b).sum(axis=(1, 2))
    return ac


D8 = dct(np.eye(B), norm="ortho", axis=0)
STAGES = {  # forward 2-D transform (64 x 64 on row-major blocks), its inverse, autocorr.
    "ht": (np.kron(BIOR15, BIOR15), np.kron(BIOR15_INV, BIOR15_INV)),
    "wiener": (np.kron(D8, D8), np.kron(D8, D8).T),
}
AC = {k: _autocorrelation(t) for k, (t, _) in STAGES.items()}


def _refs(n: int, step: int = 3) -> list[int]:
    r = list(range(0, n - B + 1, step))
    return r if r[-1] == n - B else r + [n - B]


def _groups(match: np.ndarray, tau: float, cap: int, hw: int = 19):
    """Each reference block's group: (ys, xs) of up to ``cap`` nearest blocks (a power of
    two) within ``tau`` of it on ``match`` (distances |difference|^2 / 64)."""
    h, w = match.shape
    blocks = np.lib.stride_tricks.sliding_window_view(match, (B, B))
    for y in _refs(h):
        for x in _refs(w):
            y0, y1, x0, x1 = max(0, y - hw), min(h - B, y + hw), max(0, x - hw), min(w - B, x + hw)
            d = ((blocks[y0:y1 + 1, x0:x1 + 1] - blocks[y, x]) ** 2).mean(axis=(2, 3)).ravel()
            ys, xs = np.divmod(np.arange(d.size), x1 - x0 + 1)
            order = np.lexsort((np.arange(d.size), d))
            ok = order[d[order] <= tau][:cap]
            ok = ok[:1 << (len(ok).bit_length() - 1)]
            yield ys[ok] + y0, xs[ok] + x0


def _variance(ys, xs, stage: str, exact: bool) -> np.ndarray:
    """(n, 64) noise variances of the group's 3-D coefficients, in units of sigma^2."""
    n = len(ys)
    if not exact:
        return np.ones((n, 64))
    dy, dx = ys[:, None] - ys[None, :], xs[:, None] - xs[None, :]
    i, j = np.nonzero((np.abs(dy) < B) & (np.abs(dx) < B))
    hh = HAAR[n][:, i] * HAAR[n][:, j]
    return np.maximum(hh @ AC[stage][:, dy[i, j] + B - 1, dx[i, j] + B - 1].T, 1e-6)


def _aggregate(shape, groups, filt):
    num, den = np.zeros(shape), np.zeros(shape)
    for ys, xs in groups:
        blocks, weight = filt(ys, xs)
        for y, x, blk in zip(ys, xs, blocks, strict=True):
            num[y:y + B, x:x + B] += weight * KAISER * blk.reshape(B, B)
            den[y:y + B, x:x + B] += weight * KAISER
    return num / den


def bm3d_model(z: np.ndarray, sigma: float, *, lam: float = 2.7, mu2: float = 1.0,
               exact: bool = False) -> np.ndarray:
    """Both stages on the float64 gray image ``z`` (0-255 scale)."""
    t_ht, ti_ht = STAGES["ht"]
    t_w, ti_w = STAGES["wiener"]
    zb = np.lib.stride_tricks.sliding_window_view(z, (B, B))

    def hard(ys, xs):
        n = len(ys)
        c = HAAR[n] @ (zb[ys, xs].reshape(n, 64) @ t_ht.T)
        var = sigma ** 2 * _variance(ys, xs, "ht", exact)
        keep = np.abs(c) > lam * np.sqrt(var)
        return (HAAR[n].T @ (c * keep)) @ ti_ht.T, 1.0 / max((var * keep).sum(), sigma ** 2)

    basic = _aggregate(z.shape, _groups(z, max(3000.0, 3 * sigma ** 2), 16), hard)
    bb = np.lib.stride_tricks.sliding_window_view(basic, (B, B))

    def wiener(ys, xs):
        n = len(ys)
        cz = HAAR[n] @ (zb[ys, xs].reshape(n, 64) @ t_w.T)
        cb = HAAR[n] @ (bb[ys, xs].reshape(n, 64) @ t_w.T)
        var = sigma ** 2 * _variance(ys, xs, "wiener", exact)
        w = cb ** 2 / (cb ** 2 + mu2 * var)
        return (HAAR[n].T @ (w * cz)) @ ti_w.T, 1.0 / max((w * w * var).sum(), 1e-12)

    return _aggregate(z.shape, _groups(basic, 400.0, 32), wiener)


def main() -> None:
    import bm3d
    from bm3d_small import crop, noisy_uint8, psnr

    import imgops

    images = sys.argv[1].split(",") if len(sys.argv) > 1 else ["cell", "moon"]
    sigmas = [float(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else [15, 25]
    print("| image | size | sigma | package | imgops | model plain | model exact |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in images:
        for size in (64, 128):
            clean = crop(name, size)
            if clean is None or clean.ndim != 2:
                continue
            for sigma in sigmas:
                z8 = noisy_uint8(clean, sigma)
                z = z8.astype(np.float64)
                row = [psnr(255 * bm3d.bm3d(z / 255, sigma / 255), clean),
                       psnr(imgops.bm3d(z8, sigma), clean),
                       psnr(bm3d_model(z, sigma), clean),
                       psnr(bm3d_model(z, sigma, lam=3.0, mu2=0.4, exact=True), clean)]
                print(f"| {name} | {size} | {sigma:g} | " + " | ".join(f"{v:.2f}" for v in row)
                      + " |", flush=True)


if __name__ == "__main__":
    main()
