"""The task functions the executors run.

Each function takes a JSON payload and returns a JSON-serialisable dict; it reads nothing
from the scheduling process but the payload (the data comes from the MNIST-1D cache,
which the parent fills before fanning out). fastdrop.results.records turns each outcome
into the record written to tasks/<id>.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyperf

from .. import keep_mask
from ..results.manifest import collect
from ..train.config import TrainConfig
from ..train.data import load_mnist1d
from ..train.threads import set_threads
from ..train.trainer import build, train
from .train_timing import FloorArm, TrainArm, interleave, site_shapes

# pyperf workers get a filtered environment: these pass through (DESIGN.md)
INHERIT = ("NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_ENABLE_CUDASIM",
           "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "FASTDROP_CACHE", "PYTHONPATH")


def inherit_args() -> list[str]:
    names = [k for k in INHERIT if k in os.environ]
    return ["--inherit-environ", ",".join(names)] if names else []


# --- the task functions (run in workers) ------------------------------------------------


def train_task(payload: dict) -> dict:
    """One training run: the trainer's result dict."""
    return {"result": train(payload["config"])}


def probe_task(payload: dict) -> dict:
    """T7: the model's parameter count, the units at its dropout sites and how many of them
    one training-mode forward pass over the test set keeps (per example)."""
    # unfused: every site is a Dropout layer whose input the recorder sees (a fused site
    # lives inside its weight layer); the masks, and so the counts, are the same
    cfg = TrainConfig.from_dict({**payload["config"], "fused": False})
    if cfg.variant not in ("inverted", "standard"):
        raise ValueError(f"the probe counts element masks: variant {cfg.variant!r} is not one")
    if cfg.threads:
        set_threads(cfg.threads)
    model, data = build(cfg)
    # The dropout sites' sizes come from the same architecture with dropout on (at p = 0
    # the model has no dropout layer, and every unit is active).
    located = model if model.sites else build(TrainConfig.from_dict(
        {**cfg.to_dict(), "dropout": 0.5}))[0]
    seen: list[tuple] = []  # (site, input shape) in the order of the forward pass
    for site in located.sites:
        site.forward = _recorder(site, seen)
    x = data.x_test
    located.forward(x, training=True, offset=0)
    units = sum(int(np.prod(shape[1:])) for _, shape in seen)
    kept = units * len(x)
    if model.sites:
        kept = 0
        for site, shape in seen:
            # the site's keep mask at offset 0 (SPEC.md: a pure function of seed, offset, p)
            n = int(np.prod(shape))
            mask = keep_mask(n, site.p, seed=site.seed, offset=0)
            kept += int(np.unpackbits(mask, count=n, bitorder="little").sum())
    return {"parameters": model.num_parameters, "units": units, "examples": len(x),
            "active_units": kept / len(x), "sites": len(seen)}


def _recorder(site, seen):
    forward = site.forward

    def wrapped(x, training=True, offset=0):
        seen.append((site, x.shape))
        return forward(x, training, offset)

    return wrapped


def timing_task(payload: dict) -> dict:
    """pyperf times one training step of a config (fastdrop.bench.train_timing in its own
    processes); returns pyperf's JSON and the values."""
    with tempfile.TemporaryDirectory(prefix="fastdrop-timing-") as tmp:
        out = Path(tmp) / "timing.json"
        cmd = [sys.executable, "-m", "fastdrop.bench.train_timing",
               "--config", json.dumps(payload["config"]), "--name", payload["name"],
               "-o", str(out), *payload.get("pyperf_args", ()), *inherit_args()]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            raise RuntimeError(f"pyperf exited with {proc.returncode}: " + "\n".join(tail))
        data = json.loads(out.read_text())
        (bench,) = pyperf.BenchmarkSuite.load(str(out)).get_benchmarks()
        values = list(bench.get_values())
    unstable = [line for line in proc.stdout.splitlines() if "unstable" in line]
    # the machine these figures come from (a Dask worker's, with --timing-on-workers)
    machine = collect(threads=payload["config"].get("threads"))["machine"]
    return {"pyperf": data, "values": values, "warnings": unstable, "machine": machine}


def cost_task(payload: dict) -> dict:
    """T2: what dropout costs per training step, as the ratio of step times at p and at
    p = 0, both arms (and the floor: the dropout kernels' own work on the same arrays)
    interleaved in this one warm process, one thread (fastdrop.bench.train_timing)."""
    cfg = payload["config"]
    set_threads(1)
    val = TrainConfig.from_dict(cfg).effective_val_size  # the set the harness warmed
    data = load_mnist1d(cfg["train_size"], val, seed=cfg["data_seed"], cache=cfg["cache_dir"],
                        dtype=cfg["dtype"])
    base = {**cfg, "dropout": 0.0, "variant": "inverted"}
    arms = {"p": TrainArm(cfg, data), "0": TrainArm(base, data),
            "floor": FloorArm(site_shapes(cfg, cfg["batch_size"]), cfg["dtype"])}
    res = interleave(arms, [("p", "0")], floors={"p": ("0", "floor")},
                     **payload.get("interleave", {}))
    return {**res, "machine": collect(threads=1)["machine"]}
