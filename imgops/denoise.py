"""Denoising: bilateral filter, non-local means, noise estimate and denoise."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from . import _dispatch, _layout
from ._ops import COMPOSITES, bm3d_chunk_arguments
from ._validate import check_float
from .filters import gaussian, median

if TYPE_CHECKING:
    from ._noise import NoiseModel

__all__ = ["bilateral", "nl_means", "bm3d", "estimate_noise", "denoise", "DENOISE_METHODS"]

DENOISE_METHODS = COMPOSITES["denoise"]


def bilateral(image: np.ndarray, sigma_color: float, sigma_spatial: float, *,
              radius: int | None = None, mode: str = "reflect",
              backend: str = "auto") -> np.ndarray:
    """Edge-preserving bilateral filter.

    Each output is a weighted mean of its ``(2r + 1) x (2r + 1)`` window [1]_:
    ``out(p) = sum_q w(p, q) I(q) / sum_q w(p, q)`` with
    ``w(p, q) = exp(-|p - q|^2 / (2 sigma_spatial^2)) *
    exp(-|I(p) - I(q)|^2 / (2 sigma_color^2))``. ``|I(p) - I(q)|`` is the Euclidean
    distance over all channels together (so colors are smoothed without bleeding
    across edges), in the image's own units (0-255 for uint8). Samples outside the
    image come from the border `mode`.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    sigma_color : float
        Range standard deviation, ``> 0``, in the image's units: differences much
        larger than this are edges to keep.
    sigma_spatial : float
        Spatial standard deviation in pixels, ``> 0``.
    radius : int, optional
        Window radius ``r``, 0 to 256. Default None: ``max(2, ceil(3 * sigma_spatial))``.
    mode : {"reflect", "mirror", "nearest", "constant", "wrap"}, optional
        How the image is extended beyond its border (SciPy's names, as for the
        filters; ``"constant"`` extends with 0). Default ``"reflect"``.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`; integer results are rounded to nearest and
        saturated. A NaN reaches the outputs whose window holds it.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `sigma_color` or `sigma_spatial` is not a real number, or `radius` not an integer;
        if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `sigma_color` or `sigma_spatial` is not
        finite and positive; if `radius` is not in [0, 256]; if `mode` is not one of the
        allowed values; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    nl_means : Non-local means, which compares patches instead of pixels.
    denoise : Automatic strength from the estimated noise.

    References
    ----------
    .. [1] C. Tomasi and R. Manduchi, "Bilateral filtering for gray and color
       images", Proc. ICCV 1998, pp. 839-846.

    Examples
    --------
    A step edge survives:

    >>> img = np.zeros((5, 6), np.uint8); img[:, 3:] = 200
    >>> bilateral(img, 10.0, 2.0)[0]
    array([  0,   0,   0, 200, 200, 200], dtype=uint8)
    """
    return _dispatch.run("bilateral", image, backend, sigma_color=sigma_color,
                         sigma_spatial=sigma_spatial, radius=radius, mode=mode)


def nl_means(image: np.ndarray, h: float, *, patch_size: int = 7, patch_distance: int = 11,
             sigma: float = 0.0, backend: str = "auto") -> np.ndarray:
    """Non-local means denoising, as scikit-image's fast mode.

    Each pixel becomes a weighted mean of the pixels within `patch_distance` of it,
    weighted by how similar the `patch_size` x `patch_size` patches around them are
    [1]_: ``w = exp(-max(d2 - 2 sigma^2, 0) / h^2)`` with ``d2`` the mean squared
    difference of the two patches over all channels together. The patch sums are
    computed as in the fast algorithm of Darbon et al. [2]_, and the image is
    mirrored at its border, as scikit-image does. The result agrees with
    ``skimage.restoration.denoise_nl_means(..., fast_mode=True, sigma=sigma,
    preserve_range=True)`` [3]_ (``channel_axis=-1``, or None for a 2-D image) to a
    maximum error of 1 % and a mean error of 0.3 % of the image's value range
    (integers: 1 more), scikit-image using an approximate ``exp``. The cost grows
    with ``(2 * patch_distance + 1)^2`` and only logarithmically with `patch_size`.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    h : float
        Cut-off distance, ``> 0``, in the image's units: larger values smooth more.
        About 0.8 times the noise standard deviation is a good start.
    patch_size : int, optional
        Side of the patches, 1 to 101; even sizes are made odd (plus 1), as
        scikit-image does. Default 7.
    patch_distance : int, optional
        Search radius in pixels, 0 to 100. Default 11.
    sigma : float, optional
        The noise standard deviation if known, ``>= 0``, in the image's units;
        ``2 sigma^2`` is subtracted from the patch distances. Default 0.0.
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. With ``"cuda"``, a NumPy image is copied to the
        GPU and the result copied back; a device array gives a Numba device array.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`; integer results are rounded to nearest and
        saturated. A NaN reaches the outputs within ``patch_size // 2 +
        patch_distance`` pixels of it.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `h` or `sigma` is not a real number, or `patch_size` or `patch_distance` not an
        integer; if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `h` is not finite and positive, or
        `sigma` negative or not finite; if `patch_size` is not in [1, 101] or
        `patch_distance` not in [0, 100]; if `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    denoise : Non-local means with parameters from the estimated noise.
    estimate_noise : An estimate of `sigma`.

    References
    ----------
    .. [1] A. Buades, B. Coll and J.-M. Morel, "A non-local algorithm for image
       denoising", Proc. CVPR 2005, vol. 2, pp. 60-65.
    .. [2] J. Darbon, A. Cunha, T. F. Chan, S. Osher and G. J. Jensen, "Fast
       nonlocal filtering applied to electron cryomicroscopy", Proc. ISBI 2008,
       pp. 1331-1334.
    .. [3] scikit-image, ``skimage.restoration.denoise_nl_means(image, patch_size,
       patch_distance, h, fast_mode=True, sigma=sigma, preserve_range=True,
       channel_axis=-1)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.clip(128 + rng.normal(0, 20, (32, 32)), 0, 255).astype(np.uint8)
    >>> float(nl_means(noisy, 16.0, sigma=20.0).std()) < float(noisy.std())
    True
    """
    return _dispatch.run("nl_means", image, backend, h=h, patch_size=patch_size,
                         patch_distance=patch_distance, sigma=sigma)


def bm3d(image: np.ndarray, sigma, *, profile: str = "normal",
         backend: str = "auto") -> np.ndarray:
    """Block-matching and 3-D filtering (BM3D), the strongest classical denoiser.

    Both stages of Dabov et al. [1]_: similar 8x8 blocks are grouped by block
    matching, each group is filtered in a 3-D transform domain (2-D biorthogonal
    1.5 wavelet transform of the blocks, Haar transform along the group) by hard
    thresholding, and the blocks are aggregated with Kaiser-windowed weights into a
    basic estimate; then the blocks are matched again on the basic estimate and the
    noisy groups are Wiener-filtered in the 2-D DCT domain with the basic groups'
    spectra as the oracle. Three-channel
    images are denoised as CBM3D [2]_ (an opponent colour transform, blocks
    matched on luminance, the same groups filtering the chroma channels); other
    channel counts channel by channel. Written from the papers and the IPOL
    description [3]_. For white noise each group's 3-D coefficients are shrunk
    against their exact noise variances [6]_: blocks that overlap share pixels and
    so noise, and a group of neighbouring blocks (smooth content) has a mean noisier
    than one block's and differences quieter; the hard threshold is 3.0 standard
    deviations and the Wiener regularization 0.4 (the reference package's values).
    Besides white noise, it takes noise that differs between
    channels, spatially correlated noise given by its power spectral density, or a
    :class:`imgops.NoiseModel` (see `sigma`).

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. Images smaller than a block are extended by reflection and cropped
        back. NaN and infinite samples are treated as missing: they are filled from
        their neighbours for the matching and come back unchanged, so the output is
        non-finite exactly where the input is.
    sigma : float, sequence of float, ndarray or NoiseModel
        The noise, in the image's own units (0-255 for uint8, 0-65535 for uint16, the
        data's own scale for floats):

        - a float: the standard deviation of white Gaussian noise, the same in every
          channel; >= 0, ``0`` returns a copy;
        - a sequence or 1-D array of ``C`` values (``C`` the image's channels): each
          channel's white noise, the channels independent (three channels: the
          opponent channels of CBM3D get the variances ``sum_c M[i, c]^2 sigma_c^2``);
        - an ``(M, N)`` or ``(M, N, C)`` array: the noise's power spectral density,
          the same for every channel or one per channel, the channels independent,
          in the convention of the ``bm3d`` package's ``sigma_psd``: noise ``s * (w
          conv k)`` (``w`` white of unit variance, ``||k||_2 = 1``) has the PSD ``s**2
          * M * N * abs(fft2(k, (M, N)))**2``, so white noise of standard deviation
          ``s`` has ``s**2 * M * N`` everywhere (usually ``(M, N)`` is the image's
          size; any grid of at least 16 x 16 is exact; scaling the image by ``k``
          scales it by ``k**2``);
        - an :class:`imgops.NoiseModel`: its per-coefficient covariance ``cov`` (one
          channel, given to every channel independently, or one per channel with
          their covariances) at the reference intensity, and, for a flat spectrum
          (``kind`` ``"white"``), its intensity law; a ``"correlated"`` model's law is
          not used (the covariance applies at every intensity: the laws estimated
          for camera noise scatter, and cost 0.2 dB on 100 real crops). Where
          a white model's law (``levels``, ``gain``) changes with intensity, the image
          is stabilized first by its transform
          ``f(t) = integral from 0 to t of du / g(u)`` (``g`` the gain, interpolated
          linearly between the levels, constant beyond, each gain raised to at least a
          tenth of the largest) [7]_, BM3D runs on ``f(z)`` under ``cov``, and its
          output is mapped back by the unbiased inverse: the intensity whose expected
          transform it is under Gaussian noise of each channel's level (the algebraic
          inverse would leave a bias of about ``g'(y)`` times half the variance, a grey
          level or more where the law bends); the same transform in every channel.
          A ``"poisson_gaussian"`` model with ``a > 0`` takes its own law
          ``var(y) = a y + b`` instead, stabilized by the generalized Anscombe transform
          ``f(z) = (2 / a) sqrt(max(a z + 3 a**2 / 8 + b, 0))``, BM3D runs on ``f(z)``
          at sigma 1, and its output is mapped back by the exact unbiased inverse
          [5]_ (the intensity whose expected transform it is, tabulated per call);
          ``b < 0`` is read as a black level ``-b / a`` with no Gaussian part
          (:func:`imgops.estimate_noise_model` returns a negative ``b`` only for a
          marked one);
          clipping is not modelled. Every channel uses the same ``a`` and ``b``.
          On a CUDA device array the transforms run on the host.

        For noise that is not white of one sigma, each coefficient ``q`` of the 8x8
        block transforms gets its own noise variance ``v_q`` (exact for stationary
        noise, computed on the host once per call: the biorthogonal transform's from
        the DCT's for a ``NoiseModel``), with the papers' parameters: hard thresholds
        ``2.7 sigma`` become
        ``lambda * sqrt(v_q)``, the first stage's aggregation weights ``1 / sum(v_q)``
        over the kept coefficients, the Wiener weights ``b**2 / (b**2 + v_q)``, the
        second stage's aggregation weights ``1 / sum(w_q**2 v_q)``. Correlated noise is
        also whitened (by its spectrum, on the host, one FFT of the image) in the
        image the first stage matches blocks on, and partly in the basic estimate that
        the second stage matches on, and the parameters change a little (see the
        documentation's benchmark page): groups matched on the noisy pixels follow
        the noise's own streaks and blotches. Makitalo, Foi et al. [4]_ give the
        transform-domain variances. The variance of each 3-D coefficient is exact [6]_
        for the luminance of three-channel images in both stages, and for gray images
        in the first: blocks within the noise's correlation length of each other share
        noise, and a group's Haar coefficients add up the covariances of its pairs of
        blocks (from the noise's autocovariance). Elsewhere (the chroma channels, the
        second stage of gray images) it is taken as its 2-D frequency's (exact when a
        group's blocks have independent noise, an approximation for overlapping or
        nearby blocks).

        The papers' parameters (the block-matching thresholds, and the switch to the
        large-noise ones above sigma = 40 on the 0-255 scale, read from the noise's
        standard deviation per pixel, root mean over the channels, for a PSD or a
        model) are set relative to a nominal range ``R``: 255 for uint8, 65535 for
        uint16; for float images ``R`` is measured on the data: ``max(hi, 0) - min(lo,
        0)``, ``lo`` and ``hi`` the values 0.1 % in from each end of a sample of about
        8,000 sites on a strided grid (all images of a batch and all channels
        together; a Dask array is sampled as a whole, before its chunks run), each
        site's value the median of the row medians of its 3 x 3 window (so noise
        widens ``R`` little and hot pixels not at all), or the largest finite
        ``|value|`` where that span is 0. So a float image may come in any range
        (0-1, 0-255, 12-bit counts, HDR, microscopy), and ``bm3d(k * x, k * sigma)
        == k * bm3d(x, sigma)`` for every ``k > 0`` up to float32 rounding (``k**2``
        times a PSD, ``k`` times per-channel sigmas, ``NoiseModel.scaled(k)``); a
        float image in 0-255 whose bright end is saturated at 255 is denoised as the
        uint8 image is. ``R`` within 0.85-2x the true range changed the PSNR by 0.03
        dB or less (measured), except where sigma / R crosses the large-noise switch.
    profile : {"normal", "fast"}, optional
        ``"normal"`` (default): the papers' block matching (reference step 3, 39x39
        search window, groups of up to 16 and 32 blocks). ``"fast"``: fewer
        reference blocks, a smaller search window and smaller groups, chosen for
        speed at a small loss of PSNR (listed in the documentation's benchmark page);
        with white noise on images of fewer than 32 768 pixels (181 x 181), where
        few reference blocks cost up to 0.7 dB, the normal profile's reference step
        and a second matching (a few milliseconds).
    backend : {"auto", "cpu", "cuda"}, optional
        ``"auto"`` (default) runs device arrays on the GPU and NumPy arrays on the CPU.

    Returns
    -------
    ndarray
        Same layout and dtype as `image`, computed in float32; integer results are
        rounded to nearest and saturated.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or
        float64; if `sigma` is none of the forms above (a string, a bool, a complex
        or non-numeric array); if ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `sigma` (or any of its values) is
        negative or not finite; if it has a length other than the image's channel
        count, is an array of more than three dimensions or empty, or is a PSD or
        model whose channels are neither 1 nor the image's; if `profile` or `backend`
        is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    Notes
    -----
    BM3D's patent status is unclear: OpenCV keeps its own BM3D in the non-free
    build, and the authors have said that an implementation from the paper is fine
    for non-profit use. Users decide; :func:`nl_means` stays available. The
    ``bm3d`` package (non-commercial licence) is used only as the quality
    reference in the tests and benchmarks, never as code.

    References
    ----------
    .. [1] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image denoising by sparse
       3-D transform-domain collaborative filtering", IEEE Trans. Image Process.
       16(8), 2007.
    .. [2] K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Color image denoising via
       sparse 3D collaborative filtering with grouping constraint in
       luminance-chrominance space", ICIP 2007.
    .. [3] M. Lebrun, "An analysis and implementation of the BM3D image denoising
       method", Image Processing On Line 2, 2012.
    .. [4] Y. Makitalo, L. Azzari, A. Foi et al., "Collaborative filtering of
       correlated noise: exact transform-domain variance for improved shrinkage and
       patch matching", IEEE Trans. Image Process. 29, 2020.
    .. [5] M. Makitalo, A. Foi, "Optimal inversion of the generalized Anscombe
       transformation for Poisson-Gaussian noise", IEEE Trans. Image Process. 22(1),
       2013.
    .. [6] Y. Makinen, L. Azzari, A. Foi, "Collaborative filtering of correlated
       noise: exact transform-domain variance for improved shrinkage and
       patch matching", IEEE Trans. Image Process. 29, 2020.
    .. [7] A. Foi, "Clipped noisy images: heteroskedastic modeling and practical
       denoising", Signal Processing 89(12), 2009.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 200, 32), (32, 1))
    >>> noisy = np.clip(clean + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    >>> out = bm3d(noisy, 15.0, profile="fast")
    >>> out.dtype, bool(np.abs(out - clean).mean() < np.abs(noisy - clean).mean())
    (dtype('uint8'), True)

    Noise correlated along rows (a 1 x 5 line kernel), given by its PSD:

    >>> k = np.ones((1, 5)) / np.sqrt(5)
    >>> kf = np.fft.fft2(k, clean.shape)
    >>> w = rng.standard_normal(clean.shape)
    >>> noisy = clean + 15 * np.fft.ifft2(np.fft.fft2(w) * kf).real
    >>> psd = 15.0 ** 2 * clean.size * np.abs(kf) ** 2
    >>> out = bm3d(noisy, psd, profile="fast")
    >>> bool(np.abs(out - clean).mean() < np.abs(noisy - clean).mean())
    True
    """
    from ._noise import NoiseModel, far_exponent  # NumPy only

    e = far_exponent(image)
    if e:  # |x| far from 1: on the image scaled by a power of two (exact), scaled back
        k = 2.0 ** -e
        if isinstance(sigma, NoiseModel):
            scaled = sigma.scaled(k)
        elif np.ndim(sigma) >= 2:
            scaled = np.asarray(sigma, np.float64) * (k * k)  # a PSD
        else:
            scaled = np.asarray(sigma, np.float64) * k
            scaled = float(scaled) if scaled.ndim == 0 else scaled
        out = bm3d(np.ldexp(image, -e).astype(image.dtype), scaled, profile=profile,
                   backend=backend)
        return np.ldexp(out, e).astype(image.dtype)
    if isinstance(sigma, NoiseModel) \
            and _native_dtype(image) in (np.uint8, np.uint16, np.float32, np.float64) \
            and getattr(image, "ndim", 0) in (2, 3, 4) \
            and sigma.channels in (1, _layout.channels(image)):
        if sigma.kind == "poisson_gaussian" and sigma.a is not None and sigma.a > 0:
            return _bm3d_poisson_gaussian(image, sigma.a, sigma.b, profile, backend)
        if _varies(sigma):
            return _bm3d_level_function(image, sigma, profile, backend)
    # a float Dask image's chunks share the whole image's nominal range, measured here,
    # and get a PSD as its covariance on the lags (small, the same for every chunk)
    return _dispatch.run("bm3d", image, backend, **{"sigma": sigma, "profile": profile,
                                                    **bm3d_chunk_arguments(image, sigma)})


def _native_dtype(image):
    """The NumPy dtype of `image` in native byte order (CuPy, PyTorch and Numba device
    arrays too); None if it has none."""
    try:
        return np.dtype(image.dtype).newbyteorder("=")
    except (TypeError, AttributeError):
        if _dispatch.is_device_array(image):
            from numba import cuda

            return np.dtype(cuda.as_cuda_array(image).dtype).newbyteorder("=")
        return None


def _varies(model) -> bool:
    """Whether `model`'s noise level function changes with intensity and is used: for a
    flat spectrum ("white", or "poisson_gaussian" without a law of its own), not for
    "correlated" models. The laws :func:`estimate_noise_model` reads for camera noise
    (which the camera's noise reduction makes depend on content as much as on
    intensity) scatter: on the 100 PolyU crops, BM3D fast under the estimated models
    went 36.67 -> 36.45 dB with them, 2 -> 10 crops below their noisy input."""
    return model.kind != "correlated" and model.gain.size > 1 \
        and float(np.ptp(model.gain)) > 1e-6 * float(model.gain.max())


def _bm3d_poisson_gaussian(image, a: float, b: float, profile: str, backend: str):
    """BM3D of Poisson-Gaussian noise ``var = a y + b``: the generalized Anscombe
    transform, white BM3D at sigma 1, the exact unbiased inverse (see ``imgops._vst``)."""
    from ._vst import gat, gat_table

    s2 = max(b, 0.0) / (a * a) if a * a > 0 else math.inf
    if not (math.isfinite(2.0 / a) and math.isfinite(s2) and math.isfinite(b / a)):
        raise ValueError(f"the Poisson-Gaussian law a={a!r}, b={b!r} is out of range for "
                         "the Anscombe transform (a too small or too large)")
    # float32 holds the transformed noise (unit variance) only while the transform's
    # values stay below about 1e4; beyond (a tiny a against b), float64
    wide = float(np.sqrt(s2 + 0.375)) * 2.0 > 1e4

    # b < 0: an offset g = -b / a (a black level) and no Gaussian part, the smallest
    # offset the law allows; the transform is then Anscombe's on the counts (z - g) / a
    offset = max(-b / a, 0.0)

    def forward(x):
        x = np.asarray(x)
        t = gat(x, a, b)
        # non-finite samples stay as they are, for BM3D to keep
        return np.where(np.isfinite(x), t, x) if x.dtype.kind == "f" else t

    table, top = gat_table(round(s2, 12))

    def inverse(d):  # imgops._vst.gat_inverse(d, a, max(b, 0)), by the CPU's kernel
        counts = _dispatch.run("gat_counts", d, "cpu", **table._asdict(), top=top, s2=s2)
        return a * counts + offset  # b < 0 only with the offset

    return _bm3d_transformed(image, forward, inverse, 1.0, wide, profile, backend)


def _bm3d_level_function(image, model, profile: str, backend: str):
    """BM3D of noise whose level changes with intensity (`model`'s ``levels`` and
    ``gain``): the variance-stabilizing transform of that law (``imgops._vst``'s
    ``LevelTransform``), BM3D under `model`'s covariance, the unbiased inverse (per
    channel: the expected transform under each channel's noise)."""
    from ._noise import NoiseModel
    from ._vst import LevelTransform

    vst = LevelTransform(model.levels, model.gain)
    stationary = NoiseModel(model.kind if model.kind != "poisson_gaussian" else "white",
                            model.cov)
    var = model.variances.mean(axis=(1, 2))  # each channel's pixel variance

    def forward(z):  # vst.forward(z), by the CPU's kernel
        return _lookup(z, vst.forward_table)

    tables = [vst.unbiased_table(float(v)) for v in var]  # once, not per Dask chunk

    def inverse(d):  # each channel's own unbiased inverse (the last axis holds them)
        if var.size == 1 or d.shape[-1] != var.size:
            return _lookup(d, tables[0])
        return np.stack([_lookup(d[..., c], t) for c, t in enumerate(tables)], axis=-1)

    return _bm3d_transformed(image, forward, inverse, stationary, False, profile, backend)


def _lookup(x: np.ndarray, table) -> np.ndarray:
    """``imgops._vst.lookup(x, table)`` (float64) by the CPU's kernel: one pass over the
    NumPy array `x`, where NumPy's takes 5-6 (the maps run on the host for every
    backend)."""
    return _dispatch.run("lookup", x, "cpu", **table._asdict())


def _bm3d_transformed(image, forward, inverse, noise, wide: bool, profile: str,
                      backend: str):
    """``inverse(bm3d(forward(image), noise))`` in the image's dtype (integers rounded
    and clipped to their range): NumPy, Dask (chunk by chunk; both maps are pointwise)
    or a CUDA device array (the maps on the host). The transformed image is float32, or
    float64 for a float64 image or where `wide` (values too large for float32's
    rounding to stay below the noise)."""
    import sys

    dtype = _native_dtype(image)
    work = np.float64 if dtype == np.float64 or wide else np.float32

    def fwd(x):
        return np.asarray(forward(np.asarray(x)), work)

    def inv(d):
        d = np.asarray(d)
        y = inverse(d)
        if dtype.kind == "u":
            return np.clip(np.rint(y), 0, np.iinfo(dtype).max).astype(dtype)
        return np.where(np.isfinite(d), y, d).astype(dtype)

    da = sys.modules.get("dask.array")
    if da is not None and isinstance(image, da.Array):
        def task(fn):  # the maps' kernels share the threads as every Dask task's do
            def chunk(x):
                with _dispatch.chunk_threads():
                    return fn(x)
            return chunk

        t = image.map_blocks(task(fwd), dtype=work)
        return bm3d(t, noise, profile=profile, backend=backend).map_blocks(task(inv),
                                                                           dtype=dtype)
    if _dispatch.is_device_array(image):
        from numba import cuda

        host = image if type(image).__name__ in ("DeviceNDArray", "FakeCUDAArray") \
            else cuda.as_cuda_array(image)  # CuPy, PyTorch, ...: a view, no copy
        t = cuda.to_device(fwd(host.copy_to_host()))
        d = bm3d(t, noise, profile=profile, backend=backend).copy_to_host()
        return cuda.to_device(inv(d))
    return inv(bm3d(fwd(image), noise, profile=profile, backend=backend))


def _white_sigma(image, backend: str) -> float:
    """:func:`estimate_noise`'s value; where a float image holds NaN or infinity (for
    which it says NaN), from the windows that avoid them (the denoisers keep those
    samples)."""
    return float(_dispatch.run("estimate_noise", image, backend, finite_only=True))


def _blind_bm3d(image, backend: str = "auto", model: NoiseModel | None = None):
    """The noise that :func:`denoise`'s default (``"bm3d"``, no sigma) assumes: a
    Poisson-Gaussian :class:`~imgops.NoiseModel`, or a white sigma as a float (0: none
    measured, the image comes back unchanged). ``model``: the image's
    ``estimate_noise_model(image)`` (``model="auto"``) where the caller has it already.
    See :func:`denoise`."""
    from ._noise import estimate_noise_model, far_exponent, level_law

    e = far_exponent(image)
    if e:  # as denoise: on the image scaled near 1 by a power of two
        noise = _blind_bm3d(np.ldexp(image, -e).astype(image.dtype), backend)
        return noise.scaled(2.0 ** e) if not isinstance(noise, float) else \
            float(np.ldexp(noise, e))
    if isinstance(image, np.ndarray) and image.ndim in (2, 3) and image.size \
            and _native_dtype(image) in (np.uint8, np.uint16, np.float32, np.float64) \
            and min(image.shape[:2]) >= 8:
        model = estimate_noise_model(image) if model is None else model
        if model.kind == "poisson_gaussian" and model.a is not None and model.a > 0:
            return model
        if model.kind == "white" and level_law(model):
            return model  # white noise whose level follows intensity: stabilized by bm3d
        white = _white_sigma(image, backend)
        if model.kind == "white":
            # a flat spectrum: no low-pass noise for the camera reading to find (on the
            # benchmarks' images it read none there but on one clean PolyU crop), and its
            # pilot passes cost white noise 25-75 % of BM3D's time
            return white
        camera, colour = _camera_reading(image, backend, model, white)
        if colour:
            return model
        # camera sRGB noise, which the white estimate misses
        return max(white, camera)
    return _white_sigma(image, backend)


def _colour_noise(image: np.ndarray, model: NoiseModel, white: float,
                  strength: float | None = None) -> bool:
    """Whether `model` (``estimate_noise_model(image)``) of a 3-channel `image` shows
    correlated noise strong in the colour differences, which a texture without noise
    does not show: their level at least ``MODEL_CHROMA_LEVEL`` times the pilot's sigma
    (`strength`, ``pilot_strength(image)`` where not given) and ``MODEL_WHITE_RATIO``
    times `white` (the white estimate), with a chroma ratio of at least
    ``MODEL_CHROMA_RATIO``; never on an image with a side below ``MODEL_MIN_SIDE``
    (see `imgops._noise`)."""
    from ._noise import (
        MODEL_CHROMA_LEVEL,
        MODEL_CHROMA_RATIO,
        MODEL_MIN_SIDE,
        MODEL_WHITE_RATIO,
        chroma_level,
        chroma_ratio,
        pilot_strength,
    )

    if image.ndim != 3 or image.shape[2] != 3 or model.kind != "correlated" \
            or min(image.shape[:2]) < MODEL_MIN_SIDE:
        return False
    strength = pilot_strength(image) if strength is None else strength
    level = chroma_level(model)
    return strength > 0 and level >= MODEL_CHROMA_LEVEL * strength \
        and level >= MODEL_WHITE_RATIO * white and chroma_ratio(model) >= MODEL_CHROMA_RATIO


def _camera_level(image: np.ndarray, backend: str, model: NoiseModel | None = None
                  ) -> float:
    """The white sigma for the noise of a camera sRGB image, or 0 if it shows none
    (`_camera_reading`'s level)."""
    return _camera_reading(image, backend, model)[0]


def _camera_reading(image: np.ndarray, backend: str, model: NoiseModel | None = None,
                    white: float | None = None) -> tuple[float, bool]:
    """The white sigma for the noise of a camera sRGB image, or 0 if it shows none; and
    whether to denoise under `model` instead.

    For a 3-channel image: the level of the noise that BM3D fast at a strong sigma (the
    pilot; stronger if the noise proves strong) removes from the image's flat areas,
    when that noise is low-pass enough to be a camera's
    (`imgops._noise.residual_level`, ``CAMERA_RATIO``); 0 otherwise, and for images
    with non-finite samples or no contrast. ``model``: the image's
    ``estimate_noise_model(image)`` where the caller has it (``HEAVY_RATIO``). Given
    `white` (the white estimate), ``(0, True)`` where the first pilot leaves no block
    flat and the model shows strong colour noise (`_colour_noise`): noise that neither
    reading can measure. Otherwise ``(level, False)``.
    """
    from ._noise import (
        CAMERA_RATIO,
        CHROMA_MIN,
        HEAVY_CONFIRM,
        HEAVY_RATIO,
        PILOT_EXTENT,
        PILOT_PASSES,
        chroma_ratio,
        estimate_noise_model,
        luminance_level,
        pilot_strength,
        pilot_windows,
        residual_level,
    )

    if image.ndim != 3 or image.shape[2] != 3:
        return 0.0, False
    strength = pilot_strength(image)
    if not strength > 0:
        return 0.0, False
    tiles = [image[rows, cols] for rows, cols in pilot_windows(image.shape)]
    step = 0.0 if image.dtype.kind == "f" else 1.0  # an integer pilot's rounding
    heavy = None  # decided where the first pilot leaves nothing flat
    confirm = 0.0  # the least level that stands (HEAVY_CONFIRM)
    for i in range(PILOT_PASSES):
        # the tiles with the fast profile's parameters for large images (an extent past
        # FAST_SMALL_PIXELS), whatever the image's size: the pilot only reads a level,
        # and the small-image rule (2-3x its time) left the readings as they were
        pairs = [(t, _dispatch.run("bm3d", t, backend, sigma=strength, profile="fast",
                                   extent=PILOT_EXTENT)) for t in tiles]
        r = residual_level(pairs, strength, step)
        if i == 0 and r.low == 0:
            # nothing flat under the first pilot: strong noise that it could not flatten
            # anywhere (the pipelines' strongest shot noise lost 4-8 dB to the white
            # estimate), or a texture; the model tells them apart (HEAVY_RATIO)
            model = estimate_noise_model(image) if model is None else model
            if white is not None and _colour_noise(image, model, white, strength):
                return 0.0, True
            level = luminance_level(model)
            heavy = model.kind == "correlated" and level > HEAVY_RATIO * strength \
                and chroma_ratio(model) >= CHROMA_MIN
            confirm = HEAVY_CONFIRM * level if heavy else 0.0
        if r.low == 0 and heavy and i < PILOT_PASSES - 1:
            strength *= 2  # twice as strong, while nothing has been flat yet
            continue
        if r.low == 0 or r.loose <= strength / 2:
            break
        heavy = False  # flat blocks found: the usual retries below
        # a residual that is a large part of the pilot's sigma: the pilot was too weak
        # for this noise (it removes about what it is told); again, stronger. Not where
        # nothing is flat: a stronger pilot smooths more content (a cat's fur, tissue),
        # whose loss reads as low-pass noise (on the camera pipelines of the benchmarks,
        # retrying there too lost 1 dB) unless the model reads strong noise (above)
        strength = 2 * max(strength, r.loose)
    if r.ratio < CAMERA_RATIO or not r.low > 0:
        return 0.0, False
    # read to a 64th of an octave of the pilot's sigma (which scales with the data to
    # float rounding): the reading itself scales only to about 1e-5 (the pilot's
    # outputs do not scale exactly), and BM3D at sigmas that close may still differ
    q = round(64 * math.log2(r.low / strength)) / 64
    read = strength * 2.0 ** q
    return (read if read >= confirm else 0.0), False


def estimate_noise(image: np.ndarray, *, backend: str = "auto") -> float:
    """Estimate the standard deviation of Gaussian noise, by Immerkær's method.

    ``sigma = sqrt(pi / 2) / (6 (W - 2) (H - 2)) * sum |I * N|`` [1]_, the sum over
    the valid region (where the 3x3 mask fits) of the image correlated with the mask
    ``N = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]]``, which cancels smooth image content
    and keeps the noise. It is computed for each channel (and each image of a
    batch), and the values are averaged. Fast and robust, but textures and fine
    detail read as noise, so it overestimates slightly on detailed images.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, at least 3x3, of
        dtype uint8, uint16, float32 or float64; not modified. A CUDA device array is
        accepted too (see `backend`).
    backend : {"auto", "cpu", "cuda"}, optional
        Where to compute. ``"auto"`` (default): ``"cuda"`` for a CUDA device array,
        ``"cpu"`` for a NumPy array. The result is a Python float either way.

    Returns
    -------
    float
        The estimated standard deviation, in the image's own units (0-255 for
        uint8), ``>= 0``; 0 for a constant image; NaN if the image holds a NaN.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        ``backend="cpu"`` is given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `image` is smaller than 3x3; if
        `backend` is not one of the allowed values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    denoise : Uses this estimate to set the denoising strength.

    References
    ----------
    .. [1] J. Immerkær, "Fast noise variance estimation", Computer Vision and Image
       Understanding 64(2), 1996, pp. 300-302.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> round(estimate_noise(rng.normal(0, 5.0, (256, 256))), 0)
    5.0
    >>> estimate_noise(np.full((8, 8), 7, np.uint8))
    0.0
    """
    return _dispatch.run("estimate_noise", image, backend)


def _strength(method: str, params: dict) -> float:
    """`denoise`'s ``strength``, popped from `params` and checked (1 where not given):
    an error where the other parameters leave no estimate for it to scale."""
    if "strength" not in params:
        return 1.0
    if method not in ("bm3d", "nl_means", "bilateral"):
        raise TypeError("strength applies to the methods whose strength comes from the "
                        f"noise estimate (bm3d, nl_means, bilateral); not to {method}")
    strength = check_float(params.pop("strength"), "strength", low=0.0, low_open=True)
    unused = {"bm3d": {"sigma"}, "nl_means": {"h", "sigma"}, "bilateral": {"sigma_color"}}
    if unused[method] <= params.keys():
        raise ValueError("strength scales the estimated noise, which the parameters given "
                         f"({', '.join(sorted(unused[method]))}) leave unused")
    return strength


def stronger(noise: float | NoiseModel, k: float) -> float | NoiseModel:
    """`noise` (a white sigma, or a :class:`~imgops.NoiseModel`) made `k` times stronger
    on the same image: the sigma times `k`; the model's covariances times ``k**2`` (its
    noise level function unchanged), its Poisson-Gaussian law to ``k**2 a`` and
    ``k**2 b``. ``k == 1`` returns `noise` itself."""
    if k == 1.0:
        return noise
    if isinstance(noise, float):
        return noise * k
    ab = {} if noise.a is None else {"a": noise.a * k * k, "b": noise.b * k * k}
    return dataclasses.replace(noise, cov=noise.cov * (k * k), **ab)


def denoise(image: np.ndarray, method: str = "bm3d", **params) -> np.ndarray:
    """Denoise with a strength chosen from the estimated noise level.

    Estimates the noise standard deviation ``s = estimate_noise(image)`` and calls
    one of the denoisers with parameters derived from it. The methods and their
    defaults:

    - ``"bm3d"`` (default): :func:`bm3d` with ``sigma = s`` and
      ``profile="fast"``; except for NumPy images shaped ``(H, W)`` or ``(H, W, C)``:

      * one whose noise :func:`imgops.estimate_noise_model` finds Poisson-Gaussian
        (``model="auto"``: a flat spectrum whose variance grows linearly with
        intensity, as in raw, linear and scientific data) is denoised under that
        model: the generalized Anscombe transform, BM3D fast at sigma 1, the exact
        unbiased inverse (see :func:`bm3d`);
      * one whose noise it finds white with a level that follows intensity (its
        gains spread at least 2x over at least 4 intensity bins and a straight line
        through them explains at least 0.8 of their variance: not the uneven reading
        that content gives white noise of one sigma) is denoised under that model: the
        law's stabilizing transform, BM3D fast, the unbiased inverse (see :func:`bm3d`);
      * a 3-channel image with the noise of a camera's sRGB output gets a larger
        sigma: that noise is low-pass (demosaiced, reduced by the camera, compressed)
        and JPEG leaves flat areas without high frequencies, so ``s`` reads a
        fraction of it. A pilot BM3D fast at a tenth of the luminance's 1-99 % range
        (on 128x128 tiles covering up to a quarter of the image, or the whole image
        when a side is shorter; stronger, up to three passes, where the noise proves
        strong) is run, and the residual (image minus pilot) measured in the flat
        areas, in the lowest DCT frequencies of 8x8 blocks; where that residual is at
        least 3 times stronger there than in the highest frequencies (white noise:
        about 1, most clean photographs 1.4-2.3), its level replaces ``s`` if larger.
        Not where :func:`imgops.estimate_noise_model` finds the noise's spectrum flat
        (white): that noise is not low-pass. White noise, gray images and most clean
        photographs keep ``sigma = s``;
        smooth, noise-free colour images (a rendered logo, a retina) may read as
        camera noise and be smoothed slightly. Camera noise too strong for the pilot
        to leave anything flat is read by a stronger pilot where
        :func:`estimate_noise_model` finds correlated noise well above the pilot's
        sigma with colour blotches (a texture without noise varies mostly in
        brightness) and the stronger pilot confirms its level; otherwise ``s`` stays.
      * a 3-channel image of at least 96 x 96 pixels whose noise the first pilot
        leaves nowhere flat, and in which :func:`estimate_noise_model` finds
        correlated noise strong in the colour differences (their per-channel level at
        least 0.55 times the pilot's sigma and twice ``s``, and at least 0.9 times as
        strong as in brightness at low frequencies), is denoised under that model
        (BM3D fast): noise independent between channels, such as a sensor's before
        demosaicing, leaves colour blotches that a texture does not. Elsewhere, under
        the estimated correlated model, fine texture read as noise would be smoothed
        away (see the documentation's benchmark page); gray images, noise of
        brightness alone and smaller crops (whose few blocks let the model read a
        clean photograph's colour as such noise) keep the white estimate.
    - ``"nl_means"``: :func:`nl_means` with ``h = 0.8 * s``,
      ``sigma = s``, ``patch_size = 5``, ``patch_distance = 6`` (scikit-image's
      documented recipe [1]_).
    - ``"bilateral"``: :func:`bilateral` with ``sigma_color = 2 * s * sqrt(C)``
      (``C`` channels) and ``sigma_spatial = 1.5``.
    - ``"median"``: :func:`median` with ``size = 3``.
    - ``"gaussian"``: :func:`gaussian` with ``sigma = 1.0``.

    ``strength=k`` (``"bm3d"``, ``"nl_means"``, ``"bilateral"``) makes the noise assumed
    from the image `k` times stronger: ``k * s`` (or the camera reading times `k`) in the
    recipes above, a model's covariances times ``k**2``. On the real camera JPEGs of the
    documentation's benchmark page, about 2 came closest to their ground truth (more
    smoothing than the noise read calls for); where the reading is right (the synthetic
    camera pipelines there), 2 over-smooths.

    Each parameter given in `params` replaces its own default only; the noise is
    not estimated when the given parameters make it unneeded. An image without
    measurable noise (``s = 0``, and no camera noise read) comes back unchanged, as a
    copy, from the methods whose strength comes from ``s`` (``"bm3d"``,
    ``"nl_means"`` and ``"bilateral"``).
    A float image holding NaN or infinities (for which :func:`estimate_noise` says
    NaN) is estimated from the 3x3 windows that avoid them; the denoisers keep those
    samples where they are.

    Parameters
    ----------
    image : ndarray
        Image shaped ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)``, of dtype uint8,
        uint16, float32 or float64, with any strides and byte order; it is not
        modified. A CUDA device array is accepted too (see `backend`).
    method : {"bm3d", "nl_means", "bilateral", "median", "gaussian"}, optional
        The denoiser; ``"nl-means"`` is accepted for ``"nl_means"``. Default
        ``"bm3d"``.
    **params
        Keyword arguments of the chosen function, overriding the defaults above
        (for example ``h=10.0`` or ``patch_distance=8`` for ``"nl_means"``);
        ``strength`` (a real number > 0, default 1: the estimated noise's multiplier,
        see above); and ``backend`` (``"auto"``, ``"cpu"`` or ``"cuda"``, default
        ``"auto"``). A
        ``sigma`` given here is the noise level in the image's own units, as for the
        chosen function; for float images whatever their range, ``denoise(k * x) ==
        k * denoise(x)`` for every ``k > 0`` up to float32 rounding (the estimate
        ``s`` scales with the data, and so does :func:`bm3d`'s nominal range: see
        its `sigma`).

    Returns
    -------
    ndarray
        Same layout and dtype as `image`; integer results are rounded to nearest and
        saturated.

    Raises
    ------
    TypeError
        If `image` is not an array or its dtype is not uint8, uint16, float32 or float64; if
        `params` holds a name the chosen function does not take, or a value of the wrong
        type (``strength`` with ``"median"`` or ``"gaussian"``); if ``backend="cpu"`` is
        given a device array.
    ValueError
        If `image` is empty or not 2-, 3- or 4-D; if `method` is not one of the allowed
        values; if the noise must be estimated and `image` is smaller than 3x3; if a value
        in `params` is out of its range (see the chosen function; ``strength`` not finite
        or not > 0); if ``strength`` is given with parameters that leave no estimate to
        scale (``sigma`` for ``"bm3d"``, ``h`` and ``sigma`` for ``"nl_means"``,
        ``sigma_color`` for ``"bilateral"``); if `backend` is not one of the allowed
        values.
    RuntimeError
        If ``backend="cuda"`` and no usable GPU is found.

    See Also
    --------
    bm3d, nl_means, bilateral, median, gaussian : The denoisers.
    estimate_noise : The noise estimate ``s``.

    References
    ----------
    .. [1] scikit-image, "Non-local means denoising for preserving textures"
       (gallery example): ``estimate_sigma``, then ``denoise_nl_means`` with
       ``h = 0.8 * sigma``, ``patch_size=5``, ``patch_distance=6``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 200, 48), (48, 1))
    >>> noisy = np.clip(clean + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    >>> err = lambda a: float(np.abs(a.astype(float) - clean).mean())
    >>> err(denoise(noisy)) < err(noisy)
    True
    >>> s = estimate_noise(noisy)  # a white estimate here: strength=2 is BM3D at 2 s
    >>> bool((denoise(noisy, strength=2) == bm3d(noisy, 2 * s, profile="fast")).all())
    True
    >>> flat = np.full((8, 8), 100, np.uint8)
    >>> out = denoise(flat)
    >>> bool((out == flat).all()), out is flat
    (True, False)
    """
    from ._noise import far_exponent  # NumPy only

    e = far_exponent(image)
    if e:  # denoise(k x) = k denoise(x): on the image scaled near 1 by a power of two
        return np.ldexp(denoise(np.ldexp(image, -e).astype(image.dtype), method, **params),
                        e).astype(image.dtype)
    method = method.replace("-", "_") if isinstance(method, str) else method
    if method not in DENOISE_METHODS:
        raise ValueError(f"method must be one of {list(DENOISE_METHODS)}; got {method!r}")
    backend = params.pop("backend", "auto")
    strength = _strength(method, params)
    if method == "median":
        return median(image, **{"size": 3, **params}, backend=backend)
    if method == "gaussian":
        return gaussian(image, **{"sigma": 1.0, **params}, backend=backend)
    if method == "bm3d" and "sigma" not in params:
        noise = stronger(_blind_bm3d(image, backend), strength)
        if not isinstance(noise, float):  # a NoiseModel to denoise under (_blind_bm3d)
            return bm3d(image, noise, backend=backend, **{"profile": "fast", **params})
        if noise == 0.0:
            return _dispatch.run("copy", image, backend)
        return bm3d(image, backend=backend, **{"sigma": noise, "profile": "fast", **params})
    if method == "bm3d":
        return bm3d(image, backend=backend, **{"profile": "fast", **params})
    needs_sigma = method == "nl_means" and not {"h", "sigma"} <= params.keys() or \
        method == "bilateral" and "sigma_color" not in params
    sig = strength * _white_sigma(image, backend) if needs_sigma else 0.0
    if needs_sigma and sig == 0.0:
        return _dispatch.run("copy", image, backend)
    if method == "nl_means":
        p = {"h": 0.8 * sig, "sigma": sig, "patch_size": 5, "patch_distance": 6, **params}
        return nl_means(image, backend=backend, **p)
    p = {"sigma_color": 2.0 * sig * math.sqrt(_layout.channels(image)), "sigma_spatial": 1.5,
         **params}
    return bilateral(image, backend=backend, **p)
