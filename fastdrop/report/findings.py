"""Key findings: what a practitioner asks first, as tables the renderers print before
anything else (terminal, markdown and HTML alike).

1. the recommended rate per model (the arm with the best validation accuracy) and its
   effect on test accuracy, NLL and ECE against no dropout, paired by seed;
2. the cost of dropout at that rate: per step (pyperf) and in steps to the target;
3. where to place dropout in the CNN (every hidden layer vs before the classifier only);
4. our accuracies without dropout beside the published MNIST-1D figures.

Each is a Finding (title, headers, rows, notes); a finding whose tables are absent is
left out.
"""

from __future__ import annotations

import dataclasses
import statistics

from ..results.stats import steps_to_target
from . import diff as D
from .claims.accuracy import PLACES
from .claims.common import choose, distinct, rows_of
from .claims.other import step_change

# Greydanus (2020), "Scaling down deep learning", MNIST-1D test accuracy (%); and the
# reference notebook's figures at 6000 steps
PUBLISHED = {"linear": (32, 31.5), "mlp": (68, 65.1), "cnn": (94, 92.3), "gru": (91, 89.1)}
MODEL_NAMES = {"linear": "logistic (linear)", "mlp": "MLP", "cnn": "CNN", "gru": "GRU",
               "lstm": "LSTM", "selu_mlp": "SELU MLP"}


@dataclasses.dataclass
class Finding:
    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str]


def _arm(row: dict, model: str = "cnn") -> str:
    lab = {"model": model, **row["labels"]}
    if not lab.get("dropout"):
        return "no dropout"
    place = PLACES.get(lab.get("dropout_at"), "") if lab.get("model") == "cnn" else ""
    return f"p = {lab['dropout']:g}" + (f", {place}" if place else "")


def _model_groups(run) -> list[tuple[str, list[dict], str]]:
    """(model, its rows, table) from T1 (finer rates), then T6's other models."""
    out, seen = [], set()
    for name in ("T1", "T6"):
        t = run.table(name)
        if t is None:
            continue
        for model in distinct(t, "model"):
            if model not in seen:
                seen.add(model)
                out.append((model, rows_of(t, model=model), name))
    return out


def recommended(run) -> Finding | None:
    groups = _model_groups(run)
    if not groups:
        return None
    rows, notes = [], []
    for model, grp, table in groups:
        off = next((r for r in grp if not r["labels"].get("dropout")), None)
        on = choose(run, [r for r in grp if r["labels"].get("dropout")], notes)
        if on is None or off is None:
            continue
        pick = choose(run, grp, [])  # no dropout is a candidate too
        cells = [D.fmt_diff(D.pair(run, on, off, k), k)
                 for k in ("test_accuracy", "test_loss", "test_ece")]
        rows.append([MODEL_NAMES.get(model, model), _arm(pick, model), _arm(on, model),
                     D.fmt_value(run, on, "test_accuracy"), *cells, table])
    notes.insert(0, "recommended: the arm with the best validation accuracy, no dropout "
                 "included; 'best dropout arm' the best with dropout, and its change against "
                 "no dropout (paired by seed, 95% CI; NLL in nats, ECE in pp)")
    return Finding("recommended", "Recommended dropout rate per model",
                   ["model", "recommended", "best dropout arm", "test acc", "accuracy change",
                    "NLL change", "ECE change", "from"], rows, notes)


def cost(run) -> Finding | None:
    t2 = run.table("T2")
    if t2 is None:
        return None
    rows = []
    for model in distinct(t2, "model"):
        by_p = {r["labels"]["dropout"]: r for r in rows_of(t2, model=model)}
        off = by_p.get(0.0)
        target = next((r.get("target") for r in by_p.values() if r.get("target")), None)
        grp = [r for r in _model_rows(run, model) if r["labels"].get("dropout")]
        on_t1 = choose(run, grp, [])
        p = on_t1["labels"]["dropout"] if on_t1 else None
        on = by_p.get(p)
        if off is None or on is None:
            continue
        rel = step_change(run, on, off)
        per_step = "-" if rel is None else f"{100 * rel[0]:+.1f} ± {100 * rel[1]:.1f}%"
        rows.append([MODEL_NAMES.get(model, model), f"p = {p:g}", per_step,
                     _steps(run, on, target), _steps(run, off, target)])
    return Finding("cost", "The cost of dropout (every hidden layer, the recommended rate)",
                   ["model", "rate", "time per step vs no dropout", "steps to target",
                    "without dropout"], rows,
                   ["time per step: T2's cost ratio, CPU time with the arms interleaved in one "
                    "process, one thread (95% CI; pyperf's values and Welch where the run has "
                    "no cost task); steps to target: mean over the runs that reached it, and "
                    "how many did"])


def _model_rows(run, model):
    t1 = run.table("T1")
    return [] if t1 is None else [r for r in rows_of(t1, model=model)
                                  if r["labels"].get("dropout_at", "hidden") != "head"]


def _steps(run, row, target) -> str:
    if target is None:
        return "-"
    hits = [steps_to_target(r.get("history"), target) for r in D.row_records(run, row)]
    got = [h[0] for h in hits if h is not None]
    mean = f"{statistics.fmean(got):.0f}" if got else "-"
    return f"{mean} (reached {len(got)}/{len(hits)})"


def placement(run) -> Finding | None:
    t1 = run.table("T1")
    if t1 is None:
        return None
    cnn = [r for r in rows_of(t1, model="cnn") if r["labels"].get("dropout")]
    by_place = {}
    for place in PLACES:
        arm = choose(run, [r for r in cnn if r["labels"].get("dropout_at") == place], [])
        if arm is not None:
            by_place[place] = arm
    if len(by_place) < 2:
        return None
    d = D.pair(run, by_place["head"], by_place["hidden"], "test_accuracy")
    rows = [[PLACES[p], _arm(r), D.fmt_value(run, r, "test_accuracy"),
             D.fmt_value(run, r, "test_loss"), D.fmt_value(run, r, "test_ece")]
            for p, r in by_place.items()]
    return Finding("placement", "Where to place dropout in the CNN",
                   ["placement", "best arm (validation)", "test acc", "NLL", "ECE"], rows,
                   [f"before the classifier minus every hidden layer: "
                    f"{D.fmt_diff(d, 'test_accuracy')} test accuracy (paired by seed)"])


def published(run) -> Finding | None:
    groups = {m: grp for m, grp, _ in _model_groups(run)}
    rows = []
    for model, (paper, notebook) in PUBLISHED.items():
        off = next((r for r in groups.get(model, []) if not r["labels"].get("dropout")), None)
        if off is None:
            continue
        rows.append([MODEL_NAMES[model], D.fmt_value(run, off, "test_accuracy"),
                     f"{paper}%", f"{notebook}%"])
    if not rows:
        return None
    return Finding("published", "Without dropout, beside the published MNIST-1D figures",
                   ["model", "ours (p = 0)", "Greydanus 2020", "reference notebook, 6000 "
                    "steps"], rows,
                   ["ours: mean ± 95% CI over seeds, and the binomial half-width of one "
                    "run's accuracy on the 1000 test sequences"])


def glance(claims) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): number, claim, verdict, and the checks with their effect sizes."""
    return (["#", "claim", "verdict", "effect sizes (95% CI, paired by seed)"],
            [[str(k), c.text, c.headline, c.summary] for k, c in enumerate(claims, 1)])


def key_findings(run) -> list[Finding]:
    out = [f(run) for f in (recommended, cost, placement, published)]
    return [f for f in out if f is not None and f.rows]
