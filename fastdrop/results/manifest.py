"""The machine manifest recorded with every run: what ran, where, with what versions."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numba

from ..versions import versions
from .schema import MANIFEST_SCHEMA


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    if not shutil.which("git"):
        return None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if not commit:
        return None
    return commit + ("-dirty" if dirty.strip() else "")


def gpu_info() -> list[dict] | None:
    """Name, driver and clocks of each NVIDIA GPU, from nvidia-smi; None when there is none."""
    if not shutil.which("nvidia-smi"):
        return None
    query = "name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,memory.total"
    try:
        text = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 6:
            gpus.append(dict(zip(("name", "driver", "sm_clock_mhz", "mem_clock_mhz",
                                  "max_sm_clock_mhz", "memory_mib"), parts, strict=True)))
    return gpus or None


def collect(threads: int | None = None) -> dict:
    """The manifest of this machine and process (numba's thread count unless given)."""
    if threads is None:
        threads = numba.get_num_threads()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "schema": MANIFEST_SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "git_commit": _git_commit(),
        "machine": {
            "hostname": platform.node(),
            "platform": platform.platform(),
            "cpu_model": _cpu_model(),
            "cores": os.cpu_count(),
            "cores_usable": affinity,
            "threads": threads,
            "memory_gib": _memory_gib(),
            "gpu": gpu_info(),
        },
        "python": platform.python_version(),
        "versions": versions(),
        "environment": {k: os.environ[k] for k in (
            "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_ENABLE_CUDASIM",
            "CUDA_VISIBLE_DEVICES") if k in os.environ},
    }
