"""pyperf's result files in a run folder: kernels.json (K1), timings/<id>.json and
train-timing.json. Read and merged here; what the numbers mean is the report's business.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyperf

from ..atomic import WriteError
from .folder import RunFolderError


def load_suite(path):
    """The pyperf BenchmarkSuite in `path`; RunFolderError naming the file when it is
    missing or not a readable pyperf file."""
    path = Path(path)
    if not path.exists():
        raise RunFolderError(path, "no such result file")
    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except Exception as exc:  # pyperf raises several kinds on truncated JSON
        raise RunFolderError(path, f"not a readable pyperf result file ({exc})") from exc


def benchmark_names(path) -> set[str]:
    """Names of the benchmarks in a pyperf file; the empty set when there is no file yet."""
    if not Path(path).exists():
        return set()
    return {b.get_name() for b in load_suite(path).get_benchmarks()}


def merge(paths, out) -> None:
    """Every benchmark of `paths` in one pyperf file `out`, replaced atomically (python -m
    pyperf compare_to reads it); WriteError naming `out` when it cannot be written."""
    benches = []
    for path in paths:
        benches.extend(load_suite(path).get_benchmarks())
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        pyperf.BenchmarkSuite(benches).dump(str(tmp), replace=True)
        os.replace(tmp, out)
    except OSError as exc:
        raise WriteError(out, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)
