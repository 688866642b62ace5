"""Claims 1, 3, 5 and 6: accuracy against the dropout rate, overfitting, other
regularisers and architectures. Every comparison is paired by seed; every "with dropout"
arm is the rate chosen on the validation split (claims.common.choose)."""

from __future__ import annotations

from .. import diff as D
from .common import Claim, choose, distinct, flag_collapsed, missing, paired_check, rows_of
from .verdicts import EQUIV, FAILS, HOLDS, MISSING, UNCLEAR, Check, decide

ART_RATE_ACC = {0.0: 92.3, 0.3: 94.1, 0.5: 94.5, 0.7: 93.7, 0.9: 91.2}
ART_GAP = {"without dropout": (98.0, 90.0), "with dropout": (96.0, 93.0)}
ART_REGULARISERS = {"dropout": 95.1, "L1": 94.5, "L2": 93.2}
ART_ARCH = {"CNN": 95.6, "RNN": 93.2, "FCN": 94.9}
FAMILY = {"linear": "FCN", "mlp": "FCN", "selu_mlp": "FCN", "cnn": "CNN", "gru": "RNN",
          "lstm": "RNN"}
PLACES = {"hidden": "every hidden layer", "head": "before the classifier"}
MID = 0.5  # "a dropout rate around 0.5"


def _groups(table: dict) -> list[tuple[str, list[dict]]]:
    """(name, rows) per model and placement; the p = 0 row belongs to each placement."""
    out = []
    for model in distinct(table, "model"):
        rows = rows_of(table, model=model)
        base = [r for r in rows if not r["labels"].get("dropout")]
        places = [p for p in dict.fromkeys(r["labels"].get("dropout_at", "hidden")
                                           for r in rows if r["labels"].get("dropout"))]
        for place in places or ["hidden"]:
            arms = [r for r in rows if r["labels"].get("dropout")
                    and r["labels"].get("dropout_at", "hidden") == place]
            name = model if len(places) < 2 else f"{model} ({PLACES.get(place, place)})"
            out.append((name, base + arms))
    return out


# --- 1. the best rate ---------------------------------------------------------------------

RULE_RATE = (
    "Per model (and CNN placement): p = 0.5 against every other rate, test accuracy paired "
    "by seed (Holm over all of the claim's tests; equivalence margin ± 1 pp). The model's "
    "verdict: does not hold when some rate beats p = 0.5; equivalent when p = 0.5 is "
    "equivalent to every rate; holds when p = 0.5 beats no dropout and every other rate is "
    "beaten by it or equivalent; does not hold when p = 0.5 is equivalent to no dropout; "
    "otherwise inconclusive. 'recommended' is the rate with the best validation accuracy.")


def claim_rate(run) -> Claim:
    key, text = "rate", "A dropout rate around 0.5 gives the best test accuracy."
    quote = "\"we observed that dropout rates around 50% tend to yield optimal accuracy\""
    article = ["accuracy by dropout rate: " + ", ".join(
        f"{100 * p:.0f}%: {a}%" for p, a in ART_RATE_ACC.items())]
    t = run.table("T1")
    if t is None:
        return missing(key, text, quote, article, RULE_RATE, ["T1"],
                       "T1 (accuracy vs rate) is not in this run")
    headers = ["model", "p", "val acc", "test acc", "0.5 minus this", "NLL", "ECE", "article"]
    rows, flags, groups = [], [], []
    flag_collapsed(run, t, "T1", flags)
    inner: list[Check] = []
    for name, grp in _groups(t):
        by_p = {r["labels"]["dropout"]: r for r in grp}
        best = choose(run, grp, flags)
        mid = by_p.get(MID)
        checks = {p: paired_check(run, f"{name}: 0.5 vs {p:g}", mid, r, "test_accuracy", 1)
                  for p, r in sorted(by_p.items()) if p != MID and mid is not None}
        inner += checks.values()
        groups.append((name, mid, checks))
        for p, r in sorted(by_p.items()):
            d = D.pair(run, mid, r, "test_accuracy") if mid is not None and p != MID else None
            rows.append([name, f"{p:g}" + (" (recommended)" if r is best else ""),
                         D.fmt_value(run, r, "val_accuracy"),
                         D.fmt_value(run, r, "test_accuracy"),
                         "" if p == MID else D.fmt_diff(d, "test_accuracy"),
                         D.fmt_value(run, r, "test_loss"), D.fmt_value(run, r, "test_ece"),
                         f"{ART_RATE_ACC[p]}%" if p in ART_RATE_ACC else ""])
    decide(inner)  # Holm over every comparison of the claim
    out = [_rate_verdict(name, mid, checks) for name, mid, checks in groups]
    return Claim(key, text, quote, article, headers, rows, out, RULE_RATE, ["T1"], flags)


def _rate_verdict(name, mid, checks: dict) -> Check:
    if mid is None:
        return Check(name, MISSING, f"{name}: p = 0.5 not measured")
    checks = {p: c for p, c in checks.items() if c.verdict != MISSING}
    kinds = {c.verdict for c in checks.values()}
    if not kinds:
        return Check(name, MISSING, f"{name}: no seed with both runs usable (no per-seed "
                     "records, or failed or collapsed runs)")
    lines = "; ".join(f"vs {p:g}: {c.verdict} ({c.effect})" for p, c in checks.items())
    base = checks.get(0.0)
    if FAILS in kinds:
        v = FAILS
        who = ", ".join(f"{p:g}" for p, c in checks.items() if c.verdict == FAILS)
        why = f"{name}: p = {who} beat{'s' if ',' not in who else ''} p = 0.5"
    elif kinds == {EQUIV}:
        v, why = EQUIV, f"{name}: p = 0.5 is equivalent to every other rate"
    elif base is not None and base.verdict == HOLDS and kinds <= {HOLDS, EQUIV}:
        v, why = HOLDS, f"{name}: p = 0.5 beats no dropout and no rate beats it"
    elif base is not None and base.verdict == EQUIV:
        v, why = FAILS, f"{name}: p = 0.5 is no better than no dropout (equivalent)"
    else:
        v, why = UNCLEAR, f"{name}: the comparisons do not decide"
    eff = base.effect if base is not None else ""
    return Check(name, v, f"{why} ({lines})", fixed=True,
                 effect=f"0.5 - 0: {eff}" if eff else "")


# --- 3. overfitting -----------------------------------------------------------------------

RULE_GAP = (
    "Per training-set size (T3, every size trained for the same number of epochs; else T1's "
    "MLP): the dropout rate chosen on validation against no dropout, paired by seed: test "
    "accuracy (claimed higher), test NLL and ECE (claimed lower); equivalence margins ± 1 "
    "pp, ± 0.05 nats, ± 1 pp; Holm over the claim. The train - test gap is shown, not "
    "judged: it also shrinks when a model underfits.")


def claim_gap(run) -> Claim:
    key = "overfitting"
    text = "Dropout reduces overfitting and improves test accuracy, NLL and calibration."
    quote = "\"Deep learning dropout aids in enhancing the robustness of the model by " \
            "reducing overfitting\""
    article = ["train / test accuracy: " + "; ".join(
        f"{k} {a:.0f}% / {b:.0f}% (gap {a - b:.0f} pp)" for k, (a, b) in ART_GAP.items())]
    t, axis, name = run.table("T3"), "train_size", "T3"
    if t is None:
        t, axis, name = run.table("T1"), "model", "T1"
    if t is None:
        return missing(key, text, quote, article, RULE_GAP, ["T3", "T1"],
                       "T3 (overfitting) and T1 are not in this run")
    headers = ["condition", "p", "train acc", "test acc", "gap", "NLL", "ECE",
               "accuracy change", "NLL change", "ECE change"]
    rows, checks, flags = [], [], []
    flag_collapsed(run, t, name, flags)
    for value in distinct(t, axis):
        if axis == "model" and value != "mlp":
            continue
        grp = [r for r in rows_of(t, **{axis: value})
               if r["labels"].get("dropout_at", "hidden") in ("hidden", "none")]
        off = next((r for r in grp if not r["labels"].get("dropout")), None)
        on = choose(run, [r for r in grp if r["labels"].get("dropout")], flags)
        cond = f"train size {value}" if axis == "train_size" else str(value)
        for r in (off, on):
            if r is None:
                continue
            diffs = [D.fmt_diff(D.pair(run, r, off, k), k) if r is on else ""
                     for k in ("test_accuracy", "test_loss", "test_ece")]
            rows.append([cond, f"{r['labels']['dropout']:g}",
                         D.fmt_value(run, r, "train_accuracy"),
                         D.fmt_value(run, r, "test_accuracy"), D.fmt_value(run, r, "gap"),
                         D.fmt_value(run, r, "test_loss"), D.fmt_value(run, r, "test_ece"),
                         *diffs])
        p = f" (p = {on['labels']['dropout']:g})" if on else ""
        checks += [paired_check(run, f"{cond}{p} accuracy", on, off, "test_accuracy", 1),
                   paired_check(run, f"{cond}{p} NLL", on, off, "test_loss", -1),
                   paired_check(run, f"{cond}{p} ECE", on, off, "test_ece", -1)]
    return Claim(key, text, quote, article, headers, rows, checks, RULE_GAP, [name], flags)


# --- 5. other regularisers ----------------------------------------------------------------

RULE_REG = (
    "Every regulariser gets the same tuning budget (four strengths; the one with the best "
    "validation accuracy is kept). Dropout against L1 and against L2: test accuracy paired "
    "by seed, claimed higher (Holm; equivalence margin ± 1 pp). Early stopping on "
    "validation accuracy is shown for every row ('test acc, early stop').")


def claim_regularisers(run) -> Claim:
    key = "regularisers"
    text = "Dropout beats L1 and L2 regularisation."
    quote = "\"When compared to other regularization techniques, dropout consistently " \
            "outperforms L1 and L2 regularization.\""
    article = ["accuracy: " + ", ".join(f"{k} {v}%" for k, v in ART_REGULARISERS.items())]
    t = run.table("T5")
    if t is None:
        return missing(key, text, quote, article, RULE_REG, ["T5"],
                       "T5 (regularisers) is not in this run")
    flags: list[str] = []
    flag_collapsed(run, t, "T5", flags)
    chosen = {name: choose(run, rows_of(t, regulariser=name), flags)
              for name in distinct(t, "regulariser")}
    drop = chosen.get("dropout")
    headers = ["regulariser", "strength (chosen)", "val acc", "test acc",
               "test acc, early stop", "gap", "dropout minus this", "article"]
    rows = []
    for name, r in chosen.items():
        if r is None:
            continue
        d = None if name == "dropout" else D.pair(run, drop, r, "test_accuracy")
        rows.append([str(name), str(r["labels"].get("strength", "")),
                     D.fmt_value(run, r, "val_accuracy"), D.fmt_value(run, r, "test_accuracy"),
                     D.fmt_value(run, r, "es_test_accuracy"), D.fmt_value(run, r, "gap"),
                     "" if name == "dropout" else D.fmt_diff(d, "test_accuracy"),
                     f"{ART_REGULARISERS[name]}%" if name in ART_REGULARISERS else ""])
    checks = [paired_check(run, f"dropout vs {o}", drop, chosen.get(o), "test_accuracy", 1)
              for o in ("L1", "L2")]
    return Claim(key, text, quote, article, headers, rows, checks, RULE_REG, ["T5"], flags)


# --- 6. architectures ---------------------------------------------------------------------

RULE_ARCH = (
    "Per model: the dropout arm chosen on validation (rate, and for the CNN the placement) "
    "against no dropout, test accuracy paired by seed, claimed higher (Holm; equivalence "
    "margin ± 1 pp). FCN = linear and MLP, CNN = cnn, RNN = GRU and LSTM (variational "
    "dropout).")


def claim_architectures(run) -> Claim:
    key = "architectures"
    text = "Dropout works across CNN, RNN and fully connected architectures."
    quote = "\"dropout exhibits similar positive effects across different neural network " \
            "architectures, such as CNN, RNN, and FCN\""
    article = ["accuracy with dropout (no baseline without): " + ", ".join(
        f"{k} {v}%" for k, v in ART_ARCH.items())]
    t = run.table("T6")
    if t is None:
        return missing(key, text, quote, article, RULE_ARCH, ["T6"],
                       "T6 (architectures) is not in this run")
    headers = ["model", "family", "chosen arm", "without", "with", "change", "article (with)"]
    rows, checks, flags = [], [], []
    flag_collapsed(run, t, "T6", flags)
    for model in distinct(t, "model"):
        grp = rows_of(t, model=model)
        off = next((r for r in grp if not r["labels"].get("dropout")), None)
        on = choose(run, [r for r in grp if r["labels"].get("dropout")], flags)
        fam = FAMILY.get(model, "?")
        arm = "-" if on is None else f"p = {on['labels']['dropout']:g}" + (
            f", {PLACES[on['labels']['dropout_at']]}"
            if on["labels"].get("dropout_at") in PLACES and model == "cnn" else "")
        d = D.pair(run, on, off, "test_accuracy") if on and off else None
        rows.append([model, fam, arm, D.fmt_value(run, off, "test_accuracy") if off else "-",
                     D.fmt_value(run, on, "test_accuracy") if on else "-",
                     D.fmt_diff(d, "test_accuracy"),
                     f"{ART_ARCH[fam]}%" if fam in ART_ARCH else ""])
        checks.append(paired_check(run, f"{model} ({fam}, {arm})", on, off, "test_accuracy", 1))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_ARCH, ["T6"], flags)
