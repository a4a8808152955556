"""Noise models estimated from one image: what a denoiser has to assume.

:func:`estimate_noise_model` describes an image's noise beyond one white sigma (the
single number :func:`imgops.estimate_noise` gives): its power at each frequency of
an 8x8 block transform (spatially correlated noise, as demosaicing, camera processing
and JPEG leave it), the covariance between the channels, and how its level changes
with intensity (a noise level function; a Poisson-Gaussian law ``var = a y + b`` for
linear, raw or scientific data). The ``imgops noise`` command prints it per file.

The estimator's accuracy is still being measured: on textured images its
low-frequency estimates read part of the texture as noise. The blind denoiser
(:func:`imgops.denoise`) therefore uses the model only to choose its route: a
Poisson-Gaussian law or a white level law (denoised under it), strong colour noise
(denoised under the correlated model), white noise (no camera pilot); elsewhere it
keeps one white sigma. The documentation's benchmarks page has the measurements.
"""

from __future__ import annotations

import numpy as np

from ._noise import MODELS, NoiseModel
from ._noise import estimate_noise_model as _estimate

__all__ = ["MODELS", "NoiseModel", "estimate_noise_model"]


def estimate_noise_model(image: np.ndarray, model: str = "auto") -> NoiseModel:
    """Estimate the noise of an image: spectrum, channel covariance, intensity law.

    Blocks of 8x8 pixels are read on a stride-4 grid (at most a few thousand, evenly
    thinned on large images, so the time is bounded), transformed by the orthonormal
    2-D DCT, and the quietest ones, those whose energies spread like noise rather
    than texture, kept per intensity bin; their coefficients give the noise's
    covariance per frequency and channel pair, and the bins its level against
    intensity. Written from Ponomarenko et al. (2007), Colom and Buades (2013) and,
    for the Poisson-Gaussian fit, Foi et al. (2008).

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``, uint8, uint16, float32 or float64, in its own
        units (0-255 for uint8); not modified. NaN and infinite samples are ignored.
    model : {"auto", "white", "correlated", "poisson_gaussian"}, optional
        The kind of model returned; ``"auto"`` (default) picks white when the
        spectrum is flat, Poisson-Gaussian when the variance grows linearly with
        intensity, correlated otherwise.

    Returns
    -------
    NoiseModel
        ``kind``; ``cov`` (C, C, 8, 8), the covariance of each DCT coefficient between
        channels, in the image's units squared; ``levels``/``gain``, the noise's
        standard deviation relative to ``cov`` against intensity; ``a``, ``b``: the
        Poisson-Gaussian fit or None. ``model.sigma`` is the equivalent white sigma
        per channel, ``model.psd((M, N))`` the power spectral density on an FFT grid
        (the ``bm3d`` package's ``sigma_psd`` convention). The estimate scales with
        float data: ``estimate_noise_model(k * x)`` is the model of ``x`` scaled by k.

    Raises
    ------
    TypeError
        If `image` is not a NumPy array of dtype uint8, uint16, float32 or float64.
    ValueError
        If `image` is empty or not 2- or 3-D, or `model` is not one of the values
        above.

    References
    ----------
    .. [1] N. N. Ponomarenko, V. V. Lukin, M. S. Zriakhov, A. Kaarna, J. Astola, "An
       automatic approach to lossy compression of AVIRIS images", IGARSS 2007.
    .. [2] M. Colom, A. Buades, "Analysis and extension of the Ponomarenko et al.
       method, estimating a noise curve from a single image", Image Processing On
       Line 3, 2013.
    .. [3] A. Foi, M. Trimeche, V. Katkovnik, K. Egiazarian, "Practical
       Poissonian-Gaussian noise modeling and fitting for single-image raw-data",
       IEEE Trans. Image Process. 17(10), 2008.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = 0.5 + rng.normal(0, 0.05, (128, 128))
    >>> m = estimate_noise_model(noisy)
    >>> m.kind, bool(abs(m.sigma[0] - 0.05) < 0.005)
    ('white', True)
    """
    return _estimate(image, model)
