"""BM3D on the GPU against the CPU, through the public API (in the simulator without a
GPU: tiny images, both profiles, colour and other channel counts, NaN)."""

import numpy as np
import pytest

import imgops


@pytest.mark.parametrize("shape, profile", [((12, 12), "normal"), ((20, 17, 3), "fast"),
                                            ((13, 9, 2), "fast"), ((5, 3), "normal")])
def test_bm3d_cuda_agrees_with_cpu(shape, profile):
    rng = np.random.default_rng(4)
    img = np.clip(0.5 + 0.15 * rng.standard_normal(shape), 0, 1).astype(np.float32)
    img[2, 1] = np.nan
    want = imgops.bm3d(img, 0.1, profile=profile, backend="cpu")
    got = np.asarray(imgops.bm3d(img, 0.1, profile=profile, backend="cuda"))
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, equal_nan=True)  # the float tolerance


def test_bm3d_cuda_uint8_device_in_device_out():
    from numba import cuda

    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (10, 14, 3)).astype(np.uint8)
    want = imgops.bm3d(img, 20.0, profile="fast", backend="cpu")
    got = imgops.bm3d(cuda.to_device(img), 20.0, profile="fast")
    assert not isinstance(got, np.ndarray)
    assert np.abs(got.copy_to_host().astype(int) - want.astype(int)).max() <= 1


def test_bm3d_cuda_measures_the_float_range_as_the_cpu():
    """Float images in any range: the GPU measures the nominal range on the same sites
    and windows as the CPU (here a site every two rows and columns, the window with a
    NaN left out), so data in 0-4095 gives the CPU's result, and 4095 times the result
    on [0, 1]."""
    from numba import cuda

    from imgops._cpu.bm3d import measured_range
    from imgops._cuda.bm3d import measured_range_cuda
    from imgops._shared import bm3d as shared

    rng = np.random.default_rng(6)
    img = np.clip(0.5 + 0.2 * rng.standard_normal((80, 80, 3)), 0, 1).astype(np.float32)
    img[3, 5, 1] = np.nan
    k = np.float32(4095.0)
    assert shared.range_grid(1, 80, 80, 3)[0] == 2
    planes = cuda.to_device(np.ascontiguousarray((img * k).transpose(2, 0, 1)))
    assert measured_range_cuda(planes, 1, 3) == measured_range((img * k)[None])
    small = np.ascontiguousarray(img[:9, :14])
    want = imgops.bm3d(small * k, 0.1 * k, profile="fast", backend="cpu")
    got = np.asarray(imgops.bm3d(small * k, 0.1 * k, profile="fast", backend="cuda"))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * k, equal_nan=True)
    base = imgops.bm3d(small, 0.1, profile="fast", backend="cuda")
    np.testing.assert_allclose(got, k * np.asarray(base), rtol=0, atol=1e-5 * k,
                               equal_nan=True)


@pytest.mark.parametrize("shape, profile", [((12, 14), "normal"), ((13, 11, 3), "fast"),
                                            ((10, 9, 2), "fast")])
def test_bm3d_cuda_noise_forms_agree_with_cpu(shape, profile):
    """Per-channel sigmas, a correlated PSD (per-coefficient thresholds and Wiener
    variances on the GPU, the matching image whitened on the host) and NoiseModels (one
    with a Poisson-Gaussian law, one with a noise level function: their transforms on the
    host, for a device array too): the CPU's results."""
    from imgops._noise import NoiseModel

    rng = np.random.default_rng(7)
    img = np.clip(0.5 + 0.15 * rng.standard_normal(shape), 0, 1).astype(np.float32)
    img[3, 2] = np.nan
    m, n = shape[:2]
    c = 1 if len(shape) == 2 else shape[2]
    psd = 0.01 * m * n * np.abs(np.fft.fft2(np.ones((1, 3)) / np.sqrt(3), (m, n))) ** 2
    cov = np.zeros((c, c, 8, 8))
    cov[np.arange(c), np.arange(c)] = np.linspace(0.02, 0.005, 64).reshape(8, 8)
    # a Poisson-Gaussian law, a noise level function: the stabilizing transforms on the
    # host around the GPU's BM3D
    forms = [psd, NoiseModel("correlated", cov * 0.1),
             NoiseModel("poisson_gaussian", np.full((8, 8), 0.01), a=0.02, b=1e-4),
             NoiseModel("white", np.full((8, 8), 0.01), levels=[0.2, 0.8], gain=[0.5, 1.5])]
    if c > 1:
        forms.append(np.linspace(0.05, 0.12, c))
    for sigma in forms:
        want = imgops.bm3d(img, sigma, profile=profile, backend="cpu")
        got = np.asarray(imgops.bm3d(img, sigma, profile=profile, backend="cuda"))
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5, equal_nan=True)
        if isinstance(sigma, NoiseModel) and sigma.kind != "correlated":
            from numba import cuda

            dev = imgops.bm3d(cuda.to_device(img), sigma, profile=profile)
            assert hasattr(dev, "copy_to_host")
            np.testing.assert_allclose(dev.copy_to_host(), got, rtol=0, atol=1e-5,
                                       equal_nan=True)
