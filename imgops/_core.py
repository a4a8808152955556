"""The one place for argument checking, dtype policy, border modes, layouts and backends.

Public functions call into this module; kernels never validate anything.

Data flow: ``check_image`` -> ``to_planes`` (a contiguous ``(P, H, W)`` stack in the
compute dtype) -> kernel -> ``from_planes`` (back to the caller's layout) ->
``finish`` (rounding and saturation to the output dtype).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

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

BACKENDS = ("auto", "cpu", "cuda")


# --------------------------------------------------------------------------- checks
def is_device_array(obj) -> bool:
    from ._cuda import is_device

    return is_device(obj)


def check_image(image, name: str = "image", ndims: Sequence[int] = (2, 3, 4), *,
                device: bool = False) -> np.ndarray:
    """Validate an image argument (a NumPy array, or a device array with ``device``);
    never copied here."""
    if not isinstance(image, np.ndarray) and not device:
        raise TypeError(f"{name} must be a NumPy array (or a CUDA device array), "
                        f"got {type(image).__name__}")
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
    input's own dtype; "wide" also computes uint16 in float64 (for float results whose
    sums of 16-bit values cancel: on a flat 65535 image float32 Laplacian-of-Gaussian
    taps miss SciPy's small result by 2e-4, beyond SPEC's float32 tolerance); or a dtype."""
    dtype = native(dtype)
    if policy is None:
        return compute_dtype(dtype)
    if policy == "native":
        return dtype
    if policy == "wide":
        return np.dtype(np.float64) if dtype == np.uint16 else compute_dtype(dtype)
    return np.dtype(policy)


def edge_dtype(dtype: np.dtype) -> np.dtype:
    """Edge filters return float32, float64 for float64 input."""
    return compute_dtype(dtype)


def native(dtype: np.dtype) -> np.dtype:
    return np.dtype(dtype).newbyteorder("=")


def int_range(dtype: np.dtype, sums=None) -> tuple:
    """(min, max) an integer dtype saturates to, as floats; (0.0, 0.0) for floats.

    ``sums``: the dtype the kernel compares them with, to get them in it (float64 bounds
    next to float32 sums widen every vector lane: stores measured 3.4x slower).
    """
    dtype = np.dtype(dtype)
    lo, hi = (0.0, 0.0) if dtype.kind != "u" else (float(np.iinfo(dtype).min),
                                                    float(np.iinfo(dtype).max))
    if sums is None:
        return lo, hi
    t = np.dtype(sums).type
    return t(lo), t(hi)


# --------------------------------------------------------------------------- layouts
def _as4d(a: np.ndarray) -> np.ndarray:
    """A view of an (H, W), (H, W, C) or (N, H, W, C) array as (N, H, W, C)."""
    if a.ndim == 2:
        return a[None, :, :, None]
    if a.ndim == 3:
        return a[None]
    return a


@dataclass(frozen=True)
class Layout:
    """How an (H, W), (H, W, C) or (N, H, W, C) image maps to a (P, H, W) plane stack."""

    shape: tuple

    def restore(self, planes: np.ndarray, dtype=None) -> np.ndarray:
        """Planes back to this layout in ``dtype`` (default: the planes' dtype), integers
        rounded to nearest and saturated. The plane count may differ (channels mixed)."""
        dtype = planes.dtype if dtype is None else native(dtype)
        nd = len(self.shape)
        n = self.shape[0] if nd == 4 else 1
        P, h, w = planes.shape
        c = P // n
        if nd == 2 and c == 1 and dtype == planes.dtype:
            return planes[0]
        shape = (h, w) if nd == 2 and c == 1 else (h, w, c) if nd <= 3 else (n, h, w, c)
        out = np.empty(shape, dtype)
        lo, hi = int_range(dtype, planes.dtype)
        _layout().scatter(np.ascontiguousarray(planes), _as4d(out), lo, hi, dtype.kind == "u")
        return out


def _layout():
    from ._kernels import layout

    return layout


def to_planes(image: np.ndarray, dtype=None) -> tuple[np.ndarray, Layout]:
    """A C-contiguous, native-order ``(P, H, W)`` stack of ``image`` in ``dtype``.

    May be a view of ``image`` (kernels never write to their inputs).
    """
    dtype = native(image.dtype) if dtype is None else native(dtype)
    layout = Layout(image.shape)
    if image.ndim == 2 and image.dtype == dtype and image.flags.c_contiguous:
        return image[None], layout
    src = image if image.dtype.isnative else image.astype(native(image.dtype))
    v = _as4d(src)
    planes = np.empty((v.shape[0] * v.shape[3], v.shape[1], v.shape[2]), dtype)
    _layout().gather(v, planes)
    return planes, layout


# --------------------------------------------------------------------------- backends
def resolve_backend(backend, image) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; got {backend!r}")
    if backend == "auto":
        return "cuda" if is_device_array(image) else "cpu"
    if backend == "cpu" and is_device_array(image):
        raise TypeError("backend='cpu' takes a NumPy array; got a CUDA device array "
                        "(use backend='cuda' or 'auto', or copy it to the host)")
    if backend == "cuda":
        from . import _cuda

        _cuda.require_gpu()
    return backend


def backends() -> dict:
    """Report the available compute backends.

    Returns
    -------
    dict
        ``{"cpu": {"threads", "threading_layer"}, "cuda": {"available", "devices", "reason"}}``.

    Examples
    --------
    >>> info = backends()
    >>> info["cpu"]["threads"] >= 1
    True
    """
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet: report the configured choice
        layer = f"not yet chosen (config: {numba.config.THREADING_LAYER})"
    from . import _cuda

    return {"cpu": {"threads": numba.get_num_threads(), "threading_layer": layer,
                    "numba": numba.__version__},
            "cuda": _cuda.describe()}
