"""CUDA tests: on a GPU they run in the main pytest process; without one, the main
suite's tests/test_cuda_simulator.py runs this folder in its own process under
NUMBA_ENABLE_CUDASIM=1 NUMBA_DISABLE_JIT=1 (the simulator runs shared @njit bodies only
without the JIT, which also makes the CPU reference path pure Python: images are tiny)."""

import pytest

import imgops
from imgops._cuda import runtime as _cuda


def pytest_collection_modifyitems(config, items):
    if not imgops.backends()["cuda"]["available"]:
        skip = pytest.mark.skip(reason="no GPU here: run in the simulator process")
        for item in items:
            if "tests/cuda" in str(item.fspath).replace("\\", "/"):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def tiny_blocks():
    """Tiny blocks so that small images span many blocks (edges of the grid get tested)."""
    old = list(_cuda.THREADS)
    _cuda.THREADS[:] = [4, 1, 2]  # tiled kernels: 4 x 4 output tiles (border.RPT rows)
    yield
    _cuda.THREADS[:] = old
