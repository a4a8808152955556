"""Time every row of benchmarks/ops.py in two checkouts, alternately, on one machine.

For a refactoring's "no row slower" check: each round runs one process per checkout
(warm kernels, compilation excluded), rounds alternate old/new so that a busy
neighbour slows both, and the table gives each row's median over the rounds::

    python tools/paired_bench.py /path/to/old/checkout [--rounds 3] [--size 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
import imgops
from ops import OPS
from conftest import _photo_f32, _photo_u8
n = int(sys.argv[3])
images = {f"f32_{2 * n}": _photo_f32(2 * n), f"u8_{n}x3": _photo_u8(n)}
out = {}
for name, (fn, _) in OPS.items():
    for iname, a in images.items():
        fn(a)
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            fn(a)
            ts.append(time.perf_counter() - t)
        out[f"{name}|{iname}"] = min(ts)
print(json.dumps(out))
"""


def run(checkout: str, size: int) -> dict:
    env = dict(os.environ, PYTHONPATH=checkout)
    r = subprocess.run([sys.executable, "-c", CHILD, checkout, str(ROOT / "benchmarks"),
                        str(size)], env=env, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=2048)
    args = ap.parse_args()
    old, new = [], []
    for _ in range(args.rounds):
        old.append(run(args.old, args.size))
        new.append(run(str(ROOT), args.size))
    print("| operation | image | old ms | new ms | new / old |")
    print("|---|---|---:|---:|---:|")
    worst = 0.0
    for key in old[0]:
        o = statistics.median(r[key] for r in old) * 1e3
        n = statistics.median(r[key] for r in new) * 1e3
        worst = max(worst, n / o)
        print(f"| {key.split('|')[0]} | {key.split('|')[1]} | {o:.1f} | {n:.1f} | {n / o:.2f} |")
    print(f"\nworst ratio {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
