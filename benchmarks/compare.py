"""Print the benchmark table (markdown): median times and imgops/peer ratios.

    pytest benchmarks/ -n 0 --benchmark-only --benchmark-json=bench.json
    python benchmarks/compare.py bench.json
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import defaultdict


def versions() -> str:
    out = []
    for mod in ["numpy", "numba", "scipy", "skimage", "cv2", "torch"]:
        try:
            m = __import__(mod)
            out.append(f"{mod} {m.__version__}")
        except ImportError:
            pass
    import imgops
    return f"imgops {imgops.__version__}, " + ", ".join(out)


def _cell(t: dict, ours: float, peer: str) -> tuple[str, str]:
    if peer not in t:
        return "", ""
    return f"{t[peer]:.1f}", f"{ours / t[peer]:.2f}"


def main(path: str) -> None:
    data = json.load(open(path))
    rows = defaultdict(dict)
    for b in data["benchmarks"]:
        info = b["extra_info"]
        rows[(info["op"], info["image"])][info["impl"]] = b["stats"]["median"] * 1000
    cpu = data.get("machine_info", {}).get("cpu", {}).get("brand_raw", platform.processor())
    print(f"Machine: {cpu}, {os.cpu_count()} cores; {versions()}.")
    print("Median of rounds, ms; ratio = imgops / peer (below 1: imgops faster).\n")
    print("| operation | image | imgops | OpenCV | ratio | SciPy | ratio | other peers |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for (op, image), t in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ours = t.get("imgops")
        if ours is None:
            continue

        cv, cvr = _cell(t, ours, "opencv")
        sp, spr = _cell(t, ours, "scipy")
        others = ", ".join(f"{p} {v:.1f} ({ours / v:.2f})" for p, v in t.items()
                           if p not in ("imgops", "opencv", "scipy"))
        print(f"| {op} | {image} | {ours:.1f} | {cv} | {cvr} | {sp} | {spr} | {others} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
