"""The Dask executor's overhead and scaling: T1 of the quick profile on the local process
pool (2 processes), on a 2-worker and on a 1-worker LocalCluster (process workers,
loopback only); prints each wall time and whether the records equal the local pool's.

    python bench/dask_scaling.py [OUT_DIR]      (needs fastdrop[dask]; default /tmp/dg)
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from fastdrop.bench.dask_executor import local_cluster

FD = str(Path(sys.executable).with_name("fastdrop"))


def run(extra, out):
    """`fastdrop bench train --only T1` into `out`: (wall seconds, exit code, records)."""
    t0 = time.perf_counter()
    r = subprocess.run([FD, "bench", "train", "--only", "T1", "--out", str(out), *extra],
                       capture_output=True, text=True)
    dt = time.perf_counter() - t0
    (run_dir,) = list(Path(out).iterdir())
    recs = {}
    for f in sorted((run_dir / "tasks").glob("*.json")):
        d = json.loads(f.read_text())
        m = d.get("metrics") or {}
        recs[d["id"]] = (d["status"], m.get("test_accuracy"), m.get("train_accuracy"))
    return dt, r.returncode, recs


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dg")
    res = {"local pool, 2 processes": run(["--jobs", "2"], out / "local")}
    for workers in (2, 1):
        with local_cluster(workers=workers) as c:
            res[f"LocalCluster, {workers} worker(s)"] = run(
                ["--executor", "dask", "--scheduler", c.scheduler_address], out / f"d{workers}")
    base = res["local pool, 2 processes"]
    for k, (dt, rc, recs) in res.items():
        print(f"{k:28s} {dt:7.1f} s  exit {rc}  tasks {len(recs)}  "
              f"same records as the local pool: {recs == base[2]}")
    two, one = res["LocalCluster, 2 worker(s)"][0], res["LocalCluster, 1 worker(s)"][0]
    print(f"2-worker cluster / local pool: {two / base[0]:.2f}x")
    print(f"1 worker / 2 workers: {one / two:.2f}x")


if __name__ == "__main__":
    main()
