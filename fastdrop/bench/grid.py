"""The experiment grid of a run: the suites (fastdrop.bench.suites) expanded into tasks,
the plan written to plan.json.

A task is {"id", "kind", "fn", "payload", "suites"}: kind "train" (one training run),
"probe" (build a model, one forward pass; T7) or "timing" (pyperf times a training step).
Its id is a hash of its kind and payload, so the same config asked for by two suites is
one task, and a resumed run finds its finished tasks by name. The plan is written to the
run folder (plan.json): --resume runs what the folder's plan says, not what the code
would plan today.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json

from ..results.schema import PLAN_SCHEMA
from ..train.config import TrainConfig
from . import suites as S

TASK_FNS = {
    "train": "fastdrop.bench.tasks:train_task",
    "probe": "fastdrop.bench.tasks:probe_task",
    "timing": "fastdrop.bench.tasks:timing_task",
    "cost": "fastdrop.bench.tasks:cost_task",
    "torch_cost": "fastdrop.bench.torch_peer:torch_cost_task",
}


def task_id(kind: str, payload: dict) -> str:
    text = json.dumps({"kind": kind, "payload": payload}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{kind}-{payload['config']['model']}-{digest}"


def _config(overrides: dict) -> dict:
    """The full TrainConfig dict (defaults filled in, validated: a bad grid fails here)."""
    return TrainConfig.from_dict(overrides).to_dict()


def _label(axis: str, point: S.Point, cfg: dict):
    if axis in point.labels:
        value = point.labels[axis]
    else:
        value = cfg[axis]
    if axis in ("variant", "dropout_at") and not cfg.get("dropout"):
        return "none"  # a variant or a placement means nothing without dropout
    return value


def build(profile: S.Profile, names, kernels: dict | None = None, catalog=None,
          torch: bool = False) -> dict:
    """The plan for `names` (suite names, K1 included or not) under `profile`.
    kernels: the kernel suite's options (sizes, rates, torch) when K1 is in names;
    catalog: the Suites to take names from (default fastdrop.bench.suites.SUITES);
    torch: PyTorch is installed and wanted: T2 brings T2-torch along."""
    catalog = {s.name: s for s in (S.SUITES if catalog is None else catalog)}
    tasks: dict[str, dict] = {}
    suites: dict[str, dict] = {}

    def add(kind: str, payload: dict, suite: str) -> str:
        tid = task_id(kind, payload)
        task = tasks.setdefault(tid, {"id": tid, "kind": kind, "fn": TASK_FNS[kind],
                                      "payload": payload, "suites": []})
        if suite not in task["suites"]:
            task["suites"].append(suite)
        return tid

    for name in names:
        if name == S.KERNELS:
            suites[name] = {"kind": "kernels", "title": "kernels",
                            "measures": "pyperf timings, Gelem/s, share of copy ceiling",
                            "file": "kernels.json", **(kernels or {})}
            continue
        if name == S.TORCH_PEER:  # asked for alone (--only T2-torch)
            if torch and name not in suites:
                suites[name] = _torch_peer(profile, add)
            continue
        if name not in catalog:
            raise ValueError(f"no suite {name!r}; valid: {', '.join(catalog)}")
        s = catalog[name]
        points = []
        for point in S.expand(s):
            base = {**S.TRAIN_BASE, "steps": s_steps(profile, s, point.overrides),
                    "eval_every": profile.eval_every, **point.overrides}
            cfg = _config(base)
            entry = {"labels": {a: _label(a, point, cfg) for a in s.rows},
                     "config": base, "runs": [], "timing": None, "cost": None}
            for seed in range(profile.seeds):
                entry["runs"].append(add(s.kind, {"config": _config({**base, "seed": seed})},
                                         name))
            tcfg = _config({**base, "seed": 0, "steps": 0, "eval_every": 0,
                            "early_stopping": 0, "mc_samples": 0})
            if s.cost and tcfg["dropout"] > 0:  # T2: step at p over step at 0, interleaved
                entry["cost"] = add("cost", {"config": tcfg,
                                             "interleave": dict(profile.cost_args)}, name)
            if s.timing:
                entry["timing"] = add("timing", {"config": tcfg, "name": timing_name(tcfg),
                                                 "pyperf_args": list(profile.timing_args)},
                                      name)
            points.append(entry)
        suites[name] = {"kind": s.kind, "title": s.title, "varies": s.varies,
                        "measures": s.measures, "rows": list(s.rows),
                        "metrics": list(s.metrics), "targets": dict(s.targets),
                        "compare": [list(c) for c in s.compare], "points": points}
        if s.cost and torch and name == "T2" and S.TORCH_PEER not in suites:
            suites[S.TORCH_PEER] = _torch_peer(profile, add)
    return {
        "schema": PLAN_SCHEMA,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "profile": dataclasses.asdict(profile),
        "suites": suites,
        "tasks": list(tasks.values()),
    }


def _torch_peer(profile: S.Profile, add) -> dict:
    """T2-torch's plan entry: one torch_cost task per (model, p), the T2 config's batch
    size, learning rate and data."""
    points = []
    for model in S.TORCH_PEER_MODELS:
        for p in S.TORCH_PEER_RATES:
            cfg = _config({**S.TRAIN_BASE, "model": model, "dropout": p, "seed": 0,
                           "steps": 0, "eval_every": 0, "early_stopping": 0,
                           "mc_samples": 0})
            tid = add("torch_cost", {"config": cfg, "interleave": dict(profile.cost_args)},
                      S.TORCH_PEER)
            points.append({"labels": {"model": model, "dropout": p}, "config": cfg,
                           "runs": [], "timing": None, "cost": tid})
    return {**S.TORCH_PEER_SPEC, "points": points}


def timing_name(cfg: dict) -> str:
    """The pyperf benchmark name of a training-step timing, from its config alone (two
    suites that time the same config share the task)."""
    drop = f" p={cfg['dropout']:g} {cfg['variant']}" if cfg["dropout"] else " no dropout"
    if cfg["dropout"] and cfg.get("dropout_at", "hidden") != "hidden":
        drop += f" at {cfg['dropout_at']}"  # the CNN's placement arms
    return f"train step {cfg['model']}{drop}"


def s_steps(profile: S.Profile, s: S.Suite, overrides: dict | None = None) -> int:
    """Training steps of a point of the suite (probes train nothing). With equal_epochs
    the profile's steps are for S.DEFAULT_SIZE sequences and scale with the point's
    train_size, so every size is trained for the same number of epochs."""
    if s.kind == "probe":
        return 0
    if not s.equal_epochs:
        return profile.steps
    size = (overrides or {}).get("train_size", S.DEFAULT_SIZE)
    return max(1, round(profile.steps * size / S.DEFAULT_SIZE))
