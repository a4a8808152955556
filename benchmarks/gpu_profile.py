"""Kernels to profile with Nsight Compute: each operation twice on an 8192x8192 float32
image and once on a batch of 64 x 512x512x3 uint8 (the first call compiles), device in /
device out, so that only imgops's own kernels run.

    ncu --csv --page raw --clock-control none \\
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \\
        python benchmarks/gpu_profile.py > ncu.csv
"""

import os

os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")

import numpy as np  # noqa: E402
from gpu import OPS, SLOW  # noqa: E402
from numba import cuda  # noqa: E402


def main() -> None:
    rng = np.random.default_rng(0)
    big = cuda.to_device(rng.random((8192, 8192)).astype(np.float32))
    batch = cuda.to_device(rng.integers(0, 256, (64, 512, 512, 3), dtype=np.uint8))
    for name, (fn, _) in OPS.items():
        if name not in SLOW:
            fn(big)
            fn(big)
        fn(batch)
        cuda.synchronize()
        print(name, flush=True)


if __name__ == "__main__":
    main()
