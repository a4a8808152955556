"""imgops next to OpenCV, SciPy, scikit-image and PyTorch: ``pytest benchmarks/ -n 0
--benchmark-only`` times them (warm: the JIT is excluded); the normal test run executes
each once as a smoke test. ``python benchmarks/compare.py`` makes the ratio table."""

import importlib

import numpy as np
import pytest
from ops import OPS

IMPLS = [(op, impl) for op, (_, peers) in OPS.items() for impl in ["imgops", *peers]]
PEER_MODULE = {"opencv": "cv2", "scipy": "scipy", "skimage": "skimage", "torch": "torch"}


@pytest.mark.parametrize("image_name", ["f32", "u8"])
@pytest.mark.parametrize("op, impl", IMPLS, ids=[f"{o}-{i}" for o, i in IMPLS])
def test_bench(benchmark, images, op, impl, image_name):
    name = next(k for k in images if k.startswith(image_name))
    img = images[name]
    ours, peers = OPS[op]
    fn = ours if impl == "imgops" else peers[impl]
    if impl != "imgops":
        try:
            importlib.import_module(PEER_MODULE[impl])
        except ImportError:
            pytest.skip(f"{impl} is not installed")
    if impl == "imgops":
        fn(img)  # compile (or load from the cache) outside the timing
    benchmark.group = f"{op}|{name}"
    benchmark.extra_info.update(op=op, impl=impl, image=name)
    out = benchmark(fn, img)
    out = out.numpy() if hasattr(out, "numpy") else np.asarray(out)
    assert out.size > 0 and np.isfinite(out.astype(np.float64)).all()
    if impl == "imgops":  # smoke check against the first peer: same size, same scale
        ref = next(iter(peers.values()))
        try:
            r = ref(img)
        except ImportError:
            return
        r = r.numpy() if hasattr(r, "numpy") else np.asarray(r)
        assert r.size == out.size
        scale = max(1.0, float(np.abs(r.astype(np.float64)).max()))
        # borders and rounding conventions differ between libraries: compare the bulk
        diff = np.abs(out.reshape(r.shape).astype(np.float64) - r) / scale
        assert np.median(diff) < 0.02
