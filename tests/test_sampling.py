"""Pooling, resizing and transposed convolution against NumPy versions of PyTorch's
formulas (tests/reference.py), and against PyTorch itself where it is importable."""

import numpy as np
import pytest
import reference as R
from helpers import DTYPES, assert_matches, layout_shape, random_image
from reference import per_channel, to_dtype

import imgops

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is optional: too heavy to require
    torch = None

POOLS = [  # size, stride, padding, ceil_mode
    (2, None, 0, False), (2, None, 0, True), (3, 2, 1, False), (3, 2, 1, True),
    ((2, 3), (1, 2), (1, 1), True), (5, 3, 2, True), (1, 1, 0, False),
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _nchw(image):
    a = np.asarray(image, np.float64)
    if a.ndim == 2:
        a = a[None, :, :, None]
    elif a.ndim == 3:
        a = a[None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def _back(t, ndim):
    a = t.numpy().transpose(0, 2, 3, 1)
    return a[0, :, :, 0] if ndim == 2 else a[0] if ndim == 3 else a


def check(out, ref, dtype, exact=False):
    assert out.dtype == np.dtype(dtype)
    assert_matches(out, to_dtype(ref, dtype), dtype, exact=exact)


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 11), (13, 4)])
def test_max_pool(pool, shape, dtype):
    size, stride, padding, ceil_mode = pool
    img = random_image(shape, dtype)
    k, s, p = _pair(size), _pair(stride if stride is not None else size), _pair(padding)
    sizes = [R.pool_out(shape[i], k[i], s[i], p[i], ceil_mode) for i in range(2)]
    if min(sizes) < 1:
        with pytest.raises(ValueError, match="size"):
            imgops.max_pool(img, size, stride=stride, padding=padding, ceil_mode=ceil_mode)
        return
    out = imgops.max_pool(img, size, stride=stride, padding=padding, ceil_mode=ceil_mode)
    ref = R.max_pool(img.astype(float), k, s, p, ceil_mode)
    check(out, ref, dtype, exact=True)
    if torch is not None:
        t = F.max_pool2d(_nchw(img), size, stride, padding, ceil_mode=ceil_mode)
        np.testing.assert_array_equal(out, _back(t, 2))


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool(pool, count_include_pad, dtype):
    size, stride, padding, ceil_mode = pool
    img = random_image((9, 14), dtype, seed=2)
    k, s, p = _pair(size), _pair(stride if stride is not None else size), _pair(padding)
    out = imgops.avg_pool(img, size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad)
    ref = R.avg_pool(img.astype(float), k, s, p, ceil_mode, count_include_pad)
    check(out, ref, dtype)
    if torch is not None:
        t = F.avg_pool2d(_nchw(img), size, stride, padding, ceil_mode=ceil_mode,
                         count_include_pad=count_include_pad)
        check(out, _back(t, 2), dtype)


RESIZES = [("nearest", False), ("nearest-exact", False), ("bilinear", False),
           ("bilinear", True), ("area", False)]


@pytest.mark.parametrize("method, align", RESIZES)
@pytest.mark.parametrize("src, dst", [((7, 11), (14, 22)), ((7, 11), (3, 5)), ((1, 1), (4, 3)),
                                      ((13, 17), (13, 40)), ((5, 9), (1, 1)),
                                      ((11, 13), (29, 7))])
def test_resize(method, align, src, dst, dtype):
    img = random_image(src, dtype, seed=3)
    out = imgops.resize(img, dst, method=method, align_corners=align)
    ref = R.resize(img.astype(float), dst, method, align)
    check(out, ref, dtype, exact=method.startswith("nearest"))
    if torch is not None:
        kw = {"align_corners": align} if method == "bilinear" else {}
        t = F.interpolate(_nchw(img), size=dst, mode=method, **kw)
        check(out, _back(t, 2), dtype)


@pytest.mark.parametrize("layout", ["gray", "color", "batch"])
@pytest.mark.parametrize("dt", DTYPES)
def test_layouts(layout, dt):
    img = random_image(layout_shape(layout, 11, 13), dt, seed=4)
    calls = {
        "max": (lambda a: imgops.max_pool(a, 3, stride=2, padding=1),
                lambda a: R.max_pool(a, (3, 3), (2, 2), (1, 1), False)),
        "avg": (lambda a: imgops.avg_pool(a, 2, ceil_mode=True),
                lambda a: R.avg_pool(a, (2, 2), (2, 2), (0, 0), True, True)),
        "bilinear": (lambda a: imgops.resize(a, (17, 9)),
                     lambda a: R.resize(a, (17, 9), "bilinear")),
        "area": (lambda a: imgops.resize(a, (5, 6), method="area"),
                 lambda a: R.resize(a, (5, 6), "area")),
        "up": (lambda a: imgops.upsample(a, 3, method="nearest"),
               lambda a: R.resize(a, (33, 39), "nearest")),
        "down": (lambda a: imgops.downsample(a, 3, method="avg"),
                 lambda a: R.avg_pool(a, (3, 3), (3, 3), (0, 0), True, True)),
        "ct": (lambda a: imgops.conv_transpose(a, imgops.bilinear_kernel(2), stride=2,
                                               padding=1),
               lambda a: R.conv_transpose(a[None], imgops.bilinear_kernel(2)[None, None],
                                          (2, 2), (1, 1), (0, 0), [0.0])[0]),
    }
    for name, (fn, ref_fn) in calls.items():
        out = fn(img)
        check(out, per_channel(img, ref_fn), dt, exact=(name == "max"))


@pytest.mark.parametrize("method", imgops.sampling.DOWNSAMPLE_METHODS)
@pytest.mark.parametrize("shape", [(7, 10), (1, 1), (9, 9), (2, 5)])
def test_downsample(method, shape):
    img = random_image(shape, np.float32, seed=5)
    f = 3
    out = imgops.downsample(img, f, method=method)
    target = (-(-shape[0] // f), -(-shape[1] // f))
    assert out.shape == target
    a = img.astype(float)
    if method == "max":
        ref = R.max_pool(a, (f, f), (f, f), (0, 0), True)
    elif method == "avg":
        ref = R.avg_pool(a, (f, f), (f, f), (0, 0), True, True)
    else:
        ref = R.resize(a, target, method)
    check(out, ref, np.float32)


@pytest.mark.parametrize("f", [1, 2, 3, 4])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "transposed"])
def test_upsample(f, method):
    img = random_image((6, 7, 2), np.float64, seed=f)
    out = imgops.upsample(img, f, method=method)
    assert out.shape == (6 * f, 7 * f, 2)
    if method == "transposed":
        k = imgops.bilinear_kernel(f)
        ref = per_channel(img, lambda a: R.conv_transpose(a[None], k[None, None], (f, f),
                                                          (f // 2, f // 2), (0, 0), [0.0])[0])
    else:
        ref = per_channel(img, lambda a: R.resize(a, (6 * f, 7 * f), method))
    check(out, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bilinear_2x_by_phases(dtype):
    """The 2x phase kernel (interleaved pixel pairs, integer sums for integers) on every
    layout and edge size: integers exactly the float64 reference rounded (ties to even);
    and nearest 2x, an exact pixel duplication."""
    for shape in [(1, 1), (1, 5), (4, 1), (7, 9), (6, 10, 3), (2, 8, 6, 4), (3, 5, 1)]:
        img = random_image(shape, dtype, seed=len(shape))
        out = imgops.upsample(img, 2)
        ref = per_channel(img, lambda a: R.resize(a, (2 * a.shape[0], 2 * a.shape[1]),
                                                  "bilinear"))
        if np.dtype(dtype).kind == "u":
            np.testing.assert_array_equal(out, to_dtype(ref, dtype))
        else:
            check(out, ref, dtype)
        near = imgops.upsample(img, 2, method="nearest")  # pixels duplicated, no table
        np.testing.assert_array_equal(near, np.repeat(np.repeat(img, 2, axis=-3 if
                                                                img.ndim > 2 else 0),
                                                      2, axis=-2 if img.ndim > 2 else 1))


@pytest.mark.parametrize("f", [2, 4])
def test_transposed_default_equals_bilinear_inside(f):
    img = random_image((12, 15), np.float64, seed=9)
    t = imgops.upsample(img, f, method="transposed")
    b = imgops.upsample(img, f, method="bilinear")
    m = f  # away from the borders
    np.testing.assert_allclose(t[m:-m, m:-m], b[m:-m, m:-m], atol=1e-12)


def test_bilinear_kernel():
    for f in range(1, 6):
        k = imgops.bilinear_kernel(f)
        size = 2 * f - f % 2
        c = f - 1 if size % 2 else f - 0.5
        r = np.array([1 - abs(i - c) / f for i in range(size)])
        np.testing.assert_allclose(k, np.outer(r, r))
    assert imgops.bilinear_kernel(2)[1, 1] == 0.5625


@pytest.mark.parametrize("stride, padding, opad", [(2, 0, 0), (2, 1, 1), ((3, 2), (1, 0), (2, 1)),
                                                   (1, 1, 0)])
def test_conv_transpose(stride, padding, opad, dtype):
    img = random_image((5, 7, 3), dtype, seed=6)
    rng = np.random.default_rng(1)
    k2 = rng.random((3, 4)) - 0.3
    k4 = rng.random((3, 2, 4, 3)) - 0.3
    s, p, o = _pair(stride), _pair(padding), _pair(opad)
    out = imgops.conv_transpose(img, k2, stride=stride, padding=padding, output_padding=opad,
                                bias=[0.5, -1.0, 2.0])
    ref = np.stack([R.conv_transpose(img[None, :, :, c].astype(float), k2[None, None], s, p, o,
                                     [b])[0] for c, b in enumerate([0.5, -1.0, 2.0])], -1)
    check(out, ref, dtype)
    out4 = imgops.conv_transpose(img, k4, stride=stride, padding=padding, output_padding=opad,
                                 bias=1.5)
    ref4 = R.conv_transpose(img.astype(float).transpose(2, 0, 1), k4, s, p, o, [1.5, 1.5])
    check(out4, ref4.transpose(1, 2, 0), dtype)
    if torch is not None:
        t = F.conv_transpose2d(_nchw(img), torch.from_numpy(k4), torch.full((2,), 1.5,
                               dtype=torch.float64), stride=stride, padding=padding,
                               output_padding=opad)
        check(out4, _back(t, 3), dtype)


def test_conv_transpose_gray_to_channels():
    img = random_image((4, 5), np.float32)
    k = np.ones((1, 3, 2, 2))
    out = imgops.conv_transpose(img, k)
    assert out.shape == (8, 10, 3)


def test_nan_and_photographs():
    skdata = pytest.importorskip("skimage.data")
    cam = skdata.camera()
    small = cam[100:164, 200:260]
    check(imgops.max_pool(small, 2), R.max_pool(small.astype(float), (2, 2), (2, 2), (0, 0),
                                                 False), np.uint8, exact=True)
    check(imgops.resize(small, (50, 91)), R.resize(small.astype(float), (50, 91), "bilinear"),
          np.uint8)
    a = random_image((6, 6), np.float32)
    a[2, 3] = np.nan
    out = imgops.max_pool(a, 2)
    assert np.isnan(out[1, 1]) and np.isfinite(np.delete(out.ravel(), 4)).all()
    assert np.isnan(imgops.avg_pool(a, 2)[1, 1])


@pytest.mark.parametrize("shape", [(12, 10), (6, 5), (6, 10), (11, 5), (1, 3)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_nan_reaches_as_in_pytorch(shape, align_corners):
    """NaN reaches the outputs whose two taps per axis hold it, a tap of weight 0 too
    (PyTorch's rule; its first output row of a 2x upsampling reads row 1 with weight 0),
    except along an axis of equal size, which PyTorch copies."""
    for nan_at in [(1, 1), (0, 4), (3, 0), (5, 3)]:
        a = random_image((6, 5), np.float64, seed=7)
        a[nan_at] = np.nan
        ref = R.resize(a, shape, "bilinear", align_corners)
        out = imgops.resize(a, shape, align_corners=align_corners)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        assert_matches(out, ref, np.float64)
        out32 = imgops.resize(np.dstack([a, a]).astype(np.float32), shape,
                              align_corners=align_corners)[..., 1]
        np.testing.assert_array_equal(np.isnan(out32), np.isnan(ref))


@pytest.mark.parametrize("call, exc, msg", [
    (lambda a: imgops.max_pool(a, 0), ValueError, "size"),
    (lambda a: imgops.max_pool(a, 2, stride=0), ValueError, "stride"),
    (lambda a: imgops.max_pool(a, 2, padding=2), ValueError, "padding"),
    (lambda a: imgops.max_pool(a, 50), ValueError, "size"),
    (lambda a: imgops.avg_pool(a, 3, padding=-1), ValueError, "padding"),
    (lambda a: imgops.resize(a, (0, 4)), ValueError, "shape"),
    (lambda a: imgops.resize(a, 4), ValueError, "shape"),
    (lambda a: imgops.resize(a, (4, 4), method="cubic"), ValueError, "method"),
    (lambda a: imgops.resize(a, (4, 4), method="nearest", align_corners=True), ValueError,
     "align_corners"),
    (lambda a: imgops.downsample(a, 0), ValueError, "factor"),
    (lambda a: imgops.upsample(a, 2, method="area"), ValueError, "method"),
    (lambda a: imgops.conv_transpose(a, np.ones((2, 2)), stride=2, output_padding=2),
     ValueError, "output_padding"),
    (lambda a: imgops.conv_transpose(a, np.ones((3, 3, 2, 2))), ValueError, "C_in"),
    (lambda a: imgops.conv_transpose(a, np.ones(3)), ValueError, "kernel"),
    (lambda a: imgops.conv_transpose(a, np.full((2, 2), np.inf)), ValueError, "kernel"),
    (lambda a: imgops.conv_transpose(a, np.ones((2, 2)), bias=[1, 2, 3]), ValueError, "bias"),
    (lambda a: imgops.conv_transpose(a, np.ones((2, 2)), padding=7), ValueError, "padding"),
    (lambda a: imgops.max_pool(a.astype(np.int32)), TypeError, "uint8"),
])
def test_bad_parameters(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call(np.zeros((6, 6), np.float32))
