"""The one place for argument checking, the dtype policy and the border modes.

The operation records (``imgops._ops``) check their arguments with these
functions before anything runs; kernels never validate anything. Every error
names the argument, the value it got and the allowed range.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32),
                    np.dtype(np.float64))
_DTYPE_NAMES = "uint8, uint16, float32, float64"

# Border modes, with SciPy's names and meaning. The codes are what kernels see.
#   reflect   d c b a | a b c d | d c b a   (the default)
#   mirror      d c b | a b c d | c b a     (OpenCV's BORDER_REFLECT_101)
#   nearest   a a a a | a b c d | d d d d
#   constant  k k k k | a b c d | k k k k   (k = cval)
#   wrap      a b c d | a b c d | a b c d
MODES = {"reflect": 0, "mirror": 1, "nearest": 2, "constant": 3, "wrap": 4}
MODE_DOC = """mode : {"reflect", "mirror", "nearest", "constant", "wrap"}, optional
        How the image is extended beyond its border (SciPy's names)::

            reflect   d c b a | a b c d | d c b a   (default)
            mirror      d c b | a b c d | c b a
            nearest   a a a a | a b c d | d d d d
            constant  k k k k | a b c d | k k k k   (k = cval)
            wrap      a b c d | a b c d | a b c d"""



# --------------------------------------------------------------------------- checks
def check_image(image, name: str = "image", ndims: Sequence[int] = (2, 3, 4), *,
                device: bool = False) -> np.ndarray:
    """Validate an image argument (a NumPy array, or a device array with ``device``);
    never copied here. A subclass of ``ndarray`` (``np.matrix``, a masked array: its
    mask ignored, as SciPy's filters ignore it) comes back as a plain ``ndarray`` view,
    whose indexing and methods the kernels rely on."""
    if not isinstance(image, np.ndarray) and not device:
        raise TypeError(f"{name} must be a NumPy array (or a CUDA device array), "
                        f"got {type(image).__name__}")
    if isinstance(image, np.ndarray) and type(image) is not np.ndarray:
        image = image.view(np.ndarray)
    if np.dtype(image.dtype).newbyteorder("=") not in SUPPORTED_DTYPES:
        raise TypeError(f"{name} has dtype {image.dtype}; supported dtypes are {_DTYPE_NAMES}")
    if image.ndim not in ndims:
        shapes = {2: "(H, W)", 3: "(H, W, C)", 4: "(N, H, W, C)"}
        allowed = " or ".join(shapes[n] for n in ndims)
        raise ValueError(f"{name} must be shaped {allowed}; got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    return image


def check_mode(mode, allow_valid: bool = False) -> str:
    allowed = list(MODES) + (["valid"] if allow_valid else [])
    if not isinstance(mode, str) or mode not in allowed:
        raise ValueError(f"mode must be one of {allowed}; got {mode!r}")
    return mode


def check_float(value, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        rng = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"{name} must be {rng}; got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value}")
    return value


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value}")
    return value


def pair(value, name: str, kind=check_int, **limits) -> tuple:
    """A number or a pair of numbers -> a checked ``(y, x)`` pair."""
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (y, x); got {value!r}")
        return tuple(kind(v, name, **limits) for v in value)
    v = kind(value, name, **limits)
    return (v, v)


def check_kernel(kernel, name: str = "kernel", ndim: int = 2) -> np.ndarray:
    if isinstance(kernel, (list, tuple)):
        kernel = np.asarray(kernel)
    if not isinstance(kernel, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(kernel).__name__}")
    if kernel.dtype.kind not in "buif":
        raise TypeError(f"{name} must hold real numbers; got dtype {kernel.dtype}")
    if kernel.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {kernel.shape}")
    if kernel.size == 0:
        raise ValueError(f"{name} is empty (shape {kernel.shape})")
    kernel = np.asarray(kernel, dtype=np.float64)
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return kernel


# --------------------------------------------------------------------------- dtypes
def compute_dtype(dtype: np.dtype) -> np.dtype:
    """float64 stays float64; uint8, uint16 and float32 are computed in float32."""
    return np.dtype(np.float64) if np.dtype(dtype).newbyteorder("=") == np.float64 \
        else np.dtype(np.float32)


def plane_dtype(dtype: np.dtype, policy=None) -> np.dtype:
    """The planes' dtype for an input dtype: None gives ``compute_dtype``; "native" the
    input's own dtype; "wide" computes uint16 and float32 in float64, for weights that
    cancel (derivatives, Laplacians, any kernel of both signs), whose small results
    float32 sums of large values miss: on a flat 65535 image float32
    Laplacian-of-Gaussian taps miss SciPy's result by 2e-4, and the Sobel magnitude of
    1000 + U(0, 1) float32 data by 4e-4, beyond the float32 tolerance (1e-5 of the
    result's magnitude, at least 1e-5); or a dtype."""
    dtype = native(dtype)
    if policy is None:
        return compute_dtype(dtype)
    if policy == "native":
        return dtype
    if policy == "wide":
        return np.dtype(np.float64) if dtype in (np.uint16, np.float32) \
            else compute_dtype(dtype)
    return np.dtype(policy)


def cancels(kernel: np.ndarray) -> bool:
    """Whether ``kernel`` has weights of both signs (its sums may cancel: see
    :func:`plane_dtype`'s "wide")."""
    k = np.asarray(kernel)
    return bool((k > 0).any() and (k < 0).any())


def native_cval(cval: float, dtype: np.dtype) -> float:
    """``cval`` as SciPy casts it into an image of ``dtype`` (rank filters, which compute
    in the image's own dtype): rounded and saturated for integers."""
    if np.dtype(dtype).kind == "u":
        if not math.isfinite(cval):
            raise ValueError(f"cval must be finite for a {np.dtype(dtype)} image (it fills "
                             f"the border in the image's own dtype); got {cval}")
        info = np.iinfo(dtype)
        return min(max(round(cval), info.min), info.max)
    return cval


def edge_dtype(dtype: np.dtype) -> np.dtype:
    """Edge filters return float32, float64 for float64 input."""
    return compute_dtype(dtype)


def native(dtype: np.dtype) -> np.dtype:
    return np.dtype(dtype).newbyteorder("=")


def int_range(dtype: np.dtype, sums=None) -> tuple:
    """(min, max) an integer dtype saturates to, as floats; (0.0, 0.0) for floats.

    ``sums``: the dtype the kernel compares them with, to get them in it (float64 bounds
    next to float32 sums widen every vector lane of the stores).
    """
    dtype = np.dtype(dtype)
    lo, hi = (0.0, 0.0) if dtype.kind != "u" else (float(np.iinfo(dtype).min),
                                                    float(np.iinfo(dtype).max))
    if sums is None:
        return lo, hi
    t = np.dtype(sums).type
    return t(lo), t(hi)


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool; got {value!r}")
    return bool(value)


def check_shape(shape) -> tuple[int, int]:
    """An output ``(height, width)``, each >= 1."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (height, width); got {shape!r}")
    return tuple(check_int(s, "shape", low=1) for s in shape)


def check_bias(bias, cout: int) -> np.ndarray:
    """None, a number or ``cout`` finite values -> ``cout`` float64 values."""
    if bias is None:
        return np.zeros(cout)
    b = np.asarray(bias, dtype=np.float64).ravel()
    if b.size == 1:
        b = np.full(cout, b[0])
    if b.size != cout:
        raise ValueError(f"bias must be a number or hold {cout} values; got {b.size}")
    if not np.all(np.isfinite(b)):
        raise ValueError("bias must be finite")
    return b


def pool_output_size(n: int, k: int, s: int, p: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (dilation 1)."""
    num = n + 2 * p - k
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside the image
        o -= 1
    return o


def pool_geometry(h: int, w: int, size, stride, padding, ceil_mode) -> tuple:
    """Checked ``(kh, kw, sh, sw, ph, pw, ho, wo)`` of a pool over an ``h x w`` image."""
    kh, kw = pair(size, "size", low=1)
    sh, sw = (kh, kw) if stride is None else pair(stride, "stride", low=1)
    ph, pw = pair(padding, "padding", low=0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding must be at most half the window size {(kh, kw)}; "
                         f"got {(ph, pw)}")
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    ho = pool_output_size(h, kh, sh, ph, ceil_mode)
    wo = pool_output_size(w, kw, sw, pw, ceil_mode)
    if ho < 1 or wo < 1:
        raise ValueError(f"size {(kh, kw)} with padding {(ph, pw)} is larger than the "
                         f"padded image ({h + 2 * ph}x{w + 2 * pw})")
    return kh, kw, sh, sw, ph, pw, ho, wo


def conv_output_size(n: int, k: int, s: int, p: int, op: int) -> int:
    """PyTorch's transposed-convolution output length."""
    return (n - 1) * s - 2 * p + k + op
