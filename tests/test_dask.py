"""Dask arrays, chunk by chunk, against the in-memory result on the whole image.

Every operation x every border mode x chunkings whose chunks are even, strips, ragged
(last chunks smaller than the halo) and smaller than the halo; exact for median, the
max pool and nearest resampling, the contract's tolerance elsewhere; colour and batch
layouts, NaN at a chunk corner, four threads, a two-process cluster, the command line's
large-image and cluster paths (once its hooks are in). Small images keep it quick; more
filters, dtypes and the denoisers (more kernels to compile) run under ``-m slow``.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import MODES, assert_matches, random_image

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import imgops  # noqa: E402
from imgops import _dask as D  # noqa: E402

H, W = 37, 53
CHUNKINGS = {
    "even": (16, 16),
    "rows": (6, W),
    "cols": (H, 6),
    "ragged": ((12, 12, 10, 3), (20, 20, 11, 2)),  # last chunks below every halo
    "tiny": (4, 5),  # every chunk smaller than the Gaussian's halo of 8
}
SYNC = {"scheduler": "sync"}


@pytest.fixture(autouse=True)
def one_numba_thread_per_task(request):
    """Blocks of a 37x53 image are too small for a parallel launch to pay off, and on a
    busy machine each launch waits for a core: one Numba thread per task keeps the suite
    quick. The tests of the thread policy itself run without it."""
    if "threads" in request.node.name:
        yield
        return
    with dask.config.set({"imgops.numba-threads": 1}):
        yield


def lazy(img, chunks, channel_chunk=None):
    """A dask array of ``img``, spatial axes chunked as given (channels: one chunk, or
    ``channel_chunk``; batch items one per chunk)."""
    sp = (chunks, chunks) if isinstance(chunks, int) else chunks
    if img.ndim == 2:
        c = sp
    elif img.ndim == 3:
        c = (*sp, channel_chunk or img.shape[2])
    else:
        c = (1, *sp, channel_chunk or img.shape[3])
    return da.from_array(img, chunks=c)


def check(out, ref, exact=False):
    assert D.is_dask_array(out)
    got = out.compute(**SYNC)
    assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
    assert_matches(got, ref, ref.dtype if not exact else got.dtype, exact=exact)
    return got


# --------------------------------------------------------------------------- stencils
STENCILS = {
    "gaussian": (lambda m: dict(sigma=2.0, mode=m, cval=0.5), "gaussian"),
    "median": (lambda m: dict(size=5, mode=m, cval=0.5), "median"),
    "sobel": (lambda m: dict(mode=m, cval=0.5), "sobel"),
}


@pytest.mark.parametrize("chunks", list(CHUNKINGS), ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", list(STENCILS))
def test_stencils_every_mode_and_chunking(op, mode, chunks):
    img = random_image((H, W), np.float32, seed=1)
    params, name = STENCILS[op]
    out = getattr(imgops, name)(lazy(img, CHUNKINGS[chunks]), **params(mode))
    assert out.chunks == lazy(img, CHUNKINGS[chunks]).chunks  # filters keep the chunks
    check(out, getattr(imgops, name)(img, **params(mode)), exact=op == "median")


SLOW = pytest.mark.slow  # more kernels to compile: run with -m slow


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["correlate", "laplace"] + [
    pytest.param(op, marks=SLOW) for op in ("convolve", "box", "gaussian_laplace", "prewitt",
                                            "scharr")])
def test_more_filters(op, mode):
    img = random_image((H, W), np.float32, seed=2)
    k = np.arange(12.0).reshape(3, 4) - 5  # even width: asymmetric reach
    params = {"correlate": dict(kernel=k), "convolve": dict(kernel=k),
              "box": dict(size=(4, 3)), "gaussian_laplace": dict(sigma=(1.0, 0.0))
              }.get(op, {})
    params = {**params, "mode": mode, "cval": -0.25}
    out = getattr(imgops, op)(lazy(img, CHUNKINGS["ragged"]), **params)
    check(out, getattr(imgops, op)(img, **params))


@pytest.mark.parametrize("op", ["correlate", "convolve"])
def test_valid_mode(op):
    img = random_image((H, W), np.float32, seed=3)
    k = np.arange(15.0).reshape(3, 5)
    check(getattr(imgops, op)(lazy(img, CHUNKINGS["tiny"]), k, mode="valid"),
          getattr(imgops, op)(img, k, mode="valid"))
    with pytest.raises(ValueError, match="valid"):
        getattr(imgops, op)(lazy(img[:2], (1, 5)), k, mode="valid")


@pytest.mark.parametrize("op, dtype", [
    ("gaussian", np.uint8), ("median", np.uint8),
    pytest.param("gaussian", np.float64, marks=SLOW),
    pytest.param("median", np.uint16, marks=SLOW)])
def test_stencil_dtypes(op, dtype):
    img = random_image((H, W), dtype, seed=4)
    params, name = STENCILS[op]
    for mode in ("wrap", "constant"):
        check(getattr(imgops, name)(lazy(img, CHUNKINGS["ragged"]), **params(mode)),
              getattr(imgops, name)(img, **params(mode)), exact=op == "median")


@pytest.mark.parametrize("layout", ["color", "batch"])
@pytest.mark.parametrize("mode", ["reflect", "wrap"])
def test_layouts_and_chunked_channels(layout, mode):
    shape = (H, W, 3) if layout == "color" else (3, H, W, 2)
    img = random_image(shape, np.uint8, seed=5)
    x = lazy(img, CHUNKINGS["ragged"], channel_chunk=1)  # a chunked channel axis
    out = imgops.gaussian(x, 1.5, mode=mode)
    assert out.chunks[-1] == (shape[-1],)  # made one chunk
    assert out.chunks[:-1] == x.chunks[:-1]
    check(out, imgops.gaussian(img, 1.5, mode=mode))
    check(imgops.median(x, 3, mode=mode), imgops.median(img, 3, mode=mode), exact=True)
    check(imgops.sobel(x, mode=mode), imgops.sobel(img, mode=mode))


@pytest.mark.parametrize("mode", MODES)
def test_halo_larger_than_the_image(mode):
    """A 3x5 image read 12 pixels beyond its border: the extension repeats."""
    img = random_image((3, 5), np.float32, seed=6)
    for chunks in [(1, 2), (3, 5)]:
        x = lazy(img, chunks)
        check(imgops.gaussian(x, 3.0, mode=mode, cval=2.0),
              imgops.gaussian(img, 3.0, mode=mode, cval=2.0))
        check(imgops.median(x, 7, mode=mode, cval=2.0), imgops.median(img, 7, mode=mode, cval=2.0),
              exact=True)


def test_map_index_matches_the_kernels_extension():
    """map_index against SciPy's pad modes on a long way out (reflect of 3 px by 10)."""
    i = np.arange(-10, 13)
    v = np.arange(3)
    for mode, pad in [("reflect", "symmetric"), ("mirror", "reflect"), ("nearest", "edge"),
                      ("wrap", "wrap")]:
        np.testing.assert_array_equal(D.map_index(i, 3, mode), np.pad(v, 10, pad))
    assert (D.map_index(np.array([-1, 3]), 3, "constant") == -1).all()


def test_nan_at_a_chunk_corner():
    img = random_image((H, W), np.float32, seed=7)
    img[12, 20] = np.nan  # the corner shared by four chunks of "ragged"
    img[0, W - 1] = np.nan  # the image's corner, for the wrap-around
    x = lazy(img, CHUNKINGS["ragged"])
    for mode in ("reflect", "wrap"):
        got = check(imgops.gaussian(x, 2.0, mode=mode), imgops.gaussian(img, 2.0, mode=mode))
        assert np.isnan(got[12, 20]) and np.isnan(got[20, 28])
        check(imgops.median(x, 3, mode=mode), imgops.median(img, 3, mode=mode), exact=True)
    check(imgops.max_pool(x, 3, stride=2, padding=1, ceil_mode=True),
          imgops.max_pool(img, 3, stride=2, padding=1, ceil_mode=True), exact=True)
    check(imgops.resize(x, (20, 70)), imgops.resize(img, (20, 70)))
    check(imgops.avg_pool(x, 2), imgops.avg_pool(img, 2))


def test_map_stencil_reads_only_chunk_plus_halo():
    """Lazy until computed; each task sees its chunk plus the halo, never more."""
    img = random_image((H, W), np.float32, seed=8)
    seen = []

    def func(block):
        seen.append(block.shape)
        return imgops.box(block, 5, mode="mirror")

    out = D.map_stencil(lazy(img, CHUNKINGS["even"]), func, 2, mode="mirror")
    assert seen == []
    check(out, imgops.box(img, 5, mode="mirror"))
    assert max(s[0] for s in seen) <= 16 + 4 and max(s[1] for s in seen) <= 16 + 4
    with pytest.raises(ValueError, match="spatial shape"):
        D.map_stencil(lazy(img, 16), lambda b: b[1:], 1, mode="reflect").compute(**SYNC)


def test_map_stencil_checks():
    img = random_image((H, W), np.float32)
    with pytest.raises(TypeError, match="dask"):
        D.map_stencil(img, lambda b: b, 1, mode="reflect")
    with pytest.raises(TypeError, match="uint8, uint16, float32, float64"):
        D.map_stencil(da.zeros((4, 4), dtype=np.int64), lambda b: b, 1, mode="reflect")
    with pytest.raises(ValueError, match="mode"):
        D.map_stencil(lazy(img, 16), lambda b: b, 1, mode="valid")
    with pytest.raises(ValueError, match="sigma"):
        imgops.gaussian(lazy(img, 16), -1.0)
    with pytest.raises(NotImplementedError, match="hysteresis"):
        imgops.canny(lazy(img, 16))


def test_a_record_and_a_compute_are_enough():
    """Any stencil record runs through run() with the in-memory operation it is given
    (here not imgops's: a box filter under the name "gaussian")."""
    from imgops._ops import OPS

    img = random_image((H, W), np.float32, seed=21)
    calls = []

    def compute(name, block, **arguments):
        calls.append(name)
        if name == "copy":
            return block.copy()
        return imgops.box(block, 17, mode=arguments["mode"], cval=arguments["cval"])

    for mode in ("reflect", "wrap", "constant"):
        args = {"sigma": 2.0, "mode": mode, "cval": 0.5}  # halo 8: box 17 reads 8
        out = D.run(OPS["gaussian"], lazy(img, CHUNKINGS["tiny"]), "auto", args, compute)
        check(out, imgops.box(img, 17, mode=mode, cval=0.5))
    assert set(calls) == {"copy", "gaussian"}
    with pytest.raises(NotImplementedError):
        D.run(OPS["nn.relu"], lazy(img, 16), "auto", {}, compute)


def test_is_dask_array_never_imports_dask():
    code = ("import sys, numpy; from imgops import _dask; "
            "assert not _dask.is_dask_array(numpy.zeros(2)); "
            "assert 'dask' not in sys.modules, 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert D.is_dask_array(da.zeros(2)) and not D.is_dask_array(np.zeros(2))


# --------------------------------------------------------------------------- pools
POOLS = [  # size, stride, padding, ceil_mode
    (2, None, 0, False), (3, 2, 1, True), ((2, 3), (1, 2), (1, 1), True), (5, 3, 2, True),
]


@pytest.mark.parametrize("chunks", ["even", "ragged", "tiny"])
@pytest.mark.parametrize("pool", POOLS, ids=str)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_pools(pool, chunks, dtype):
    size, stride, padding, ceil_mode = pool
    img = random_image((H, W, 2), dtype, seed=9)
    x = lazy(img, CHUNKINGS[chunks])
    kw = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    check(imgops.max_pool(x, size, **kw), imgops.max_pool(img, size, **kw), exact=True)
    for include in (True, False):
        check(imgops.avg_pool(x, size, count_include_pad=include, **kw),
              imgops.avg_pool(img, size, count_include_pad=include, **kw))


# --------------------------------------------------------------------------- resampling
RESIZES = [("nearest", False), ("nearest-exact", False), ("bilinear", False),
           ("bilinear", True), ("area", False)]


@pytest.mark.parametrize("shape", [(20, 70), (74, 106), (37, 30), (5, 3), (111, 53)],
                         ids=str)
@pytest.mark.parametrize("method", RESIZES, ids=str)
def test_resize(method, shape):
    name, align = method
    img = random_image((H, W), np.float32, seed=10)
    for chunks in ("ragged", "tiny"):
        out = imgops.resize(lazy(img, CHUNKINGS[chunks]), shape, method=name, align_corners=align)
        check(out, imgops.resize(img, shape, method=name, align_corners=align),
              exact=name.startswith("nearest"))


def test_resize_through_the_cpu_kernels_is_exact():
    """With the CPU kernels' table entry, a chunk's values are the whole image's, bit for
    bit (2x bilinear, which the CPU runs by phases, aside)."""
    if "resample_taps" not in pytest.importorskip("imgops._ops").OPS:
        pytest.skip("no resample_taps record: the NumPy path runs")
    img = random_image((H, W, 2), np.uint8, seed=20)
    for name, align in RESIZES:
        for shape in [(20, 70), (111, 53), (5, 3)]:
            check(imgops.resize(lazy(img, CHUNKINGS["tiny"]), shape, method=name,
                                align_corners=align),
                  imgops.resize(img, shape, method=name, align_corners=align), exact=True)


@pytest.mark.parametrize("layout", ["gray", "batch"])
def test_resize_integers_and_batches(layout):
    img = random_image((H, W) if layout == "gray" else (2, H, W, 3), np.uint16, seed=11)
    x = lazy(img, CHUNKINGS["ragged"], channel_chunk=2)
    for name, align in RESIZES:
        check(imgops.resize(x, (29, 80), method=name, align_corners=align),
              imgops.resize(img, (29, 80), method=name, align_corners=align),
              exact=name.startswith("nearest"))


def test_resampling_reads_only_its_region():
    """Each output chunk's task gets the input region its outputs read, not the image."""
    from imgops._dispatch import run
    from imgops._ops import OPS

    img = random_image((H, W), np.float32, seed=12)
    seen = []

    def compute(name, block, **arguments):
        seen.append((name, block.shape))
        return run(name, block, **arguments)

    x = lazy(img, (10, 10))
    out = D.run(OPS["max_pool"], x, "auto", {"size": 3, "stride": 2, "padding": 1}, compute)
    check(out, imgops.max_pool(img, 3, stride=2, padding=1), exact=True)
    out = D.run(OPS["conv_transpose"], x, "auto", {"kernel": np.ones((3, 3)), "stride": 2},
                compute)
    check(out, imgops.conv_transpose(img, np.ones((3, 3)), stride=2))
    shapes = [shape for name, shape in seen if name != "copy"]
    assert shapes and max(max(s) for s in shapes) <= 10 + 3


@pytest.mark.parametrize("factor", [2, 3])
def test_downsample_upsample(factor):
    img = random_image((H, W, 2), np.float32, seed=13)
    x = lazy(img, CHUNKINGS["ragged"])
    for method in ("area", "max", "avg", "nearest", "bilinear"):
        check(imgops.downsample(x, factor, method=method),
              imgops.downsample(img, factor, method=method), exact=method in ("max", "nearest"))
    for method in ("nearest", "bilinear", "transposed"):
        check(imgops.upsample(x, factor, method=method),
              imgops.upsample(img, factor, method=method), exact=method == "nearest")


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_conv_transpose(dtype):
    rng = np.random.default_rng(14)
    img = random_image((H, W, 2), dtype, seed=14)
    x = lazy(img, CHUNKINGS["tiny"])
    cases = [(rng.random((3, 3)), 2, 1, 1, 0.5), (rng.random((2, 3, 4, 4)), 3, 1, 2, [1, 2, 3]),
             (np.ones((1, 1)), 3, 0, 2, 1.0)]  # a 1x1 kernel leaves outputs only bias
    for k, s, p, op, bias in cases:
        kw = dict(stride=s, padding=p, output_padding=op, bias=bias)
        check(imgops.conv_transpose(x, k, **kw), imgops.conv_transpose(img, k, **kw))
    gray = img[..., 0]
    k = rng.random((1, 2, 3, 3))  # a gray image gains a channel axis
    check(imgops.conv_transpose(lazy(gray, (7, 9)), k, stride=2),
          imgops.conv_transpose(gray, k, stride=2))


# --------------------------------------------------------------------------- estimate_noise
@pytest.mark.parametrize("layout", ["gray", "color", "batch"])
def test_estimate_noise(layout):
    shape = {"gray": (H, W), "color": (H, W, 3), "batch": (2, H, W, 2)}[layout]
    img = random_image(shape, np.float32, seed=15)
    ref = imgops.estimate_noise(img)
    for chunks in ("ragged", "tiny", "rows"):
        got = D.estimate_noise(lazy(img, CHUNKINGS[chunks], channel_chunk=1))
        assert isinstance(got, float)
        assert abs(got - ref) <= 1e-6 * abs(ref)
    small = img[..., :9, :7, :] if img.ndim == 4 else img[:9, :7]
    one = da.from_array(small, chunks=(1,) * img.ndim)  # 1-pixel chunks
    assert abs(D.estimate_noise(one) - imgops.estimate_noise(small)) <= \
        1e-6 * imgops.estimate_noise(small)
    with pytest.raises(ValueError, match="3x3"):
        D.estimate_noise(lazy(img[:2] if img.ndim < 4 else img[:, :2], (1, 5)))
    # NaN and infinities: propagate, or (denoise's estimate) left out as in memory
    bad = img.copy()
    at = (lambda y, x: (y, x)) if img.ndim == 2 else (lambda y, x: (..., y, x, slice(None)))
    bad[at(3, 4)] = np.nan
    bad[at(7, 1)] = np.inf
    assert np.isnan(D.estimate_noise(lazy(bad, CHUNKINGS["ragged"], channel_chunk=1)))
    want = imgops._dispatch.run("estimate_noise", bad, finite_only=True)
    got = imgops._dispatch.run("estimate_noise", lazy(bad, CHUNKINGS["tiny"]),
                               finite_only=True)
    assert np.isfinite(want) and abs(got - want) <= 1e-6 * want


@pytest.mark.slow
def test_denoise_and_bilateral():
    img = np.clip(128 + random_image((H, W), np.float32, seed=16) * 40, 0, 255)
    img = img.astype(np.uint8)
    x = lazy(img, CHUNKINGS["ragged"])
    check(imgops.bilateral(x, 20.0, 1.0, mode="wrap"),
          imgops.bilateral(img, 20.0, 1.0, mode="wrap"))
    check(imgops.denoise(x, "median"), imgops.denoise(img, "median"), exact=True)
    check(imgops.denoise(x, "bilateral"), imgops.denoise(img, "bilateral"))


@pytest.mark.parametrize("profile", ["fast", "normal"])
def test_bm3d_chunked_equals_whole(profile):
    """Chunks lay BM3D's reference grid where the whole image does (the chunk's
    origin), so with the halo their groups are the whole image's: the contract asks
    50 dB between the two; float rounding of the aggregation order is all that is left."""
    from skimage import data

    rng = np.random.default_rng(2)
    clean = data.astronaut()[100:196, 150:250].astype(np.float32) / 255
    noisy = np.clip(clean + rng.normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    whole = imgops.bm3d(noisy, 25 / 255, profile=profile)
    for chunks in ((40, 37, 3), (96, 23, 3)):
        got = imgops.bm3d(da.from_array(noisy, chunks=chunks), 25 / 255,
                          profile=profile).compute()
        err = float(np.mean((got.astype(np.float64) - whole) ** 2))
        assert err == 0 or 10 * np.log10(1 / err) > 90, (chunks, err)
    u8 = (noisy * 255).round().astype(np.uint8)
    got = imgops.denoise(da.from_array(u8, chunks=(50, 45, 3))).compute()
    assert np.abs(got.astype(int) - imgops.denoise(u8)).max() <= 1
    if profile == "fast":  # strength: the dask array's own estimate, k times stronger
        x = da.from_array(u8, chunks=(50, 45, 3))
        want = imgops.bm3d(x, 2 * imgops.estimate_noise(x), profile="fast").compute()
        np.testing.assert_array_equal(imgops.denoise(x, strength=2).compute(), want)


# --------------------------------------------------------------------------- threads
def test_threaded_scheduler_four_threads():
    """Four Dask threads launching Numba's parallel kernels at once: same values, each
    task on its share of Numba's threads, the thread's own setting restored."""
    import numba

    img = random_image((96, 96, 3), np.float32, seed=17)
    used = []
    lock = threading.Lock()

    def func(block):
        with lock:
            used.append(numba.get_num_threads())
        return imgops.gaussian(block, 2.0, mode="wrap")

    x = da.from_array(img, chunks=(24, 24, 3))
    before = numba.get_num_threads()
    with dask.config.set(scheduler="threads", num_workers=4):
        got = D.map_stencil(x, func, 8, mode="wrap").compute()
        sums = imgops.median(x, 5).compute()
    assert_matches(got, imgops.gaussian(img, 2.0, mode="wrap"), np.float32)
    assert_matches(sums, imgops.median(img, 5), np.float32, exact=True)
    share = max(1, numba.config.NUMBA_NUM_THREADS // 4)
    assert used and set(used) == {share}
    assert numba.get_num_threads() == before


def test_task_threads_policy():
    import numba

    total = numba.config.NUMBA_NUM_THREADS
    assert D.task_threads() == total  # the main thread: synchronous scheduler
    with dask.config.set({"imgops.numba-threads": 1}):
        assert D.task_threads() == 1
        with D.numba_threads() as n:
            assert n == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == total


def _under_workqueue(code: str) -> None:
    """Run `code` in a fresh interpreter whose Numba threading layer is workqueue (which
    aborts the process on concurrent parallel launches); fail if it fails."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=600)


def test_workqueue_layer_is_serialised():
    """The workqueue layer aborts on concurrent parallel launches: tasks take a lock."""
    code = ("import numpy, dask, dask.array as da, imgops\n"
            "from imgops import _dask as D\n"
            "x = da.from_array(numpy.random.rand(96, 96).astype('f4'), chunks=24)\n"
            "with dask.config.set(scheduler='threads', num_workers=4):\n"
            "    for _ in range(3):\n"
            "        y = imgops.gaussian(x, 2.0).compute()\n"
            "import numba; assert numba.threading_layer() == 'workqueue'\n"
            "assert abs(y - imgops.gaussian(x.compute(), 2.0)).max() < 1e-5\n")
    _under_workqueue(code)


def test_workqueue_layer_serialises_the_stabilized_bm3d_maps():
    """bm3d under a level law or a Poisson-Gaussian model maps each chunk on the host
    with parallel kernels, which take the same lock (before: the process aborted with
    "Concurrent access has been detected")."""
    code = ("import numpy, dask, dask.array as da, imgops\n"
            "from imgops import NoiseModel\n"
            "rng = numpy.random.default_rng(0)\n"
            "z = rng.poisson(20.0, (96, 96)).astype('f4')\n"
            "law = NoiseModel('white', numpy.full((8, 8), 4.0), levels=[0.0, 40.0],\n"
            "                 gain=[0.5, 1.5])\n"
            "pg = NoiseModel('poisson_gaussian', numpy.full((8, 8), 1.0), a=1.0, b=0.5)\n"
            "x = da.from_array(z, chunks=24)\n"
            "with dask.config.set(scheduler='threads', num_workers=4):\n"
            "    for m in (law, pg, law):\n"
            "        y = imgops.bm3d(x, m, profile='fast').compute()\n"
            "import numba; assert numba.threading_layer() == 'workqueue'\n"
            "assert numpy.isfinite(y).all() and y.shape == z.shape\n")
    _under_workqueue(code)


# --------------------------------------------------------------------------- distributed
@pytest.fixture(scope="module")
def cluster_client():
    """Two worker processes of one thread each (no dashboard: no port to warn about)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:  # bounded: a worker that does not close must not hold the session
        client.close(timeout=60)
        cluster.close(timeout=120)


def test_distributed_cluster(cluster_client):
    import numba

    img = random_image((H, W, 2), np.float32, seed=18)
    x = lazy(img, CHUNKINGS["ragged"])
    got = cluster_client.compute(imgops.gaussian(x, 2.0, mode="wrap")).result()
    assert_matches(got, imgops.gaussian(img, 2.0, mode="wrap"), np.float32)
    got = cluster_client.compute(imgops.resize(x, (50, 20), method="area")).result()
    assert_matches(got, imgops.resize(img, (50, 20), method="area"), np.float32)
    got = cluster_client.compute(imgops.max_pool(x, 3, stride=2, ceil_mode=True)).result()
    assert_matches(got, imgops.max_pool(img, 3, stride=2, ceil_mode=True), np.float32,
                   exact=True)
    with dask.config.set(scheduler=cluster_client):
        assert abs(D.estimate_noise(x) - imgops.estimate_noise(img)) <= 1e-6 * \
            imgops.estimate_noise(img)

    def share(block):  # each worker has 1 thread; the nanny sets OMP_NUM_THREADS=1
        return np.full(block.shape, numba.get_num_threads(), np.float32)

    got = cluster_client.compute(D.map_stencil(x, share, 0, mode="reflect")).result()
    assert (got == 1).all()


# --------------------------------------------------------------------------- command line
def _cli():
    """The command line with the Dask hooks, or skip (they come as a patch to cli/)."""
    main = pytest.importorskip("imgops.cli.main")
    params = {p.name for p in main.main.commands["blur"].params}
    if not {"scheduler", "tile_above"} <= params:
        pytest.skip("the command line has no --scheduler/--tile-above hooks yet")
    from click.testing import CliRunner

    def invoke(*args):
        return CliRunner().invoke(main.main, [str(a) for a in args], catch_exceptions=False)
    return invoke


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_cli_zarr_input(tmp_path, zarr_format):
    zarr = pytest.importorskip("zarr")
    invoke = _cli()
    img = random_image((70, 90, 3), np.uint8, seed=22)
    src = tmp_path / "scene.zarr"
    z = zarr.create_array(store=str(src), shape=img.shape, chunks=(32, 40, 3), dtype=img.dtype,
                          zarr_format=zarr_format)
    z[:] = img
    out = tmp_path / "out"
    res = invoke("blur", "--sigma", 2, src, out)
    assert res.exit_code == 0, res.output
    got = zarr.open_array(str(out / "scene.zarr"), mode="r")
    assert got.metadata.zarr_format == zarr_format and got.chunks == (32, 40, 3)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got[:], imgops.gaussian(img, 2.0))
    res = invoke("downsample", "--factor", 3, src, tmp_path / "small")
    got = zarr.open_array(str(tmp_path / "small" / "scene.zarr"), mode="r")
    assert got.shape == (24, 30, 3) and got.chunks == (24, 30, 3)
    assert_matches(got[:], imgops.downsample(img, 3), np.uint8)
    res = invoke("blur", src, out)  # the output exists: refused, nothing touched
    assert res.exit_code == 2 and "exist" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["scene.zarr"]


def test_cli_large_tiff_tiled(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    invoke = _cli()
    img = random_image((300, 410, 4), np.uint16, seed=23)
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / "big.tif", img, photometric="rgb", extrasamples=[2],
                     rowsperstrip=16)
    out = tmp_path / "out"
    res = invoke("blur", "--tile-above", 10_000, tmp_path / "in", out)
    assert res.exit_code == 0, res.output
    with tifffile.TiffFile(out / "big.tif") as tf:
        page = tf.pages[0]
        assert tf.is_bigtiff and page.is_tiled
        got = page.asarray()
    ref = np.concatenate([imgops.gaussian(img[..., :3], 1.0), img[..., 3:]], axis=-1)
    np.testing.assert_array_equal(got, ref)  # alpha unchanged, as in memory
    assert not [p for p in out.iterdir() if p.name.startswith(".imgops-tmp-")]


@pytest.mark.parametrize("shape,dtype,tile", [
    ((1200, 1000, 3), np.uint8, (256, 256)),   # chunks taller than an output tile
    ((700, 530), np.uint16, (256, 256)),       # sizes no multiple of either tile
    ((517, 1100, 3), np.uint16, None),         # strips
    ((1030, 300), np.uint8, (128, 64)),
])
def test_cli_large_tiff_any_size_and_tiling(tmp_path, shape, dtype, tile):
    """A tiled or striped TIFF above --tile-above, of a size that is no multiple of its
    tiles nor of the output's: the tiled result equals the in-memory one. (A 256x256-tiled
    RGB TIFF of 1200x1000 failed: the writer was handed a whole band as one tile.)"""
    tifffile = pytest.importorskip("tifffile")
    invoke = _cli()
    img = random_image(shape, dtype, seed=31)
    (tmp_path / "in").mkdir()
    kw = {"tile": tile} if tile else {"rowsperstrip": 64}
    tifffile.imwrite(tmp_path / "in" / "scene.tif", img,
                     photometric="rgb" if img.ndim == 3 else "minisblack", **kw)
    out = tmp_path / "out"
    res = invoke("blur", "--sigma", 1.5, "--tile-above", 100_000, tmp_path / "in", out)
    assert res.exit_code == 0, res.output
    with tifffile.TiffFile(out / "scene.tif") as tf:
        assert tf.pages[0].is_tiled and len(tf.pages) == 1
        got = tf.pages[0].asarray()
    np.testing.assert_array_equal(got, imgops.gaussian(img, 1.5))


def test_cli_unreachable_scheduler(tmp_path, monkeypatch):
    invoke = _cli()
    from imgops.cli import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1.0)
    (tmp_path / "in").mkdir()
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "in" / "a.tif", random_image((20, 20), np.uint8))
    res = invoke("blur", "--scheduler", "tcp://127.0.0.1:9", tmp_path / "in",
                 tmp_path / "out")
    assert res.exit_code == 2 and "scheduler" in res.output
    assert not (tmp_path / "out").exists()


def test_cli_batch_on_a_cluster(tmp_path, cluster_client):
    tifffile = pytest.importorskip("tifffile")
    invoke = _cli()
    src = tmp_path / "in"
    src.mkdir()
    imgs = {f"f{i}.tif": random_image((30, 40), np.uint8, seed=i) for i in range(9)}
    for name, img in imgs.items():
        tifffile.imwrite(src / name, img)
    (src / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    out = tmp_path / "out"
    res = invoke("blur", "--scheduler", cluster_client.scheduler.address, src, out)
    assert res.exit_code == 1, res.output
    assert "broken.tif" in res.output and "processed 9, skipped 0, failed 1" in res.output
    for name, img in imgs.items():
        np.testing.assert_array_equal(tifffile.imread(out / name), imgops.gaussian(img, 1.0))
    assert sorted(p.name for p in out.iterdir()) == sorted(imgs)
    from imgops.cli import cluster  # the workers' per-file progress events, failures too

    done = [msg for _, msg in cluster_client.get_events(cluster.PROGRESS_TOPIC)]
    assert sorted(done) == sorted(str(src / n) for n in [*imgs, "broken.tif"])


# A child runs the command line and reports its own peak RSS (ru_maxrss of the children
# it waited for: only that one), in MiB.
PEAK_RSS = r"""
import resource, subprocess, sys
r = subprocess.run([sys.executable, "-m", "imgops.cli.main", *sys.argv[1:]])
print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def _blur_in_bounded_memory(src: Path, out: Path, cwd: Path) -> None:
    """``imgops blur --sigma 2 SRC OUT`` in its own process: exit 0, peak RSS under
    0.7 GiB (the contract for a 1 GiB image: well under 0.75 GiB)."""
    r = subprocess.run([sys.executable, "-c", PEAK_RSS, "blur", "--sigma", "2", str(src),
                        str(out)], capture_output=True, text=True, timeout=900, cwd=cwd)
    code, peak = r.stdout.split()[-2:]
    assert int(code) == 0, r.stderr[-2000:]
    assert float(peak) < 0.7 * 1024, f"peak RSS {float(peak):.0f} MiB for a 1024 MiB image"


def _assert_blurred_product(got, rows: np.ndarray, chunk: int) -> None:
    """``got`` is the Gaussian (sigma 2) of ``rows[:, None] * rows[None, :]``: checked on
    three chunk-sized windows (corners and inside), each computed with a margin wider
    than the radius 8."""
    n = rows.size
    for y, x in [(0, 0), (6000, 14000), (n - chunk, n - chunk)]:
        y0, x0 = max(0, y - 16), max(0, x - 16)
        window = rows[y0:y + chunk + 16, None] * rows[None, x0:x + chunk + 16]
        want = imgops.gaussian(window, 2.0)[y - y0:y - y0 + chunk, x - x0:x - x0 + chunk]
        np.testing.assert_allclose(got[y:y + chunk, x:x + chunk], want, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_cli_one_gib_zarr_in_bounded_memory(tmp_path):
    """A 1 GiB float32 Zarr image through the command line: chunk by chunk, peak RSS
    under 0.7 GiB (the contract: well under 0.75 GiB), the result equal to the filter's."""
    zarr = pytest.importorskip("zarr")
    n, chunk = 16384, 2048
    src = tmp_path / "big.zarr"
    z = zarr.create_array(store=str(src), shape=(n, n), chunks=(chunk, chunk),
                          dtype=np.float32, compressors=None)
    rows = np.linspace(0, 1, n, dtype=np.float32)
    for y in range(0, n, chunk):  # written a band at a time: this process stays small too
        z[y:y + chunk] = rows[y:y + chunk, None] * rows[None, :]
    out = tmp_path / "out"
    _blur_in_bounded_memory(src, out, tmp_path)
    got = zarr.open_array(str(out / "big.zarr"), mode="r")
    assert got.shape == (n, n) and got.chunks == (chunk, chunk) and got.dtype == np.float32
    _assert_blurred_product(got, rows, chunk)


# The command line as users start it, in its own process against a scheduler's address:
# there, its client is not the process's default one (in this process the fixture's is).
def _cli_process(*args, cwd):
    return subprocess.run([sys.executable, "-m", "imgops.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.mark.parametrize("args", [["denoise", "--method", "nl-means"], ["blur"]])
def test_cli_process_on_a_cluster_equals_the_local_run(tmp_path, cluster_client, args):
    """`imgops denoise --method nl-means --scheduler ADDRESS` ended in 'No clients found'
    (distributed.as_completed looked for a default client): nothing written."""
    tifffile = pytest.importorskip("tifffile")
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        tifffile.imwrite(src / f"f{i}.tif", random_image((30, 40, 3), np.uint8, seed=40 + i),
                         photometric="rgb")
    (src / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    log = tmp_path / "remote.jsonl"
    r = _cli_process(*args, "--scheduler", cluster_client.scheduler.address, "--log", log,
                     src, tmp_path / "remote", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    import json

    status = {Path(e["source"]).name: e["status"]
              for e in map(json.loads, log.read_text().splitlines())}
    assert status == {**{f"f{i}.tif": "ok" for i in range(5)}, "broken.tif": "failed"}
    assert "Traceback" not in r.stderr and f"{src / 'broken.tif'}:" in r.stderr
    assert "processed 5, skipped 0, failed 1" in r.stdout
    local = _cli_process(*args, src, tmp_path / "local", cwd=tmp_path)
    assert local.returncode == 1, local.stderr
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "remote").iterdir()) and len(names) == 5
    for name in names:
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "remote" / name),
                                      tifffile.imread(tmp_path / "local" / name))


@pytest.mark.slow
def test_cli_worker_killed_mid_batch_loses_no_file(tmp_path):
    """300 files on 2 worker processes, one killed while the batch runs: the scheduler
    runs its tasks again elsewhere; every output is written once and complete (files
    the first attempt finished are not rewritten), or reported; no temporary is left."""
    distributed = pytest.importorskip("distributed")
    tifffile = pytest.importorskip("tifffile")
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    n = 300
    imgs = {f"f{i:03d}.tif": random_image((96, 128), np.uint8, seed=i) for i in range(n)}
    for name, img in imgs.items():
        tifffile.imwrite(src / name, img)
    # a port of its own for the dashboard (None means the default 8787, which the
    # module's cluster may hold)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0")
    client = distributed.Client(cluster)
    # the command's output to files: unread pipes fill (64 KiB) and block it for good
    # when many files are reported
    logs = [open(tmp_path / name, "w+") for name in ("stdout", "stderr")]  # noqa: SIM115
    p = None
    try:
        client.run(lambda: imgops.median(np.zeros((8, 8), np.uint8), 5))  # compiled
        pids = list(client.run(os.getpid).values())
        p = subprocess.Popen([sys.executable, "-m", "imgops.cli.main", "blur", "--method",
                              "median", "--size", "5", "--scheduler",
                              cluster.scheduler_address, str(src), str(out)],
                             stdout=logs[0], stderr=logs[1], text=True, cwd=tmp_path)
        first_inode: dict[str, int] = {}  # each output's first inode: a rewrite changes it
        killed = False
        deadline = time.time() + 600
        while p.poll() is None and time.time() < deadline:
            done = [q for q in out.iterdir() if not q.name.startswith(".")] \
                if out.exists() else []
            for q in done:
                with contextlib.suppress(FileNotFoundError):
                    first_inode.setdefault(q.name, q.stat().st_ino)
            if not killed and len(done) >= 40:
                os.kill(pids[0], signal.SIGKILL)
                killed = True
            time.sleep(0.002)
        p.wait(timeout=60)
        _, stderr = (f.seek(0) or f.read() for f in logs)
    finally:  # nothing left running, whatever failed: a closing cluster waits on it
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        for f in logs:
            f.close()
        client.close(timeout=60)
        cluster.close(timeout=120)
    assert killed, "the batch ended before a worker could be killed"
    assert p.returncode in (0, 1), stderr
    reported = {line.split(": ")[0] for line in stderr.splitlines() if ": " in line}
    assert not [q.name for q in out.iterdir() if q.name.startswith(".")]  # no temporary
    for name, img in imgs.items():
        if str(src / name) in reported:
            assert not (out / name).exists() or \
                tifffile.imread(out / name).shape == img.shape
            continue
        np.testing.assert_array_equal(tifffile.imread(out / name), imgops.median(img, 5))
        if name in first_inode:
            assert (out / name).stat().st_ino == first_inode[name], f"{name} rewritten"


# --------------------------------------------------------------------------- OME-Zarr
def _write_ome_zarr(path, img, zarr_format, levels=3, axes="czyx"):
    """An OME-Zarr image as NGFF 0.4 (zarr 2) or 0.5 (zarr 3) writers lay it out: a
    group with multiscales (axes, a scale per level) and omero channel names."""
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    kinds = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
    datasets, level = [], img
    for k in range(levels):
        a = group.create_array(str(k), shape=level.shape, dtype=level.dtype,
                               chunks=(1,) * (level.ndim - 2) + (24, 32))
        a[:] = level
        scale = [1.0] * (level.ndim - 2) + [0.5 * 2**k, 0.25 * 2**k]
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": scale}]})
        level = level[..., ::2, ::2]
    ms = {"axes": [{"name": n, "type": kinds[n], **({"unit": "micrometer"}
                                                    if kinds[n] == "space" else {})}
                   for n in axes],
          "datasets": datasets, "name": "scene"}
    omero = {"channels": [{"label": f"ch{i}", "color": "FFFFFF"}
                          for i in range(img.shape[axes.index("c")])]} if "c" in axes else {}
    if zarr_format == 2:
        group.attrs.update({"multiscales": [{**ms, "version": "0.4"}], "omero": omero})
    else:
        group.attrs.update({"ome": {"version": "0.5", "multiscales": [ms], "omero": omero}})
    return group


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_cli_ome_zarr_round_trip(tmp_path, zarr_format):
    """Level 0 plane by plane through the operation, the pyramid rebuilt from it by area
    resampling, the metadata (axes, names, channels) kept and the scales following the
    resampling; read back as a reader of OME-Zarr does (the multiscales' first level)."""
    zarr = pytest.importorskip("zarr")
    invoke = _cli()
    img = random_image((2, 3, 70, 90), np.uint16, seed=51)
    src = tmp_path / "scene.zarr"
    _write_ome_zarr(src, img, zarr_format)
    res = invoke("blur", "--sigma", 1.5, src, tmp_path / "out")
    assert res.exit_code == 0, res.output
    res = invoke("downsample", "--factor", 2, src, tmp_path / "small")
    assert res.exit_code == 0, res.output
    src_attrs = zarr.open_group(str(src), mode="r").attrs.asdict()
    for out, op, f in [("out", lambda p: imgops.gaussian(p, 1.5), 1),
                       ("small", lambda p: imgops.downsample(p, 2), 2)]:
        group = zarr.open_group(str(tmp_path / out / "scene.zarr"), mode="r")
        assert group.metadata.zarr_format == zarr_format
        attrs = group.attrs.asdict()
        ome, ome_src = (a.get("ome", a) for a in (attrs, src_attrs))
        ms, ms_src = ome["multiscales"][0], ome_src["multiscales"][0]
        assert ms["axes"] == ms_src["axes"] and ome["omero"] == ome_src["omero"]
        want0 = np.stack([np.stack([op(p) for p in c]) for c in img])
        level0 = group[ms["datasets"][0]["path"]]
        assert level0.dtype == img.dtype and level0.chunks[:2] == (1, 1)
        np.testing.assert_array_equal(level0[:], want0)
        prev = want0
        for k, d in enumerate(ms["datasets"]):
            scale = d["coordinateTransformations"][0]["scale"]
            assert scale[-2:] == [0.5 * 2**k * f, 0.25 * 2**k * f]
            if k:
                want = np.stack([np.stack([imgops.downsample(p, 2) for p in c])
                                 for c in prev])
                np.testing.assert_array_equal(group[d["path"]][:], want)
                prev = want
        assert len(ms["datasets"]) == 3


@pytest.mark.slow
def test_cli_one_gib_ome_zarr_in_bounded_memory(tmp_path):
    """A 1 GiB float32 OME-Zarr (NGFF 0.5, one 16384 x 16384 plane, three levels)
    through the command line: level 0 and the rebuilt pyramid chunk by chunk, peak RSS
    under 0.7 GiB, as for a plain Zarr array; level 0 equal to the filter's, level 1 to
    the area resampling of level 0."""
    zarr = pytest.importorskip("zarr")
    n, chunk = 16384, 2048
    src = tmp_path / "big.zarr"
    group = zarr.open_group(str(src), mode="w", zarr_format=3)
    datasets = []
    for k in range(3):  # levels 1 and 2 as written (fill values): the command rebuilds them
        m = n >> k
        a = group.create_array(str(k), shape=(m, m), chunks=(min(chunk, m),) * 2,
                               dtype=np.float32, compressors=None)
        if k == 0:
            rows = np.linspace(0, 1, n, dtype=np.float32)
            for y in range(0, n, chunk):  # a band at a time: this process stays small too
                a[y:y + chunk] = rows[y:y + chunk, None] * rows[None, :]
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [2.0**k, 2.0**k]}]})
    axes = [{"name": a, "type": "space", "unit": "micrometer"} for a in "yx"]
    group.attrs.update({"ome": {"version": "0.5", "multiscales": [
        {"axes": axes, "datasets": datasets, "name": "big"}]}})
    out = tmp_path / "out"
    _blur_in_bounded_memory(src, out, tmp_path)
    got = zarr.open_group(str(out / "big.zarr"), mode="r")
    ms = got.attrs.asdict()["ome"]["multiscales"][0]
    assert ms["axes"] == axes and [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]
    level0, level1 = got["0"], got["1"]
    assert level0.shape == (n, n) and level0.dtype == np.float32
    assert level1.shape == (n // 2, n // 2)
    _assert_blurred_product(level0, rows, chunk)
    y, x = 4096, 8192  # level 1 from level 0 as written
    np.testing.assert_array_equal(level1[y // 2:y // 2 + 512, x // 2:x // 2 + 512],
                                  imgops.downsample(level0[y:y + 1024, x:x + 1024], 2))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_cli_ome_zarr_labels_follow_a_result_of_the_same_size(tmp_path, zarr_format):
    """The image's NGFF labels (a segmentation on its pixel grid, with its own levels and
    image-label metadata) are copied unchanged next to a blurred result, and left out of
    a downsampled one, with which they would no longer align."""
    zarr = pytest.importorskip("zarr")
    invoke = _cli()
    img = random_image((2, 1, 48, 64), np.uint16, seed=52)
    src = tmp_path / "scene.zarr"
    group = _write_ome_zarr(src, img, zarr_format, levels=2)
    labels = group.create_group("labels")
    cells = labels.create_group("cells")
    masks = [np.random.default_rng(53).integers(0, 5, (48, 64)).astype(np.uint32)]
    masks.append(masks[0][::2, ::2])
    for k, m in enumerate(masks):
        cells.create_array(str(k), shape=m.shape, dtype=m.dtype, chunks=(24, 32))[:] = m
    ms = {"axes": [{"name": a, "type": "space"} for a in "yx"], "name": "cells",
          "datasets": [{"path": str(k), "coordinateTransformations": [
              {"type": "scale", "scale": [2.0**k, 2.0**k]}]} for k in range(2)]}
    label_meta = {"multiscales": [ms], "image-label": {"colors": [
        {"label-value": 1, "rgba": [255, 0, 0, 255]}]}}
    if zarr_format == 2:
        labels.attrs.update({"labels": ["cells"]})
        cells.attrs.update({**label_meta, "multiscales": [{**ms, "version": "0.4"}]})
    else:
        labels.attrs.update({"ome": {"version": "0.5", "labels": ["cells"]}})
        cells.attrs.update({"ome": {"version": "0.5", **label_meta}})
    for cmd, out, kept in [(["blur", "--sigma", 1.5], "blurred", True),
                           (["downsample", "--factor", 2], "small", False)]:
        res = invoke(*cmd, src, tmp_path / out)
        assert res.exit_code == 0, res.output
        got = zarr.open_group(str(tmp_path / out / "scene.zarr"), mode="r")
        assert got["0"].shape[-2:] == ((48, 64) if kept else (24, 32))
        assert ("labels" in got) == kept
        if kept:
            assert got["labels"].attrs.asdict() == labels.attrs.asdict()
            assert got["labels/cells"].attrs.asdict() == cells.attrs.asdict()
            for k, m in enumerate(masks):
                np.testing.assert_array_equal(got[f"labels/cells/{k}"][:], m)


def test_cli_ome_zarr_plain_array_and_bad_axes(tmp_path):
    """A zarr 3 group that is not OME-Zarr is not taken for an array; axes without y, x
    last are a per-file failure."""
    pytest.importorskip("zarr")
    invoke = _cli()
    img = random_image((40, 50, 3), np.uint8, seed=52)
    _write_ome_zarr(tmp_path / "in" / "bad.zarr", img, 3, levels=1, axes="yxc")
    res = invoke("blur", tmp_path / "in" / "bad.zarr", tmp_path / "out")
    assert res.exit_code == 1 and "y and x must be the last two" in res.output
    assert not [p for p in (tmp_path / "out").iterdir()] if (tmp_path / "out").exists() \
        else True
