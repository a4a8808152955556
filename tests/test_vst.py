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


def test_inverse_reads_the_table_and_is_continuous_beyond():
    """The inverse reads the expectation's table, resampled on an even grid of the
    transform, to 3e-5 counts (the table's own linear interpolation is within 3e-4 of
    the exact inverse), everywhere between its knots too."""
    a, b = 2.0, 3.0
    lam, e = _table(b / a**2)
    np.testing.assert_allclose(gat_inverse(e, a, b), a * lam, rtol=0, atol=3e-5 * a)
    d = np.linspace(e[0], e[-1], 200_001)
    np.testing.assert_allclose(gat_inverse(d, a, b), a * np.interp(d, e, lam), rtol=0,
                               atol=3e-5 * a)
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


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_table_lookup_kernel_against_interpolation(dtype):
    """The maps' CPU kernel (the "lookup" record) and NumPy's reading (imgops._vst.lookup):
    np.interp inside the grid, the end segments beyond it at any distance, NaN kept, any
    layout; the two agree to the last bits."""
    from imgops._dispatch import run
    from imgops._vst import Table, lookup

    rng = np.random.default_rng(3)
    table = Table(10.0, 0.75, np.cumsum(rng.uniform(0.1, 2.0, 300)))
    grid = table.x0 + table.step * np.arange(table.ys.size)
    x = rng.uniform(0, 250 if dtype == np.uint8 else 300, (37, 29, 3)).astype(dtype)
    swapped = x.astype(x.dtype.newbyteorder(">" if np.little_endian else "<"))
    for view in (x, x[::2, ::-3], x[..., 1].T, swapped):
        got = run("lookup", view, "cpu", **table._asdict())
        assert got.shape == view.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, lookup(view, table), rtol=1e-15, atol=1e-12)
        inside = (view >= grid[0]) & (view <= grid[-1])
        np.testing.assert_allclose(got[inside], np.interp(view[inside], grid, table.ys),
                                   rtol=1e-12, atol=1e-12)
    if dtype in (np.float32, np.float64):
        ys = table.ys
        lo, hi = (ys[1] - ys[0]) / table.step, (ys[-1] - ys[-2]) / table.step  # end slopes
        far = np.array([[-np.inf, -1e30, 0.0], [1e30, np.inf, np.nan]], dtype)
        want = [[-np.inf, ys[0] + lo * (float(far[0, 1]) - table.x0), ys[0] - lo * table.x0],
                [ys[-1] + hi * (float(far[1, 0]) - grid[-1]), np.inf, np.nan]]
        for read in (run("lookup", far, "cpu", **table._asdict()), lookup(far, table)):
            np.testing.assert_allclose(read, want, rtol=1e-9)
    with pytest.raises(ValueError, match="step"):
        run("lookup", x, "cpu", x0=0.0, step=0.0, ys=table.ys)
    with pytest.raises(ValueError, match="ys"):
        run("lookup", x, "cpu", x0=0.0, step=1.0, ys=[1.0])


def test_gat_inverse_kernel_against_numpy():
    """The "gat_counts" record: imgops._vst.gat_inverse's counts (table, zero below it,
    the asymptotic inverse beyond), NaN and infinities kept."""
    from imgops._dispatch import run
    from imgops._vst import gat_table

    rng = np.random.default_rng(4)
    for a, b in ((1.0, 0.0), (0.5, 0.3), (0.01, 1e-5)):
        s2 = b / a**2
        table, top = gat_table(round(s2, 12))
        z = a * rng.poisson(rng.uniform(0, 100, (64, 48))) + rng.normal(0, np.sqrt(b), (64, 48))
        d = gat(z, a, b).astype(np.float32)
        d[0, :4] = [np.nan, np.inf, -np.inf, -5.0]
        got = a * run("gat_counts", d, "cpu", **table._asdict(), top=top, s2=s2)
        np.testing.assert_allclose(got, gat_inverse(d, a, b), rtol=1e-12, atol=1e-12 * a)
        swapped = d.astype(d.dtype.newbyteorder(">" if np.little_endian else "<"))
        np.testing.assert_array_equal(
            a * run("gat_counts", swapped[::-1], "cpu", **table._asdict(), top=top, s2=s2),
            got[::-1])
        assert np.isnan(got[0, 0]) and got[0, 1] == np.inf and got[0, 2] == got[0, 3] == 0
