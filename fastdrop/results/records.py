"""Task records: what each finished task leaves in tasks/<id>.json (schema
fastdrop.bench.task/1), made from the task and its outcome in the scheduling process.

    {"schema", "id", "kind", "suites", "config", "seed", "status": "ok"|"failed", "error",
     "metrics", "timing", "finished", "host", ...}  (+ "history" of a training run,
     "values" and "timing_file" of a timing task, "traceback" of a failure)
"""

from __future__ import annotations

import datetime as _dt
import platform

from .schema import RECORD_SCHEMA
from .stats import timing

TRAIN_METRICS = ("train_accuracy", "test_accuracy", "test_loss", "test_ece", "test_auroc",
                 "test_top_class_share", "train_loss", "val_accuracy", "val_loss",
                 "final_loss", "parameters", "steps", "best_step")
TRAIN_TIMES = ("wall_time_s", "train_time_s", "eval_time_s", "setup_time_s", "step_time_ms")


def record(task: dict, outcome: dict, elapsed_s: float, *, failed: bool = False) -> dict:
    """The record of a finished task: its config, seed, status, metrics and timing.
    failed: the task raised or its worker died; outcome is then {"error", "traceback"}."""
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
    if failed:
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
    elif task["kind"] == "cost":  # T2: fastdrop.bench.tasks.cost_task
        ratio = outcome["ratios"]["p / 0"]
        rec["metrics"] = {"cost_ratio": ratio["cpu"], "cost_ratio_wall": ratio["wall"],
                          "over_floor": outcome["over_floor"]["p"]["cpu"],
                          "rounds": outcome["rounds"]}
        rec["arms"] = outcome["arms"]
        rec["machine"] = outcome.get("machine")
    elif task["kind"] == "torch_cost":  # T2-torch: fastdrop.bench.torch_peer
        r = outcome["ratios"]
        rec["metrics"] = {"torch_cost_ratio": r["torch / 0"]["cpu"],
                          "fdt_cost_ratio": r["fastdrop.torch / 0"]["cpu"],
                          "fdt_over_torch": r["fastdrop.torch / torch"]["cpu"],
                          "rounds": outcome["rounds"]}
        rec["arms"] = outcome["arms"]
        rec["torch"] = outcome.get("torch")
    else:  # timing
        rec["metrics"] = {"step_time": timing(outcome["values"])}
        rec["values"] = outcome["values"]
        rec["warnings"] = outcome.get("warnings", [])
        rec["timing_file"] = f"timings/{task['id']}.json"
        if outcome.get("machine"):
            rec["machine"] = outcome["machine"]
            rec["host"] = outcome["machine"].get("hostname", rec["host"])
    return rec
