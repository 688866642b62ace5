"""Per-seed values of a table row and paired differences between two rows.

Every arm of a run uses the same seeds, and a seed fixes the initial weights and the
batch order, so two rows are compared seed by seed: a row's "tasks" are its runs in seed
order, the run records (results.json "records") hold each seed's metrics, and
fastdrop.results.inference.paired tests the per-seed differences.

    vals = seed_values(run, row, "test_accuracy")   # {seed: value}, collapsed runs left out
    d = pair(run, row_a, row_b, "test_accuracy")     # Paired of a - b (margin from MEASURES)
    fmt_diff(d, "test_accuracy")                     # "+1.9 ± 1.4 pp"

A run is collapsed when it predicts one class for (nearly) every test example: a
top-class share of at least COLLAPSE_SHARE, or, for records without that field, a test
accuracy at chance (at most CHANCE_ACC on MNIST-1D's ten balanced classes). Collapsed runs
are flagged in the report and kept out of every comparison.
"""

from __future__ import annotations

from ..results.inference import Paired, binomial_halfwidth, paired
from ..results.stats import summary
from ..results.tables import best_val_test_accuracy

COLLAPSE_SHARE = 0.9
CHANCE_ACC = 0.12  # 10% + 2 binomial sd on 1000 test examples
TEST_SIZE = 1000  # MNIST-1D's test set

# measure -> (margin of practical equivalence, better direction, scale, unit)
MEASURES = {
    "test_accuracy": (0.01, 1, 100.0, "pp"),
    "val_accuracy": (0.01, 1, 100.0, "pp"),
    "es_test_accuracy": (0.01, 1, 100.0, "pp"),
    "mc_accuracy": (0.01, 1, 100.0, "pp"),
    "test_loss": (0.05, -1, 1.0, "nats"),
    "mc_nll": (0.05, -1, 1.0, "nats"),
    "test_ece": (0.01, -1, 100.0, "pp"),
    "mc_ece": (0.01, -1, 100.0, "pp"),
    "test_auroc": (0.01, 1, 1.0, ""),
    "mc_auroc": (0.01, 1, 1.0, ""),
    "gap": (0.01, -1, 100.0, "pp"),
}
NAMES = {"test_accuracy": "accuracy", "val_accuracy": "validation accuracy",
         "es_test_accuracy": "accuracy (early stopped)", "mc_accuracy": "accuracy",
         "test_loss": "NLL", "mc_nll": "NLL", "test_ece": "ECE", "mc_ece": "ECE",
         "test_auroc": "AUROC", "mc_auroc": "AUROC", "gap": "gap"}


def usable(s) -> bool:
    return bool(s) and s.get("mean") is not None and s.get("n", 0) >= 1


def overlap(a, b) -> bool | None:
    """Whether the 95% CIs of two summaries overlap (None when either has none)."""
    if not usable(a) or not usable(b) or a.get("ci") is None or b.get("ci") is None:
        return None
    return a["mean"] - a["ci"] <= b["mean"] + b["ci"] and b["mean"] - b["ci"] <= a["mean"] \
        + a["ci"]


def collapsed(rec: dict) -> bool:
    m = rec.get("metrics") or {}
    share = m.get("test_top_class_share")
    if share is not None:
        return share >= COLLAPSE_SHARE
    acc = m.get("test_accuracy")
    return acc is not None and acc <= CHANCE_ACC


def _metric(rec: dict, key: str):
    m = rec.get("metrics") or {}
    if key.startswith("mc_"):
        mc = m.get("mc") or {}
        return mc.get({"mc_accuracy": "test_accuracy", "mc_nll": "test_nll",
                       "mc_ece": "test_ece", "mc_auroc": "test_auroc"}[key])
    if key == "gap":
        tr, te = m.get("train_accuracy"), m.get("test_accuracy")
        return None if tr is None or te is None else tr - te
    if key == "es_test_accuracy":
        return best_val_test_accuracy(rec.get("history"))
    return m.get(key)


def row_records(run, row) -> list[dict]:
    """The row's ok run records, in seed order."""
    recs = run.records
    out = []
    for tid in (row or {}).get("tasks", ()):
        r = recs.get(tid)
        if r is not None and r.get("status") == "ok":
            out.append(r)
    return out


def collapsed_seeds(run, row) -> list:
    return [r.get("seed") for r in row_records(run, row) if collapsed(r)]


def seed_values(run, row, key: str) -> dict:
    """{seed: value} of the row's ok, not collapsed runs (None values left out)."""
    out = {}
    for r in row_records(run, row):
        v = _metric(r, key)
        if v is not None and not collapsed(r):
            out[r.get("seed")] = float(v)
    return out


def mean_of(run, row, key: str) -> float | None:
    v = list(seed_values(run, row, key).values())
    return sum(v) / len(v) if v else None


def pair(run, row_a, row_b, key: str, key_b: str | None = None) -> Paired | None:
    """a - b of `key` (b's `key_b`), seed by seed, with the measure's margin."""
    va, vb = seed_values(run, row_a, key), seed_values(run, row_b, key_b or key)
    seeds = sorted(set(va) & set(vb), key=str)
    if not seeds:
        return None
    return paired([va[s] for s in seeds], [vb[s] for s in seeds], MEASURES[key][0])


def fmt_diff(d: Paired | None, key: str) -> str:
    """"+1.9 ± 1.4 pp" (mean difference and its 95% CI half-width, paired)."""
    if d is None:
        return "-"
    _, _, scale, unit = MEASURES[key]
    digits = 1 if scale == 100.0 else 3
    ci = "" if d.ci is None else f" ± {d.ci * scale:.{digits}f}"
    return f"{d.mean * scale:+.{digits}f}{ci}" + (f" {unit}" if unit else "")


def fmt_value(run, row, key: str) -> str:
    """Mean over the row's usable seeds, with the 95% CI over seeds; accuracies also
    with the test set's binomial half-width ("65.1 ± 1.2% (test set ± 3.0)")."""
    s = summary(seed_values(run, row, key).values())
    if s["mean"] is None:
        return "-"
    _, _, scale, unit = MEASURES.get(key, (0, 0, 1.0, ""))
    digits = 1 if scale == 100.0 else 3
    text = f"{s['mean'] * scale:.{digits}f}"
    if s["ci"] is not None:
        text += f" ± {s['ci'] * scale:.{digits}f}"
    if scale == 100.0 and "accuracy" in key:
        text += f"% (test set ± {100 * binomial_halfwidth(s['mean'], TEST_SIZE):.1f})"
    return text
