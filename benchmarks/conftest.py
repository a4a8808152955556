import numpy as np
import pytest


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
    full = not request.config.getoption("benchmark_disable")
    n32, n8 = (4096, 2048) if full else (256, 128)
    return {f"f32_{n32}": _photo_f32(n32), f"u8_{n8}x3": _photo_u8(n8)}
