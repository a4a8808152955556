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
