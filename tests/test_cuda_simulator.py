"""Without a GPU, run tests/cuda in its own process under Numba's CUDA simulator."""

import os
import pathlib
import subprocess
import sys

import pytest

import imgops


@pytest.mark.cuda
def test_cuda_suite_in_the_simulator(tmp_path):
    if imgops.backends()["cuda"]["available"]:
        pytest.skip("a GPU is present: tests/cuda run in this process")
    here = pathlib.Path(__file__).parent
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        "--rootdir", str(here.parent), str(here / "cuda")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=3000)
    print(r.stdout[-5000:], r.stderr[-3000:])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and " skipped" not in r.stdout.splitlines()[-1]
