"""The first run as a new user meets it: the README's first command with an empty
Numba cache, then again with the cache filled, ``import imgops``, ``imgops warmup``,
and where the cold run's time goes (compilation per kernel).

Each figure comes from a fresh process; the cache is a new empty directory
(``NUMBA_CACHE_DIR``), so an installed or editable checkout both start cold::

    python benchmarks/cold_start.py [--repeat 1]

Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "examples" / "noisy"

# In a child: run the CLI's default denoise, recording every compilation (Numba's
# "numba:compile" events) with its duration, by function.
PROFILE = r"""
import json, sys, time
from numba.core import event

class Compiles(event.Listener):
    def __init__(self):
        self.start, self.rows = {}, []
    def on_start(self, ev):
        self.start[id(ev.data["dispatcher"]), str(ev.data["args"])] = time.perf_counter()
    def on_end(self, ev):
        d = ev.data["dispatcher"]
        t0 = self.start.pop((id(d), str(ev.data["args"])), None)
        if t0 is not None:
            name = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
            self.rows.append((name, str(ev.data["args"]), time.perf_counter() - t0))

listener = Compiles()
event.register("numba:compile", listener)
from imgops.cli.main import main
t = time.perf_counter()
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
total = time.perf_counter() - t
print(json.dumps({"total": total, "compiles": listener.rows}))
"""


def _env(cache: str) -> dict:
    return dict(os.environ, NUMBA_CACHE_DIR=cache)


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    cli = [sys.executable, "-m", "imgops.cli.main"]
    rows = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            cache, out = os.path.join(tmp, "cache"), os.path.join(tmp, "out")
            env = _env(cache)
            rows.append(("import imgops", timed([sys.executable, "-c", "import imgops"], env)))
            rows.append(("first command, empty cache",
                         timed(cli + ["denoise", str(SAMPLES), out], env)))
            rows.append(("same command, warm cache",
                         timed(cli + ["denoise", "--overwrite", str(SAMPLES), out], env)))
            one = next(iter(sorted(SAMPLES.iterdir())))
            rows.append(("one image, warm cache",
                         timed(cli + ["denoise", "--overwrite", str(one), out], env)))
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(("imgops warmup, empty cache",
                         timed(cli + ["warmup"], _env(os.path.join(tmp, "cache")))))
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([sys.executable, "-c", PROFILE, "denoise", str(SAMPLES),
                                os.path.join(tmp, "out")], env=_env(os.path.join(tmp, "c")),
                               check=True, capture_output=True, text=True)
            prof = json.loads(r.stdout.strip().splitlines()[-1])
    print("| what (fresh process) | wall s |")
    print("|---|---:|")
    for what, t in rows:
        print(f"| {what} | {t:.2f} |")
    by = {}
    for name, _, t in prof["compiles"]:
        by[name] = by.get(name, 0.0) + t
    top = sorted(by.items(), key=lambda kv: -kv[1])
    outer = sum(t for name, t in top)
    print(f"\nCold default denoise in-process: {prof['total']:.1f} s, of which compiling "
          f"{len(prof['compiles'])} signatures (nested compiles counted in their callers "
          f"too; sum {outer:.1f} s). Largest:\n")
    print("| kernel | s |")
    print("|---|---:|")
    for name, t in top[:12]:
        print(f"| {name} | {t:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
