"""imgops: image filters, denoising, pooling and resampling compiled with Numba.

NumPy in, NumPy out; CUDA device arrays in, device arrays out. See SPEC.md for
the contract each function keeps with its reference implementation.
"""

from ._core import backends
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

__version__ = "0.1.0"

__all__ = [
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
