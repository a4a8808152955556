"""Compile every CUDA kernel the CUDA tests launch, for a real GPU, without one.

The simulator (what CI runs without a GPU) executes kernels as Python and never
type-checks them for the CUDA target. This script runs tests/cuda under the simulator
once, recording each launched kernel and the Numba types of its arguments, then, in a
second process without the simulator, compiles each (kernel, signature) to PTX with
``numba.cuda.compile_ptx`` (no driver needed; NVVM is: ``pip install
nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12``) and reports, per signature:

* ``local-memory``: the PTX declares or uses the ``.local`` state space (a per-thread
  array the compiler could not keep in registers);
* ``f64=N``: N instructions on ``.f64`` operands in a float32 kernel (one whose first
  floating-point array argument is float32: a float64 literal or argument promoting the
  arithmetic);
* ``i64mul=I/L/T``: 64-bit integer multiplies (``mul``/``mad`` ``.lo``/``.hi`` on
  ``.s64``/``.u64``, which the GPU emulates with several 32-bit multiplies; the single
  ``mul.wide.s32``/``.u32`` instruction is not one): I of them in an innermost loop, L
  in any loop, T in all. Loops are read from the PTX's layout: the lines from a label
  to the last branch back to it (NVVM lays each loop out contiguously and inlines the
  device functions; an unrolled loop's remainder is a loop of its own); an innermost
  loop holds no other. The innermost loops are where a stencil runs over its taps: a
  multiply there runs once per tap, while one in an outer loop (the row address of
  Numba's N-d indexing, once per tile row or output row) runs a few times per thread;
* with ``ptxas`` (the ``bin/ptxas`` of the ``nvidia.cuda_nvcc`` package, else one on
  PATH), ``regs=N spill=S/L stack=B``: registers per thread, spill stores and loads and
  the stack frame in bytes, from ``ptxas -v --gpu-name sm_XY``.

The check fails (exit status 1) on a kernel that does not compile (to PTX, or with
ptxas, to a cubin), on an offence below that ``.ci/ptx_known_debt.json`` does not list,
and on a listed one that no longer occurs (the list can only shrink):

* ``local-memory`` in any kernel;
* ``f64-in-float32``: float64 instructions in a float32 kernel;
* in the stencil kernels (``imgops._cuda.stencil``): ``int64-multiply``, a 64-bit
  integer multiply in an innermost loop; with ptxas, ``registers`` (more than 64 per
  thread) and ``spill`` (any spill store or load).

Each entry of the list names the kernel as the report does (``module.factory(dtype).name``,
all its signatures), the problem, and a one-line reason. Without ptxas, the
``registers`` and ``spill`` entries are neither checked nor stale.

    python .ci/ptx_check.py [--cc 9.0] [--ptx-dir DIR] [--known-debt FILE]
    python .ci/ptx_check.py --record-only     # the simulator run alone

``--ptx-dir``: write each signature's PTX there; ``--known-debt``: another list (the
default's offences were measured at the default ``--cc 9.0``)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
KNOWN_DEBT = ROOT / ".ci" / "ptx_known_debt.json"
STENCIL_MODULES = ("imgops._cuda.stencil",)
MAX_REGISTERS = 64
PROBLEMS = {  # what each problem means; the last two need ptxas
    "local-memory": "local memory (a per-thread array not kept in registers)",
    "f64-in-float32": "float64 instructions in a float32 kernel",
    "int64-multiply": "64-bit integer multiplies in an innermost loop of a stencil kernel",
    "registers": f"more than {MAX_REGISTERS} registers per thread in a stencil kernel",
    "spill": "register spills in a stencil kernel",
}
NEEDS_PTXAS = ("registers", "spill")


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
    ptx_dir = _option("--ptx-dir")
    if ptx_dir:
        pathlib.Path(ptx_dir).mkdir(parents=True, exist_ok=True)
    ptxas = find_ptxas()
    failures = 0
    rows = []
    offences: dict = {}  # (kernel, problem) -> the amounts, one per offending signature
    for module, factory, dtype, name, sig in json.loads(pathlib.Path(in_json).read_text()):
        mod = importlib.import_module(module)
        if factory == name:  # a module-level kernel
            kernel = getattr(mod, name)
        else:  # a kernel made by a memoised factory (per dtype for the tiled ones)
            ns = getattr(mod, factory)(dtype) if dtype else getattr(mod, factory)()
            kernel = next(k for k in vars(ns).values()
                          if getattr(getattr(k, "py_func", None), "__name__", None) == name)
        argtypes = tuple(_parse(s, env) for s in sig)
        label = f"{module.split('.')[-1]}.{factory}({dtype or ''}).{name}"
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, argtypes, cc=cc)
        except Exception as exc:  # report every failure, not only the first
            failures += 1
            rows.append(f"FAIL {module}.{factory}({dtype or ''}).{name}{sig}: "
                        f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            continue
        if ptx_dir:
            safe = re.sub(r"[^\w.()-]+", "_", f"{label}[{','.join(sig)}]")[:200]
            pathlib.Path(ptx_dir, f"{safe}.ptx").write_text(ptx)
        stats = analyse(ptx, sig)
        if ptxas:
            stats.update(ptxas_stats(ptxas, ptx, cc))
            if "ptxas_error" in stats:  # the PTX would not load on a GPU either
                failures += 1
        rows.append(f"ok   {label} [{', '.join(sig)}]{_tags(stats)}")
        for problem, amount in problems(module, stats).items():
            offences.setdefault((label, problem), []).append(amount)
    print("\n".join(sorted(rows)))
    print(f"{len(rows)} kernel signatures, {failures} failed")
    if not ptxas:
        print("ptxas not found: registers and spills not measured")
    new, stale, errors, known = judge(
        offences, pathlib.Path(_option("--known-debt") or KNOWN_DEBT), bool(ptxas))
    print(f"{known} (kernel, problem) offences listed as known debt")
    for line in errors + new + stale:
        print(line)
    print(f"{len(new)} new offences, {len(stale)} stale debt entries, "
          f"{len(errors)} debt-list errors")
    return 1 if failures or new or stale or errors else 0


def problems(module: str, st: dict) -> dict:
    """The problems of one compiled signature, each with its amount."""
    found = {}
    if st["local"]:
        found["local-memory"] = f"stack {st['stack']} bytes" if "stack" in st else "in PTX"
    if st["f64"]:
        found["f64-in-float32"] = f"{st['f64']} instructions"
    if module in STENCIL_MODULES:
        if st["mul64_inner"]:
            found["int64-multiply"] = f"{st['mul64_inner']} multiplies"
        if st.get("regs", 0) > MAX_REGISTERS:
            found["registers"] = f"{st['regs']} registers"
        if st.get("spill_stores", 0) or st.get("spill_loads", 0):
            found["spill"] = f"{st['spill_stores']}/{st['spill_loads']} bytes stored/loaded"
    return found


def judge(offences: dict, path: pathlib.Path, with_ptxas: bool
          ) -> tuple[list[str], list[str], list[str], int]:
    """The offences against the known-debt list at ``path``: (new offences, stale
    entries, errors in the list, how many offences it lists)."""
    errors = []
    try:
        entries = json.loads(path.read_text())["debt"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [], [], [f"ERROR {path}: {type(exc).__name__}: {exc}"], 0
    listed = set()
    for e in entries:
        if not isinstance(e, dict) or set(e) != {"kernel", "problem", "reason"} or \
                e["problem"] not in PROBLEMS or not str(e["reason"]).strip():
            errors.append(f"ERROR {path.name}: {e!r}: needs kernel, problem (one of "
                          f"{', '.join(PROBLEMS)}) and a reason, nothing else")
            continue
        key = (e["kernel"], e["problem"])
        if key in listed:
            errors.append(f"ERROR {path.name}: {key} listed twice")
        listed.add(key)
    new = [f"NEW   {kernel}: {problem}, {PROBLEMS[problem]} ({'; '.join(amounts)}): fix it,"
           f" or list it in {path.name} with the reason it stays"
           for (kernel, problem), amounts in sorted(offences.items())
           if (kernel, problem) not in listed]
    stale = [f"STALE {kernel}: {problem} no longer occurs: remove it from {path.name}"
             for kernel, problem in sorted(listed)
             if (kernel, problem) not in offences
             and (with_ptxas or problem not in NEEDS_PTXAS)]
    return new, stale, errors, sum(1 for key in offences if key in listed)


# ----------------------------------------------------------------------------- PTX analysis
_INSTRUCTION = re.compile(r"^\s*(?:@!?%\w+\s+)?[a-z]")  # an instruction, maybe predicated
_F64 = re.compile(r"\.f64\b")
_MUL64 = re.compile(r"^\s*(?:@!?%\w+\s+)?(?:mul|mad)\.(?:lo|hi)\.[su]64\b")
_LABEL = re.compile(r"^\s*(\$?[\w$]+):")
_BRANCH = re.compile(r"\bbra(?:\.uni)?\s+(\$?[\w$]+)\s*;")


def is_float32_kernel(sig) -> bool:
    """Whether the kernel's first floating-point array argument is float32 (its data is;
    a float32 kernel has no reason to compute in float64)."""
    for s in sig:
        m = re.fullmatch(r"(?:readonly )?array\((float\d+), .*", s)
        if m:
            return m.group(1) == "float32"
    return False


def loop_spans(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line of each loop: a label and the last branch back to it."""
    labels = {}
    for i, line in enumerate(lines):
        m = _LABEL.match(line)
        if m:
            labels[m.group(1)] = i
    last = {}
    for i, line in enumerate(lines):
        m = _BRANCH.search(line)
        if m and labels.get(m.group(1), i) < i:
            last[m.group(1)] = i
    return [(labels[k], v) for k, v in last.items()]


def analyse(ptx: str, sig) -> dict:
    """local memory, float64 instructions (float32 kernels only) and 64-bit multiplies."""
    lines = ptx.splitlines()
    code = [(i, line) for i, line in enumerate(lines)
            if _INSTRUCTION.match(line) and not line.lstrip().startswith("//")]
    spans = loop_spans(lines)
    inner = [(a, b) for a, b in spans
             if not any((c, d) != (a, b) and a <= c and d <= b for c, d in spans)]
    muls = [i for i, line in code if _MUL64.match(line)]
    return {
        "local": any(re.search(r"\.local\b", line) for line in lines),
        "f64": sum(1 for _, line in code if _F64.search(line))
        if is_float32_kernel(sig) else 0,
        "mul64": len(muls),
        "mul64_loop": sum(1 for i in muls if any(a <= i <= b for a, b in spans)),
        "mul64_inner": sum(1 for i in muls if any(a <= i <= b for a, b in inner)),
    }


def find_ptxas() -> str | None:
    """The test extra's ptxas (``nvidia.cuda_nvcc``'s bin/ptxas), else one on PATH."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("nvidia.cuda_nvcc")
    except ImportError:
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for exe in ("ptxas", "ptxas.exe"):
            path = pathlib.Path(folder, "bin", exe)
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return shutil.which("ptxas")


def ptxas_stats(ptxas: str, ptx: str, cc: tuple[int, int]) -> dict:
    """Registers (the most any function uses), spill stores/loads and stack frame bytes
    (summed over the functions) from ``ptxas -v``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp, "k.ptx")
        src.write_text(ptx)
        res = subprocess.run([ptxas, "-v", "--gpu-name", f"sm_{cc[0]}{cc[1]}", str(src),
                              "-o", str(pathlib.Path(tmp, "k.cubin"))],
                             capture_output=True, text=True)
    text = res.stdout + res.stderr
    if res.returncode:
        return {"ptxas_error": text.strip().splitlines()[-1][:200] if text.strip() else "?"}
    regs = [int(n) for n in re.findall(r"Used (\d+) registers", text)]
    frames = re.findall(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                        r"(\d+) bytes spill loads", text)
    return {"regs": max(regs, default=0),
            "stack": sum(int(f[0]) for f in frames),
            "spill_stores": sum(int(f[1]) for f in frames),
            "spill_loads": sum(int(f[2]) for f in frames)}


def _tags(st: dict) -> str:
    tags = []
    if st["local"]:
        tags.append("local-memory")
    if st["f64"]:
        tags.append(f"f64={st['f64']}")
    tags.append(f"i64mul={st['mul64_inner']}/{st['mul64_loop']}/{st['mul64']}")
    if "regs" in st:
        tags.append(f"regs={st['regs']} spill={st['spill_stores']}/{st['spill_loads']} "
                    f"stack={st['stack']}")
    if "ptxas_error" in st:
        tags.append(f"ptxas-error: {st['ptxas_error']}")
    return " " + " ".join(tags)


def _option(name: str) -> str | None:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


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
        cc_arg = _option("--cc") or "9.0"
        sys.exit(compile_all(sys.argv[2], tuple(int(x) for x in cc_arg.split("."))))
    sys.exit(main())
