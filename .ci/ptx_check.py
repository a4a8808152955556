"""Compile every CUDA kernel the CUDA tests launch, for a real GPU, without one.

The simulator (what CI runs without a GPU) executes kernels as Python and never
type-checks them for the CUDA target. This script runs tests/cuda under the simulator
once, recording each launched kernel and the Numba types of its arguments, then, in a
second process without the simulator, compiles each (kernel, signature) to PTX with
``numba.cuda.compile_ptx`` (no driver needed; NVVM is: ``pip install
nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12``) and reports local-memory use and
64-bit float instructions in float32 kernels.

    python .ci/ptx_check.py [--cc 9.0]      # or --record-only: the simulator run alone
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def record(out_json: str) -> int:
    """In the simulator: run tests/cuda, recording (factory, arg, kernel, signature)."""
    import numba
    import pytest

    seen = {}

    def note(kernel, args):
        fn = kernel.fn
        qual = fn.__qualname__.split(".")
        freevars = dict(zip(fn.__code__.co_freevars,
                            (c.cell_contents for c in fn.__closure__ or ()), strict=True))
        dtype = str(freevars["T"]) if "T" in freevars else None
        types = []
        for a in args:
            a = getattr(a, "_ary", a)  # the simulator's device array wraps a NumPy one
            types.append(str(numba.typeof(a)))
        key = (fn.__module__, qual[0], dtype, qual[-1], tuple(types))
        seen[key] = True

    from numba.cuda.simulator.kernel import FakeCUDAKernel

    call = FakeCUDAKernel.__call__

    def spy(self, *args):  # every launch, through the runtime's helpers or directly
        if not getattr(self, "_device", False):
            note(self, args)
        return call(self, *args)

    FakeCUDAKernel.__call__ = spy
    # in this process (no xdist workers): the spy above must see every launch
    rc = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-o", "addopts=", "-p", "no:xdist",
                      "--rootdir", str(ROOT / "tests"),
                      str(ROOT / "tests" / "cuda")])
    pathlib.Path(out_json).write_text(json.dumps([list(k) for k in seen]))
    return int(rc)


def compile_all(in_json: str, cc: tuple[int, int]) -> int:
    import importlib
    import types as pytypes

    import numba.cuda.dispatcher as dispatcher
    from numba import cuda, types  # noqa: F401  (types: for eval of signatures)
    from numba.core import types as ntypes

    # device functions ask the current device for its compute capability: there is none
    dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=cc)
    env = {n: getattr(ntypes, n) for n in dir(ntypes) if not n.startswith("_")}
    env.update(array=ntypes.Array, Array=ntypes.Array)
    # A real session compiles CPU kernels before CUDA ones (the tests compare the two):
    # compile the CPU integer-output paths first, uncached (main() gives this process an
    # empty NUMBA_CACHE_DIR), so that a CUDA kernel reusing a choice made for the CPU
    # fails here. Found on a GPU: the CUDA scatter inherited the CPU's np.rint.
    import numpy as np

    import imgops
    tiny = np.arange(64, dtype=np.uint8).reshape(8, 8)
    imgops.gaussian(tiny, 1.0, backend="cpu")
    imgops.upsample(tiny, 2, backend="cpu")
    failures = 0
    rows = []
    for module, factory, dtype, name, sig in json.loads(pathlib.Path(in_json).read_text()):
        mod = importlib.import_module(module)
        if factory == name:  # a module-level kernel
            kernel = getattr(mod, name)
        else:  # a kernel made by a memoised factory (per dtype for the tiled ones)
            ns = getattr(mod, factory)(dtype) if dtype else getattr(mod, factory)()
            kernel = next(k for k in vars(ns).values()
                          if getattr(getattr(k, "py_func", None), "__name__", None) == name)
        argtypes = tuple(_parse(s, env) for s in sig)
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, argtypes, cc=cc)
        except Exception as exc:  # report every failure, not only the first
            failures += 1
            rows.append(f"FAIL {module}.{factory}({dtype or ''}).{name}{sig}: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            continue
        f64 = sum(1 for line in ptx.splitlines() if ".f64" in line)
        local = ".local" in ptx
        rows.append(f"ok   {module.split('.')[-1]}.{factory}({dtype or ''}).{name} "
                    f"[{', '.join(sig)}]" + (" local-memory" if local else "")
                    + (f" f64-lines={f64}" if f64 and "float32" in " ".join(sig) else ""))
    print("\n".join(sorted(set(rows))))
    print(f"{len(rows)} kernel signatures, {failures} failed")
    return 1 if failures else 0


def _parse(s: str, env: dict):
    # numba.typeof's text: 'array(float32, 3d, C)', 'int64', 'float64', 'bool', ...
    import re

    from numba.core import types as ntypes

    m = re.fullmatch(r"(?:readonly )?array\((\w+), (\d)d, (\w)\)", s)
    if m:
        return ntypes.Array(getattr(ntypes, m.group(1)), int(m.group(2)), m.group(3))
    return {"bool": ntypes.boolean}.get(s) or getattr(ntypes, s)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--record":
        return record(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.environ.get("PTX_CHECK_JSON") or os.path.join(tmp, "kernels.json")
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1")
        rc = 0 if os.path.exists(path) else subprocess.run(
            [sys.executable, __file__, "--record", path], env=env, cwd=tmp).returncode
        if rc:
            print("the CUDA tests failed in the simulator", file=sys.stderr)
            return rc
        if "--record-only" in sys.argv:
            return 0
        env = {k: v for k, v in os.environ.items()
               if k not in ("NUMBA_ENABLE_CUDASIM", "NUMBA_DISABLE_JIT")}
        env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba-cache")  # compile, not load
        return subprocess.run([sys.executable, __file__, "--compile", path, *sys.argv[1:]],
                              env=env).returncode


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--compile":
        cc_arg = sys.argv[sys.argv.index("--cc") + 1] if "--cc" in sys.argv else "9.0"
        sys.exit(compile_all(sys.argv[2], tuple(int(x) for x in cc_arg.split("."))))
    sys.exit(main())
