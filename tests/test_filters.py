"""Filters against scipy.ndimage (the contract's filter table), per channel in float64."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import DTYPES, MODES, assert_matches, layout_shape, random_image
from reference import convolve as ref_convolve
from reference import correlate as ref_correlate
from reference import edge, per_channel, to_dtype

import imgops

K45 = np.array([[0.5, -1.0, 2.0, 0.0, 1.0], [0.25, 0.0, 1.5, -0.5, 0.1],
                [1.0, 2.0, -1.0, 0.3, 0.0], [0.0, 0.2, 0.4, 0.6, 0.8]])
SEP = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0, 2.0])  # rank 1: the two-pass path

# name -> (imgops call, reference on a float64 plane, output: "same" | "float" | "exact")
FILTERS = {
    "correlate": (lambda im, **kw: imgops.correlate(im, K45, **kw),
                  lambda a, **kw: ref_correlate(a, K45, **kw), "same"),
    "correlate_rank1": (lambda im, **kw: imgops.correlate(im, SEP, **kw),
                        lambda a, **kw: ref_correlate(a, SEP, **kw), "same"),
    "convolve": (lambda im, **kw: imgops.convolve(im, K45, **kw),
                 lambda a, **kw: ref_convolve(a, K45, **kw), "same"),
    "convolve_rank1": (lambda im, **kw: imgops.convolve(im, SEP, **kw),
                       lambda a, **kw: ref_convolve(a, SEP, **kw), "same"),
    "gaussian": (lambda im, **kw: imgops.gaussian(im, (1.5, 0.8), **kw),
                 lambda a, **kw: ndi.gaussian_filter(a, (1.5, 0.8), **kw), "same"),
    "box": (lambda im, **kw: imgops.box(im, (4, 3), **kw),
            lambda a, **kw: ndi.uniform_filter(a, (4, 3), **kw), "same"),
    "median3": (lambda im, **kw: imgops.median(im, 3, **kw),
                lambda a, **kw: ndi.median_filter(a, (3, 3), **kw), "exact"),
    "median4": (lambda im, **kw: imgops.median(im, 4, **kw),
                lambda a, **kw: ndi.median_filter(a, (4, 4), **kw), "exact"),
    "median7": (lambda im, **kw: imgops.median(im, 7, **kw),
                lambda a, **kw: ndi.median_filter(a, (7, 7), **kw), "exact"),
    "sobel": (lambda im, **kw: imgops.sobel(im, **kw), edge("sobel"), "float"),
    "sobel0": (lambda im, **kw: imgops.sobel(im, axis=0, **kw),
               lambda a, **kw: edge("sobel")(a, axis=0, **kw), "float"),
    "prewitt1": (lambda im, **kw: imgops.prewitt(im, axis=1, **kw),
                 lambda a, **kw: edge("prewitt")(a, axis=1, **kw), "float"),
    "prewitt": (lambda im, **kw: imgops.prewitt(im, **kw), edge("prewitt"), "float"),
    "scharr": (lambda im, **kw: imgops.scharr(im, **kw), edge("scharr"), "float"),
    "scharr0": (lambda im, **kw: imgops.scharr(im, axis=0, **kw),
                lambda a, **kw: edge("scharr")(a, axis=0, **kw), "float"),
    "laplace": (lambda im, **kw: imgops.laplace(im, **kw),
                lambda a, **kw: ndi.laplace(a, **kw), "float"),
    "gaussian_laplace": (lambda im, **kw: imgops.gaussian_laplace(im, 1.2, **kw),
                         lambda a, **kw: ndi.gaussian_laplace(a, 1.2, **kw), "float"),
}


def check(name, image, **kw):
    fn, ref_fn, kind = FILTERS[name]
    out = fn(image, **kw)
    ref = per_channel(image, lambda a: ref_fn(a, **kw))
    if kind == "float":
        expected = np.float64 if image.dtype == np.float64 else np.float32
        assert out.dtype == expected
        # float32 inputs and integer inputs both compute in float32
        assert_matches(out, ref, np.float64 if image.dtype == np.float64 else np.float32)
    else:
        assert out.dtype == image.dtype.newbyteorder("=")
        ref = to_dtype(ref, image.dtype)
        if kind == "exact":  # computed in the image's dtype: compare in it (cval too)
            ref = ref.astype(image.dtype)
        assert_matches(out, ref, image.dtype, exact=(kind == "exact"))
    return out


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("mode", MODES)
def test_modes_dtypes(name, mode, dtype):
    check(name, random_image((19, 26), dtype), mode=mode, cval=0.7 if dtype.kind == "f" else 9)


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("layout", ["color", "batch"])
@pytest.mark.parametrize("dt", [np.uint8, np.float32])
def test_layouts(name, layout, dt):
    check(name, random_image(layout_shape(layout, 13, 17), dt, seed=3), mode="reflect")


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 3), (5, 40)])
@pytest.mark.parametrize("mode", MODES)
def test_odd_shapes(name, shape, mode):
    check(name, random_image(shape, np.float64, seed=1), mode=mode, cval=0.25)


@pytest.mark.parametrize("name", list(FILTERS))
def test_strided_readonly_bigendian(name):
    base = random_image((30, 40, 3), np.float32, seed=5)
    views = [base[::2, ::-3, 1], base[5:20, 3:30].transpose(1, 0, 2),
             base.astype(">f4"), np.asfortranarray(base)]
    for v in views:
        before = v.copy()
        v.flags.writeable = False
        out = check(name, v, mode="mirror")
        assert out.flags.c_contiguous
        np.testing.assert_array_equal(v, before)


def test_seed_example():
    img = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0],
                    [0, 1, 1, 0, 0]])
    k = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    for dt in DTYPES:
        out = imgops.correlate(img.astype(dt), k, mode="valid")
        np.testing.assert_array_equal(out, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
        assert out.dtype == dt


@pytest.mark.parametrize("fn", [imgops.correlate, imgops.convolve])
def test_valid_mode(fn, dtype):
    img = random_image((11, 14), dtype, seed=2)
    ref = (ref_correlate if fn is imgops.correlate else ref_convolve)(
        img.astype(np.float64), K45, mode="valid")
    assert_matches(fn(img, K45, mode="valid"), to_dtype(ref, dtype), dtype)
    with pytest.raises(ValueError, match="valid"):
        fn(img[:3], K45, mode="valid")


CROSS = np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
# The window (footprint) of each filter, to say where NaN must reach.
FOOTPRINT = {"correlate": (4, 5), "correlate_rank1": (3, 4), "convolve": "conv45",
             "convolve_rank1": "conv34", "gaussian": (13, 7), "box": (4, 3),
             "median3": (3, 3), "median4": (4, 4), "median7": (7, 7), "laplace": CROSS,
             "gaussian_laplace": (11, 11)}


def nan_reach(mask, name, mode):
    fp = FOOTPRINT.get(name, (3, 3))
    m = mask.astype(np.float64)
    if isinstance(fp, str):
        return ndi.convolve(m, np.ones((4, 5) if fp == "conv45" else (3, 4)), mode=mode) > 0
    fp = np.ones(fp) if isinstance(fp, tuple) else fp
    return ndi.correlate(m, fp, mode=mode) > 0


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant", "wrap"])
def test_nan_propagates_to_its_windows(name, mode):
    """The contract: NaN reaches exactly the outputs whose windows hold it; the rest is the
    reference computed without the NaN."""
    img = random_image((15, 16), np.float64, seed=4)
    nan = np.zeros(img.shape, bool)
    nan[7, 8] = nan[0, 0] = nan[14, 3] = True
    img[nan] = np.nan
    fn, ref_fn, _ = FILTERS[name]
    out = fn(img, mode=mode)
    reach = nan_reach(nan, name, mode)
    np.testing.assert_array_equal(np.isnan(out), reach)
    ref = ref_fn(np.where(nan, 0.0, img), mode=mode)
    assert_matches(out[~reach], ref[~reach], np.float64)
    assert not np.isnan(img[~nan]).any()  # input untouched


def test_photographs():
    skdata = pytest.importorskip("skimage.data")
    for img in [skdata.camera(), skdata.astronaut(), skdata.coins()]:
        for name in ["gaussian", "median3", "sobel", "box", "correlate"]:
            check(name, img, mode="reflect")


@pytest.mark.parametrize("sigma", [0.0, 0.5, 3.0, (0, 2.0), (2.5, 0)])
def test_gaussian_sigmas(sigma):
    img = random_image((20, 24), np.float64)
    ref = ndi.gaussian_filter(img, sigma, truncate=3.0)
    assert_matches(imgops.gaussian(img, sigma, truncate=3.0), ref, np.float64)
    assert_matches(imgops.gaussian_laplace(img, sigma if sigma else 1.0),
                   ndi.gaussian_laplace(img, sigma if sigma else 1.0), np.float64)


@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_gaussian_laplace_flat_uint16(mode):
    """Full-scale 16-bit values cancel: on a flat image SciPy's result is ~12.6 (its
    truncated taps do not sum to 0) and float32 taps missed it by 2.3e-4, twice the contract's
    float32 tolerance, so uint16 is computed in float64."""
    img = np.full((9, 6, 2), 65535, np.uint16)
    img[0, 0] = 0  # one dip: the result is not all zeros
    out = imgops.gaussian_laplace(img, 1.5, mode=mode)
    ref = per_channel(img, lambda a: ndi.gaussian_laplace(a, 1.5, mode=mode))
    assert out.dtype == np.float32
    assert_matches(out, ref, np.float32)
    flat = np.full((5, 3), 65535, np.uint16)
    assert_matches(imgops.gaussian_laplace(flat, 1.5, mode=mode),
                   ndi.gaussian_laplace(flat.astype(np.float64), 1.5, mode=mode), np.float32)


@pytest.mark.parametrize("size", [1, 2, 5, 6, 9, 15])
@pytest.mark.parametrize("dt", DTYPES)
def test_median_sizes(size, dt):
    img = random_image((21, 18), dt, seed=size)
    out = imgops.median(img, size, mode="reflect")
    np.testing.assert_array_equal(out, ndi.median_filter(img, (size, size), mode="reflect"))


def test_generated_median_networks_match_their_generator():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("gen", root / "tools" / "gen_median_nets.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for rel, make in gen.FILES.items():
        assert (root / rel).read_text() == make(), rel


@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (4, 9, 3), (2, 6, 5, 2)])
@pytest.mark.parametrize("mode", MODES)
def test_median5_unrolled_network(shape, mode):
    """The straight-line 5x5 network: images smaller than the window, every border, NaN."""
    img = random_image(shape, np.float32, seed=3)
    if img.size > 4:
        img.reshape(-1)[img.size // 2] = np.nan
    out = imgops.median(img, 5, mode=mode, cval=0.25)
    size = (5, 5) if img.ndim == 2 else (5, 5, 1) if img.ndim == 3 else (1, 5, 5, 1)
    ref = ndi.median_filter(np.nan_to_num(img, nan=np.inf), size, mode=mode, cval=0.25)
    bad = ndi.maximum_filter(np.isnan(img).astype(np.uint8), size, mode=mode) > 0
    np.testing.assert_array_equal(np.isnan(out), bad)
    np.testing.assert_array_equal(out[~bad], ref[~bad])


@pytest.mark.parametrize("size", [1, 2, 7, (1, 9), (8, 2)])
def test_box_sizes(size):
    img = random_image((25, 21), np.float64, seed=7)
    assert_matches(imgops.box(img, size), ndi.uniform_filter(img, size), np.float64)


@pytest.mark.parametrize("mode", MODES)
def test_box_uint8_integer_sums_are_exact(mode):
    """uint8 boxes up to 9x9 sum in uint16 and divide by an exact reciprocal: the result
    is the exact mean rounded half to even (np.rint of the float64 mean), even divisors
    (ties) and the largest sums included; a fractional cval takes the float path."""
    rng = np.random.default_rng(11)
    for shape in [(1, 1), (1, 9), (4, 3), (23, 19, 3), (2, 7, 6, 2)]:
        a = rng.integers(0, 256, shape).astype(np.uint8)
        a.flat[::3] = 255
        for size, cval in [((2, 2), 0), ((5, 5), 255), ((9, 9), 7), ((2, 7), 3), ((4, 1), 0),
                           ((3, 3), 2.5)]:
            sz = size + (1,) if a.ndim == 3 else (1, *size, 1) if a.ndim == 4 else size
            ref = np.rint(ndi.uniform_filter(a.astype(np.float64), sz, mode=mode, cval=cval))
            got = imgops.box(a, size, mode=mode, cval=cval)
            assert got.dtype == np.uint8
            assert np.abs(got - ref).max() <= (1 if cval == 2.5 else 0), (shape, size)
    big = np.full((12, 12), 255, np.uint8)
    assert (imgops.box(big, 9) == 255).all()


def test_exact_reciprocals_for_uint8_boxes():
    from imgops._cpu.engine import reciprocal
    q = np.arange(81 * 255 + 41, dtype=np.uint64)
    for d in range(1, 82):
        m, s = reciprocal(d)
        assert int(q[-1]) * m < 2**32
        np.testing.assert_array_equal((q * np.uint64(m)) >> np.uint64(s), q // np.uint64(d))


def test_input_not_modified_and_integer_saturation():
    img = np.full((8, 8), 250, np.uint8)
    k = np.full((3, 3), 0.2)
    out = imgops.correlate(img, k)
    assert out.dtype == np.uint8 and (out == 255).all()
    assert (img == 250).all()
    neg = imgops.correlate(img, -k)
    assert (neg == 0).all()


CANCEL_2D = np.array([[0.1, -0.2, 0.1], [-0.3, 0.6, -0.3], [0.1, -0.2, 0.1]])  # rank 1
CANCEL_GENERAL = np.array([[0.0, -1.0, 0.5], [-1.0, 3.0, -1.0], [0.5, -1.0, 0.0]])


@pytest.mark.parametrize("offset", [1000.0, 1e5])
@pytest.mark.parametrize("shape", [(40, 41), (23, 30, 3)])
def test_float32_weights_that_cancel_meet_the_tolerance_on_offset_data(offset, shape):
    """Derivatives, Laplacians and kernels of both signs on float32 data far from zero
    (a detector's offset: 1000 + U(0, 1)): float32 sums of the large values missed the
    small results by up to 4e-4 (Sobel) and 0.05 at 1e5, where the contract allows 1e-5
    of the result's magnitude (at least 1e-5). They are computed in float64 and stored
    as float32."""
    a = (offset + np.random.default_rng(0).random(shape)).astype(np.float32)
    af = a.astype(np.float64)

    def per(fn):
        return per_channel(af, fn)

    cases = {
        "sobel": (imgops.sobel(a), per(lambda p: np.hypot(ndi.sobel(p, 0), ndi.sobel(p, 1)))),
        "sobel 0": (imgops.sobel(a, axis=0), per(lambda p: ndi.sobel(p, 0))),
        "prewitt 1": (imgops.prewitt(a, axis=1), per(lambda p: ndi.prewitt(p, 1))),
        "prewitt": (imgops.prewitt(a, mode="constant", cval=2.0),
                    per(lambda p: np.hypot(ndi.prewitt(p, 0, mode="constant", cval=2.0),
                                           ndi.prewitt(p, 1, mode="constant", cval=2.0)))),
        "scharr 0": (imgops.scharr(a, axis=0),
                     per(lambda p: ndi.correlate(p, np.outer([-1, 0, 1], [3, 10, 3])))),
        "laplace": (imgops.laplace(a, mode="wrap"), per(lambda p: ndi.laplace(p, mode="wrap"))),
        "gaussian_laplace": (imgops.gaussian_laplace(a, 1.5),
                             per(lambda p: ndi.gaussian_laplace(p, 1.5))),
        "correlate rank 1": (imgops.correlate(a, CANCEL_2D),
                             per(lambda p: ndi.correlate(p, CANCEL_2D))),
        "correlate": (imgops.correlate(a, CANCEL_GENERAL, mode="mirror"),
                      per(lambda p: ndi.correlate(p, CANCEL_GENERAL, mode="mirror"))),
        "convolve 1-D": (imgops.convolve(a, [[1.0, -2.0, 1.0]]),
                         per(lambda p: ndi.convolve(p, np.array([[1.0, -2.0, 1.0]])))),
    }
    for name, (got, ref) in cases.items():
        assert got.dtype == np.float32, name
        err = np.abs(got.astype(np.float64) - ref).max()
        assert err <= 1e-5 * max(1.0, np.abs(ref).max()), (name, err)
