"""Synthetic run records with known effects, laid out by the real grid and pooled by the
real table builder (fastdrop.bench.grid, fastdrop.results.tables): the claims see exactly
what a run would give them, with effects we chose.

    run = synthetic_run(effect)   # effect(config) -> dict of metric shifts for that arm

Each seed has its own level (shared by every arm of that seed, as initial weights and batch
order are), each arm adds its effect plus a little noise of its own (none when `noise` is
0: then an arm with no effect has exactly the p = 0 arm's records of the same seed).
"""

import dataclasses
import random
from pathlib import Path

from fastdrop.bench import grid as planner
from fastdrop.bench import suites as S
from fastdrop.report.load import Run
from fastdrop.results.tables import build_tables

BASE = {"linear": 0.32, "mlp": 0.65, "selu_mlp": 0.62, "cnn": 0.92, "gru": 0.88,
        "lstm": 0.86}


def _arm(cfg: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in cfg.items() if k not in ("seed", "mc_samples")))


def synthetic_run(effect=lambda cfg: {}, seeds: int = 10, noise: float = 0.004,
                  collapse=lambda cfg: False) -> Run:
    prof = dataclasses.replace(S.PROFILES["full"], seeds=seeds, steps=1000)
    plan = planner.build(prof, S.TRAIN_SUITES)
    records = []
    for task in plan["tasks"]:
        cfg = task["payload"]["config"]
        seed = cfg["seed"]
        level = random.Random(f"seed {seed}").gauss(0.0, 0.02)
        own = random.Random(f"{_arm(cfg)} {seed}")
        e = effect(cfg) if cfg["dropout"] else {}
        rec = {"id": task["id"], "kind": task["kind"], "config": cfg, "seed": seed,
               "status": "ok", "error": None, "suites": task["suites"]}
        if task["kind"] == "timing":
            scale = 1.0 + e.get("time", 0.0)
            rec["values"] = [1e-3 * scale * (1 + 0.01 * i) for i in range(3)]
            rec["metrics"] = {"step_time": {"n": 3, "median": rec["values"][1],
                                            "min": rec["values"][0], "max": rec["values"][2],
                                            "spread": 0.02}}
        elif task["kind"] == "cost":  # T2's interleaved ratio (fastdrop.bench.tasks.cost_task)
            m = 1.0 + e.get("time", 0.0)
            ratio = {"n": 20, "mean": m, "sd": 0.01, "ci": 0.005}
            rec["metrics"] = {"cost_ratio": ratio, "cost_ratio_wall": dict(ratio),
                              "over_floor": {"n": 20, "mean": 1.2, "sd": 0.05, "ci": 0.02},
                              "rounds": 20}
        elif task["kind"] == "probe":
            rec["metrics"] = {"parameters": 1000, "units": 100, "active_units": 100 * (
                1 - cfg["dropout"]), "examples": 1000}
        else:
            rec.update(_train_metrics(cfg, level, own, e, noise, collapse(cfg)))
        records.append(rec)
    by_id = {r["id"]: r for r in records}
    results = {"tables": build_tables(plan, by_id), "records": records}
    return Run(path=Path("synthetic"), results=results, manifest={})


def _train_metrics(cfg, level, own, e, noise, collapsed) -> dict:
    def jitter():
        return own.gauss(0.0, noise) if noise else 0.0

    acc = BASE[cfg["model"]] + level + e.get("acc", 0.0) + jitter()
    val = acc + 0.002 + e.get("val", 0.0) + jitter()
    nll = 1.5 - 2 * level + e.get("nll", 0.0) + jitter()
    ece = 0.2 - level + e.get("ece", 0.0) + jitter()
    auroc = 0.8 + level + e.get("auroc", 0.0) + jitter()
    share = 0.12
    if collapsed:
        acc = val = 0.1
        share = 1.0
    m = {"test_accuracy": acc, "val_accuracy": val, "train_accuracy": min(1.0, acc + 0.3),
         "test_loss": nll, "test_ece": ece, "test_auroc": auroc,
         "test_top_class_share": share, "trainer_status": "completed"}
    if cfg["mc_samples"]:
        m["mc"] = {"samples": cfg["mc_samples"], "test_accuracy": acc + e.get("mc_acc", 0.0),
                   "test_nll": nll + e.get("mc_nll", 0.0),
                   "test_ece": ece + e.get("mc_ece", 0.0),
                   "test_auroc": auroc + e.get("mc_auroc", 0.0)}
    reach = 300 + int(e.get("steps", 0))  # the step the run first reaches its target
    history = [{"step": s, "test_accuracy": (0.99 if s >= reach else 0.1),
                "val_accuracy": val if s == 500 else val - 0.01} for s in range(100, 1100, 100)]
    return {"metrics": m, "history": history}
