#!/usr/bin/env bash
# One GPU session, as one prepared script: what the machine has, the CUDA tests on the GPU,
# then benchmarks/gpu.py. Everything is written to $OUT (default ./gpu_out) as it runs.
#
#     TEST_S=190 BENCH_S=250 PROFILE_S=0 bash benchmarks/gpu_session.sh
#
# (a section whose time is 0 is skipped; PROFILE_S > 0 runs gpu_profile.py under ncu)
#
# Runs from a checkout without installing it (PYTHONPATH), against the machine's own
# Python packages.
set -u
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONUNBUFFERED=1
# numba-cuda <= 0.30 registers an overload of np.row_stack, which NumPy 2.5 removed; a
# machine whose preinstalled NumPy is newer than imgops's pin gets it back for this run.
shim=$(mktemp -d)
printf 'import numpy\nif not hasattr(numpy, "row_stack"):\n    numpy.row_stack = numpy.vstack\n' \
    > "$shim/sitecustomize.py"
export PYTHONPATH="$shim:$PWD"

{ nvidia-smi -L; nvidia-smi --query-gpu=driver_version,clocks.max.sm --format=csv,noheader
  python3 -c "import sys, numpy, numba, numba_cuda, scipy, skimage; print(sys.version.split()[0], 'numpy', numpy.__version__, 'numba', numba.__version__, 'numba-cuda', numba_cuda.__version__, 'scipy', scipy.__version__, 'skimage', skimage.__version__)"
  python3 -c "import imgops; print(imgops.backends()['cuda'])"; } 2>&1 | tee "$OUT/env.txt"

par=""
python3 -c "import xdist" 2>/dev/null && par="-n 6"
start=$(date +%s)
timeout "${TEST_S:-190}" python3 -m pytest tests/cuda -q -p no:cacheprovider -p no:benchmark $par \
    -W "default::DeprecationWarning" --junitxml="$OUT/junit.xml" 2>&1 | tee "$OUT/tests.txt"
echo "tests: $(( $(date +%s) - start )) s" | tee -a "$OUT/tests.txt"

start=$(date +%s)
[ "${BENCH_S:-250}" -gt 0 ] && timeout "${BENCH_S:-250}" python3 benchmarks/gpu.py ${GPU_ARGS:-} 2>&1 | tee "$OUT/gpu.txt"
echo "gpu.py: $(( $(date +%s) - start )) s" | tee -a "$OUT/gpu.txt"

# Per-kernel times and DRAM traffic (Nsight Compute), where ncu is installed.
if command -v ncu >/dev/null && [ "${PROFILE_S:-0}" -gt 0 ]; then
  start=$(date +%s)
  (cd benchmarks && timeout "$PROFILE_S" ncu --csv --page raw --clock-control none \
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,launch__grid_size,launch__block_size,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active \
      python3 gpu_profile.py > "$OUT/ncu.csv" 2> "$OUT/ncu.err")
  rc=$?
  echo "ncu: $(( $(date +%s) - start )) s, rc $rc" | tee -a "$OUT/gpu.txt"
fi
