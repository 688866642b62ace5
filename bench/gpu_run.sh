#!/usr/bin/env bash
# The whole GPU check in one command, for a lent GPU machine (docs/GPU.md) or any machine
# with an NVIDIA GPU: versions, the CUDA tests on the GPU, the benchmark, then one Nsight
# Compute pass (speed of light and occupancy) over the forward kernel.
#
#   bash bench/gpu_run.sh [bench/gpu.py options]        # e.g. --quick
#
# OUT: where logs and results go (default reports/gpu; the device tool sets $OUT).
# PYTHON: the interpreter (default: .venv/bin/python if present, else python3).
# Wheels in .whl/ (numpy 2.4, numba-cuda 0.30.4) are installed into /tmp/site first: the
# lent machines' image has numpy 2.5, which numba-cuda 0.30 cannot use, and no network.
# A failing test does not stop the benchmark (its own checks record failed rows); the
# exit status is nonzero if the tests or any benchmark row failed.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-reports/gpu}
mkdir -p "$OUT"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if compgen -G ".whl/*.whl" >/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi

echo "== versions"
"$PYTHON" - <<'EOF' | tee "$OUT/versions.log"
from importlib import metadata
for name in ("numpy", "numba", "llvmlite", "numba-cuda", "cuda-bindings", "torch"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        print(name, "-")
EOF
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv \
  | tee -a "$OUT/versions.log" || echo "nvidia-smi: not available"

echo "== CUDA tests on the GPU"
tests=0
FASTDROP_REAL_GPU=1 "$PYTHON" -m pytest -q -p no:cacheprovider tests/cuda 2>&1 \
  | tee "$OUT/test-gpu.log" || tests=$?

echo "== benchmark"
bench=0
"$PYTHON" bench/gpu.py --out "$OUT" "$@" 2>&1 | tee "$OUT/bench.log" || bench=$?

echo "== Nsight Compute: forward kernel, speed of light and occupancy"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1 || true)
if [[ -n "$NCU" ]]; then
  "$NCU" --clock-control none --section SpeedOfLight --section Occupancy \
    -k regex:dropout_forward --launch-skip 1 --launch-count 1 \
    "$PYTHON" bench/gpu.py --profile-forward 2^26 2>&1 | tee "$OUT/ncu-forward.log" \
    || echo "ncu failed (status $?); the benchmark results above stand"
else
  echo "ncu not found: Nsight Compute pass skipped"
fi

echo "== done: tests status $tests, benchmark status $bench; files in $OUT"
[[ $tests -eq 0 && $bench -eq 0 ]]
