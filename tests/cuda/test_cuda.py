"""Every operation with backend="cuda" against the CPU backend (the contract: float tolerance,
integers +-1), NumPy in -> NumPy out and device in -> device out."""

import numpy as np
import pytest

import imgops
from imgops import nn

DT = [np.uint8, np.float32, np.float64]


def img(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 256, shape).astype(dtype)
    return (rng.random(shape) * 2 - 0.5).astype(dtype)


def agree(gpu, cpu):
    gpu = np.asarray(gpu)
    assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype
    if cpu.dtype.kind == "u":
        assert np.abs(gpu.astype(int) - cpu.astype(int)).max(initial=0) <= 1
    elif cpu.dtype == bool:
        assert (gpu == cpu).mean() >= 0.999
    else:
        scale = max(1.0, float(np.nanmax(np.abs(cpu), initial=0)))
        np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-5 * scale, equal_nan=True)


K45 = np.arange(20.0).reshape(4, 5) / 50 - 0.1
SEP = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])

OPS = {
    "correlate": lambda a, **kw: imgops.correlate(a, K45, mode="wrap", **kw),
    "correlate_rank1": lambda a, **kw: imgops.correlate(a, SEP, mode="constant", cval=3,
                                                        **kw),
    "correlate_valid": lambda a, **kw: imgops.correlate(a, K45, mode="valid", **kw),
    "convolve": lambda a, **kw: imgops.convolve(a, K45, mode="mirror", **kw),
    "gaussian": lambda a, **kw: imgops.gaussian(a, (1.0, 0.7), mode="nearest", **kw),
    "box": lambda a, **kw: imgops.box(a, (3, 4), mode="reflect", **kw),
    "median3": lambda a, **kw: imgops.median(a, 3, **kw),
    "median4": lambda a, **kw: imgops.median(a, 4, mode="constant", cval=1, **kw),
    "median13": lambda a, **kw: imgops.median(a, 13, mode="wrap", **kw),
    "sobel": lambda a, **kw: imgops.sobel(a, **kw),
    "prewitt0": lambda a, **kw: imgops.prewitt(a, axis=0, mode="constant", **kw),
    "scharr": lambda a, **kw: imgops.scharr(a, mode="mirror", **kw),
    "laplace": lambda a, **kw: imgops.laplace(a, **kw),
    "gaussian_laplace": lambda a, **kw: imgops.gaussian_laplace(a, 0.8, **kw),
    "max_pool": lambda a, **kw: imgops.max_pool(a, 3, stride=2, padding=1, ceil_mode=True,
                                                 **kw),
    "avg_pool": lambda a, **kw: imgops.avg_pool(a, 2, padding=1, count_include_pad=False,
                                                **kw),
    "resize_bilinear": lambda a, **kw: imgops.resize(a, (11, 5), **kw),
    "resize_area": lambda a, **kw: imgops.resize(a, (3, 4), method="area", **kw),
    "resize_nearest_exact": lambda a, **kw: imgops.resize(a, (9, 13), method="nearest-exact",
                                                          **kw),
    "downsample": lambda a, **kw: imgops.downsample(a, 2, method="max", **kw),
    "upsample": lambda a, **kw: imgops.upsample(a, 2, method="transposed", **kw),
    "conv_transpose": lambda a, **kw: imgops.conv_transpose(a, np.ones((3, 2)), stride=(2, 1),
                                                            padding=1, bias=0.5, **kw),
    "bilateral": lambda a, **kw: imgops.bilateral(a, 30.0 if a.dtype == np.uint8 else 0.3,
                                                  1.0, radius=2, **kw),
    "nl_means": lambda a, **kw: imgops.nl_means(a, 40.0 if a.dtype == np.uint8 else 0.4,
                                                patch_size=3, patch_distance=2, sigma=0.1,
                                                **kw),
}


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("dtype", DT, ids=lambda d: np.dtype(d).name)
def test_gray_agrees_with_cpu(name, dtype):
    a = img((7, 9), dtype)
    agree(OPS[name](a, backend="cuda"), OPS[name](a, backend="cpu"))


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 5, 6, 2)])
def test_layouts_agree_with_cpu(name, shape):
    a = img(shape, np.float32, seed=2)
    if name == "correlate_valid":
        a = img((2, 6, 7, 2), np.float32)
    try:
        cpu = OPS[name](a, backend="cpu")
    except ValueError:  # too small for this operation: the GPU must refuse it the same way
        with pytest.raises(ValueError):
            OPS[name](a, backend="cuda")
        return
    agree(OPS[name](a, backend="cuda"), cpu)


TILED = {  # (operation, the tiled kernel it must run): border rules of every pass
    "gaussian_cval": (lambda a, **kw: imgops.gaussian(a, 1.3, mode="constant", cval=0.7,
                                                      **kw), "two_pass"),
    "box_wrap": (lambda a, **kw: imgops.box(a, (3, 6), mode="wrap", **kw), "two_pass"),
    "sobel": (lambda a, **kw: imgops.sobel(a, mode="mirror", **kw), "two_pass"),
    "sobel_axis1": (lambda a, **kw: imgops.sobel(a, axis=1, mode="constant", **kw),
                    "two_pass"),
    "scharr_cval": (lambda a, **kw: imgops.scharr(a, mode="constant", cval=2, **kw),
                    "two_pass"),
    "laplace_cval": (lambda a, **kw: imgops.laplace(a, mode="constant", cval=1.5, **kw),
                     "two_pass"),
    "log": (lambda a, **kw: imgops.gaussian_laplace(a, (1.1, 0.6), mode="nearest", **kw),
            "two_pass"),
    "rank1_cval": (OPS["correlate_rank1"], "two_pass"),
    "correlate": (OPS["correlate"], "correlate2d"),
    "convolve_cval": (lambda a, **kw: imgops.convolve(a, K45, mode="constant", cval=0.3,
                                                      **kw), "correlate2d"),
    "valid": (OPS["correlate_valid"], "correlate2d"),
    "median3": (lambda a, **kw: imgops.median(a, 3, mode="constant", cval=0.2, **kw),
                "median_net"),
    "median4": (OPS["median4"], "median"),
    "median5": (lambda a, **kw: imgops.median(a, 5, mode="wrap", **kw), "median_net"),
    "median7": (lambda a, **kw: imgops.median(a, 7, **kw), "median"),
}


@pytest.mark.parametrize("name", list(TILED))
def test_tiled_stencils_span_tiles(name, monkeypatch):
    """The shared-memory kernels on an image of several tiles in both directions (edges
    not multiples of the tile), against the CPU; and they did run."""
    from imgops._cuda import runtime as _cuda
    fn, kernel = TILED[name]
    ran = []
    launch = _cuda.launch_tiled

    def spy(k, *args):
        ok = launch(k, *args)
        ran.append((k.__name__, ok))
        return ok

    monkeypatch.setattr(_cuda, "launch_tiled", spy)
    monkeypatch.setattr(_cuda, "THREADS", [8, 2, 1])  # 8 x 8 output tiles
    for dtype in (np.float32, np.uint8):
        a = img((19, 21), dtype, seed=5)
        agree(fn(a, backend="cuda"), fn(a, backend="cpu"))
    assert ran and all(r == (kernel, True) for r in ran)


def test_device_color_images():
    from numba import cuda
    a = img((6, 5, 3), np.uint8)
    for name in ["upsample", "conv_transpose", "bilateral", "nl_means"]:
        agree(OPS[name](cuda.to_device(a)).copy_to_host(), OPS[name](a, backend="cpu"))


def test_conv_transpose_mixing_channels():
    a = img((5, 4, 3), np.float64)
    k = np.random.default_rng(0).random((3, 2, 3, 3))
    agree(imgops.conv_transpose(a, k, stride=2, output_padding=1, backend="cuda"),
          imgops.conv_transpose(a, k, stride=2, output_padding=1, backend="cpu"))


def test_device_in_device_out():
    from numba import cuda
    a = img((6, 7, 3), np.float32)
    d = cuda.to_device(a)
    out = imgops.gaussian(d, 1.0)  # backend="auto" picks cuda for a device array
    assert not isinstance(out, np.ndarray)
    agree(out.copy_to_host(), imgops.gaussian(a, 1.0))
    small = imgops.downsample(d, 2)
    assert not isinstance(small, np.ndarray)
    agree(small.copy_to_host(), imgops.downsample(a, 2))
    strided = cuda.to_device(a)[::2, 1:]
    agree(imgops.sobel(strided).copy_to_host(), imgops.sobel(a[::2, 1:]))
    with pytest.raises(TypeError, match="cpu"):
        imgops.gaussian(d, 1.0, backend="cpu")


def test_canny_and_noise():
    a = img((12, 14), np.float64, seed=3)
    a[:, 7:] += 1.0
    agree(imgops.canny(a, 1.0, backend="cuda"), imgops.canny(a, 1.0))
    from numba import cuda
    out = imgops.canny(cuda.to_device(a), 1.0)
    agree(out.copy_to_host(), imgops.canny(a, 1.0))
    assert imgops.estimate_noise(cuda.to_device(a)) == pytest.approx(imgops.estimate_noise(a))


def test_nan_on_the_gpu():
    a = img((8, 8), np.float64)
    a[3, 4] = np.nan
    for name in ["gaussian", "median3", "max_pool", "nl_means", "sobel"]:
        agree(OPS[name](a, backend="cuda"), OPS[name](a, backend="cpu"))


def test_nn_ops():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    wt = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    for fn in [lambda **k: nn.conv2d(x, w, np.ones(4), padding=1, **k),
               lambda **k: nn.conv_transpose2d(x, wt, stride=2, **k),
               lambda **k: nn.max_pool2d(x, 2, ceil_mode=True, **k),
               lambda **k: nn.avg_pool2d(x, 3, 1, 1, **k),
               lambda **k: nn.relu(x, **k)]:
        agree(fn(backend="cuda"), fn(backend="cpu"))


def test_backends_report_the_device():
    info = imgops.backends()["cuda"]
    assert info["available"] and info["devices"]


@pytest.mark.parametrize("shape", [(13, 17), (5, 7, 3), (2, 6, 5, 3)])
def test_staged_host_copies(shape, monkeypatch):
    """NumPy in / NumPy out through the pinned staging buffers, in chunks that do not
    divide the image (odd byte counts, several rounds of both buffers)."""
    from imgops._cuda import runtime as _cuda
    monkeypatch.setattr(_cuda, "STAGE_BYTES", 61)
    monkeypatch.setattr(_cuda, "STAGED_MIN", 1)
    for dtype in (np.uint8, np.float64):
        a = img(shape, dtype, seed=4)
        dev = _cuda.upload(a)
        np.testing.assert_array_equal(dev.copy_to_host(), a)
        np.testing.assert_array_equal(_cuda.download(dev), a)
        agree(imgops.gaussian(a, 1.0, backend="cuda"), imgops.gaussian(a, 1.0, backend="cpu"))
        agree(imgops.resize(a, (9, 4), backend="cuda"), imgops.resize(a, (9, 4), backend="cpu"))
    assert _cuda._stage().size == 61


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_ties_round_to_even_on_both_targets(dtype):
    """Means of two neighbours land on exact .5 ties: both targets round them half to
    even (np.rint), through the one shared rounding rule. CUDA once rounded ties up."""
    a = np.array([[2, 3, 4, 5, 6, 7, 8, 9]], dtype)
    expected = np.rint(np.array([[2, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]])).astype(dtype)
    cpu = imgops.box(a, (1, 2), mode="nearest", backend="cpu")
    gpu = np.asarray(imgops.box(a, (1, 2), mode="nearest", backend="cuda"))
    np.testing.assert_array_equal(cpu, expected)
    np.testing.assert_array_equal(gpu, expected)


def test_weights_that_cancel_on_offset_float32_data():
    """As on the CPU: derivatives, Laplacians and kernels of both signs compute float32
    data far from zero (1000 + U(0, 1)) in float64, within the float tolerance of the
    float64 result."""
    import scipy.ndimage as ndi

    a = (1000 + np.random.default_rng(6).random((11, 13))).astype(np.float32)
    af = a.astype(np.float64)
    k = np.array([[0.1, -0.2, 0.1], [-0.3, 0.6, -0.3], [0.1, -0.2, 0.1]])
    cases = [(imgops.sobel(a, backend="cuda"), np.hypot(ndi.sobel(af, 0), ndi.sobel(af, 1))),
             (imgops.sobel(a, axis=1, backend="cuda"), ndi.sobel(af, 1)),
             (imgops.laplace(a, backend="cuda"), ndi.laplace(af)),
             (imgops.gaussian_laplace(a, 1.0, backend="cuda"), ndi.gaussian_laplace(af, 1.0)),
             (imgops.correlate(a, k, backend="cuda"), ndi.correlate(af, k))]
    for got, ref in cases:
        got = np.asarray(got)
        assert got.dtype == np.float32
        assert np.abs(got - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
