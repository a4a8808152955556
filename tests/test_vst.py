"""The generalized Anscombe transform and its exact unbiased inverse (imgops._vst),
against Monte Carlo simulation of Poisson-Gaussian noise."""

import numpy as np
import pytest

from imgops._vst import TABLE_TOP, _table, gat, gat_inverse


@pytest.mark.parametrize("a, b", [(1.0, 0.01), (0.5, 0.4), (3.0, 20.0), (1.0, 0.0)])
def test_expected_transform_and_unbiased_inverse_against_simulation(a, b):
    rng = np.random.default_rng(5)
    n = 400_000
    for lam in (0.2, 2.0, 20.0, 150.0):
        z = a * rng.poisson(lam, n) + rng.normal(0.0, np.sqrt(b), n)
        t = gat(z, a, b)
        mean, se = t.mean(), t.std() / np.sqrt(n)
        # the inverse of the sample mean of the transform is the intensity a * lam
        dy = a * lam - gat_inverse(mean, a, b)
        slope = (gat_inverse(mean + se, a, b) - gat_inverse(mean - se, a, b)) / 2
        assert abs(dy) < 5 * slope + 1e-9, (lam, dy, slope)
        if lam >= 20:  # stabilized: unit variance
            assert abs(t.var() - 1) < 0.02


def test_inverse_is_exact_on_the_table_and_continuous_beyond():
    a, b = 2.0, 3.0
    lam, e = _table(b / a**2)
    np.testing.assert_allclose(gat_inverse(e, a, b), a * lam, rtol=1e-9, atol=1e-9)
    below, above = gat_inverse(e[-1] * (1 - 1e-12), a, b), gat_inverse(e[-1] * (1 + 1e-12), a, b)
    assert abs(above - below) < 1e-3 * a and abs(below - a * TABLE_TOP) < 1e-6
    assert gat_inverse(0.0, a, b) == 0.0  # below the expected transform of zero
    assert np.isnan(gat_inverse(np.nan, a, b))
    d = np.linspace(0, 2 * e[-1], 1000)
    assert (np.diff(gat_inverse(d, a, b)) >= 0).all()


def test_transform_is_scale_free():
    z = np.random.default_rng(0).poisson(4.0, 1000).astype(np.float64)
    for k in (1 / 255, 3.0, 4095.0):
        np.testing.assert_allclose(gat(k * z, k * 0.7, k * k * 0.3), gat(z, 0.7, 0.3),
                                   rtol=1e-12)
        np.testing.assert_allclose(gat_inverse(gat(z, 0.7, 0.3), k * 0.7, k * k * 0.3),
                                   k * gat_inverse(gat(z, 0.7, 0.3), 0.7, 0.3), rtol=1e-9)


def test_level_transform_stabilizes_a_noise_level_function():
    """LevelTransform: f' = 1 / g (g the gains, raised to GAIN_FLOOR of the largest,
    linear between the levels, constant beyond), f(0) = 0, an inverse to 1e-6 of the
    levels' span, non-finite samples kept, and the transform of levels k t is k f(t)."""
    from imgops._vst import GAIN_FLOOR, LevelTransform

    flat = LevelTransform([0.0, 100.0], [2.0, 2.0])
    t = np.linspace(-300, 600, 37)
    np.testing.assert_allclose(flat.forward(t), t / 2, rtol=1e-12, atol=1e-12)
    levels, gain = np.array([20.0, 80.0, 200.0]), np.array([0.5, 2.0, 1.0])
    f = LevelTransform(levels, gain)
    assert f.forward(0.0) == 0.0
    g = lambda x: np.interp(x, levels, gain)  # noqa: E731
    for x in (-50.0, 10.0, 50.0, 79.0, 150.0, 199.0, 230.0, 1e4):
        h = 1e-3
        slope = (f.forward(x + h) - f.forward(x - h)) / (2 * h)
        assert slope == pytest.approx(1 / g(x), rel=2e-3), x  # a knot interval's secant
    x = np.concatenate([np.linspace(-1e3, 1e4, 2001), [np.nan, np.inf, -np.inf]])
    back = f.inverse(f.forward(x))
    # both maps are linear interpolations on even grids: inverse to ~1e-7 of the span
    np.testing.assert_allclose(back[:-3], x[:-3], rtol=0, atol=1e-6 * 200)
    assert np.isnan(back[-3]) and back[-2] == np.inf and back[-1] == -np.inf
    for k in (1 / 255, 4095.0):
        fk = LevelTransform(k * levels, gain)
        np.testing.assert_allclose(fk.forward(k * x[:-3]), k * f.forward(x[:-3]),
                                   rtol=1e-9, atol=1e-9 * k)
    # a level without noise: its gain is raised to GAIN_FLOOR times the largest
    z = LevelTransform([0.0, 10.0, 20.0], [1.0, 0.0, 1.0])
    slope = (z.forward(10.01) - z.forward(9.99)) / 0.02
    assert slope == pytest.approx(1 / GAIN_FLOOR, rel=0.02)
