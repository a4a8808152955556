"""Without a GPU, run tests/cuda in its own process under Numba's CUDA simulator,
recording every kernel launched; then, where NVVM is installed (the ``test`` extra
installs it), compile each recorded (kernel, signature) to PTX for a real GPU: the
simulator runs kernels as Python and never type-checks them for the CUDA target."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

import imgops

ROOT = pathlib.Path(__file__).resolve().parents[1]
PTX_CHECK = ROOT / ".ci" / "ptx_check.py"


@pytest.mark.cuda
def test_cuda_suite_in_the_simulator_and_its_kernels_compile_to_ptx(tmp_path):
    if imgops.backends()["cuda"]["available"]:
        pytest.skip("a GPU is present: tests/cuda run in this process")
    kernels = tmp_path / "kernels.json"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1")
    r = subprocess.run([sys.executable, str(PTX_CHECK), "--record", str(kernels)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=3000)
    print(r.stdout[-5000:], r.stderr[-3000:])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and " skipped" not in r.stdout.splitlines()[-1]
    if importlib.util.find_spec("nvidia.cuda_nvcc") is None:
        pytest.skip("NVVM is not installed (pip install nvidia-cuda-nvcc-cu12 "
                    "nvidia-cuda-nvrtc-cu12): kernels not compiled to PTX")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_ENABLE_CUDASIM", "NUMBA_DISABLE_JIT")}
    r = subprocess.run([sys.executable, str(PTX_CHECK), "--compile", str(kernels)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=3000)
    print(r.stdout[-3000:], r.stderr[-3000:])
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
