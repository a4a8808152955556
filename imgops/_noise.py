"""Noise models estimated from a single image: frequency-, channel- and intensity-dependent.

:class:`NoiseModel` describes an image's noise as a transform-domain denoiser needs it:
the noise's covariance in each coefficient of the 8x8 orthonormal DCT-II (and between
channels), how its level changes with intensity, and, where it applies, a
Poisson-Gaussian law ``var(y) = a y + b``. :func:`estimate_noise_model` estimates one
from a single noisy image. Host-side NumPy only.

The estimator follows the line of Ponomarenko et al. [1]_ (DCT of blocks; the blocks of
least energy carry the noise), Colom and Buades [2]_ (intensity bins, an estimate per
frequency) and Lebrun, Colom and Morel [3]_ (frequency-dependent noise of real,
processed images); the Poisson-Gaussian fit is that of Foi et al. [4]_ in its simplest
form. It was written from the papers; no code of theirs was used.

References
----------
.. [1] N. Ponomarenko, V. Lukin, M. Zriakhov, A. Kaarna, J. Astola, "An automatic
   approach to lossy compression of AVIRIS images", IGARSS 2007.
.. [2] M. Colom, A. Buades, "Analysis and extension of the Ponomarenko et al. method,
   estimating a noise curve from a single image", Image Processing On Line 3, 2013.
.. [3] M. Lebrun, M. Colom, J.-M. Morel, "Multiscale image blind denoising", IEEE
   Trans. Image Process. 24(10), 2015.
.. [4] A. Foi, M. Trimeche, V. Katkovnik, K. Egiazarian, "Practical Poissonian-Gaussian
   noise modeling and fitting for single-image raw-data", IEEE Trans. Image Process.
   17(10), 2008.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["KINDS", "MODELS", "NoiseModel", "estimate_noise_model"]

KINDS = ("white", "correlated", "poisson_gaussian")
MODELS = ("auto", *KINDS)
_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)

BLOCK = 8
#: The coefficients with u + v below MIN_FREQ are extrapolated from the others, at most
#: EXTRAPOLATION_CAP times the largest variance of the band u + v = MIN_FREQ.
MIN_FREQ = 3
EXTRAPOLATION_CAP = 4.0
#: The most blocks read from one image (a stride-4 grid of 8x8 blocks, evenly thinned
#: where it would hold more): bounds time and memory on large images.
MAX_BLOCKS = 4096
#: Blocks per intensity bin (at least); at most this many bins.
BIN_BLOCKS, MAX_BINS = 384, 8
#: The gate keeps the blocks whose noise-normalized energy is below this quantile of its
#: distribution under the current model (pure noise) ...
GATE_QUANTILE = 0.99
#: ... and at least this fraction of each bin's blocks (its lowest-energy ones).
MIN_FRACTION = 0.03
#: ... and at least this fraction of all blocks: JPEG leaves flat areas without noise,
#: and the quietest blocks alone would read zero.
MIN_GLOBAL = 0.25
#: In the gate each coefficient's channel covariance gets this fraction of the mean
#: variance added to its diagonal, so that coefficients or channel directions that hold
#: almost no noise (quantized by JPEG) do not decide alone.
GATE_FLOOR = 0.1
ITERATIONS = 10
#: The iteration stops when no normalized variance or gain changes by more than this.
TOLERANCE = 2e-3
#: Within the kept blocks each coefficient's outliers (edges, shading) are left out: the
#: products whose channel-Mahalanobis norm exceeds this chi-square quantile.
COEF_QUANTILE = 0.995
#: "auto": the spectrum is white when the low band's level (u + v <= 3) is within this
#: factor of the high band's (u + v >= 8) ...
FLAT_RATIO = 1.8
#: ... and Poisson-Gaussian when, besides, the variance grows linearly with intensity by
#: at least this fraction across the levels and the line fits within REL_RESIDUAL.
PG_SLOPE, PG_RESIDUAL = 0.3, 0.2
#: ... and the line's variance at the darkest level is at least this fraction of the mean.
PG_FLOOR = 0.05


def _dct_matrix(n: int = BLOCK) -> np.ndarray:
    """The orthonormal DCT-II matrix ``D[u, x]``."""
    x = np.arange(n)
    d = np.cos(np.pi * (2 * x[None, :] + 1) * x[:, None] / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


_FREQ = np.add.outer(np.arange(BLOCK), np.arange(BLOCK))  # u + v


@dataclass(frozen=True, eq=False)
class NoiseModel:
    """An image's noise: per-frequency, per-channel covariance and its intensity law.

    Parameters
    ----------
    kind : {"white", "correlated", "poisson_gaussian"}
        ``"white"``: a flat spectrum (the same variance in every DCT coefficient);
        ``"correlated"``: a spectrum that is not flat (spatially correlated noise);
        ``"poisson_gaussian"``: a flat spectrum whose variance follows
        ``var(y) = a y + b`` with the intensity ``y``. All kinds may have a level that
        changes with intensity (`levels`, `gain`).
    cov : array_like
        Float array shaped ``(C, C, 8, 8)``: ``cov[c, d, u, v]`` is the covariance of
        channels ``c`` and ``d`` in the coefficient ``(u, v)`` (``u`` vertical, ``v``
        horizontal frequency) of the orthonormal 2-D DCT-II of an 8x8 block, at the
        reference intensity (where the gain is 1), in the image's units squared. An
        ``(8, 8)`` array is taken as one channel's variances. The variance of any
        linear combination ``M`` of the channels follows:
        ``var_i(q) = sum_cd M[i, c] M[i, d] cov[c, d, q]``.
    levels, gain : array_like, optional
        The noise level function: at the intensity ``levels[k]`` the noise's standard
        deviation is ``gain[k]`` times that of `cov`; linear between levels, constant
        outside. Same length, at least 1; `levels` strictly increasing, `gain` >= 0.
        Default: ``[0]`` and ``[1]`` (noise independent of intensity).
    a, b : float or None, optional
        A Poisson-Gaussian law ``var(y) = a y + b`` in the image's units, both given or
        both None (default).

    Raises
    ------
    ValueError
        If a field has the wrong shape, is not finite, or is out of range (negative
        variances, a covariance beyond the variances' product, levels not increasing).
    """

    kind: str
    cov: np.ndarray
    levels: np.ndarray = None  # type: ignore[assignment]
    gain: np.ndarray = None  # type: ignore[assignment]
    a: float | None = None
    b: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}; got {self.kind!r}")
        cov = np.array(self.cov, dtype=np.float64)
        if cov.shape == (BLOCK, BLOCK):
            cov = cov.reshape(1, 1, BLOCK, BLOCK)
        if cov.ndim != 4 or cov.shape[0] != cov.shape[1] or cov.shape[2:] != (BLOCK, BLOCK) \
                or cov.shape[0] == 0:
            raise ValueError(f"cov must be shaped (C, C, 8, 8); got {cov.shape}")
        if not np.isfinite(cov).all():
            raise ValueError("cov must be finite")
        var = np.einsum("ccuv->cuv", cov)
        if (var < 0).any():
            raise ValueError("cov holds negative variances")
        scale = max(float(var.max()), np.finfo(float).tiny)
        if np.abs(cov - cov.transpose(1, 0, 2, 3)).max() > 1e-9 * scale:
            raise ValueError("cov must be symmetric in its channel axes")
        bound = np.sqrt(var[:, None] * var[None, :])
        if (np.abs(cov) > bound * (1 + 1e-6) + 1e-12 * scale).any():
            raise ValueError("cov holds a covariance larger than its variances allow")
        levels = np.array([0.0] if self.levels is None else self.levels, dtype=np.float64)
        gain = np.array([1.0] if self.gain is None else self.gain, dtype=np.float64)
        if levels.ndim != 1 or gain.shape != levels.shape or levels.size == 0:
            raise ValueError("levels and gain must be 1-D of the same length, at least 1; "
                             f"got {levels.shape} and {gain.shape}")
        if not (np.isfinite(levels).all() and np.isfinite(gain).all()):
            raise ValueError("levels and gain must be finite")
        if (np.diff(levels) <= 0).any():
            raise ValueError("levels must be strictly increasing")
        if (gain < 0).any():
            raise ValueError("gain must be >= 0")
        if (self.a is None) != (self.b is None):
            raise ValueError("a and b are given together or not at all")
        for name in ("a", "b"):
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float, np.floating,
                                                             np.integer)):
                    raise ValueError(f"{name} must be a real number or None; got {v!r}")
                if not math.isfinite(v):
                    raise ValueError(f"{name} must be finite; got {v!r}")
                object.__setattr__(self, name, float(v))
        for name, arr in (("cov", cov), ("levels", levels), ("gain", gain)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def channels(self) -> int:
        """The number of channels ``C``."""
        return self.cov.shape[0]

    @property
    def variances(self) -> np.ndarray:
        """Each channel's variance per DCT coefficient, shaped ``(C, 8, 8)``."""
        return np.einsum("ccuv->cuv", self.cov).copy()

    @property
    def sigma(self) -> np.ndarray:
        """The equivalent white noise's standard deviation per channel, shaped ``(C,)``.

        The root mean of the channel's 64 coefficient variances: the standard deviation
        of its noise samples (the DCT is orthonormal), at the reference intensity.
        """
        return np.sqrt(self.variances.mean(axis=(1, 2)))

    def gain_at(self, intensity: np.ndarray | float) -> np.ndarray:
        """The noise's standard deviation at `intensity`, relative to `cov`'s."""
        return np.interp(intensity, self.levels, self.gain)

    def psd(self, shape: tuple[int, ...]) -> np.ndarray:
        """The noise's power spectral density on an ``M x N`` FFT grid, per channel.

        In the convention of the ``bm3d`` package's ``sigma_psd``: noise
        ``sigma * (white * k)`` with ``||k||_2 = 1`` has the PSD
        ``sigma**2 * M * N * |FFT(k, (M, N))|**2``, so white noise of standard
        deviation ``sigma`` has ``sigma**2 * M * N`` everywhere. It is derived from the
        DCT variances by the frequency correspondence ``u <-> +-u / 16`` cycles per
        pixel (bilinear between the DCT indices, constant beyond 7/16): an
        approximation, since a DCT basis function is not one frequency; exact for
        white noise.

        Parameters
        ----------
        shape : tuple of int
            ``(M, N)`` or ``(M, N, ...)``: the grid, at least 1x1.

        Returns
        -------
        ndarray
            float64 shaped ``(M, N)`` for one channel, ``(M, N, C)`` for ``C`` channels.
        """
        if len(shape) < 2 or any(int(s) != s or s < 1 for s in shape[:2]):
            raise ValueError(f"shape must start with two positive integers; got {shape!r}")
        m, n = int(shape[0]), int(shape[1])

        def coords(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            u = np.minimum(np.abs(np.fft.fftfreq(k)) * 2 * BLOCK, BLOCK - 1)
            i0 = np.floor(u).astype(int)
            i1 = np.minimum(i0 + 1, BLOCK - 1)
            return i0, i1, u - i0

        u0, u1, fu = coords(m)
        v0, v1, fv = coords(n)
        var = self.variances  # (C, 8, 8)
        top = var[:, u0][:, :, v0] * (1 - fv) + var[:, u0][:, :, v1] * fv
        bot = var[:, u1][:, :, v0] * (1 - fv) + var[:, u1][:, :, v1] * fv
        out = (top * (1 - fu)[:, None] + bot * fu[:, None]) * (m * n)
        out = np.moveaxis(out, 0, -1)
        return out[..., 0] if self.channels == 1 else out

    def scaled(self, k: float) -> NoiseModel:
        """The model of the image multiplied by `k` (a finite real number).

        Covariances scale by ``k**2``, levels by ``k`` (reversed when ``k < 0``), and
        the Poisson-Gaussian law to ``a k`` and ``b k**2``.
        """
        k = float(k)
        if not math.isfinite(k):
            raise ValueError(f"k must be finite; got {k!r}")
        levels, gain = self.levels * k, self.gain
        if k < 0:
            levels, gain = levels[::-1], gain[::-1]
        if k == 0:
            levels, gain = np.zeros(1), np.ones(1)
        ab = (None, None) if self.a is None else (self.a * k, self.b * k * k)
        return NoiseModel(self.kind, self.cov * (k * k), levels, gain, *ab)


def estimate_noise_model(image: np.ndarray, model: str = "auto") -> NoiseModel:
    """Estimate an image's noise: its spectrum, channel covariance and intensity law.

    The image is read as 8x8 blocks on a stride-4 grid (about `MAX_BLOCKS` of them,
    evenly thinned on large images, so that time and memory are bounded), transformed
    by the orthonormal 2-D DCT-II. Blocks holding a non-finite sample, a clipped one
    (the dtype's limits for integers; the image's minimum or maximum where at least
    0.1 % of the samples sit there) or no variation at all are left out. The rest are
    split into intensity bins of equal counts. Each block's plane (a ramp: 99 % of it
    lies in the coefficients (0, 1) and (1, 0)) is projected out, so that smooth shading
    reads neither as noise nor as texture. The model, one covariance matrix between the
    channels per DCT coefficient and one gain per bin, is then the fixed point of: (1)
    each block's energy over its 58 AC coefficients with ``u + v >= 3`` of the channels' mean,
    normalized by the model (variances, raised by 10 % of their mean so that coefficients
    that JPEG emptied do not decide, and the bin's gain), which for pure noise follows a
    scaled chi-square law; (2) the blocks below that law's 99 % quantile are kept, and at
    least each bin's 3 % and the image's 25 % quietest; (3) within them each coefficient's
    outliers (above the 99.5 % quantile of its own law: edges, curvature) are dropped; (4)
    the variances are the mean squares, corrected for both truncations, and each bin's
    gain follows its kept blocks. Started from each bin's 10 % quietest blocks, the
    iteration keeps the blocks whose energies cluster like noise and rejects texture and
    edges, whose energies spread wider; the 25 % floor keeps it from settling on areas
    that JPEG left without noise. The channel covariances are the mean products over the
    kept blocks and coefficients: selecting on the channels' mean lets blotchy colour
    noise count instead of being taken for texture. The six coefficients with
    ``u + v <= 2`` (the DC, the ramp and the curvature of smooth content, which even the
    quietest blocks of a photograph hold) are not measured but extrapolated: the
    channels' summed variances are fitted by a separable spectrum ``A(u) B(v)`` (least
    squares in logs, exact for white noise and for noise filtered by a separable
    kernel), capped at `EXTRAPOLATION_CAP` times the band ``u + v = 3``'s largest (the
    cap binds for strongly low-pass noise, e.g. a Gaussian kernel of 2 px, whose DC it
    underestimates).

    Parameters
    ----------
    image : ndarray
        Shaped ``(H, W)`` or ``(H, W, C)``, of dtype uint8, uint16, float32 or
        float64, in its own units (0-255 for uint8); not modified. NaN and infinite
        samples are ignored. An image smaller than 8x8 gets a white model from the
        differences of neighbouring samples (its mean square halved; zero for a single
        sample), the intensity law left flat.
    model : {"auto", "white", "correlated", "poisson_gaussian"}, optional
        The kind of model returned. ``"white"`` flattens the spectrum (each channel
        pair's mean over the 63 AC coefficients) and keeps the intensity law where it
        is one (`level_law`: the gains spread at least `LAW_RATIO` times over at least
        `LAW_BINS` bins, a straight line explaining `LAW_FIT` of them), else flattens it
        too (the gains that content gives white noise of one sigma: textured areas at
        some intensities read noisier), at the blocks' mean variance;
        ``"correlated"`` keeps the estimated spectrum; ``"poisson_gaussian"`` fits
        ``var(y) = a y + b`` to the bins' levels (``y`` the mean over channels, the
        variance averaged over channels; bins within 2 standard deviations of a clip
        level are left out, as blocks holding clipped samples are, and those above the
        line as texture, as below) and flattens the spectrum. ``"auto"``
        (default) chooses: white if the spectrum is flat (the mean level of the low AC
        frequencies, ``1 <= u + v <= 3``, within `FLAT_RATIO` of that of the high
        ones, ``u + v >= 8``, widened by 3 standard errors of that ratio for the
        number of blocks kept: a heavily clipped image may leave only a few), and
        then Poisson-Gaussian if, over at least 3 bins, the
        variance grows with intensity, by at least `PG_SLOPE` of its mean from the
        lowest to the highest level, on a line (relative rms residual below
        `PG_RESIDUAL`, over the bins left once those more than `PG_RESIDUAL` above it,
        other than the lowest and the highest, are set aside one by one as texture,
        keeping at least 3 bins and half the blocks) whose intercept is not markedly
        negative (above -0.3 times the mean variance) or, if it is (a black level), that
        stays positive at the darkest level (at least `PG_FLOOR` of the mean variance);
        correlated otherwise.

    Returns
    -------
    NoiseModel
        Its `cov` is the noise averaged over the image's blocks (the reference intensity
        is where the gain is 1); `a` and `b` hold the Poisson-Gaussian fit when one was
        made (with at least 3 bins), else None. A constant image gives zero noise.

    Raises
    ------
    TypeError
        If `image` is not a NumPy array or its dtype is not uint8, uint16, float32 or
        float64.
    ValueError
        If `image` is empty or not 2- or 3-D, or `model` is not one of the allowed values.
    """
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}; got {model!r}")
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a NumPy array; got {type(image).__name__}")
    if image.dtype.type not in _DTYPES:
        raise TypeError(f"image dtype must be uint8, uint16, float32 or float64; got "
                        f"{image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2-D (H, W) or 3-D (H, W, C); got {image.ndim}-D")
    if image.size == 0:
        raise ValueError(f"image must not be empty; got shape {image.shape}")
    # a plain array in native byte order (np.matrix, masked arrays: their data; '>f8': a
    # native copy, or the block transforms below would compute it at float32 precision)
    image = np.asarray(image, dtype=image.dtype.newbyteorder("="))
    e = far_exponent(image)
    if e:  # estimate on the image scaled near 1 by a power of two (exact), scale back
        return estimate_noise_model(np.ldexp(image, -e).astype(image.dtype),
                                    model).scaled(2.0 ** e)
    x = image[..., None] if image.ndim == 2 else image
    h, w, c = x.shape
    if h < BLOCK or w < BLOCK:
        return _tiny(x, model)
    work = np.float64 if x.dtype == np.float64 else np.float32
    blocks, lo_hi = _gather(x, work)
    dc, ac = _transform(blocks)  # the DC; the used AC coefficients, deramped
    del blocks
    chan = np.einsum("ncq,ncq->nc", ac, ac)
    active = chan.sum(axis=0) > 0  # channels that vary somewhere
    moving = chan.sum(axis=1) > 0
    if not moving.all():
        ac, dc = ac[moving], dc[moving]
    if len(ac) == 0 or not active.any():
        return _zero(c, model)
    intensity = dc.mean(axis=1) / BLOCK
    cov_ac, levels, gain, counts = _fit(ac, intensity, active)
    return _finish(cov_ac, levels, gain, counts, model, lo_hi)


def far_exponent(image) -> int:
    """For a NumPy float image whose largest finite magnitude (on a regular subsample of
    about 250,000 samples) is beyond 2**+-40, where squared sums overflow or underflow
    float32, the exponent ``e`` that brings it near 1 (``image * 2**-e``, exact); else 0.
    The estimator, :func:`imgops.bm3d` and :func:`imgops.denoise` work on such images
    scaled so (all three scale with the data)."""
    if not isinstance(image, np.ndarray) or image.dtype.kind != "f" or image.size == 0:
        return 0
    flat = np.asarray(image).reshape(-1)  # a plain array (np.matrix stays 2-D)
    sample = np.abs(flat[::max(1, flat.size // 250_000)])
    peak = float(np.max(sample, where=sample < np.inf, initial=0.0))  # NaN fails the test
    e = math.frexp(peak)[1] if peak > 0 else 0
    return e if abs(e) > 40 else 0


def _tiny(x: np.ndarray, model: str) -> NoiseModel:
    """White noise from the differences of neighbouring samples, for images below 8x8."""
    c = x.shape[2]
    xf = x.astype(np.float64)
    acc, count = np.zeros((c, c)), 0
    for axis in (0, 1):
        if x.shape[axis] > 1:
            d = np.diff(xf, axis=axis).reshape(-1, c)
            d = d[np.isfinite(d).all(axis=1)]
            acc += d.T @ d
            count += len(d)
    if count == 0:
        return _zero(c, model)
    cov = acc / (2 * count)
    full = np.broadcast_to(cov[:, :, None, None], (c, c, BLOCK, BLOCK))
    kind = "correlated" if model == "correlated" else "white"
    ab = (0.0, float(np.trace(cov) / c)) if model == "poisson_gaussian" else (None, None)
    return NoiseModel("poisson_gaussian" if model == "poisson_gaussian" else kind, full,
                      None, None, *ab)


def _zero(c: int, model: str) -> NoiseModel:
    kind = "white" if model == "auto" else model
    ab = (0.0, 0.0) if kind == "poisson_gaussian" else (None, None)
    return NoiseModel(kind, np.zeros((c, c, BLOCK, BLOCK)), None, None, *ab)


def _gather(x: np.ndarray, work: type) -> tuple[np.ndarray, list[float]]:
    """8x8 blocks on a stride-4 grid, evenly thinned to about MAX_BLOCKS; clip levels."""
    h, w, c = x.shape
    ys, xs = np.arange(0, h - BLOCK + 1, 4), np.arange(0, w - BLOCK + 1, 4)
    if len(ys) * len(xs) > MAX_BLOCKS:
        f = math.sqrt(len(ys) * len(xs) / MAX_BLOCKS)
        ny = min(len(ys), max(1, round(len(ys) / f)))
        nx = min(len(xs), max(1, MAX_BLOCKS // ny))
        ys = ys[np.linspace(0, len(ys) - 1, ny).round().astype(int)]
        xs = xs[np.linspace(0, len(xs) - 1, nx).round().astype(int)]
    win = np.lib.stride_tricks.sliding_window_view(x, (BLOCK, BLOCK), axis=(0, 1))
    raw = win[ys[:, None], xs[None, :]].reshape(-1, c, BLOCK, BLOCK)
    flat = raw.reshape(len(raw), -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    keep = lo < hi  # some variation
    levels: list[float] = []
    if np.issubdtype(x.dtype, np.integer):
        levels = [0.0, float(np.iinfo(x.dtype).max)]
        keep &= (lo > 0) & (hi < np.iinfo(x.dtype).max)
    else:
        keep &= np.isfinite(lo) & np.isfinite(hi)  # NaN propagates to min and max
        if keep.any():
            for v, ext in ((lo[keep].min(), lo), (hi[keep].max(), hi)):
                if np.count_nonzero(flat[ext == v] == v) >= max(2, 1e-3 * flat.size):
                    levels.append(float(v))
                    keep &= ext != v
    return raw[keep].astype(work), levels


_D = _dct_matrix()


def _dct(blocks: np.ndarray) -> np.ndarray:
    """The 2-D DCT of blocks ``(n, C, 8, 8)``, flattened to ``(n, C, 64)`` as v * 8 + u."""
    n, c = blocks.shape[:2]
    d = _D.astype(blocks.dtype)
    # a stack of 8x8 products (NumPy's matmul, 3-4x faster than einsum's loops); not one
    # large BLAS product, whose threads would spin on after the call and slow the
    # Numba kernels that follow (the blind default's BM3D ran 1.3-2x slower)
    t = d @ blocks.swapaxes(-1, -2) @ d.T
    return t.reshape(n, c, BLOCK * BLOCK)


_ODD = np.arange(1, BLOCK, 2)
_RAMP = _D[_ODD] @ (np.arange(BLOCK) - (BLOCK - 1) / 2)
_RAMP /= np.linalg.norm(_RAMP)
#: The AC coefficients that are measured (flattened index): u + v >= MIN_FREQ. Below,
#: smooth content (a block's ramp and curvature) outweighs the noise in most blocks;
#: those coefficients are extrapolated (`_extrapolate`).
_USED = np.array([i for i in range(1, BLOCK * BLOCK) if (i % BLOCK + i // BLOCK) >= MIN_FREQ])


def _operator() -> np.ndarray:
    """``(64, 1 + 58)``: a flattened block (index y * 8 + x) times it gives the DC and
    the used AC coefficients of its DCT (`_dct`'s) with the block's plane projected out.

    A ramp along x lies in the first row's odd coefficients (99 % of its energy at
    index 1, 1 % at 3): that direction is removed from both the first row's and the first
    column's odd coefficients, so smooth shading neither reads as noise nor makes a
    block look textured. The noise those coefficients keep changes by about 2 %. Both
    maps are linear, folded into one matrix here.
    """
    dct = np.einsum("vx,uy->vuyx", _D, _D).reshape(BLOCK * BLOCK, BLOCK * BLOCK)
    proj = np.eye(BLOCK * BLOCK)
    for index in (_ODD, _ODD * BLOCK):  # the first row's and first column's odd ones
        ramp = np.zeros(BLOCK * BLOCK)
        ramp[index] = _RAMP
        proj -= np.outer(ramp, ramp)
    return np.ascontiguousarray((dct.T @ proj)[:, np.r_[0, _USED]])


_OPERATOR = _operator()
#: `_transform` multiplies this many blocks' rows at a time: each product small enough
#: for BLAS to run it on one thread (a large multi-threaded product leaves its threads
#: spinning after the call, which slowed the Numba kernels that follow 1.3-2x).
_ROWS = 32


def _transform(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DC ``(n, C)`` and the used AC coefficients ``(n, C, 58)``, the plane projected
    out (`_operator`), of blocks ``(n, C, 8, 8)``: one product, where the DCT and then
    the projection took 9x the time (7.4 -> 0.8 ms on 4096 colour blocks)."""
    n, c = blocks.shape[:2]
    flat = np.ascontiguousarray(blocks).reshape(n * c, BLOCK * BLOCK)
    op = _OPERATOR.astype(blocks.dtype)
    out = np.empty((n * c, op.shape[1]), blocks.dtype)
    m = len(flat) // _ROWS * _ROWS
    np.matmul(flat[:m].reshape(-1, _ROWS, flat.shape[1]), op,
              out=out[:m].reshape(-1, _ROWS, op.shape[1]))
    np.matmul(flat[m:], op, out=out[m:])
    out = out.reshape(n, c, op.shape[1])
    return out[:, :, 0], np.ascontiguousarray(out[:, :, 1:])


def _norm_ppf(p: float) -> float:
    """The standard normal quantile (bisection)."""
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _erf(z: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[float])(z)


def _chi2_cdf(x: np.ndarray | float, k: float) -> np.ndarray:
    """Chi-square CDF with k degrees of freedom: exact for integer k <= 16 (the
    recursion ``P(k + 2) = P(k) - (x/2)^(k/2) e^(-x/2) / Gamma(k/2 + 1)``), else the
    Wilson-Hilferty approximation."""
    x = np.maximum(np.asarray(x, float), 0.0)
    if k == round(k) and k <= 16:
        k = int(round(k))
        h = x / 2
        if k % 2:
            p = _erf(np.sqrt(h))
            j = 0.5
        else:
            p = 1 - np.exp(-h)
            j = 1.0
        while 2 * j < k:
            with np.errstate(divide="ignore"):
                p = p - np.exp(j * np.log(h) - h - math.lgamma(j + 1))
            j += 1
        return np.clip(p, 0.0, 1.0)
    s = math.sqrt(2 / (9 * k))
    z = (np.cbrt(x / k) - (1 - 2 / (9 * k))) / s
    return 0.5 * (1 + _erf(z / math.sqrt(2)))


def _chi2_quantile(p: float, k: float) -> float:
    """Chi-square quantile: Wilson-Hilferty for k > 16, else bisection on `_chi2_cdf`."""
    if not (k == round(k) and k <= 16):
        s = math.sqrt(2 / (9 * k))
        return k * max(1 - 2 / (9 * k) + _norm_ppf(p) * s, 0.0) ** 3
    lo, hi = 0.0, k + 20 * math.sqrt(2 * k) + 20
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(_chi2_cdf(mid, k)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _trunc_mean(t: np.ndarray | float, k: float) -> np.ndarray:
    """``E[X | X <= t] / k`` for X chi-square with k degrees of freedom."""
    num, den = _chi2_cdf(t, k + 2), _chi2_cdf(t, k)
    return np.where(den > 1e-12, num / np.maximum(den, 1e-300), 1.0)


def _fit(ac: np.ndarray, intensity: np.ndarray, active: np.ndarray):
    """The fixed point: per-coefficient channel covariance ``(C, C, q)``, the bins'
    levels, gains and block counts.

    The gate and the trimming read the channels' mean (luminance, for colour images):
    texture and edges are mostly there, while real colour noise is blotchy (heavy
    tailed), which a gate on the chroma would take for texture. The covariances are the
    mean products over the kept blocks and coefficients.
    """
    n, c, q = ac.shape
    ci = np.flatnonzero(active)
    pairs = [(i, j) for i in ci for j in ci if j >= i]
    lum = ac[:, ci].mean(axis=1) if len(ci) > 1 else ac[:, ci[0]]
    lum2 = lum * lum  # (n, q)
    nbins = int(min(MAX_BINS, max(1, n // BIN_BLOCKS)))
    order = np.argsort(intensity, kind="stable")
    bin_of = np.empty(n, np.intp)
    bin_of[order] = np.arange(n) * nbins // n
    counts = np.bincount(bin_of, minlength=nbins)
    levels = np.bincount(bin_of, intensity, nbins) / counts
    starts = np.concatenate([[0], np.cumsum(counts)])
    members = [order[starts[b]:starts[b + 1]] for b in range(nbins)]
    raw = lum2.sum(axis=1)
    # start: each bin's 10 % lowest-energy blocks, gains from their energy
    g2 = np.ones(nbins)
    sel = np.zeros(n, bool)
    for b, idx in enumerate(members):
        m = max(1, int(0.1 * len(idx)))
        low = idx[np.argpartition(raw[idx], m - 1)[:m]]
        sel[low] = True
        g2[b] = raw[low].mean()
    g2 = _normalize(g2, counts)
    vl = np.einsum("n,nq->q", sel / g2[bin_of], lum2) / max(sel.sum(), 1)  # Y variance
    t1 = _chi2_quantile(COEF_QUANTILE, 1)
    bias1 = float(_trunc_mean(t1, 1))
    prev = None
    for _ in range(ITERATIONS):
        floor = GATE_FLOOR * float(vl.mean()) + 1e-12 * max(float(vl.max()), 1e-300)
        lam = vl / (vl + floor)  # energy under the model: sum lam chi2_1
        kexp, kvar = float(lam.sum()), float((lam * lam).sum())
        nu, s = kexp * kexp / kvar, kvar / kexp  # Satterthwaite: energy ~ s chi2(nu)
        t = s * _chi2_quantile(GATE_QUANTILE, nu)
        inv_g2 = 1 / g2[bin_of]
        mq = lum2 * (1 / (vl + floor)).astype(lum2.dtype)
        mq *= inv_g2[:, None].astype(lum2.dtype)
        energy = mq.sum(axis=1, dtype=np.float64)
        teff = np.empty(nbins)
        sel = np.zeros(n, bool)
        mg = max(1, int(MIN_GLOBAL * n))
        tg = max(t, float(np.partition(energy, mg - 1)[mg - 1]))
        for b, idx in enumerate(members):
            m = max(1, int(MIN_FRACTION * len(idx)))
            teff[b] = max(tg, float(np.partition(energy[idx], m - 1)[m - 1]))
            sel[idx] = energy[idx] <= teff[b]
        bias = _trunc_mean(teff / s, nu)
        nsel = np.bincount(bin_of, sel, nbins)
        ratio = np.bincount(bin_of, np.where(sel, energy, 0), nbins) / \
            np.maximum(nsel, 1) / (kexp * bias)
        # the kept blocks, each coefficient without its own outliers (edges, shading)
        idx = np.flatnonzero(sel)
        keep = mq[idx] <= t1 * np.maximum(lam, 1e-3).astype(mq.dtype)
        kw = keep * (inv_g2[idx] / bias[bin_of[idx]]).astype(lum2.dtype)[:, None]
        nkeep = np.maximum(keep.sum(axis=0), 1) * bias1
        vl = (kw * lum2[idx]).sum(axis=0, dtype=np.float64) / nkeep
        g2 = _normalize(g2 * np.clip(ratio, 0.25, 4.0), counts)
        state = np.concatenate([vl / max(float(vl.sum()), 1e-300), g2])
        if prev is not None and np.abs(state - prev).max() < TOLERANCE * state.max():
            break
        prev = state
    sub = ac[idx]
    mean = np.stack([(kw * sub[:, i] * sub[:, j]).sum(axis=0, dtype=np.float64)
                     for i, j in pairs]) / nkeep
    return _cov_from(mean, pairs, c), levels, np.sqrt(g2), counts


def _normalize(g2: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Gains squared, at least 1e-3 of the largest, averaging 1 over the blocks."""
    g2 = np.maximum(g2, g2.max() * 1e-3) if g2.max() > 0 else np.ones_like(g2)
    return g2 / ((g2 * counts).sum() / counts.sum())


def _cov_from(mean: np.ndarray, pairs: list, c: int) -> np.ndarray:
    """Mean products ``(P, q)`` -> covariance ``(C, C, q)``."""
    m = np.asarray(mean, np.float64)
    cov = np.zeros((c, c, m.shape[1]))
    for p, (i, j) in enumerate(pairs):
        cov[i, j] = cov[j, i] = m[p]
    return cov


def _gate_precision(cov: np.ndarray, ci: np.ndarray, floor_fraction: float):
    """The gate's precision per coefficient and the moments of its energy under the model.

    Each coefficient's channel covariance is regularized by adding `floor_fraction`
    times the mean variance (over channels and coefficients) to its diagonal, so that
    no direction, such as a chroma direction that JPEG quantized away at some
    frequencies, gets an overwhelming weight. Under the model the energy is
    ``sum lam chi2_1`` with ``lam`` the eigenvalues of precision times covariance.
    """
    sub = cov[np.ix_(ci, ci)].transpose(2, 0, 1)  # (q, k, k)
    var = np.einsum("qkk->qk", sub)
    floor = floor_fraction * float(var.mean()) + 1e-12 * max(float(var.max()), 1e-300)
    reg = sub.copy()
    idx = np.arange(len(ci))
    reg[:, idx, idx] += floor
    prec_sub = np.linalg.inv(reg)
    lam = np.linalg.eigvals(prec_sub @ sub).real
    c = cov.shape[0]
    prec = np.zeros((c, c, cov.shape[2]))
    prec[np.ix_(ci, ci)] = prec_sub.transpose(1, 2, 0)
    return prec, float(lam.sum()), float((lam * lam).sum())


def _finish(cov_ac, levels, gain, counts, model, lo_hi) -> NoiseModel:
    """DC extrapolation, the full (C, C, 8, 8) covariance, the kind and the PG fit."""
    c = cov_ac.shape[0]
    full = np.zeros((c, c, BLOCK * BLOCK))
    full[:, :, _USED] = cov_ac
    full = full.reshape(c, c, BLOCK, BLOCK).transpose(0, 1, 3, 2)  # index v*8+u -> (u, v)
    _extrapolate(full)
    tr = np.einsum("ccuv->uv", full)
    # levels strictly increasing: merge equal levels
    lv, inv = np.unique(levels, return_inverse=True)
    if len(lv) < len(levels):
        w = counts.astype(float)
        g2 = np.bincount(inv, w * gain**2) / np.bincount(inv, w)
        counts = np.bincount(inv, w)
        levels, gain = lv, np.sqrt(g2)
    low = (_FREQ >= 1) & (_FREQ <= 3)
    high = _FREQ >= 8
    ratio = tr[low].mean() / tr[high].mean() if tr[high].mean() > 0 else np.inf
    # the ratio's sampling error: each band's mean variance over n blocks, c channels
    # and k coefficients has a relative variance of 2 / (n c k) for Gaussian noise (the
    # low band's measured coefficients are its u + v = 3 ones); a spectrum is read as
    # not flat only beyond FLAT_RATIO by 3 standard errors (a heavily clipped image may
    # leave a handful of blocks, whose ratio says little)
    dof = max(float(counts.sum()), 1.0) * c
    se = math.sqrt(2 / (dof * int(np.count_nonzero(_FREQ == MIN_FREQ)))
                   + 2 / (dof * int(np.count_nonzero(high))))
    lim = FLAT_RATIO * math.exp(3 * se)
    flat = 1 / lim <= ratio <= lim
    a = b = None
    pg_ok = False
    if len(levels) >= 3:
        a, b, pg_ok = _fit_pg(levels, gain, counts, full, lo_hi)
    kind = model
    if model == "auto":
        kind = "poisson_gaussian" if flat and pg_ok else "white" if flat else "correlated"
    if kind in ("white", "poisson_gaussian"):
        mean = full.reshape(c, c, -1)[:, :, 1:].mean(axis=2)
        full = np.broadcast_to(mean[:, :, None, None], full.shape).copy()
    if kind == "white" and len(levels) > 1 and not _is_law(levels, gain):
        # white noise whose gains show no law (LAW_RATIO, LAW_FIT): content read unevenly
        # as noise (textured coins at the bright levels, a checkerboard's edges at the
        # middle ones), not the noise's level; flat, at the blocks' mean variance
        w = counts.astype(float)
        full *= float((w * gain**2).sum() / w.sum()) if w.sum() > 0 else 1.0
        gain = np.ones_like(gain)
    if kind == "poisson_gaussian":
        if a is None:
            a, b = 0.0, float(np.trace(full[:, :, 0, 0]) / c)
        else:
            var = np.maximum(a * levels + b, 0)
            avg = float((var * counts).sum() / counts.sum())
            gain = np.sqrt(var / avg) if avg > 0 else np.ones_like(levels)
            full *= avg / max(float(np.trace(full[:, :, 0, 0]) / c), 1e-300) \
                if np.trace(full[:, :, 0, 0]) > 0 else 0
    return NoiseModel(kind, full, levels, gain, a, b)


def _extrapolate(full: np.ndarray) -> None:
    """Fill the coefficients with u + v < MIN_FREQ in place: a separable spectrum
    ``T(u, v) = A(u) B(v)`` fitted (least squares in logs) to the channels' summed
    variances where measured; each filled coefficient's channel covariance is the mean
    normalized covariance of the band u + v = MIN_FREQ scaled to the fitted trace."""
    tr = np.einsum("ccuv->uv", full)
    meas = (_FREQ >= MIN_FREQ) & (tr > 0)
    if not meas.any():
        return  # no noise measured: zero stays zero
    uu, vv = np.nonzero(meas)
    # a row or column without a measured coefficient would leave its factor free
    if len(uu) >= 2 * BLOCK and meas.any(axis=1).all() and meas.any(axis=0).all():
        a = np.zeros((len(uu), 2 * BLOCK))
        a[np.arange(len(uu)), uu] = 1
        a[np.arange(len(uu)), BLOCK + vv] = 1
        wts = 1.0 / (1.0 + _FREQ[uu, vv] - MIN_FREQ)
        sol = np.linalg.lstsq(a * wts[:, None], np.log(tr[uu, vv]) * wts, rcond=None)[0]
        fit = np.exp(sol[:BLOCK, None] + sol[None, BLOCK:])
    else:  # too few coefficients hold noise (a codec emptied them) for a shape: flat
        fit = np.full((BLOCK, BLOCK), tr[meas].mean())
    band = (_FREQ == MIN_FREQ) & (tr > 0)
    band = band if band.any() else meas
    fit = np.minimum(fit, EXTRAPOLATION_CAP * tr[band].max())
    shape = (full[:, :, band] / tr[band]).mean(axis=2)
    for u, v in zip(*np.nonzero(_FREQ < MIN_FREQ), strict=True):
        full[:, :, u, v] = shape * fit[u, v]


def _fit_pg(levels, gain, counts, full, lo_hi):
    """Weighted line var = a y + b through the bins' levels; is it Poisson-Gaussian?

    A markedly negative intercept (below -0.3 times the mean variance) is kept: a black
    level ``-b / a``, as bm3d reads it. A slightly negative one is returned as 0: it is
    the fit's error (pure Poisson data, whose darkest blocks are left out as clipped,
    reads a line with such an intercept), not an offset."""
    c = full.shape[0]
    base = float(np.einsum("ccuv->", full) / (c * BLOCK * BLOCK))
    var = gain**2 * base
    sd = np.sqrt(var)
    ok = np.ones(len(levels), bool)
    for lim in lo_hi:
        ok &= np.abs(levels - lim) > 2 * sd
    if ok.sum() < 3:
        ok[:] = True
    y, v, wt = levels[ok], var[ok], counts[ok] / np.maximum(var[ok], 1e-300) ** 2
    if v.max() <= 0:
        return 0.0, 0.0, False
    n = counts[ok].astype(float)

    def line(keep):
        w = wt * keep
        wsum = w.sum()
        ym, vm = (w * y).sum() / wsum, (w * v).sum() / wsum
        syy = (w * (y - ym) ** 2).sum()
        a = float((w * (y - ym) * (v - vm)).sum() / syy) if syy > 0 else 0.0
        return a, float(vm - a * ym)

    keep = np.ones(len(y), bool)
    a, b = line(keep)
    # content only adds variance: a bin more than PG_RESIDUAL above the line (texture that
    # the gate let through: the grass of camera's middle tones read twice the noise) is
    # left out and the line refitted, the worst first, while at least 3 bins and half
    # the blocks stay; never the end bins, where a law that bends (not Poisson-Gaussian:
    # a sigma linear in intensity) leaves the line
    inner = np.zeros(len(y), bool)
    inner[1:-1] = True
    for _ in range(len(y)):
        rel = (v - a * y - b) / np.maximum(v, 1e-300)
        worst = int(np.argmax(np.where(keep & inner, rel, -np.inf)))
        if rel[worst] <= PG_RESIDUAL or keep.sum() <= 3 \
                or n[keep].sum() - n[worst] < 0.5 * n.sum():
            break
        keep[worst] = False
        a, b = line(keep)
    y, v, n = y[keep], v[keep], n[keep]
    rel = (v - a * y - b) / np.maximum(v, 1e-300)
    resid = math.sqrt(float((n * rel * rel).sum() / n.sum()))
    span = a * (y.max() - y.min()) / max(float(np.average(v, weights=n)), 1e-300)
    # the intercept not markedly negative, or, where it is (a black level: var =
    # a (y - g) + s^2), the line still positive at the darkest level seen, by at least
    # PG_FLOOR of the mean variance
    mean_v = float(np.average(v, weights=n))
    pg = bool(a > 0 and span >= PG_SLOPE and resid <= PG_RESIDUAL
              and (b >= -0.3 * mean_v or a * float(y.min()) + b >= PG_FLOOR * mean_v))
    if -0.3 * mean_v <= b < 0:
        b = 0.0
    return a, b, pg


# --- The level of camera-processed noise, read from a pilot denoiser's residual ----------
#
# In camera sRGB images (demosaiced, noise-reduced by the camera, JPEG-compressed) the
# noise is strongly low-pass and its level varies from region to region: JPEG and the
# camera's own noise reduction leave whole flat areas without measurable high-frequency
# noise, so every estimator that reads the quietest blocks (`estimate_noise_model`,
# Immerkaer's `estimate_noise`) finds almost nothing where BM3D at a white sigma of
# 10-30 (uint8 units) gains 2-3 dB. The blind default therefore measures the noise a
# strong pilot denoiser removes: the residual (image minus pilot) in the blocks where
# the pilot is flat, in the DCT band u + v <= 2; the same in the band u + v >= 8 tells
# whether that residual is low-pass (camera noise) or white.

#: The pilot: BM3D fast at this fraction of the luminance's 1-99 % range (uint8: about
#: 25), so that it scales with the data; run again at twice the larger of its sigma and
#: the level read (at most PILOT_PASSES times in all) while flat blocks are found and
#: the level exceeds half the pilot's sigma (see `residual_level`).
PILOT_STRENGTH, PILOT_PASSES = 0.1, 3
#: The pilot runs on square tiles of this side spread over the image, at most
#: PILOT_AREA of its area (and PILOT_MAX_TILES tiles; at least one); images with a side
#: below one tile are read whole.
PILOT_TILE, PILOT_AREA, PILOT_MAX_TILES = 128, 0.25, 64
#: The image size the pilot's BM3D takes its parameters for (BM3D's hidden ``extent``):
#: a large one, so that small images keep the large-image parameters of the fast
#: profile in their pilot (``imgops._shared.bm3d.FAST_SMALL_PIXELS``)
PILOT_EXTENT = (1 << 12, 1 << 12)
#: The blocks whose residual is read: each weighs exp(-m / ((FLAT_SLOPE * pilot
#: sigma)**2 + q**2)), m its pilot's mean squared step between neighbours, q the
#: pilot's rounding step (1 for integer images). Where the image's
#: content is not flat, the residual holds what the pilot smoothed away, which no
#: statistic tells from noise. Weights summing to less than MIN_FLAT of the blocks, or
#: to less than MIN_BLOCKS: no reading (a texture, a small or thin crop). The same with
#: LOOSE times the slope tells whether the pilot was strong enough (`residual_level`).
FLAT_SLOPE, MIN_FLAT, MIN_BLOCKS, LOOSE = 0.1, 0.1, 32, 3.0
#: The blind default takes the residual's level as its sigma for colour images whose
#: residual is this much stronger in the low band than in the high band (white noise:
#: about 1; clean photographs: mostly 1.4-2.3, but smooth noise-free ones up to 7 (a
#: retina, a rendered logo); camera sRGB noise: 2-8, mostly 3.5-6).
CAMERA_RATIO = 3.0
#: Where no block is flat under the first pilot, the pilot is doubled (while none is, within
#: PILOT_PASSES) only if the image's `estimate_noise_model` reads correlated noise (white
#: noise would fail CAMERA_RATIO after the retries) too strong for the first pilot to
#: flatten anything: its `luminance_level` above HEAVY_RATIO times that pilot's sigma (on the
#: camera pipelines of the benchmarks: 1.3-1.8 for the strongest shot noise, at most
#: 1.17 elsewhere), with a `chroma_ratio` of at least CHROMA_MIN. A texture without
#: noise also leaves nothing flat, and a stronger pilot would read its loss as noise:
#: crops of stained tissue read up to 2.1 times the pilot's sigma, but as variations of
#: brightness (chroma ratio 0.16-0.21), where a sensor's noise, independent from pixel
#: to pixel before demosaicing, leaves colour blotches (0.55-1.52 on the pipelines).
#: The low frequencies only: white noise added to such a texture is as strong in the
#: colour differences as in brightness at high frequencies (1.6), and a retry there lost
#: 7 dB.
#: The level read after such a retry stands only if it is at least HEAVY_CONFIRM times
#: the model's: the strong noise then shows in the pilot's residual too (1.2-1.6 on the
#: pipelines), where a colourful texture's loss reads less (a 192 x 192 crop of a
#: PolyU ground-truth photograph of fruit, without noise: 0.36, and it lost 11 dB).
HEAVY_RATIO, CHROMA_MIN, HEAVY_CONFIRM = 1.25, 0.5, 0.75
#: Where the first pilot leaves no block flat (strong noise, or a texture), the blind
#: default denoises a 3-channel image under its estimated correlated model itself, not
#: at one white sigma, if the noise is strong in the colour differences: their level
#: (`chroma_level`) at least MODEL_CHROMA_LEVEL times the pilot's sigma
#: (`pilot_strength`) and MODEL_WHITE_RATIO times the white estimate, with a
#: `chroma_ratio` of at least MODEL_CHROMA_RATIO. A texture varies mostly in brightness,
#: and the model reads its luminance as noise; its colour differences it reads far lower
#: (clean skimage.data photographs: 0.19 at most; a cat's fur under mild sensor noise,
#: the camera pipeline's weaker shot noise: 0.46). Camera sRGB noise, which demosaicing
#: correlates between channels and whose level the camera's own noise reduction varies
#: over the image (a stationary model of it loses 0.3-4 dB against the pilot's reading),
#: reads 0.43 at most on 100 real crops of five cameras, mostly below 0.2. Noise
#: independent between channels reads 0.58-1.1 on photographs at sigma 15-25 (chroma
#: ratio 0.99-1.7, 2.3-6 times the white estimate); the camera pipelines' strongest shot
#: noise 0.55-1.75. The flat pilot and the white estimate keep the model away from small
#: low-contrast crops where it reads white noise, clipped at black, or a clean crop's
#: compression as strong colour noise (tiles of 64-192 pixels: 352 of 19170 passed the
#: first two tests alone, and most lost 1-10 dB).
MODEL_CHROMA_LEVEL, MODEL_CHROMA_RATIO, MODEL_WHITE_RATIO = 0.55, 0.9, 2.0
#: Nor on an image with a side below MODEL_MIN_SIDE: from the 225 blocks of a 64 x 64
#: crop the model reads a clean photograph's colour (JPEG's chroma, fine foliage) as
#: strong colour noise that nothing flat under the pilot contradicts. On the 10 900
#: tiles of 64, 96, 128 and 192 pixels cut on a grid from the 100 PolyU ground truths,
#: the rule took 17 tiles of 64 pixels (dark stairs, a wall, leaves), each 16-36 dB
#: worse under the model (52-83 dB against the ground truth down to 33-52), and none
#: larger; on the same tiles of the real noisy captures, 12 of 64 pixels (-0.35 to
#: +3.8 dB against the white estimate) and one of 128 (+2.8). The price: strong colour
#: noise in a crop that small keeps the white estimate (a 64 x 64 astronaut crop with
#: the Gaussian kernel's noise at sigma 25: 20.3 dB against 31.2 under the model).
MODEL_MIN_SIDE = 96
#: The blind default denoises under the estimated model itself (its level law stabilized:
#: `imgops.bm3d`) where "auto" finds white noise whose level changes with intensity
#: (`level_law`): the largest gain at least LAW_RATIO times the smallest (each gain
#: raised to a tenth of the largest first), over at least LAW_BINS intensity bins, and a
#: straight line through the gains explaining at least LAW_FIT of their variance. On
#: 256 x 256 crops of camera, astronaut and coffee with sigma growing from 2 to 30 or
#: falling from 20 to 5 with intensity (benchmarks/level_noise.py): ratios 2.5-9.1,
#: fits 0.93-0.99, +0.5 to +4.9 dB over the white estimate. White noise of one sigma
#: read as varying by content: a checkerboard (ratio 4.2 and 2.4, fit 0.00: -6.3 and
#: -2.1 dB under the model), camera at sigma 10 (1.5, 0.01), coins at sigma 5 (2.0-2.4,
#: 0.50-0.54, -0.9 to -1.1 dB).
LAW_RATIO, LAW_BINS, LAW_FIT = 2.0, 4, 0.8
_LOW_BAND = _FREQ <= 2
_HIGH_BAND = _FREQ >= 8


def _channel_mean(x: np.ndarray) -> np.ndarray:
    """``x.mean(axis=2, dtype=np.float64)`` of an ``(H, W, C)`` array, to the last bit for
    fewer than 8 channels (summed in order, then divided, as NumPy does below its
    pairwise summation's blocks of 8), in a sixth of its time: NumPy's reduction over a
    short last axis is slow."""
    y = x[..., 0].astype(np.float64)
    for k in range(1, x.shape[-1]):
        y += x[..., k]
    y /= x.shape[-1]
    return y


def pilot_strength(image: np.ndarray) -> float:
    """The pilot's sigma for a ``(H, W, C)`` image: PILOT_STRENGTH times its luminance's
    (the channels' mean) 1-99 % range, read on about 256k samples at most (a regular
    subsampling); 0 where a sample read is not finite or the range is 0."""
    stride = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / 2 ** 18)))
    y = _channel_mean(image[::stride, ::stride])
    if not np.isfinite(y).all():
        return 0.0
    lo, hi = np.percentile(y, [1, 99])
    strength = PILOT_STRENGTH * float(hi - lo)
    return strength if strength > 0 else 0.0


def luminance_level(model: NoiseModel) -> float:
    """The per-channel white sigma equivalent to `model`'s noise in the channels' mean:
    ``sqrt(C * mean_q var_Y(q))`` with ``Y`` the mean of the ``C`` channels, over the 64
    DCT coefficients ``q`` (for independent channels of equal white noise: their sigma)."""
    c = model.channels
    w = np.full(c, 1.0 / c)
    v = np.einsum("c,d,cduv->uv", w, w, model.cov)
    return math.sqrt(c * max(float(v.mean()), 0.0))


def _opponent_variances(model: NoiseModel) -> np.ndarray:
    """A 3-channel `model`'s noise variance per DCT coefficient in CBM3D's opponent
    channels (``imgops._shared.bm3d.OPP``), shaped ``(3, 8, 8)``: Y, U, V; negative
    rounding clipped to 0."""
    from ._shared.bm3d import OPP  # BM3D's module: loaded only where it runs

    return np.maximum(np.einsum("ic,id,cduv->iuv", OPP, OPP, model.cov), 0.0)


def chroma_ratio(model: NoiseModel) -> float:
    """How much of a 3-channel `model`'s low-frequency noise is in the colour
    differences: ``sqrt((var_U + var_V) / var_Y)`` in CBM3D's opponent channels
    (``imgops._shared.bm3d.OPP``: ``Y = (R + G + B) / 3``, ``U = (R - B) / 2``,
    ``V = (R - 2G + B) / 4``), over the DCT band ``u + v <= 2`` (noise independent
    between channels, of equal variance: 1.62; variations of brightness alone: 0); 0 for
    other channel counts or no luminance noise there. In a model from
    :func:`estimate_noise_model` that band is extrapolated from the band ``u + v = 3``
    (MIN_FREQ) with that band's channel structure, so the ratio is the one measured
    there."""
    if model.channels != 3:
        return 0.0
    var = _opponent_variances(model)
    y, uv = float(var[0][_LOW_BAND].mean()), float(var[1:, _LOW_BAND].mean(axis=1).sum())
    return math.sqrt(uv / y) if y > 0 else 0.0


def level_law(model: NoiseModel) -> bool:
    """Whether `model`'s noise level changes with intensity enough, and smoothly enough,
    to be a law of the noise rather than content read as noise (``LAW_RATIO``,
    ``LAW_BINS``, ``LAW_FIT``)."""
    return _is_law(model.levels, model.gain)


def _is_law(lv: np.ndarray, g: np.ndarray) -> bool:
    """`level_law` of the gains `g` at the increasing levels `lv`."""
    if g.size < LAW_BINS or not g.max() > 0:
        return False
    if g.max() < LAW_RATIO * max(g.min(), 0.1 * g.max()):
        return False
    a = np.stack([np.ones_like(lv), lv - lv.mean()], axis=1)
    fit = a @ np.linalg.lstsq(a, g, rcond=None)[0]
    total = float(np.sum((g - g.mean()) ** 2))
    return total > 0 and 1.0 - float(np.sum((g - fit) ** 2)) / total >= LAW_FIT


def chroma_level(model: NoiseModel) -> float:
    """The per-channel white sigma equivalent to a 3-channel `model`'s noise in the colour
    differences: ``sqrt(mean_q (var_U(q) + var_V(q)) / 0.875)`` over the 64 DCT
    coefficients, with CBM3D's opponent channels ``U``, ``V`` (see `chroma_ratio`; for
    independent channels of equal white noise, ``var_U + var_V = 0.875 sigma**2``); 0 for
    other channel counts."""
    if model.channels != 3:
        return 0.0
    return math.sqrt(float(_opponent_variances(model)[1:].mean(axis=(1, 2)).sum()) / 0.875)


def pilot_windows(shape: tuple[int, ...]) -> list[tuple[slice, slice]]:
    """The tiles ``(rows, cols)`` of an image of `shape` that the pilot denoises.

    A centred grid of ``PILOT_TILE``-square tiles, of which as many as fit in
    ``PILOT_AREA`` of the image (at most ``PILOT_MAX_TILES``, at least one) are taken,
    evenly spaced in raster order; the whole image when a side is below one tile.
    """
    h, w = int(shape[0]), int(shape[1])
    t = PILOT_TILE
    ny, nx = h // t, w // t
    if ny < 1 or nx < 1:
        return [(slice(0, h), slice(0, w))]
    n = ny * nx
    take = max(1, min(PILOT_MAX_TILES, n, int(PILOT_AREA * h * w) // (t * t)))
    picked = np.unique(np.linspace(0, n - 1, take).round().astype(int))  # spread evenly
    y0, x0 = (h - ny * t) // 2, (w - nx * t) // 2  # the grid centred
    return [(slice(y0 + (i // nx) * t, y0 + (i // nx + 1) * t),
             slice(x0 + (i % nx) * t, x0 + (i % nx + 1) * t)) for i in picked.tolist()]


class Reading(NamedTuple):
    """What `residual_level` read; see there."""

    low: float
    ratio: float
    loose: float


def residual_level(pairs, strength: float, step: float = 0.0) -> Reading:
    """The noise level a pilot denoiser removed, and whether it is low-pass.

    Parameters
    ----------
    pairs : iterable of (ndarray, ndarray)
        ``(image, pilot)`` tiles of the same shape ``(H, W)`` or ``(H, W, C)``: the
        noisy image and the pilot's result on it.
    strength : float
        The pilot's sigma: blocks whose pilot varies by more than ``FLAT_SLOPE`` of it
        from pixel to pixel weigh little.
    step : float, optional
        The pilot's quantization step (1 for integer images, whose pilot is rounded:
        in a flat area of a low-contrast image its steps of one level would otherwise
        read as variation). Default 0.

    Returns
    -------
    Reading
        ``low``: the residual's (image minus pilot) standard deviation per channel in
        the DCT band ``u + v <= 2`` of 8x8 blocks (on grids at offsets 0 and 4) over
        the flat blocks (see ``FLAT_SLOPE``); for ``C`` channels, that of the channels'
        mean times ``sqrt(C)`` (the per-channel level of independent noise); 0 when
        too few blocks are flat. ``ratio``: `low` over the same in the band
        ``u + v >= 8``: about 1 for white noise, mostly 3.5-6 for the noise of camera
        sRGB images (inf where the high band holds nothing, 0 when `low` is 0).
        ``loose``: `low` with ``LOOSE`` times the slope: above half the pilot's sigma,
        the pilot was too weak to flatten the noise (and `low` reads too little of it).
    """
    acts, pows, c = [], [], 1
    for img, pil in pairs:
        x = np.asarray(img, np.float64)
        p = np.asarray(pil, np.float64)
        if x.ndim == 3:
            c = x.shape[2]
            x, p = _channel_mean(x), _channel_mean(p)
        g = np.zeros_like(p)
        g[:, :-1] += np.diff(p, axis=1) ** 2
        g[:-1] += np.diff(p, axis=0) ** 2
        r = x - p
        for off in (0, BLOCK // 2):
            hb, wb = (x.shape[0] - off) // BLOCK, (x.shape[1] - off) // BLOCK
            if hb < 1 or wb < 1:
                continue

            def blocks(a, hb=hb, wb=wb, off=off):
                a = a[off:off + hb * BLOCK, off:off + wb * BLOCK]
                return a.reshape(hb, BLOCK, wb, BLOCK).swapaxes(1, 2).reshape(-1, 1, BLOCK,
                                                                                BLOCK)
            acts.append(blocks(g).sum(axis=(1, 2, 3)))
            pows.append(_dct(blocks(r))[:, 0] ** 2)
    if not acts or not strength > 0:
        return Reading(0.0, 0.0, 0.0)
    act, pw = np.concatenate(acts), np.concatenate(pows)
    k = math.sqrt(c)

    def bands(w):  # the low band's per-channel level and its ratio to the high band's
        if not w.sum() > 0:  # every weight underflowed: nothing is flat
            return 0.0, 0.0
        v = (w @ pw / w.sum()).reshape(BLOCK, BLOCK).T  # [u, v] (flattened v * 8 + u)
        low = k * math.sqrt(float(v[_LOW_BAND].mean()))
        high = k * math.sqrt(float(v[_HIGH_BAND].mean()))
        return low, low / high if high > 0 else (math.inf if low > 0 else 0.0)

    # smooth weights, not a selection: the reading is then a smooth function of the
    # data, and scales with it to rounding (a ranking would reorder near-ties)
    unit = BLOCK * BLOCK * ((FLAT_SLOPE * strength) ** 2 + step * step)
    flat = np.exp(-act / unit)
    loose = bands(np.exp(-act / (LOOSE * LOOSE * unit)))[0]
    if flat.sum() < max(MIN_FLAT * len(act), MIN_BLOCKS):
        return Reading(0.0, 0.0, loose)
    return Reading(*bands(flat), loose)
