"""Claims 2, 4, 7 and 8: training cost, variants, parameters and inference."""

from __future__ import annotations

import math
import statistics

from ...results.inference import Paired, paired, sign_test, welch_relative
from ...results.stats import steps_to_target
from .. import diff as D
from ..format import fmt_time
from .common import Claim, choose, distinct, flag_collapsed, missing, paired_check, rows_of
from .verdicts import EQUIV, FAILS, HOLDS, MISSING, UNCLEAR, Check

ART_RATE_MIN = {0.0: 55, 0.3: 63, 0.5: 78, 0.7: 97, 0.9: 120}
ART_PARAMS_M = {0.0: 15.2, 0.3: 10.8, 0.5: 9.4, 0.7: 7.6, 0.9: 4.9}
ART_VARIANTS = {"standard": 94.3, "inverted": 94.7, "spatial": 95.2, "alpha": 93.8}
MID = 0.5
TIME_MARGIN = 0.05  # per-step cost: +-5% is "the same cost"
STEPS_MARGIN = 0.10  # steps to target: +-10% of the baseline's mean


# --- 2. training cost ---------------------------------------------------------------------

RULE_TIME = (
    "Per model, two measures, each for p = 0.5 against no dropout and the highest rate "
    "against p = 0.5. Per step: pyperf's values of the two timings (independent samples: "
    "the relative difference of means with its 95% CI, Welch and the delta method): "
    "equivalent when the CI lies within ± 5%, holds when it lies above 0, does not hold "
    "below, else inconclusive. Steps to the target test accuracy, paired by seed: a run "
    "that never reached the target is censored (slower than any that did, of unknown "
    "size); with no censored pair the paired t test and TOST (margin ± 10% of the "
    "baseline's steps) decide, else an exact sign test over the pairs whose order is known "
    "(Holm over the claim's steps checks).")


def timing_values(run, row) -> list[float] | None:
    """pyperf's values of the timing task that times the row's config."""
    recs = D.row_records(run, row)
    if not recs:
        return None
    cfg = recs[0].get("config") or {}
    keys = ("model", "dropout", "variant", "dropout_at")
    for r in run.records.values():
        c = r.get("config") or {}
        if r.get("kind") == "timing" and r.get("status") == "ok" and all(
                c.get(k) == cfg.get(k) for k in keys):
            return r.get("values")
    return None


def _cost_ratio(row) -> tuple[float, float] | None:
    """T2's interleaved cost ratio of a row (mean, 95% CI half-width); p = 0 is 1 exactly."""
    if not row["labels"].get("dropout"):
        return 1.0, 0.0
    r = row["values"].get("cost_ratio")
    if not r or r.get("mean") is None or r.get("ci") is None:
        return None
    return r["mean"], r["ci"]


def step_change(run, a, b) -> tuple[float, float, str] | None:
    """Relative change of the time per step of row a over row b, its 95% CI half-width, and
    how it was measured. T2's cost ratio where the run has it (CPU time, the two arms
    interleaved in one process: fastdrop.bench.train_timing); the ratio of two arms that
    both drop is the ratio of their ratios to p = 0, its CI by the delta method. Without
    it, pyperf's values of the two timing tasks, Welch."""
    ra, rb = _cost_ratio(a), _cost_ratio(b)
    if ra and rb:
        m = ra[0] / rb[0]
        h = m * math.hypot(ra[1] / ra[0], rb[1] / rb[0])
        return m - 1.0, h, "interleaved CPU time"
    va, vb = timing_values(run, a), timing_values(run, b)
    rel = welch_relative(va, vb) if va and vb else None
    return None if rel is None else (rel[0], rel[1], "pyperf, Welch")


def _step_check(run, cond, a, b) -> Check:
    rel = step_change(run, a, b)
    if rel is None:
        return Check(cond, MISSING, f"{cond}: not timed")
    r, h, how = rel
    eff = f"{100 * r:+.1f} ± {100 * h:.1f}%"
    if -TIME_MARGIN < r - h and r + h < TIME_MARGIN:
        v = EQUIV
    elif r - h > 0:
        v = HOLDS
    elif r + h < 0:
        v = FAILS
    else:
        v = UNCLEAR
    return Check(cond, v, f"{cond}: time per step {eff} ({how}; margin ± 5%)", fixed=True,
                 effect=eff)


def _steps(run, row, target) -> dict:
    """{seed: steps to target, or None when the run never reached it}."""
    out = {}
    for r in D.row_records(run, row):
        if not D.collapsed(r):
            hit = steps_to_target(r.get("history"), target)
            out[r.get("seed")] = None if hit is None else hit[0]
    return out


def _target_check(run, cond, a, b, target) -> Check:
    if a is None or b is None or target is None:
        return Check(cond, MISSING, f"{cond}: not measured")
    sa, sb = _steps(run, a, target), _steps(run, b, target)
    seeds = [s for s in sa if s in sb]
    both = [(sa[s], sb[s]) for s in seeds if sa[s] is not None and sb[s] is not None]
    cens = len(seeds) - len(both)
    if not seeds or not any(sa[s] is not None or sb[s] is not None for s in seeds):
        return Check(cond, MISSING, f"{cond}: neither reached the target")
    base = [y for _, y in both] or [1.0]
    margin = STEPS_MARGIN * statistics.fmean(base)
    if cens == 0:
        d = paired([x for x, _ in both], [y for _, y in both], margin)
        eff = f"{d.mean:+.0f}" + ("" if d.ci is None else f" ± {d.ci:.0f}") + " steps"
    else:  # censored pairs: the order is known unless both are censored
        wins = sum(1 for s in seeds if _slower(sa[s], sb[s]) == 1)
        losses = sum(1 for s in seeds if _slower(sa[s], sb[s]) == -1)
        diffs = tuple(x - y for x, y in both)
        # the sign of "mean" is what decide() reads: the majority of the known orders
        d = Paired(wins + losses, float(wins - losses), 0.0, None, sign_test(wins, losses),
                   None, margin, diffs)
        eff = f"slower in {wins}, faster in {losses} of {len(seeds)} seeds"
    reached = (f"reached {sum(v is not None for v in sa.values())}/{len(sa)} vs "
               f"{sum(v is not None for v in sb.values())}/{len(sb)}")
    return Check(cond, UNCLEAR, f"{cond}: steps to target {eff} ({reached}; {cens} censored "
                 "pairs)", test=d, claimed=1, effect=eff)


def _slower(x, y) -> int:
    """+1 when x took longer (None: never reached), -1 shorter, 0 unknown or equal."""
    if x is None and y is None:
        return 0
    if x is None:
        return 1
    if y is None:
        return -1
    return (x > y) - (x < y)


def claim_time(run) -> Claim:
    key = "time"
    text = "Dropout increases training time, more so at high rates."
    quote = ("\"Higher dropout rates tend to increase the training time as the model requires "
             "more iterations to converge\"")
    article = ["training time (minutes) by dropout rate: " + ", ".join(
        f"{100 * p:.0f}%: {m}" for p, m in ART_RATE_MIN.items())]
    t = run.table("T2")
    if t is None:
        return missing(key, text, quote, article, RULE_TIME, ["T2"],
                       "T2 (training cost vs rate) is not in this run")
    headers = ["model", "p", "time/step", "steps to target", "reached", "article (min)"]
    rows, checks = [], []
    for model in distinct(t, "model"):
        by_p = {r["labels"]["dropout"]: r for r in rows_of(t, model=model)}
        target = next((r.get("target") for r in by_p.values() if r.get("target")), None)
        for p, r in sorted(by_p.items()):
            step, reach = r["values"].get("step_time"), r["values"].get("reached")
            rows.append([model, f"{p:g}", fmt_time(step["median"]) if step and
                         step.get("median") else "-",
                         _fmt_steps(r["values"].get("steps_to_target")),
                         f"{reach['count']}/{reach['of']}" if reach else "-",
                         str(ART_RATE_MIN.get(p, ""))])
        high = max((p for p in by_p if p > MID), default=None)
        pairs = [("0.5 vs 0", by_p.get(MID), by_p.get(0.0))]
        if high is not None:
            pairs.append((f"{high:g} vs 0.5", by_p.get(high), by_p.get(MID)))
        for what, a, b in pairs:
            checks.append(_step_check(run, f"{model} per step: {what}", a, b))
            checks.append(_target_check(run, f"{model} steps to target: {what}", a, b,
                                        target))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_TIME, ["T2"])


def _fmt_steps(s) -> str:
    if not s or s.get("mean") is None:
        return "-"
    return f"{s['mean']:.0f}" + (f" ± {s['ci']:.0f}" if s.get("ci") is not None else "")


# --- 4. variants --------------------------------------------------------------------------

RULE_VARIANTS = (
    "Variants are compared only on the same model, each at its own rate chosen on the "
    "validation split: spatial against inverted on the CNN (claimed more accurate), alpha "
    "against inverted on the SELU MLP (claimed less accurate); test accuracy paired by "
    "seed (Holm; equivalence margin ± 1 pp). The MLP's variants are shown against inverted.")


def claim_variants(run) -> Claim:
    key = "variants"
    text = "Spatial dropout is the most accurate variant; alpha dropout the least."
    quote = "\"Different dropout techniques can be applied, with spatial dropout generally " \
            "achieving higher accuracy.\""
    article = ["accuracy by technique: " + ", ".join(
        f"{k} {v}%" for k, v in ART_VARIANTS.items())]
    t = run.table("T4")
    if t is None:
        return missing(key, text, quote, article, RULE_VARIANTS, ["T4"],
                       "T4 (variants) is not in this run")
    flags: list[str] = []
    flag_collapsed(run, t, "T4", flags)
    headers = ["model", "variant", "p (chosen)", "val acc", "test acc", "minus inverted"]
    rows, chosen = [], {}
    for model in distinct(t, "model"):
        for variant in distinct({"rows": rows_of(t, model=model)}, "variant"):
            if variant == "none":
                continue
            r = choose(run, rows_of(t, model=model, variant=variant), flags)
            if r is not None:
                chosen[(model, variant)] = r
    for (model, variant), r in chosen.items():
        inv = chosen.get((model, "inverted"))
        d = D.pair(run, r, inv, "test_accuracy") if inv and variant != "inverted" else None
        rows.append([model, variant, f"{r['labels']['dropout']:g}",
                     D.fmt_value(run, r, "val_accuracy"), D.fmt_value(run, r, "test_accuracy"),
                     "" if variant == "inverted" else D.fmt_diff(d, "test_accuracy")])
    checks = [paired_check(run, "spatial vs inverted (cnn)", chosen.get(("cnn", "spatial")),
                           chosen.get(("cnn", "inverted")), "test_accuracy", 1),
              paired_check(run, "alpha vs inverted (selu_mlp)",
                           chosen.get(("selu_mlp", "alpha")),
                           chosen.get(("selu_mlp", "inverted")), "test_accuracy", -1)]
    return Claim(key, text, quote, article, headers, rows, checks, RULE_VARIANTS, ["T4"],
                 flags)


# --- 7. parameters ------------------------------------------------------------------------

RULE_PARAMS = ("Per model: the trainable parameter count at the highest rate against p = 0 "
               "(exact counts, no test needed). Holds when it is smaller; does not hold when "
               "it is the same or larger. What dropout does reduce, the units active in one "
               "forward pass, is shown beside: expected (1 - p) n, and counted.")


def claim_parameters(run) -> Claim:
    key = "parameters"
    text = "Dropout reduces the number of trainable parameters."
    quote = "\"Higher dropout rates generally lead to a decrease in model complexity\" " \
            "(its table: trainable parameters by dropout rate)"
    article = ["trainable parameters (millions) by dropout rate: " + ", ".join(
        f"{100 * p:.0f}%: {v}" for p, v in ART_PARAMS_M.items())]
    t = run.table("T7")
    if t is None:
        return missing(key, text, quote, article, RULE_PARAMS, ["T7"],
                       "T7 (parameters vs active units) is not in this run")
    headers = ["model", "p", "parameters", "units n", "expected active", "active (counted)",
               "article (M)"]
    rows, checks = [], []

    def val(r, k):
        v = (r or {}).get("values", {}).get(k)
        return None if not D.usable(v) else v["mean"]

    for model in distinct(t, "model"):
        by_p = {r["labels"]["dropout"]: r for r in rows_of(t, model=model)}
        for p, r in sorted(by_p.items()):
            rows.append([model, f"{p:g}", *(f"{val(r, k):,.{d}f}" if val(r, k) is not None
                                            else "-" for k, d in (
                                                ("parameters", 0), ("units", 0),
                                                ("expected_active", 1), ("active_units", 1))),
                         str(ART_PARAMS_M.get(p, ""))])
        high = max(by_p, default=None)
        a, b = val(by_p.get(high), "parameters"), val(by_p.get(0.0), "parameters")
        if not high or a is None or b is None:
            checks.append(Check(model, MISSING, f"{model}: not measured at p = 0 and p > 0"))
            continue
        checks.append(Check(model, HOLDS if a < b else FAILS,
                            f"{model}: {a:,.0f} parameters at p = {high:g}, {b:,.0f} at p = 0",
                            fixed=True, effect=f"{a - b:+,.0f} parameters"))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_PARAMS, ["T7"])


# --- 8. inference -------------------------------------------------------------------------

RULE_MC = (
    "Per model and number of samples T: the same networks with dropout off at inference "
    "against the mean of T dropout samples (MC dropout), paired by seed: accuracy and AUROC "
    "of predictive entropy (right vs wrong; claimed higher with dropout off), NLL and ECE "
    "(claimed lower with dropout off); Holm over the claim; margins ± 1 pp, ± 0.01 AUROC, "
    "± 0.05 nats, ± 1 pp.")

MC_MEASURES = (("accuracy", "test_accuracy", "mc_accuracy", 1),
               ("NLL", "test_loss", "mc_nll", -1), ("ECE", "test_ece", "mc_ece", -1),
               ("AUROC", "test_auroc", "mc_auroc", 1))


def claim_inference(run) -> Claim:
    key = "inference"
    text = "Dropout must be off at inference (against Monte Carlo dropout)."
    quote = "\"During inference or model deployment, dropout should not be applied.\""
    t = run.table("T8")
    if t is None:
        return missing(key, text, quote, [], RULE_MC, ["T8"],
                       "T8 (Monte Carlo dropout) is not in this run")
    headers = ["model", "T", *(f"{n} off minus MC" for n, *_ in MC_MEASURES)]
    rows, checks, flags = [], [], []
    flag_collapsed(run, t, "T8", flags)
    for r in t["rows"]:
        model, n = r["labels"].get("model", "mlp"), r["labels"].get("mc_samples")
        cells = []
        for name, off, mc, claimed in MC_MEASURES:
            cells.append(D.fmt_diff(D.pair(run, r, r, off, mc), off))
            checks.append(paired_check(run, f"{model} T={n} {name}", r, r, off, claimed,
                                       label=f"{name} off - MC", key_b=mc))
        rows.append([model, f"T={n}", *cells])
    return Claim(key, text, quote, [], headers, rows, checks, RULE_MC, ["T8"], flags)
