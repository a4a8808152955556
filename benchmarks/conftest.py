import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _time_only_with_benchmark_only(request):
    """Benchmarks time only with --benchmark-only; otherwise each runs once as a test."""
    session = getattr(request.config, "_benchmarksession", None)
    if session is not None and not request.config.getoption("benchmark_only"):
        session.disabled = True


def _photo_f32(n):
    import cv2
    from skimage import data
    base = cv2.resize(data.camera().astype(np.float32) / 255, (n, n),
                      interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 0.02, base.shape).astype(np.float32)
    return np.ascontiguousarray(base + noise)


def _photo_u8(n):
    import cv2
    from skimage import data
    return np.ascontiguousarray(cv2.resize(data.astronaut(), (n, n),
                                           interpolation=cv2.INTER_CUBIC))


@pytest.fixture(scope="session")
def images(request):
    """Real-looking content, never zeros. Full size when timing; small when the run only
    executes each benchmark once as a test (--benchmark-disable)."""
    pytest.importorskip("cv2")
    full = request.config.getoption("benchmark_only")
    n32, n8 = (4096, 2048) if full else (256, 128)
    return {f"f32_{n32}": _photo_f32(n32), f"u8_{n8}x3": _photo_u8(n8)}
