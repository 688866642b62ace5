"""The task functions the executors run, and the record each outcome becomes.

Each function takes a JSON payload and returns a JSON-serialisable dict; it reads nothing
from the scheduling process but the payload (the data comes from the MNIST-1D cache,
which the parent fills before fanning out). `record()` turns (task, outcome) into the
schema-versioned record written to tasks/<id>.json.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from .executor import TaskFailure
from .runfolder import RECORD_SCHEMA

# pyperf workers get a filtered environment: these pass through (DESIGN.md)
INHERIT = ("NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_ENABLE_CUDASIM",
           "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "FASTDROP_CACHE", "PYTHONPATH")


def inherit_args() -> list[str]:
    names = [k for k in INHERIT if k in os.environ]
    return ["--inherit-environ", ",".join(names)] if names else []


# --- the task functions (run in workers) ------------------------------------------------


def train_task(payload: dict) -> dict:
    """One training run: the trainer's result dict."""
    from ..train.trainer import train

    return {"result": train(payload["config"])}


def probe_task(payload: dict) -> dict:
    """T7: the model's parameter count, the units at its dropout sites and how many of them
    one training-mode forward pass over the test set keeps (per example)."""
    import numpy as np

    import fastdrop as fd

    from ..train.config import TrainConfig
    from ..train.trainer import build, set_threads

    cfg = TrainConfig.from_dict(payload["config"])
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
            mask = fd.keep_mask(n, site.p, seed=site.seed, offset=0)
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
    import pyperf

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
    from .manifest import collect

    # the machine these figures come from (a Dask worker's, with --timing-on-workers)
    machine = collect(threads=payload["config"].get("threads"))["machine"]
    return {"pyperf": data, "values": values, "warnings": unstable, "machine": machine}


# --- records (made in the scheduling process) --------------------------------------------

TRAIN_METRICS = ("train_accuracy", "test_accuracy", "test_loss", "test_ece", "test_auroc",
                 "test_top_class_share", "train_loss", "val_accuracy", "val_loss",
                 "final_loss", "parameters", "steps", "best_step")
TRAIN_TIMES = ("wall_time_s", "train_time_s", "eval_time_s", "setup_time_s", "step_time_ms")


def record(task: dict, outcome: dict, elapsed_s: float) -> dict:
    """The record of a finished task: its config, seed, status, metrics and timing."""
    cfg = task["payload"]["config"]
    rec = {
        "schema": RECORD_SCHEMA,
        "id": task["id"],
        "kind": task["kind"],
        "suites": task["suites"],
        "config": cfg,
        "seed": cfg.get("seed"),
        "status": "ok",
        "error": None,
        "metrics": {},
        "timing": {"task_s": round(elapsed_s, 3)},
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
    }
    if isinstance(outcome, TaskFailure):
        rec["status"] = "failed"
        rec["error"] = outcome["error"]
        rec["traceback"] = outcome.get("traceback") or None
        return rec
    if task["kind"] == "train":
        r = outcome["result"]
        rec["metrics"] = {k: r.get(k) for k in TRAIN_METRICS}
        rec["metrics"]["trainer_status"] = r["status"]
        if r.get("mc"):
            rec["metrics"]["mc"] = r["mc"]
        rec["timing"].update({k: r.get(k) for k in TRAIN_TIMES})
        rec["history"] = r.get("history", [])
        rec["environment"] = r.get("environment")
        rec["data"] = r.get("data")
        if r["status"] not in ("completed", "early_stopped"):
            rec["status"] = "failed"
            rec["error"] = f"{r['status']}: {r.get('message')}"
    elif task["kind"] == "probe":
        rec["metrics"] = dict(outcome)
    else:  # timing
        from .stats import timing

        rec["metrics"] = {"step_time": timing(outcome["values"])}
        rec["values"] = outcome["values"]
        rec["warnings"] = outcome.get("warnings", [])
        rec["timing_file"] = f"timings/{task['id']}.json"
        if outcome.get("machine"):
            rec["machine"] = outcome["machine"]
            rec["host"] = outcome["machine"].get("hostname", rec["host"])
    return rec
