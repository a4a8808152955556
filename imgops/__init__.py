"""imgops: image filters, denoising, pooling and resampling compiled with Numba.

NumPy in, NumPy out; CUDA device arrays in, device arrays out. Each function
agrees with a reference implementation (SciPy, scikit-image or PyTorch), named in
its docstring and tested on random images and photographs.
"""

from . import nn
from ._dispatch import backends
from ._ops import METHODS
from .denoise import bilateral, bm3d, denoise, estimate_noise, nl_means
from .feature import canny
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
from .noise import NoiseModel, estimate_noise_model
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
    "METHODS",
    "bilateral",
    "bm3d",
    "canny",
    "denoise",
    "estimate_noise",
    "estimate_noise_model",
    "NoiseModel",
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
