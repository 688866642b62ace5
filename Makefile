# fastdrop: two commands on a fresh clone, `make test` and `make bench`; each creates the
# virtual environment (.venv) and installs fastdrop with its test, CUDA-simulator, Dask and
# PyTorch extras (Dask and PyTorch are optional for users; installed here so CI runs the
# cluster and fastdrop.torch tests) when that is missing or pyproject.toml changed.
# PyTorch is its CPU build, torch==2.13.0: this machine's pip finds that wheel locally; where
# pip would fetch the (large) CUDA build, pass its CPU index, e.g.
#   make test PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
PIP_ARGS ?=
BENCH_ARGS ?=

.PHONY: install torch test test-fast test-cudasim test-gpu bench bench-kernels bench-gpu gpu-static report lint clean

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e '.[dev,cuda,dask,torch]'
	@touch $(STAMP)

install: $(STAMP)

# PyTorch (the CPU build on this machine's disk): fastdrop.torch and the benchmarks' peer.
# The install above already includes it; this target re-installs it alone.
torch: $(STAMP)
	$(BIN)/python -m pip install -q $(PIP_ARGS) 'torch==2.13.0'

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# The CUDA tests on the numba-cuda simulator (make test runs them too).
test-cudasim: $(STAMP)
	NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -q tests/cuda $(PYTEST_ARGS)

# The interpreter for the GPU targets: the venv where there is one, else python3 (a lent
# GPU machine has no venv and no network: its image's python3, with wheels carried).
GPU_PY ?= $(shell test -x $(BIN)/python && echo $(BIN)/python || echo python3)

# The same CUDA tests on a real GPU.
test-gpu:
	FASTDROP_REAL_GPU=1 PYTHONPATH=$(CURDIR) $(GPU_PY) -m pytest -q tests/cuda $(PYTEST_ARGS)

# Every suite (kernels K1, training T1..T8) into reports/runs/<timestamp>/, then the report.
bench: $(STAMP)
	$(BIN)/fastdrop bench all --quick $(BENCH_ARGS)

bench-kernels: $(STAMP)
	$(BIN)/fastdrop bench kernels $(BENCH_ARGS)

# On a machine with an NVIDIA GPU: versions, the CUDA tests, bench/gpu.py and one Nsight
# Compute pass, into $(OUT) (default reports/gpu); e.g. BENCH_ARGS=--quick.
bench-gpu:
	PYTHON=$(GPU_PY) bash bench/gpu_run.sh $(BENCH_ARGS)

# Registers, spills and SASS instructions per element of every CUDA kernel for sm_90,
# without a GPU: NVVM, NVRTC, ptxas and nvdisasm from NVIDIA's wheels (installed here only).
gpu-static: $(STAMP)
	$(BIN)/python -m pip install -q 'nvidia-cuda-nvcc==13.0.*' 'nvidia-nvvm==13.0.*' \
		'nvidia-cuda-nvrtc==13.0.*' 'nvidia-cuda-nvdisasm>=13,<14'
	env -u NUMBA_ENABLE_CUDASIM $(BIN)/python bench/gpu_static.py $(STATIC_ARGS)

# Re-render the report of a run folder (RUN=reports/runs/<timestamp>; default the latest):
# the terminal report, then report.md, report.html and plots/ in RUN/report (or
# REPORT_ARGS="--out DIR"). Reads the run folder only: nothing is benchmarked.
report: $(STAMP)
	$(BIN)/fastdrop report $(RUN) $(REPORT_ARGS)

lint: $(STAMP)
	$(BIN)/python -m ruff check fastdrop tests bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
