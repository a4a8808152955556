"""Without a GPU, run tests/cuda in its own process under Numba's CUDA simulator,
recording every kernel launched; then, where NVVM is installed (the ``test`` extra
installs it), compile each recorded (kernel, signature) to PTX for a real GPU: the
simulator runs kernels as Python and never type-checks them for the CUDA target. The
compiled PTX must also hold no offence that ``.ci/ptx_known_debt.json`` does not list
(local memory, float64 in float32 kernels, 64-bit multiplies in the stencils' tap loops,
and with ptxas registers and spills of the stencils), and every listed one must still
occur (``.ci/ptx_check.py``).

The two steps run in a background process started when the test is collected
(``tests/conftest.py``), on the machine's other core while the rest of the suite runs
(it is mostly single-threaded compilation); the test, run last, waits for it."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import pytest

import imgops

ROOT = pathlib.Path(__file__).resolve().parents[1]
PTX_CHECK = ROOT / ".ci" / "ptx_check.py"
NAME = "test_cuda_suite_in_the_simulator_and_its_kernels_compile_to_ptx"
_RUN: dict = {}  # the background run: process, its output files, whether it compiles


def has_nvvm() -> bool:
    return importlib.util.find_spec("nvidia.cuda_nvcc") is not None


def start() -> None:
    """Start the background run (once; nothing where a GPU runs tests/cuda itself)."""
    if _RUN or imgops.backends()["cuda"]["available"]:
        return
    work = pathlib.Path(tempfile.mkdtemp(prefix="imgops-cudasim-"))
    env = dict(os.environ, PTX_CHECK_JSON=str(work / "kernels.json"))
    # record in the simulator; then compile to PTX (a fresh Numba cache, so that CPU
    # kernels compile first in that process, as they would in a user's), unless NVVM
    # is missing
    script = [str(PTX_CHECK)] if has_nvvm() else [str(PTX_CHECK), "--record-only"]
    out, err = open(work / "stdout", "w+"), open(work / "stderr", "w+")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, *script], stdout=out, stderr=err, env=env,
                            cwd=work)
    _RUN.update(proc=proc, out=out, err=err, compiles=has_nvvm())


WAIT_S = 1800  # the run takes 2-4 minutes on 2 cores; a stuck one fails the test


@pytest.mark.cuda
@pytest.mark.timeout(WAIT_S + 300)
def test_cuda_suite_in_the_simulator_and_its_kernels_compile_to_ptx():
    if imgops.backends()["cuda"]["available"]:
        pytest.skip("a GPU is present: tests/cuda run in this process")
    start()  # already running unless this test was collected some other way
    proc = _RUN["proc"]
    try:
        rc = proc.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    out, err = (_RUN[k].seek(0) or _RUN[k].read() for k in ("out", "err"))
    _RUN["out"].close()
    _RUN["err"].close()
    print(out[-5000:], err[-3000:])
    found = re.search(r"(\d+) kernel signatures, (\d+) failed", out)
    assert rc == 0 or found, out[-5000:] + err[-3000:]  # the simulator run failed
    assert " passed" in out and " skipped" not in out.split(" passed")[-1].splitlines()[0]
    if not _RUN["compiles"]:
        pytest.skip("NVVM is not installed (pip install nvidia-cuda-nvcc-cu12 "
                    "nvidia-cuda-nvrtc-cu12): kernels not compiled to PTX")
    assert found and found.group(2) == "0", out[-3000:]
    assert int(found.group(1)) >= 40, "the simulator run recorded too few kernels"
    debt = re.search(r"(\d+) new offences, (\d+) stale debt entries, (\d+) debt-list "
                     r"errors", out)
    offences = "\n".join(line for line in out.splitlines()
                         if line.startswith(("NEW ", "STALE ", "ERROR ")))
    assert debt and debt.groups() == ("0", "0", "0"), offences or out[-3000:]
    assert rc == 0, out[-3000:] + err[-3000:]
