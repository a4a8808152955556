"""Bad input gets a clear exception naming the argument (the contract)."""

import numpy as np
import pytest

import imgops

IMG = np.zeros((8, 8), np.float32)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), bool), np.zeros((4, 4), np.int64),
                                 np.zeros((4, 4), np.complex64), np.zeros((4, 4), object),
                                 np.zeros((4, 4), np.int8), np.zeros((4, 4), np.float16)])
def test_unsupported_dtype(bad):
    with pytest.raises(TypeError, match="uint8, uint16, float32, float64"):
        imgops.gaussian(bad, 1.0)


@pytest.mark.parametrize("bad, exc, msg", [
    ([[1.0, 2.0]], TypeError, "image must be a NumPy array"),
    ("abc", TypeError, "image"),
    (np.zeros(5, np.float32), ValueError, "image must be shaped"),
    (np.zeros((1, 2, 3, 4, 5), np.float32), ValueError, "image must be shaped"),
    (np.zeros((0, 4), np.float32), ValueError, "image is empty"),
    (np.zeros((2, 0, 3), np.uint8), ValueError, "image is empty"),
])
def test_bad_images(bad, exc, msg):
    for fn in (lambda a: imgops.gaussian(a, 1), imgops.sobel, imgops.median,
               lambda a: imgops.correlate(a, np.ones((3, 3)))):
        with pytest.raises(exc, match=msg):
            fn(bad)


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: imgops.gaussian(IMG, -1.0), ValueError, "sigma"),
    (lambda: imgops.gaussian(IMG, np.nan), ValueError, "sigma"),
    (lambda: imgops.gaussian(IMG, (1, 2, 3)), ValueError, "sigma"),
    (lambda: imgops.gaussian(IMG, 1.0, truncate=0), ValueError, "truncate"),
    (lambda: imgops.gaussian(IMG, "x"), TypeError, "sigma"),
    (lambda: imgops.box(IMG, 0), ValueError, "size"),
    (lambda: imgops.box(IMG, 2.5), TypeError, "size"),
    (lambda: imgops.median(IMG, 0), ValueError, "size"),
    (lambda: imgops.median(IMG, 1000), ValueError, "size"),
    (lambda: imgops.correlate(IMG, np.array([[np.nan]])), ValueError, "kernel"),
    (lambda: imgops.correlate(IMG, np.array([[np.inf, 1.0]])), ValueError, "kernel"),
    (lambda: imgops.correlate(IMG, np.ones(3)), ValueError, "kernel"),
    (lambda: imgops.correlate(IMG, np.ones((0, 3))), ValueError, "kernel"),
    (lambda: imgops.correlate(IMG, "k"), TypeError, "kernel"),
    (lambda: imgops.correlate(IMG, np.ones((3, 3)), mode="bogus"), ValueError, "mode"),
    (lambda: imgops.gaussian(IMG, 1.0, mode="valid"), ValueError, "mode"),
    (lambda: imgops.sobel(IMG, axis=2), ValueError, "axis"),
    (lambda: imgops.sobel(IMG, backend="gpu"), ValueError, "backend"),
])
def test_bad_parameters(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_cuda_without_gpu_is_a_clear_runtime_error():
    info = imgops.backends()
    if info["cuda"]["available"]:
        pytest.skip("a GPU (or the simulator) is present")
    with pytest.raises(RuntimeError, match="GPU"):
        imgops.gaussian(IMG, 1.0, backend="cuda")


def test_backends_report():
    info = imgops.backends()
    assert info["cpu"]["threads"] >= 1
    assert isinstance(info["cuda"]["available"], bool)
    assert info["cuda"]["available"] or info["cuda"]["reason"]


@pytest.mark.parametrize("call", [
    lambda a: imgops.correlate(a, np.ones((3, 3))),
    lambda a: imgops.convolve(a, np.ones((3, 3))),
    lambda a: imgops.gaussian_laplace(a, 1.0),
    lambda a: imgops.estimate_noise(a),
    lambda a: imgops.estimate_noise_model(a).cov,
    lambda a: imgops.bm3d(a, 0.1, profile="fast"),
    lambda a: imgops.denoise(a),
])
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix's own
def test_ndarray_subclasses_are_taken_as_plain_arrays(call):
    """np.matrix (and a masked array, its mask ignored as SciPy ignores it) gave Numba
    typing errors or 'matrix.max() got an unexpected keyword' in some functions."""
    a = np.random.default_rng(0).random((16, 16))
    want = call(a)
    for sub in (np.matrix(a), np.ma.masked_array(a, mask=a > 0.9)):
        np.testing.assert_array_equal(np.asarray(call(sub)), np.asarray(want))


@pytest.mark.parametrize("cval", [np.nan, np.inf, -np.inf])
def test_integer_rank_filters_refuse_a_non_finite_cval(cval):
    """The median of an integer image fills its border in the image's dtype: a NaN or
    infinite cval raised Python's bare 'cannot convert float NaN to integer' or an
    OverflowError."""
    with pytest.raises(ValueError, match="cval must be finite"):
        imgops.median(np.zeros((5, 5), np.uint8), 3, mode="constant", cval=cval)


def test_estimate_noise_model_of_big_endian_data_equals_the_native_copy():
    """A '>f8' image was estimated at float32 precision (levels 1e-8 off)."""
    z = np.random.default_rng(1).random((64, 64))
    want = imgops.estimate_noise_model(z)
    got = imgops.estimate_noise_model(z.astype(">f8"))
    np.testing.assert_array_equal(got.cov, want.cov)
    np.testing.assert_array_equal(got.levels, want.levels)
