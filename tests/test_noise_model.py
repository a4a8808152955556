"""The noise-model estimator (imgops._noise) on synthetic noise of known model, textures
without noise, scaling, dtypes, NaN, tiny images and bad arguments; NoiseModel's
validation, ``psd()`` and ``scaled()``; the pilot residual's reading of the blind
default. Small images only: a few seconds in all."""

from __future__ import annotations

import numpy as np
import pytest
from noise_synth import (
    bands,
    colour_correlated,
    correlated,
    filtered_noise,
    gaussian_kernel,
    line_kernel,
    poisson_gaussian,
    signal_dependent,
    to_uint8,
    true_cov,
    white,
)
from skimage import data

import imgops
from imgops._noise import NoiseModel, estimate_noise_model


def _smooth(n=192, c=None, seed=0):
    """A smooth synthetic image (low-order waves), 40-210."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] / n
    chans = []
    for _ in range(c or 1):
        a = rng.uniform(0, 2 * np.pi, 4)
        img = 125 + 40 * np.sin(2 * np.pi * x + a[0]) * np.cos(3 * y + a[1]) + \
            30 * np.cos(2 * np.pi * (x + y) / 2 + a[2]) + 10 * np.sin(5 * x + a[3])
        chans.append(img)
    return chans[0] if c is None else np.stack(chans, axis=-1)


@pytest.fixture(scope="module")
def camera():
    return data.camera()[96:288, 96:288].astype(np.float64)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()[:192, :192].astype(np.float64)


def _rel(a, b):
    return np.abs(np.asarray(a, float) / np.asarray(b, float) - 1)


@pytest.mark.parametrize("sigma", [2.0, 10.0, 40.0])
def test_white_on_a_smooth_image(sigma):
    clean = _smooth()
    noisy = white(clean, sigma, 1)
    m = estimate_noise_model(noisy)
    assert m.kind == "white"
    assert _rel(m.sigma, sigma).max() < 0.08


@pytest.mark.parametrize("sigma", [10.0, 30.0])
def test_white_on_photographs(camera, astronaut, sigma):
    for clean in (camera, astronaut):
        noisy = white(clean, sigma, 2)
        m = estimate_noise_model(noisy)
        truth = bands(true_cov(noisy - clean))
        est = bands(m.cov)
        assert _rel(est["sigma"], truth["sigma"]).max() < 0.12
        assert m.kind == "white"


@pytest.mark.parametrize("blur", [0.7, 1.5])
def test_gaussian_correlated(blur):
    clean = _smooth()
    noisy = correlated(clean, 10.0, gaussian_kernel(blur), 3)
    m = estimate_noise_model(noisy)
    assert m.kind == "correlated"
    truth, est = bands(true_cov(noisy - clean)), bands(m.cov)
    assert _rel(est["sigma"], truth["sigma"]).max() < 0.2
    assert _rel(est["low"], truth["low"]).max() < 0.25
    assert est["high"][0] < 0.6 * est["low"][0]


def test_line_kernel_is_anisotropic(camera):
    noisy = correlated(camera, 10.0, line_kernel(5), 4)  # horizontal box: x smoothed
    m = estimate_noise_model(noisy)
    assert m.kind == "correlated"
    v = m.variances[0]
    assert v[5:, 0].mean() > 4 * v[0, 5:].mean()  # vertical detail kept, horizontal gone


def test_per_channel_sigmas(astronaut):
    noisy = white(_smooth(c=3), [4.0, 10.0, 20.0], 5)
    assert _rel(estimate_noise_model(noisy).sigma, [4.0, 10.0, 20.0]).max() < 0.1
    # on a photograph the quiet channel takes in some texture: the blocks are chosen on
    # the channels' mean, where the loud channels' noise hides it
    noisy = white(astronaut, [4.0, 10.0, 20.0], 5)
    assert _rel(estimate_noise_model(noisy).sigma, [4.0, 10.0, 20.0]).max() < 0.35


def test_cross_channel_correlation():
    clean = _smooth(c=3)
    noisy = colour_correlated(clean, [5.0, 8.0, 10.0], 0.6, 6)
    m = estimate_noise_model(noisy)
    cov = m.cov.mean(axis=(2, 3))
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert _rel(m.sigma, [5.0, 8.0, 10.0]).max() < 0.1
    assert np.abs(corr[np.triu_indices(3, 1)] - 0.6).max() < 0.1


def test_signal_dependent_noise_has_a_rising_gain():
    clean = _smooth() * 1.2 - 30  # 18-222
    noisy = signal_dependent(clean, 0.8, 7)
    m = estimate_noise_model(noisy)
    assert m.gain[-1] > 1.5 * m.gain[0]
    assert m.a is not None and 0.64 * 0.6 < m.a < 0.64 * 1.5


def test_white_law_kept_only_where_it_is_one():
    """A white model keeps its intensity law where the gains spread and follow a line
    (sigma 2 -> 30 with intensity: the gains rise over 5x), and is flat where white noise
    of one sigma reads unevenly by content (camera and coins at sigma 10: textured areas
    at some intensities; BM3D under those gains lost 0.5-0.6 dB), at the same mean
    variance (the sigma read is unchanged by the flattening)."""
    from noise_synth import level_law

    from imgops._noise import level_law as is_law

    clean = data.camera()[128:384, 128:384].astype(np.float64)
    z, _ = level_law(clean, 2.0, 30.0, 5)
    m = estimate_noise_model(z.astype(np.float32))
    assert m.kind == "white" and is_law(m) and m.gain[-1] > 4 * m.gain[0]
    rng = np.random.default_rng(10)
    for img in (data.camera(), data.coins()):
        z = (img + rng.normal(0, 10, img.shape)).astype(np.float32)
        m = estimate_noise_model(z, "white")
        np.testing.assert_array_equal(m.gain, np.ones_like(m.gain))
        assert m.sigma[0] == pytest.approx(10, rel=0.25)  # 11.4, 11.9: texture read too


@pytest.mark.parametrize("peak", [2.0, 10.0, 60.0])
def test_poisson_gaussian(peak):
    z, _ = poisson_gaussian(_smooth(), peak, 8)
    m = estimate_noise_model(z)
    assert m.kind == "poisson_gaussian"
    assert 0.7 < m.a < 1.4
    assert abs(m.b - (peak / 10) ** 2) < 0.2 * (peak / 10) ** 2 + 0.15 * peak
    forced = estimate_noise_model(z, "poisson_gaussian")
    assert forced.kind == "poisson_gaussian" and forced.a == pytest.approx(m.a)


def test_poisson_gaussian_under_texture():
    """Raw-like counts (gain 4, read noise 20) on camera: the gate lets some of the grass
    through in the middle tones, whose bins then read twice the noise's variance; set
    aside as texture, they no longer hide the line (before: white noise of one sigma)."""
    rng = np.random.default_rng(0)
    clean = data.camera() / 255 * 4000
    z = np.clip(rng.poisson(clean / 4.0) * 4.0 + rng.normal(0, 20, clean.shape), 0,
                65535).astype(np.uint16)
    m = estimate_noise_model(z)
    assert m.kind == "poisson_gaussian" and 3.2 < m.a < 5.2, (m.kind, m.a)


def test_clipped_uint8(camera):
    noisy = to_uint8(white(camera, 30.0, 9))
    m = estimate_noise_model(noisy)
    # blocks with clipped samples are left out: the noise where it is not clipped
    assert _rel(m.sigma, 30.0).max() < 0.15


def test_heavily_clipped_colour_noise_reads_white():
    """Coffee with white noise of sigma 40, rounded and clipped to uint8: a sample in
    almost every 8x8x3 block is clipped, so a single block is left, whose spectrum says
    little; auto read it as correlated (and BM3D under that model lost 4.3 dB against
    the white path). The flatness test allows for the blocks' sampling error."""
    clean = data.coffee().astype(np.float64)
    noisy = to_uint8(clean + np.random.default_rng(0).normal(0, 40.0, clean.shape))
    m = estimate_noise_model(noisy)
    assert m.kind == "white"
    assert _rel(m.sigma, 40.0).max() < 0.15


def test_textures_without_noise_read_lower_than_immerkaer_in_the_high_band():
    for name in ("grass", "gravel"):
        img = getattr(data, name)()[:256, :256]
        m = estimate_noise_model(img)
        assert bands(m.cov)["high"][0] < imgops.estimate_noise(img)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_transform_is_the_dct_with_the_plane_projected_out(dtype):
    """The estimator's block transform (one product) against SciPy's orthonormal DCT-II
    and the projection written out: a block's ramps leave its used AC coefficients at
    zero, and the rest passes unchanged but for the first row's and column's odd ones."""
    scipy_fft = pytest.importorskip("scipy.fft")
    from imgops._noise import _ODD, _RAMP, _USED, _transform

    rng = np.random.default_rng(2)
    blocks = rng.normal(0, 10, (77, 3, 8, 8)).astype(dtype)  # not a multiple of 32 rows
    dc, ac = _transform(blocks)
    # v * 8 + u: u the vertical frequency, v the horizontal one
    coef = scipy_fft.dctn(blocks.astype(np.float64), norm="ortho", axes=(2, 3))
    coef = coef.swapaxes(2, 3).reshape(77, 3, 64)
    for index in (_ODD, _ODD * 8):
        proj = coef[:, :, index] @ _RAMP
        coef[:, :, index] -= proj[..., None] * _RAMP
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert dc.shape == (77, 3) and ac.shape == (77, 3, len(_USED)) and ac.dtype == dtype
    np.testing.assert_allclose(dc, coef[:, :, 0], rtol=0, atol=tol * 80)
    np.testing.assert_allclose(ac, coef[:, :, _USED], rtol=0, atol=tol * 80)
    yy, xx = np.mgrid[0:8, 0:8]
    plane = (3.0 * yy - 2.0 * xx + 5)[None, None].astype(dtype)
    np.testing.assert_allclose(_transform(plane)[1], 0, atol=tol * 10)


def test_channel_mean_is_numpys_to_the_last_bit():
    from imgops._noise import _channel_mean

    rng = np.random.default_rng(6)
    for dtype, c in ((np.uint8, 3), (np.uint16, 1), (np.float32, 3), (np.float64, 4)):
        x = (rng.normal(0, 1e3, (33, 17, c)) + 3e3).astype(dtype)
        for view in (x, x[::2, ::-3]):
            assert np.array_equal(_channel_mean(view), view.mean(axis=2, dtype=np.float64))


@pytest.mark.parametrize("name, make", [
    ("chelsea", lambda c: white(c, 5.0, 3)),
    ("coffee", lambda c: correlated(c, 10.0, gaussian_kernel(1.0), 3)),
])
def test_smooth_content_is_not_read_as_low_frequency_noise(name, make):
    # chelsea's fur and coffee's shading put signal into the lowest AC coefficients of
    # even the quietest blocks; they are extrapolated from u + v >= 3 (white 5 on
    # chelsea read 2x too high there before)
    clean = getattr(data, name)()[..., :3].astype(np.float64)
    noisy = make(clean)
    est, tru = bands(estimate_noise_model(noisy).cov), bands(true_cov(noisy - clean))
    ratio = est["low"] / tru["low"]
    assert (ratio > 0.8).all() and (ratio < 1.25).all(), ratio


def test_scaling_float():
    noisy = white(_smooth(), 5.0, 10)
    m = estimate_noise_model(noisy)
    for k in (4.0, 0.5):  # powers of two: exact
        mk = estimate_noise_model(noisy * k)
        ref = m.scaled(k)
        np.testing.assert_allclose(mk.cov, ref.cov, rtol=1e-9, atol=0)
        np.testing.assert_allclose(mk.levels, ref.levels, rtol=1e-9)
        np.testing.assert_allclose(mk.gain, ref.gain, rtol=1e-9)
    m3 = estimate_noise_model(noisy * 3.0)
    np.testing.assert_allclose(m3.sigma, m.scaled(3.0).sigma, rtol=1e-2)


def test_every_dtype():
    noisy = to_uint8(white(_smooth(), 6.0, 11))
    ref = estimate_noise_model(noisy).sigma
    for dt, k in ((np.uint16, 257.0), (np.float32, 1 / 255), (np.float64, 1.0)):
        m = estimate_noise_model((noisy.astype(np.float64) * k).astype(dt))
        np.testing.assert_allclose(m.sigma / k, ref, rtol=0.02)


def test_nan_and_inf_are_ignored():
    noisy = white(_smooth(), 6.0, 12)
    ref = estimate_noise_model(noisy).sigma
    bad = noisy.copy()
    rng = np.random.default_rng(0)
    bad[rng.integers(0, 192, 40), rng.integers(0, 192, 40)] = np.nan
    bad[5, 5] = np.inf
    m = estimate_noise_model(bad.astype(np.float32))
    assert np.isfinite(m.cov).all()
    np.testing.assert_allclose(m.sigma, ref, rtol=0.05)
    assert estimate_noise_model(np.full((32, 32), np.nan)).sigma[0] == 0


def test_tiny_and_constant_images():
    rng = np.random.default_rng(13)
    row = 100 + rng.normal(0, 5, (1, 400))
    m = estimate_noise_model(row)
    assert m.kind == "white" and abs(m.sigma[0] / 5 - 1) < 0.15
    assert estimate_noise_model(rng.normal(0, 5, (5, 5, 3))).sigma.shape == (3,)
    assert estimate_noise_model(np.ones((1, 1))).sigma[0] == 0
    for shape in ((64, 64), (64, 64, 3)):
        z = estimate_noise_model(np.full(shape, 7, np.uint8))
        assert z.kind == "white" and (z.cov == 0).all()


def test_bad_arguments():
    img = np.zeros((16, 16))
    with pytest.raises(ValueError, match="model"):
        estimate_noise_model(img, "gaussian")
    with pytest.raises(TypeError, match="NumPy array"):
        estimate_noise_model([[1.0]])
    with pytest.raises(TypeError, match="dtype"):
        estimate_noise_model(img.astype(np.int32))
    with pytest.raises(ValueError, match="2-D"):
        estimate_noise_model(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match="empty"):
        estimate_noise_model(np.zeros((0, 8)))


def test_noise_model_validation():
    good = np.ones((8, 8))
    assert NoiseModel("white", good).cov.shape == (1, 1, 8, 8)
    with pytest.raises(ValueError, match="kind"):
        NoiseModel("pink", good)
    with pytest.raises(ValueError, match="shaped"):
        NoiseModel("white", np.ones((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="negative"):
        NoiseModel("white", -good)
    with pytest.raises(ValueError, match="finite"):
        NoiseModel("white", good * np.nan)
    cov = np.ones((2, 2, 8, 8)) * 2
    cov[0, 0] = cov[1, 1] = 1
    with pytest.raises(ValueError, match="covariance larger"):
        NoiseModel("white", cov)
    with pytest.raises(ValueError, match="increasing"):
        NoiseModel("white", good, [1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="gain"):
        NoiseModel("white", good, [1.0, 2.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="together"):
        NoiseModel("poisson_gaussian", good, a=1.0)
    m = NoiseModel("white", good)
    with pytest.raises(ValueError):
        m.cov[0, 0, 0, 0] = 3  # read-only


def test_psd_of_white_noise():
    m = NoiseModel("white", np.full((8, 8), 9.0))
    psd = m.psd((37, 50))
    assert psd.shape == (37, 50)
    np.testing.assert_allclose(psd, 9.0 * 37 * 50)
    m3 = NoiseModel("white", np.eye(3)[:, :, None, None] * np.full((8, 8), 4.0))
    assert m3.psd((16, 16, 3)).shape == (16, 16, 3)
    np.testing.assert_allclose(m3.psd((16, 16)), 4.0 * 256)
    # correlated: low frequencies carry more
    v = np.exp(-np.add.outer(np.arange(8), np.arange(8)) / 3.0)
    p = NoiseModel("correlated", v).psd((32, 32))
    assert p[0, 0] == pytest.approx(v[0, 0] * 1024) and p[16, 16] < p[1, 1]


def test_scaled():
    cov = np.eye(2)[:, :, None, None] * np.full((8, 8), 4.0)
    m = NoiseModel("poisson_gaussian", cov, [10.0, 20.0], [0.5, 1.5], a=2.0, b=3.0)
    s = m.scaled(3.0)
    np.testing.assert_allclose(s.cov, cov * 9)
    np.testing.assert_allclose(s.levels, [30.0, 60.0])
    assert (s.a, s.b) == (6.0, 27.0) and s.kind == m.kind
    np.testing.assert_allclose(s.sigma, 6.0)
    r = m.scaled(-1.0)
    np.testing.assert_allclose(r.levels, [-20.0, -10.0])
    np.testing.assert_allclose(r.gain, [1.5, 0.5])
    assert (m.scaled(0.0).cov == 0).all()
    with pytest.raises(ValueError):
        m.scaled(float("nan"))


# ---------------------------------------------------------------- the pilot's residual
@pytest.mark.parametrize("shape", [(512, 512), (100, 300), (3000, 4000, 3), (300, 700),
                                   (200, 512)])
def test_pilot_windows_cover_a_quarter_spread_over_the_image(shape):
    from imgops._noise import PILOT_AREA, PILOT_MAX_TILES, PILOT_TILE, pilot_windows

    wins = pilot_windows(shape)
    h, w = shape[:2]
    if min(h, w) < PILOT_TILE:
        assert wins == [(slice(0, h), slice(0, w))]
        return
    assert 1 <= len(wins) <= PILOT_MAX_TILES
    assert len(wins) * PILOT_TILE ** 2 <= max(PILOT_AREA * h * w, PILOT_TILE ** 2)
    corners = {(r.start, c.start) for r, c in wins}
    assert len(corners) == len(wins)
    for r, c in wins:
        assert 0 <= r.start < r.stop <= h and 0 <= c.start < c.stop <= w
        assert r.stop - r.start == c.stop - c.start == PILOT_TILE
    rows = {r.start for r, _ in wins}
    assert len(wins) < 3 or len(rows) > 1  # not all from one row


def test_residual_level_tells_low_pass_from_white_and_flat_from_texture():
    """The residual of a pilot that found the clean image: white noise reads its sigma
    with a ratio near 1; Gaussian-filtered noise (the camera's kind) a ratio above 3;
    with a pilot that varies everywhere (content not flat) there is no reading."""
    from imgops._noise import residual_level

    rng = np.random.default_rng(0)
    flat = np.full((128, 128, 3), 100.0)
    white = flat + rng.normal(0, 5, flat.shape)
    low, ratio, loose = residual_level([(white, flat)], 25.0)
    assert low == pytest.approx(5, rel=0.1) and 0.8 < ratio < 1.25 and loose == \
        pytest.approx(low, rel=0.05)
    lp = filtered_noise(flat.shape, gaussian_kernel(1.2), rng) * 5
    low, ratio, _ = residual_level([(flat + lp, flat)], 25.0)
    assert ratio > 3 and low > 5
    steep = np.broadcast_to(np.arange(128.0)[None, :, None] * 5, flat.shape)
    low, ratio, loose = residual_level([(steep + rng.normal(0, 5, flat.shape), steep)], 25.0)
    assert low == 0 and ratio == 0 and loose > 0
    assert residual_level([(flat[:5, :5], flat[:5, :5])], 25.0) == (0.0, 0.0, 0.0)
    assert residual_level([(white, flat)], 0.0) == (0.0, 0.0, 0.0)
    # a pilot that varies steeply everywhere (a 1-px checkerboard): every weight
    # underflows to 0; no reading, and no division by zero (a warning, so an error here)
    checker = np.indices((64, 64)).sum(axis=0) % 2 * 255.0
    assert residual_level([(checker, checker)], 2.0) == (0.0, 0.0, 0.0)
