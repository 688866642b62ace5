"""The article's claims (/work/shared/source-article.txt, "Deep Learning Dropout"), tested
against a run's tables.

Each claim is broken into checks, one per condition (a model, a training-set size, a
number of Monte Carlo samples...). A check compares table cells with a stated rule and
gives a verdict; the claim's verdict combines its checks:

    holds          every measured check holds
    does not hold  every measured check fails
    depends        checks disagree: the verdict names the conditions of each outcome
    inconclusive   every measured check is a statistical tie (the data cannot tell)
    not measured   the tables the claim needs are not in this run

The default rule compares two grid points by the 95% confidence interval of the difference
of their means (Welch; fastdrop.report.diff): a difference whose CI excludes 0 counts, one
whose CI contains 0 is a tie. Nothing here is decided in advance: every verdict is
computed from the run. The article's own figures (its dataset is unstated) are shown beside
ours for reference; they take no part in the verdicts.
"""

from __future__ import annotations

import dataclasses

from .diff import combo, difference, direction, usable
from .format import cell, fmt_mean_ci, fmt_time

HOLDS, FAILS, DEPENDS, UNCLEAR, MISSING = ("holds", "does not hold", "depends",
                                           "inconclusive", "not measured")
VERDICTS = (HOLDS, FAILS, DEPENDS, UNCLEAR, MISSING)
ARTICLE = "the article (source-article.txt; dataset unstated)"

# The article's tables, as printed (percent, minutes, millions of parameters).
ART_RATE_ACC = {0.0: 92.3, 0.3: 94.1, 0.5: 94.5, 0.7: 93.7, 0.9: 91.2}
ART_RATE_MIN = {0.0: 55, 0.3: 63, 0.5: 78, 0.7: 97, 0.9: 120}
ART_GAP = {"without dropout": (98.0, 90.0), "with dropout": (96.0, 93.0)}
ART_PARAMS_M = {0.0: 15.2, 0.3: 10.8, 0.5: 9.4, 0.7: 7.6, 0.9: 4.9}
ART_VARIANTS = {"standard": 94.3, "inverted": 94.7, "spatial": 95.2, "alpha": 93.8}
ART_REGULARISERS = {"dropout": 95.1, "L1": 94.5, "L2": 93.2}
ART_ARCH = {"CNN": 95.6, "RNN": 93.2, "FCN": 94.9}
FAMILY = {"linear": "FCN", "mlp": "FCN", "selu_mlp": "FCN", "cnn": "CNN", "gru": "RNN",
          "lstm": "RNN"}
MID = 0.5  # "a dropout rate around 0.5"


@dataclasses.dataclass
class Check:
    condition: str  # where it was tested: "mlp", "train size 500, gap", ...
    verdict: str
    why: str  # the numbers behind the verdict


@dataclasses.dataclass
class Claim:
    key: str
    text: str  # the claim, as this report tests it
    quote: str  # the article's words
    article: list[str]  # the article's figures, one line each ([] where it gives none)
    headers: list[str]  # our evidence
    rows: list[list[str]]
    checks: list[Check]
    rule: str
    tables: list[str]  # the tables of this run it reads
    verdict: str = MISSING
    summary: str = ""

    def __post_init__(self):
        self.verdict, self.summary = combine(self.checks)

    @property
    def unmeasured(self) -> list[Check]:
        """Checks the run could not make (while others were made)."""
        if self.verdict == MISSING:
            return []
        return [c for c in self.checks if c.verdict == MISSING]

    @property
    def headline(self) -> str:
        """The verdict, with "in part" when some of the claim could not be tested."""
        return self.verdict + (" (partly measured)" if self.unmeasured else "")


def combine(checks: list[Check]) -> tuple[str, str]:
    """The claim's verdict and one line saying under which conditions each outcome came."""
    known = [c for c in checks if c.verdict != MISSING]
    if not known:
        why = "; ".join(c.why for c in checks if c.why) or "no data"
        return MISSING, why
    kinds = []
    for c in known:
        if c.verdict not in kinds:
            kinds.append(c.verdict)
    if len(kinds) == 1:
        verdict = kinds[0]
        return verdict, f"{verdict} for {', '.join(c.condition for c in known)}"
    parts = [f"{k} for {', '.join(c.condition for c in known if c.verdict == k)}"
             for k in (HOLDS, FAILS, UNCLEAR) if k in kinds]
    return DEPENDS, "; ".join(parts)


# --- reading tables -----------------------------------------------------------------------


def _rows(table: dict, **labels) -> list[dict]:
    return [r for r in table["rows"]
            if all(r["labels"].get(k) == v for k, v in labels.items())]


def _val(row: dict | None, key: str):
    return None if row is None else row["values"].get(key)


def _models(table: dict) -> list[str]:
    out = []
    for r in table["rows"]:
        m = r["labels"].get("model")
        if m is not None and m not in out:
            out.append(m)
    return out


def pct(s) -> str:
    return fmt_mean_ci("test_accuracy", s, with_unit=True) or "-"


def pp(d) -> str:
    """A difference of accuracies in percentage points."""
    if d is None:
        return "-"
    ci = "" if d.get("ci") is None else f" ± {100 * d['ci']:.1f}"
    return f"{100 * d['mean']:+.1f}{ci} pp"


def _sig(sign) -> str:
    return {1: "CI above 0", -1: "CI below 0", 0: "CI contains 0",
            None: "fewer than 2 seeds: no CI"}[sign]


def _missing(key, text, quote, article, rule, tables, why) -> Claim:
    return Claim(key, text, quote, article, [], [], [Check("-", MISSING, why)], rule, tables)


def _art_rate(p) -> str:
    return f"{ART_RATE_ACC[p]}%" if p in ART_RATE_ACC else ""


# --- 1. the best rate ---------------------------------------------------------------------

RULE_RATE = (
    "Per model: the rate with the highest mean test accuracy, and every rate whose 95% CI "
    "of the difference from it (Welch) contains 0, form the top group. Holds when p = 0.5 "
    "is in the top group and at least one rate is not; does not hold when p = 0.5 is "
    "outside it; inconclusive when every rate is in it.")


def claim_rate(run) -> Claim:
    key, text = "rate", "A dropout rate around 0.5 gives the best test accuracy."
    quote = ("\"we observed that dropout rates around 50% tend to yield optimal accuracy\"")
    article = ["accuracy by dropout rate: " + ", ".join(
        f"{100 * p:.0f}%: {a}%" for p, a in ART_RATE_ACC.items())]
    t = run.table("T1")
    if t is None:
        return _missing(key, text, quote, article, RULE_RATE, ["T1"],
                        "T1 (accuracy vs rate) is not in this run")
    headers = ["model", "p", "test acc", "vs best", "top group", "article"]
    rows, checks = [], []
    for model in _models(t):
        acc = {r["labels"]["dropout"]: _val(r, "test_accuracy") for r in _rows(t, model=model)}
        acc = {p: s for p, s in sorted(acc.items()) if usable(s)}
        if not acc:
            checks.append(Check(model, MISSING, f"{model}: no finished runs"))
            continue
        best = max(acc, key=lambda p: acc[p]["mean"])
        diffs = {p: difference(acc[p], acc[best]) for p in acc}
        top = {p for p in acc if p == best or direction(diffs[p]) in (0, None)}
        for p, s in acc.items():
            rows.append([model, f"{p:g}", pct(s), "best" if p == best else pp(diffs[p]),
                         "yes" if p in top else "no", _art_rate(p)])
        below = [f"{p:g}" for p in acc if p not in top]
        if MID not in acc:
            checks.append(Check(model, MISSING, f"{model}: p = 0.5 not measured"))
        elif MID not in top:
            checks.append(Check(model, FAILS, f"{model}: best p = {best:g} ({pct(acc[best])});"
                                f" p = 0.5 is {pp(diffs[MID])} below it"))
        elif not below:
            checks.append(Check(model, UNCLEAR, f"{model}: no rate is distinguishable from "
                                f"the best (p = {best:g}, {pct(acc[best])})"))
        else:
            checks.append(Check(model, HOLDS, f"{model}: p = 0.5 is in the top group "
                                f"(best p = {best:g}); below it: p = {', '.join(below)}"))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_RATE, ["T1"])


# --- 2. training time ---------------------------------------------------------------------

RULE_TIME = (
    "Per model and measure: 'per step' compares pyperf's time per training step (one "
    "thread), a rate is slower when all its timed values exceed all of the other's; 'to "
    "target' compares the time to reach the target test accuracy (steps x median time per "
    "step) by the 95% CI of the difference (Welch), a run that never reached the target "
    "counting as longer than any that did. Each measure makes two checks: p = 0.5 against "
    "no dropout (increases?), and the highest rate against p = 0.5 (more so at high rates?).")


def _cmp_step(a, b):
    if not a or not b or a.get("min") is None or b.get("min") is None:
        return None, "not timed"
    ratio = a["median"] / b["median"]
    if a["min"] > b["max"]:
        sign = 1
    elif a["max"] < b["min"]:
        sign = -1
    else:
        sign = 0
    return sign, f"{fmt_time(a['median'])} vs {fmt_time(b['median'])} ({ratio:.2f}x)"


def _cmp_target(ra, rb):
    """(sign, why) of time to target, row a against row b."""
    ha, hb = _val(ra, "reached"), _val(rb, "reached")
    ta, tb = _val(ra, "time_to_target"), _val(rb, "time_to_target")
    if not ha or not hb or not ha.get("of") or not hb.get("of"):
        return None, "no target runs"
    fa, fb = ha["count"] / ha["of"], hb["count"] / hb["of"]
    reach = f"reached {ha['count']}/{ha['of']} vs {hb['count']}/{hb['of']}"
    if fa == fb == 0:
        return None, "neither reached the target"
    if fa != fb:
        return (1 if fa < fb else -1), reach
    d = difference(ta, tb)
    sign = direction(d)
    if d is None:
        return None, reach
    ci = "" if d["ci"] is None else f" ± {fmt_time(d['ci'])}" if d["ci"] else " ± 0"
    more = ("+" if d["mean"] >= 0 else "-") + fmt_time(abs(d["mean"]))
    return sign, f"{fmt_time(ta['mean'])} vs {fmt_time(tb['mean'])} ({more}{ci})"


def claim_time(run) -> Claim:
    key = "time"
    text = "Dropout increases training time, more so at high rates."
    quote = ("\"Higher dropout rates tend to increase the training time as the model requires "
             "more iterations to converge\"")
    article = ["training time (minutes) by dropout rate: " + ", ".join(
        f"{100 * p:.0f}%: {m}" for p, m in ART_RATE_MIN.items())]
    t = run.table("T2")
    if t is None:
        return _missing(key, text, quote, article, RULE_TIME, ["T2"],
                        "T2 (training cost vs rate) is not in this run")
    headers = ["model", "p", "time/step", "x no dropout", "steps to target", "time to target",
               "reached", "article (min)"]
    rows, checks = [], []
    for model in _models(t):
        by_p = {r["labels"]["dropout"]: r for r in _rows(t, model=model)}
        base = by_p.get(0.0)
        for p, r in sorted(by_p.items()):
            step, b = _val(r, "step_time"), _val(base, "step_time")
            ratio = (f"{step['median'] / b['median']:.2f}x" if step and b and
                     step.get("median") and b.get("median") else "")
            reached = _val(r, "reached")
            rows.append([model, f"{p:g}", fmt_time(step["median"]) if step and
                         step.get("median") else "-", ratio,
                         fmt_mean_ci("steps_to_target", _val(r, "steps_to_target")) or "-",
                         cell("time_to_target", "summary", _val(r, "time_to_target")) or "-",
                         f"{reached['count']}/{reached['of']}" if reached else "-",
                         str(ART_RATE_MIN.get(p, ""))])
        high = max((p for p in by_p if p > MID), default=None)
        for measure, cmp in (("per step", lambda a, b: _cmp_step(_val(a, "step_time"),
                                                                  _val(b, "step_time"))),
                             ("to target", _cmp_target)):
            pairs = [("p=0.5 vs 0", by_p.get(MID), base)]
            if high is not None:
                pairs.append((f"p={high:g} vs 0.5", by_p.get(high), by_p.get(MID)))
            else:
                checks.append(Check(f"{model} {measure}: rates above 0.5", MISSING,
                                    f"{model}: no rate above 0.5"))
            for what, a, b in pairs:
                cond = f"{model} {measure}: {what}"
                if a is None or b is None:
                    checks.append(Check(cond, MISSING, f"{cond}: not measured"))
                    continue
                sign, why = cmp(a, b)
                verdict = {1: HOLDS, -1: FAILS, 0: UNCLEAR, None: MISSING}[sign]
                checks.append(Check(cond, verdict, f"{cond}: {why}"))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_TIME, ["T2"])


# --- 3. overfitting -----------------------------------------------------------------------

RULE_GAP = (
    "Per training-set size (T3; else the regulariser table T5, else the variant table T4 on "
    "the default size): the train - test accuracy gap with dropout against without, and "
    "test accuracy with against without, each by the 95% CI of the difference of means "
    "(Welch). Each holds when the CI lies on the claimed side of 0, fails when it lies on "
    "the other, and is a tie when it contains 0.")


def _gap_pairs(run):
    """(source, [(condition, row without, row with)])."""
    t3 = run.table("T3")
    if t3 is not None:
        out = []
        for size in dict.fromkeys(r["labels"].get("train_size") for r in t3["rows"]):
            rows = _rows(t3, train_size=size)
            off = next((r for r in rows if not r["labels"].get("dropout")), None)
            for on in (r for r in rows if r["labels"].get("dropout")):
                out.append((f"train size {size}" + (f" p={on['labels']['dropout']:g}"
                                                    if len(rows) > 2 else ""), off, on))
        return "T3", out
    t5 = run.table("T5")
    if t5 is not None:
        off = next(iter(_rows(t5, regulariser="none")), None)
        on = next(iter(_rows(t5, regulariser="dropout")), None)
        if off and on:
            return "T5", [("default training set", off, on)]
    t4 = run.table("T4")
    if t4 is not None:
        off = next(iter(_rows(t4, model="mlp", variant="none")), None)
        on = next(iter(_rows(t4, model="mlp", variant="inverted")), None)
        if off and on:
            return "T4", [("default training set (mlp)", off, on)]
    return None, []


def claim_gap(run) -> Claim:
    key = "overfitting"
    text = "Dropout reduces overfitting (the train - test gap) and improves test accuracy."
    quote = "\"Deep learning dropout aids in enhancing the robustness of the model by reducing " \
            "overfitting\""
    article = ["train / test accuracy: " + "; ".join(
        f"{k} {a:.0f}% / {b:.0f}% (gap {a - b:.0f} pp)" for k, (a, b) in ART_GAP.items())]
    source, pairs = _gap_pairs(run)
    if source is None:
        return _missing(key, text, quote, article, RULE_GAP, ["T3", "T5", "T4"],
                        "none of T3, T5, T4 is in this run")
    headers = ["condition", "dropout", "train acc", "test acc", "gap", "gap change",
               "test acc change"]
    rows, checks = [], []
    for cond, off, on in pairs:
        if off is None or on is None:
            checks.append(Check(cond, MISSING, f"{cond}: no run without dropout"))
            continue
        dg = difference(_val(on, "gap"), _val(off, "gap"))
        da = difference(_val(on, "test_accuracy"), _val(off, "test_accuracy"))
        on_label = (f"p={on['labels']['dropout']:g}" if "dropout" in on["labels"]
                    else "dropout")
        for label, r in (("none", off), (on_label, on)):
            rows.append([cond, label, pct(_val(r, "train_accuracy")),
                         pct(_val(r, "test_accuracy")),
                         fmt_mean_ci("gap", _val(r, "gap"), with_unit=True) or "-",
                         pp(dg) if r is on else "", pp(da) if r is on else ""])
        sg, sa = direction(dg), direction(da)
        checks.append(Check(f"{cond}: gap", {-1: HOLDS, 1: FAILS, 0: UNCLEAR,
                                             None: MISSING}[sg],
                            f"{cond}: gap {pp(dg)} ({_sig(sg)})"))
        checks.append(Check(f"{cond}: test acc", {1: HOLDS, -1: FAILS, 0: UNCLEAR,
                                                  None: MISSING}[sa],
                            f"{cond}: test accuracy {pp(da)} ({_sig(sa)})"))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_GAP, [source])


# --- 4. variants --------------------------------------------------------------------------

RULE_VARIANTS = (
    "The variants run on different models (spatial needs channels: the CNN; alpha needs "
    "SELU: the SELU MLP; the rest: the MLP), so each is scored by its gain in test accuracy "
    "over the same model without dropout. Spatial is the most accurate when its gain exceeds "
    "every other variant's, alpha the least when its gain is below every other's, each by "
    "the 95% CI of the difference of gains (Welch; on the same model the baselines cancel).")


def _gain_diff(a, b, base) -> dict | None:
    """gain(a) - gain(b): (a - base[a]) - (b - base[b]); rows keyed by index."""
    coefs: dict[int, float] = {}
    for c, idx in ((1, a), (-1, base[a]), (-1, b), (1, base[b])):
        if idx is None:
            return None
        coefs[idx] = coefs.get(idx, 0) + c
    return coefs


def claim_variants(run) -> Claim:
    key = "variants"
    text = "Spatial dropout is the most accurate variant; alpha dropout the least."
    quote = "\"Different dropout techniques can be applied, with spatial dropout generally " \
            "achieving higher accuracy.\""
    article = ["accuracy by technique: " + ", ".join(
        f"{k} {v}%" for k, v in ART_VARIANTS.items())]
    t = run.table("T4")
    if t is None:
        return _missing(key, text, quote, article, RULE_VARIANTS, ["T4"],
                        "T4 (variants) is not in this run")
    rows_t = t["rows"]
    accs = [_val(r, "test_accuracy") for r in rows_t]
    base_of = {}
    for i, r in enumerate(rows_t):
        m = r["labels"].get("model")
        if not r["labels"].get("dropout") and usable(accs[i]):
            base_of[m] = i
    variants = [i for i, r in enumerate(rows_t) if r["labels"].get("dropout")]
    base = {i: base_of.get(rows_t[i]["labels"].get("model")) for i in variants}

    def name(i):
        lab = rows_t[i]["labels"]
        return f"{lab.get('variant')} ({lab.get('model')})"

    def gain(i):
        return None if base[i] is None else difference(accs[i], accs[base[i]])

    def vs(a, b):
        coefs = _gain_diff(a, b, base)
        if coefs is None:
            return None
        return combo([(c, accs[i]) for i, c in coefs.items() if c != 0])

    headers = ["variant", "model", "p", "test acc", "no dropout", "gain", "article"]
    rows = []
    for i in variants:
        lab = rows_t[i]["labels"]
        rows.append([str(lab.get("variant")), str(lab.get("model")), f"{lab['dropout']:g}",
                     pct(accs[i]), pct(accs[base[i]]) if base[i] is not None else "-",
                     pp(gain(i)), f"{ART_VARIANTS[lab.get('variant')]}%"
                     if lab.get("variant") in ART_VARIANTS else ""])
    checks = []
    for who, sign_wanted, what in (("spatial", 1, "above"), ("alpha", -1, "below")):
        mine = [i for i in variants if rows_t[i]["labels"].get("variant") == who]
        if not mine or not usable(accs[mine[0]]):
            checks.append(Check(f"{who} vs the others", MISSING, f"{who} dropout not measured"))
            continue
        me = mine[0]
        for other in variants:
            if other == me or not usable(accs[other]):
                continue
            d = vs(me, other)
            sign = direction(d)
            cond = f"{who} vs {name(other)}"
            verdict = MISSING if sign is None and d is None else {
                sign_wanted: HOLDS, -sign_wanted: FAILS, 0: UNCLEAR, None: UNCLEAR}[sign]
            checks.append(Check(cond, verdict, f"{cond}: gain difference {pp(d)} "
                                f"({_sig(sign)}; claimed {what} 0)"))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_VARIANTS, ["T4"])


# --- 5. other regularisers ----------------------------------------------------------------

RULE_REG = ("Test accuracy of dropout against L1 and against L2 (MLP), by the 95% CI of the "
            "difference of means (Welch): holds when it lies above 0, fails below, a tie when "
            "it contains 0.")


def claim_regularisers(run) -> Claim:
    key = "regularisers"
    text = "Dropout beats L1 and L2 regularisation."
    quote = "\"When compared to other regularization techniques, dropout consistently " \
            "outperforms L1 and L2 regularization.\""
    article = ["accuracy: " + ", ".join(f"{k} {v}%" for k, v in ART_REGULARISERS.items())]
    t = run.table("T5")
    if t is None:
        return _missing(key, text, quote, article, RULE_REG, ["T5"],
                        "T5 (regularisers) is not in this run")
    by = {r["labels"].get("regulariser"): r for r in t["rows"]}
    drop = _val(by.get("dropout"), "test_accuracy")
    headers = ["regulariser", "test acc", "gap", "dropout minus this", "article"]
    rows, checks = [], []
    for name, r in by.items():
        d = None if name == "dropout" else difference(drop, _val(r, "test_accuracy"))
        rows.append([str(name), pct(_val(r, "test_accuracy")),
                     fmt_mean_ci("gap", _val(r, "gap"), with_unit=True) or "-",
                     "" if name == "dropout" else pp(d),
                     f"{ART_REGULARISERS[name]}%" if name in ART_REGULARISERS else ""])
    for other in ("L1", "L2"):
        cond = f"dropout vs {other}"
        if not usable(drop) or not usable(_val(by.get(other), "test_accuracy")):
            checks.append(Check(cond, MISSING, f"{cond}: not measured"))
            continue
        checks.append(_difference_check(cond, difference(drop, _val(by[other],
                                                                    "test_accuracy"))))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_REG, ["T5"])


def _difference_check(cond: str, d) -> Check:
    """A check read off the 95% CI of a difference of means: above 0 holds, below does not
    hold, containing 0 (or too few runs) is a tie."""
    sign = direction(d)
    return Check(cond, {1: HOLDS, -1: FAILS, 0: UNCLEAR, None: UNCLEAR}[sign],
                 f"{cond}: {pp(d)} ({_sig(sign)})")


# --- 6. architectures ---------------------------------------------------------------------

RULE_ARCH = ("Per model: test accuracy with dropout against without, by the 95% CI of the "
             "difference of means (Welch): dropout works there when the CI lies above 0, hurts "
             "when below, a tie when it contains 0. FCN = linear and MLP, CNN = cnn, RNN = GRU "
             "and LSTM (variational dropout).")


def claim_architectures(run) -> Claim:
    key = "architectures"
    text = "Dropout works across CNN, RNN and fully connected architectures."
    quote = "\"dropout exhibits similar positive effects across different neural network " \
            "architectures, such as CNN, RNN, and FCN\""
    article = ["accuracy with dropout (no baseline without): " + ", ".join(
        f"{k} {v}%" for k, v in ART_ARCH.items())]
    t = run.table("T6")
    if t is None:
        return _missing(key, text, quote, article, RULE_ARCH, ["T6"],
                        "T6 (architectures) is not in this run")
    headers = ["model", "family", "without", "with", "change", "article (with)"]
    rows, checks = [], []
    for model in _models(t):
        rs = _rows(t, model=model)
        off = next((r for r in rs if not r["labels"].get("dropout")), None)
        on = next((r for r in rs if r["labels"].get("dropout")), None)
        fam = FAMILY.get(model, "?")
        d = difference(_val(on, "test_accuracy"), _val(off, "test_accuracy"))
        rows.append([model, fam, pct(_val(off, "test_accuracy")), pct(_val(on, "test_accuracy")),
                     pp(d), f"{ART_ARCH[fam]}%" if fam in ART_ARCH else ""])
        cond = f"{model} ({fam})"
        if d is None:
            checks.append(Check(cond, MISSING, f"{cond}: not measured"))
            continue
        checks.append(_difference_check(cond, d))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_ARCH, ["T6"])


# --- 7. parameters ------------------------------------------------------------------------

RULE_PARAMS = ("Per model: the trainable parameter count at the highest rate against p = 0 "
               "(exact counts). Holds when it is smaller; does not hold when it is the same "
               "or larger. What dropout does reduce, the units active in one forward pass, "
               "is shown beside: expected (1 - p) n, and counted.")


def claim_parameters(run) -> Claim:
    key = "parameters"
    text = "Dropout reduces the number of trainable parameters."
    quote = "\"Higher dropout rates generally lead to a decrease in model complexity\" " \
            "(its table: trainable parameters by dropout rate)"
    article = ["trainable parameters (millions) by dropout rate: " + ", ".join(
        f"{100 * p:.0f}%: {v}" for p, v in ART_PARAMS_M.items())]
    t = run.table("T7")
    if t is None:
        return _missing(key, text, quote, article, RULE_PARAMS, ["T7"],
                        "T7 (parameters vs active units) is not in this run")
    headers = ["model", "p", "parameters", "units n", "expected active", "active (counted)",
               "article (M)"]
    rows, checks = [], []
    for model in _models(t):
        by_p = {r["labels"]["dropout"]: r for r in _rows(t, model=model)}
        for p, r in sorted(by_p.items()):
            rows.append([model, f"{p:g}", fmt_mean_ci("parameters", _val(r, "parameters")) or "-",
                         fmt_mean_ci("units", _val(r, "units")) or "-",
                         fmt_mean_ci("expected_active", _val(r, "expected_active")) or "-",
                         fmt_mean_ci("active_units", _val(r, "active_units")) or "-",
                         str(ART_PARAMS_M.get(p, ""))])
        p0, ph = _val(by_p.get(0.0), "parameters"), None
        high = max(by_p, default=None)
        if high:
            ph = _val(by_p[high], "parameters")
        if not usable(p0) or not usable(ph) or not high:
            checks.append(Check(model, MISSING, f"{model}: not measured at p = 0 and p > 0"))
            continue
        a, b = ph["mean"], p0["mean"]
        act = _val(by_p[high], "active_units")
        why = (f"{model}: {a:,.0f} parameters at p = {high:g}, {b:,.0f} at p = 0"
               + (f"; active units {act['mean']:,.1f} of {_val(by_p[high], 'units')['mean']:,.0f}"
                  if usable(act) and usable(_val(by_p[high], "units")) else ""))
        checks.append(Check(model, HOLDS if a < b else FAILS, why))
    return Claim(key, text, quote, article, headers, rows, checks, RULE_PARAMS, ["T7"])


# --- 8. inference -------------------------------------------------------------------------

RULE_MC = (
    "Per number of samples T: test accuracy with dropout off at inference against the mean "
    "of T dropout samples (MC dropout), then test NLL, each by the 95% CI of the difference "
    "(Welch). Holds when dropout off is more accurate, or as accurate with a lower NLL; does "
    "not hold when MC dropout is more accurate, or as accurate with a lower NLL; a tie "
    "otherwise.")


def claim_inference(run) -> Claim:
    key = "inference"
    text = "Dropout must be off at inference (against Monte Carlo dropout)."
    quote = "\"During inference or model deployment, dropout should not be applied.\""
    t = run.table("T8")
    if t is None:
        return _missing(key, text, quote, [], RULE_MC, ["T8"],
                        "T8 (Monte Carlo dropout) is not in this run")
    headers = ["T", "MC acc", "off acc", "off minus MC", "MC NLL", "off NLL", "MC ECE",
               "off ECE"]
    rows, checks = [], []
    for r in t["rows"]:
        n = r["labels"].get("mc_samples")
        mc, off = _val(r, "mc_accuracy"), _val(r, "test_accuracy")
        mn, on = _val(r, "mc_nll"), _val(r, "test_loss")
        da, dn = difference(off, mc), difference(on, mn)
        rows.append([f"T={n}", pct(mc), pct(off), pp(da),
                     fmt_mean_ci("mc_nll", mn) or "-", fmt_mean_ci("test_loss", on) or "-",
                     fmt_mean_ci("mc_ece", _val(r, "mc_ece"), True) or "-",
                     fmt_mean_ci("test_ece", _val(r, "test_ece"), True) or "-"])
        cond = f"T={n}"
        if da is None:
            checks.append(Check(cond, MISSING, f"{cond}: not measured"))
            continue
        sa, sn = direction(da), direction(dn)
        if sa == 1:
            verdict, why = HOLDS, "dropout off is more accurate"
        elif sa == -1:
            verdict, why = FAILS, "MC dropout is more accurate"
        elif sa == 0 and sn == -1:
            verdict, why = HOLDS, "as accurate, and dropout off has the lower NLL"
        elif sa == 0 and sn == 1:
            verdict, why = FAILS, "as accurate, and MC dropout has the lower NLL"
        else:
            verdict, why = UNCLEAR, "no difference in accuracy or NLL"
        nll = "" if dn is None else f", NLL off - MC {dn['mean']:+.3f}" + (
            "" if dn["ci"] is None else f" ± {dn['ci']:.3f}")
        checks.append(Check(cond, verdict, f"{cond}: {why} (accuracy off - MC {pp(da)}{nll})"))
    return Claim(key, text, quote, [], headers, rows, checks, RULE_MC, ["T8"])


CLAIMS = (claim_rate, claim_time, claim_gap, claim_variants, claim_regularisers,
          claim_architectures, claim_parameters, claim_inference)


def check_all(run) -> list[Claim]:
    """Every claim, tested against the run (a claim whose tables are absent: not measured)."""
    return [fn(run) for fn in CLAIMS]


def split(claims: list[Claim]) -> tuple[list[tuple[int, Claim]], list[tuple[int, Claim]]]:
    """(numbered claims this run tests, numbered claims it has no tables for)."""
    numbered = list(enumerate(claims, 1))
    return ([(k, c) for k, c in numbered if c.verdict != MISSING],
            [(k, c) for k, c in numbered if c.verdict == MISSING])


def missing_line(claims: list[Claim]) -> str | None:
    """One line for the claims this run cannot test ("" when it tests them all)."""
    _, missing = split(claims)
    if not missing:
        return None
    return "Not measured in this run: " + "; ".join(
        f"claim {k} ({c.summary})" for k, c in missing)


def verdict_line(claim: Claim) -> str:
    """"verdict: ..." with the conditions when it depends, and what was not measured."""
    text = f"verdict: {claim.verdict}"
    if claim.verdict in (DEPENDS, MISSING):
        text += f" ({claim.summary})"
    if claim.unmeasured:
        text += "; not measured: " + ", ".join(c.condition for c in claim.unmeasured)
    return text


def check_lines(claim: Claim) -> list[str]:
    """One line per check made: "<verdict>: <the numbers>"."""
    return [f"{c.verdict}: {c.why}" for c in claim.checks
            if c.verdict != MISSING or claim.verdict == MISSING]


def verdict_lines(claim: Claim) -> list[str]:
    """The verdict, one line per check, and the rule: the text every renderer prints."""
    return [verdict_line(claim), *(f"  {line}" for line in check_lines(claim)),
            f"rule: {claim.rule}"]
