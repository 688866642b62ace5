"""The tables T1..T8 as data: task records pooled over seeds into rows (results.json).

A table has one row per grid point (its labels), and one value per metric column:

    kind "summary"  {"n", "mean", "sd", "ci"}   over the seeds' ok runs (95% CI, Student t)
    kind "timing"   {"n", "median", "spread", "min", "max"}   pyperf's values, seconds
    kind "count"    {"count", "of"}
    kind "ratio"    {"n", "mean", "sd", "ci"}   T2's interleaved ratio over rounds (95% CI)

Renderers (fastdrop.report) print these; nothing here formats text.
"""

from __future__ import annotations

from ..spec import p_hat
from .stats import steps_to_target, summary

# key -> (column label, kind, what it is)
METRICS = {
    "train_accuracy": ("train acc", "summary", "accuracy on the training set, dropout off"),
    "test_accuracy": ("test acc", "summary", "accuracy on the 1000 test sequences"),
    "gap": ("gap", "summary", "train accuracy - test accuracy, per run"),
    "test_loss": ("test NLL", "summary", "mean negative log-likelihood, dropout off"),
    "test_ece": ("test ECE", "summary", "expected calibration error, dropout off"),
    "val_accuracy": ("val acc", "summary", "accuracy on the 500 validation sequences (the "
                     "split arms are chosen on)"),
    "es_test_accuracy": ("test acc, early stop", "summary",
                         "test accuracy at the evaluation with the best validation accuracy "
                         "(early stopping on validation accuracy, patience unlimited)"),
    "test_auroc": ("AUROC", "summary", "AUROC of predictive entropy, right vs wrong, "
                   "dropout off"),
    "mc_auroc": ("MC AUROC", "summary", "AUROC of the Monte Carlo mean's predictive entropy"),
    "mc_accuracy": ("MC acc", "summary", "test accuracy of the mean of T dropout samples"),
    "mc_nll": ("MC NLL", "summary", "test NLL of the Monte Carlo mean"),
    "mc_ece": ("MC ECE", "summary", "expected calibration error of the Monte Carlo mean"),
    "parameters": ("parameters", "summary", "trainable parameters of the model"),
    "units": ("units n", "summary", "units at the dropout sites, per example"),
    "expected_active": ("expected active", "summary", "(1 - p) n, p at 1/65536 resolution"),
    "active_units": ("active (measured)", "summary",
                     "units kept per example in one forward pass over the test set"),
    "step_time": ("time/step", "timing", "pyperf: one training step, one thread"),
    "steps_to_target": ("steps to target", "summary",
                        "first evaluation at or above the target test accuracy (runs that "
                        "reached it)"),
    "time_to_target": ("time to target", "summary",
                       "steps to target x the median time per step (seconds)"),
    "reached": ("reached", "count", "runs that reached the target test accuracy"),
    "cost_ratio": ("step p / step 0", "ratio",
                   "CPU time per step at p over at p = 0, arms interleaved in one process"),
    "cost_ratio_wall": ("wall p / 0", "ratio", "the same ratio in wall-clock time"),
    "over_floor": ("added / floor", "ratio",
                   "time dropout adds per step over the dropout kernels' own work (floor)"),
    "torch_cost_ratio": ("torch.nn.Dropout: p / 0", "ratio",
                         "PyTorch step time (CPU) with torch.nn.Dropout at p over at p = 0"),
    "fdt_cost_ratio": ("fastdrop.torch: p / 0", "ratio",
                       "the same with fastdrop.torch.Dropout at p"),
    "fdt_over_torch": ("fastdrop.torch / torch", "ratio",
                       "step time with fastdrop.torch.Dropout over with torch.nn.Dropout"),
}


def _per_run(key: str, rec: dict, target, step_median):
    """The metric of one ok run (None when it has none)."""
    m = rec.get("metrics", {})
    if key == "gap":
        tr, te = m.get("train_accuracy"), m.get("test_accuracy")
        return None if tr is None or te is None else tr - te
    if key.startswith("mc_"):
        mc = m.get("mc") or {}
        return mc.get({"mc_accuracy": "test_accuracy", "mc_nll": "test_nll",
                       "mc_ece": "test_ece", "mc_auroc": "test_auroc"}[key])
    if key == "es_test_accuracy":
        return best_val_test_accuracy(rec.get("history"))
    if key == "expected_active":
        units = m.get("units")
        return None if units is None else (1.0 - p_hat(rec["config"]["dropout"])) * units
    if key in ("steps_to_target", "time_to_target"):
        hit = steps_to_target(rec.get("history"), target) if target is not None else None
        if hit is None:
            return None
        if key == "steps_to_target":
            return hit[0]
        return None if step_median is None else hit[0] * step_median
    return m.get(key)


def best_val_test_accuracy(history):
    """Test accuracy at the first evaluation with the highest validation accuracy (None
    without a validation split)."""
    best = None
    for entry in history or ():
        v = entry.get("val_accuracy")
        if v is not None and (best is None or v > best["val_accuracy"]):
            best = entry
    return None if best is None else best.get("test_accuracy")


def build_table(spec: dict, records: dict) -> dict:
    """One suite's table from its plan entry (fastdrop.bench.grid) and the records by id."""
    rows = []
    complete = True
    for point in spec["points"]:
        # a point measured by its cost task alone (T2-torch: no training runs) counts it
        # as its run, so a missing or failed task shows as one
        ids = point["runs"] or ([point["cost"]] if point.get("cost") else [])
        runs = [records.get(tid) for tid in ids]
        ok = [r for r in runs if r is not None and r["status"] == "ok"]
        failed = [r for r in runs if r is not None and r["status"] != "ok"]
        timing = records.get(point["timing"]) if point.get("timing") else None
        if len(ok) < len(runs) or (point.get("timing") and (timing is None or
                                                            timing["status"] != "ok")):
            complete = False
        step = timing["metrics"]["step_time"] if timing and timing["status"] == "ok" else None
        cost = records.get(point["cost"]) if point.get("cost") else None
        target = spec.get("targets", {}).get(point["labels"].get("model")
                                             or point["config"].get("model"))
        values = {}
        for key in spec["metrics"]:
            kind = METRICS[key][1]
            if kind == "timing":
                values[key] = step
            elif kind == "ratio":  # p = 0 has no cost task: its ratio is 1 by definition
                ok_cost = cost is not None and cost["status"] == "ok"
                values[key] = cost["metrics"][key] if ok_cost else None
            elif kind == "count":
                hits = [_per_run("steps_to_target", r, target, None) for r in ok]
                values[key] = {"count": sum(h is not None for h in hits), "of": len(ok)}
            else:
                median = step["median"] if step else None
                values[key] = summary(_per_run(key, r, target, median) for r in ok)
        row = {"labels": point["labels"], "runs": len(runs), "ok": len(ok),
               "failed": len(failed), "values": values, "tasks": list(ids)}
        if target is not None:
            row["target"] = target
        if failed:
            row["errors"] = sorted({r["error"] for r in failed})
        rows.append(row)
    table = {
        "title": spec["title"], "varies": spec["varies"], "measures": spec["measures"],
        "rows_by": spec["rows"],
        "columns": [{"key": k, "label": METRICS[k][0], "kind": METRICS[k][1],
                     "about": METRICS[k][2]} for k in spec["metrics"]],
        "rows": rows, "complete": complete,
        "comparisons": [compare(spec, records, *c) for c in spec.get("compare", [])],
    }
    return table


def compare(spec: dict, records: dict, axis: str, a, b, metric: str) -> dict:
    """Paired difference (a - b) of `metric` between the points that differ only in `axis`,
    seed by seed; they agree when the 95% CI of the mean difference contains 0."""
    points = spec["points"]

    def rest(p):
        return {k: v for k, v in p["labels"].items() if k != axis}

    out = {"axis": axis, "a": a, "b": b, "metric": metric, "pairs": []}
    for pa in (p for p in points if p["labels"].get(axis) == a):
        pb = next((p for p in points if p["labels"].get(axis) == b and rest(p) == rest(pa)),
                  None)
        if pb is None:
            continue
        diffs = []
        for ta, tb in zip(pa["runs"], pb["runs"], strict=True):
            ra, rb = records.get(ta), records.get(tb)
            if ra and rb and ra["status"] == rb["status"] == "ok":
                va, vb = _per_run(metric, ra, None, None), _per_run(metric, rb, None, None)
                if va is not None and vb is not None:
                    diffs.append(va - vb)
        d = summary(diffs)
        agree = None if d["ci"] is None else abs(d["mean"]) <= d["ci"]
        out["pairs"].append({"labels": rest(pa), "diff": d, "agree": agree})
    return out


def build_tables(plan: dict, records: dict) -> dict:
    return {name: build_table(spec, records) for name, spec in plan["suites"].items()
            if spec.get("kind") != "kernels"}
