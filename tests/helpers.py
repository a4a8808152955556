"""Shared test helpers: dtypes, modes, random images, the contract's tolerance."""

import numpy as np

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
MODES = ["reflect", "mirror", "nearest", "constant", "wrap"]


def random_image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)
    return (rng.random(shape) * 2 - 0.5).astype(dtype)


def layout_shape(layout, h=23, w=31):
    return {"gray": (h, w), "color": (h, w, 3), "batch": (2, h, w, 2)}[layout]


def assert_matches(out, ref, dtype, *, exact=False):
    """the contract's tolerance: integers +-1, float32 1e-5 * max(1, max|ref|), float64 1e-9."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    dtype = np.dtype(dtype).newbyteorder("=")
    if exact:
        np.testing.assert_array_equal(out, ref)
        return
    if dtype.kind == "u":
        tol = 1.0
    else:
        scale = max(1.0, float(np.nanmax(np.abs(ref))) if np.isfinite(ref).any() else 1.0)
        tol = (1e-5 if dtype == np.float32 else 1e-9) * scale
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol, equal_nan=True)
