"""imgops: image filters, denoising, pooling and resampling compiled with Numba.

NumPy in, NumPy out; CUDA device arrays in, device arrays out. See SPEC.md for
the contract each function keeps with its reference implementation.
"""

from . import nn
from ._core import backends
from .denoise import bilateral, canny, denoise, estimate_noise, nl_means
from .filters import (
    box,
    convolve,
    correlate,
    gaussian,
    gaussian_laplace,
    laplace,
    median,
    prewitt,
    scharr,
    sobel,
)
from .sampling import (
    avg_pool,
    bilinear_kernel,
    conv_transpose,
    downsample,
    max_pool,
    resize,
    upsample,
)

__version__ = "0.1.0"

__all__ = [
    "bilateral",
    "canny",
    "denoise",
    "estimate_noise",
    "nl_means",
    "nn",
    "avg_pool",
    "bilinear_kernel",
    "conv_transpose",
    "downsample",
    "max_pool",
    "resize",
    "upsample",
    "backends",
    "box",
    "convolve",
    "correlate",
    "gaussian",
    "gaussian_laplace",
    "laplace",
    "median",
    "prewitt",
    "scharr",
    "sobel",
]
