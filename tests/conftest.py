import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path

# The tests run against the installed package, whose command line is installed from
# cli/ as imgops.cli: `python -m pytest` puts the working directory first on sys.path,
# where the source tree's imgops has no cli (and the processes a test starts, Dask's
# workers among them, inherit that path)
_ROOT = Path(__file__).resolve().parents[1]
_PATH = [p for p in sys.path if Path(p or os.curdir).resolve() != _ROOT]
if next(iter(importlib.metadata.distributions(name="imgops", path=_PATH)), None):
    _SAVED, sys.path[:] = sys.path[:], _PATH
    if importlib.util.find_spec("imgops") is None:  # an install that needs the root
        sys.path[:] = _SAVED

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import DTYPES, MODES  # noqa: E402


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


def pytest_collection_modifyitems(session, config, items):
    """The CUDA simulator run (tests/test_cuda_simulator.py) starts now, in the
    background, and its test goes last: it waits for that run, which meanwhile used
    the core that the rest of the suite's compilation leaves idle."""
    sim = [it for it in items if it.name == "test_cuda_suite_in_the_simulator_and_its_"
           "kernels_compile_to_ptx"]
    if not sim or config.getoption("collectonly"):
        return
    items[:] = [it for it in items if it not in sim] + sim
    _BACKGROUND.append(sim[0].module)
    if "PYTEST_XDIST_WORKER" not in os.environ:  # with xdist the test starts it itself
        sim[0].module.start()


_BACKGROUND: list = []


def pytest_sessionfinish(session, exitstatus):
    """A session stopped early (-x, Ctrl-C) does not leave the simulator run behind."""
    for module in _BACKGROUND:
        proc = module._RUN.get("proc")
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for name in ("out", "err"):
            if name in module._RUN and not module._RUN[name].closed:
                module._RUN[name].close()
