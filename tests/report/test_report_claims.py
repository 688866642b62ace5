"""The claim rules on small tables built here from per-seed values (test inputs, not
results): each verdict follows from the numbers by the stated rule."""

import math
from pathlib import Path

import pytest

from fastdrop.report import claims as C
from fastdrop.report.diff import combo, difference, direction, overlap
from fastdrop.report.load import Run
from fastdrop.results.stats import summary, t_quantile


def table(rows_by, rows):
    """A results.json table from [(labels, {metric: per-seed values or a timing dict})]."""
    out = []
    for labels, values in rows:
        vals = {k: v if isinstance(v, dict) else summary(v) for k, v in values.items()}
        out.append({"labels": labels, "values": vals, "runs": 3, "ok": 3, "failed": 0})
    keys = list(dict.fromkeys(k for _, v in rows for k in v))
    return {"title": "t", "rows_by": list(rows_by), "rows": out, "complete": True,
            "columns": [{"key": k, "label": k, "kind": "summary"} for k in keys]}


def run_of(**tables):
    return Run(path=Path("synthetic"), results={"tables": tables}, manifest={})


def test_welch_difference_known_values():
    d = difference(summary([1, 2, 3]), summary([0, 1, 2]))
    # equal variances and sizes: df = 2 (n - 1) = 4, t(0.975, 4) = 2.7764, se = sqrt(2/3)
    assert d["mean"] == pytest.approx(1.0) and d["df"] == pytest.approx(4.0)
    assert d["ci"] == pytest.approx(2.7764 * math.sqrt(2 / 3), rel=1e-4)
    assert direction(d) == 0
    far = difference(summary([10, 11, 12]), summary([0, 1, 2]))
    assert direction(far) == 1 and direction(difference(summary([0, 1, 2]),
                                                        summary([10, 11, 12]))) == -1
    assert direction(difference(summary([1]), summary([0]))) is None  # one seed: no CI
    assert difference(summary([]), summary([1, 2])) is None
    same = difference(summary([5, 5]), summary([4, 4]))  # no spread: an exact difference
    assert same["ci"] == 0.0 and direction(same) == 1
    a, b = summary([0.8, 0.82, 0.84]), summary([0.7, 0.71, 0.72])
    va, vb = 0.02 ** 2 / 3, 0.01 ** 2 / 3
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2)
    assert difference(a, b)["ci"] == pytest.approx(t_quantile(0.975, df) * math.sqrt(va + vb))
    # a combination: baselines of the same row cancel in the mean and the variance
    assert combo([(1, a), (-1, b), (-1, a), (1, b)])["mean"] == pytest.approx(0.0)
    assert overlap(a, b) is False and overlap(a, summary([0.81, 0.83, 0.85])) is True


def rate_rows(model, accs):
    return [({"model": model, "dropout": p}, {"test_accuracy": v}) for p, v in accs.items()]


PEAK_05 = {0.0: [0.80, 0.81, 0.80], 0.3: [0.86, 0.87, 0.86], 0.5: [0.88, 0.88, 0.89],
           0.9: [0.70, 0.71, 0.70]}
PEAK_01 = {0.0: [0.80, 0.81, 0.80], 0.1: [0.90, 0.91, 0.90], 0.5: [0.80, 0.80, 0.81]}
FLAT = {0.0: [0.80, 0.90, 0.70], 0.5: [0.81, 0.71, 0.91]}


def test_rate_claim_holds_fails_inconclusive_depends():
    holds = C.claim_rate(run_of(T1=table(("model", "dropout"), rate_rows("mlp", PEAK_05))))
    assert holds.verdict == C.HOLDS
    assert "below it: p = 0, 0.3, 0.9" in holds.checks[0].why
    fails = C.claim_rate(run_of(T1=table(("model", "dropout"), rate_rows("mlp", PEAK_01))))
    assert fails.verdict == C.FAILS and "best p = 0.1" in fails.checks[0].why
    flat = C.claim_rate(run_of(T1=table(("model", "dropout"), rate_rows("cnn", FLAT))))
    assert flat.verdict == C.UNCLEAR
    both = C.claim_rate(run_of(T1=table(("model", "dropout"), rate_rows("mlp", PEAK_05)
                                        + rate_rows("cnn", PEAK_01))))
    assert both.verdict == C.DEPENDS
    assert both.summary == "holds for mlp; does not hold for cnn"
    assert C.claim_rate(run_of()).verdict == C.MISSING


def timing(median, lo, hi):
    return {"n": 3, "median": median, "min": lo, "max": hi, "spread": (hi - lo) / median}


def test_time_claim_per_step_and_to_target():
    rows = []
    for p, med, steps in ((0.0, 1.0e-3, [300, 300, 400]), (0.5, 1.3e-3, [600, 700, 600]),
                          (0.9, 1.31e-3, [1500, 1600, 1500])):
        t2 = [s * med for s in steps]
        rows.append(({"model": "mlp", "dropout": p},
                     {"step_time": timing(med, med * 0.98, med * 1.02),
                      "steps_to_target": steps, "time_to_target": t2,
                      "reached": {"count": 3, "of": 3}}))
    c = C.claim_time(run_of(T2=table(("model", "dropout"), rows)))
    verdicts = {ch.condition: ch.verdict for ch in c.checks}
    assert verdicts == {"mlp per step: p=0.5 vs 0": C.HOLDS,
                        "mlp per step: p=0.9 vs 0.5": C.UNCLEAR,  # ranges overlap
                        "mlp to target: p=0.5 vs 0": C.HOLDS,
                        "mlp to target: p=0.9 vs 0.5": C.HOLDS}
    assert c.verdict == C.DEPENDS
    # a rate whose runs do not all reach the target counts as slower
    rows[2][1]["reached"] = {"count": 1, "of": 3}
    c = C.claim_time(run_of(T2=table(("model", "dropout"), rows)))
    assert next(ch for ch in c.checks if ch.condition == "mlp to target: p=0.9 vs 0.5"
                ).why.endswith("reached 1/3 vs 3/3")


def test_gap_claim_per_training_set_size():
    rows = []
    for size, (gap0, gap1, acc0, acc1) in {500: (0.5, 0.3, 0.5, 0.6),
                                           16000: (0.05, 0.05, 0.9, 0.9)}.items():
        for p, gap, acc in ((0.0, gap0, acc0), (0.3, gap1, acc1)):
            rows.append(({"train_size": size, "dropout": p},
                         {"gap": [gap, gap + 0.01, gap - 0.01],
                          "test_accuracy": [acc, acc + 0.01, acc - 0.01],
                          "train_accuracy": [acc + gap] * 3}))
    c = C.claim_gap(run_of(T3=table(("train_size", "dropout"), rows)))
    assert c.tables == ["T3"]
    assert {ch.condition: ch.verdict for ch in c.checks} == {
        "train size 500: gap": C.HOLDS, "train size 500: test acc": C.HOLDS,
        "train size 16000: gap": C.UNCLEAR, "train size 16000: test acc": C.UNCLEAR}
    assert c.verdict == C.DEPENDS and c.summary.startswith("holds for train size 500: gap")


def test_variants_scored_by_gain_over_their_own_model():
    def acc(m):
        return [m - 0.005, m, m + 0.005]
    rows = [({"model": "mlp", "variant": "none", "dropout": 0.0}, {"test_accuracy": acc(.60)}),
            ({"model": "mlp", "variant": "inverted", "dropout": 0.3},
             {"test_accuracy": acc(.65)}),
            ({"model": "cnn", "variant": "none", "dropout": 0.0}, {"test_accuracy": acc(.90)}),
            ({"model": "cnn", "variant": "spatial", "dropout": 0.3},
             {"test_accuracy": acc(.99)}),
            ({"model": "selu_mlp", "variant": "none", "dropout": 0.0},
             {"test_accuracy": acc(.50)}),
            ({"model": "selu_mlp", "variant": "alpha", "dropout": 0.1},
             {"test_accuracy": acc(.48)})]
    c = C.claim_variants(run_of(T4=table(("model", "variant", "dropout"), rows)))
    # spatial's absolute accuracy is the CNN's; its gain (+9 pp) is what is compared
    assert {ch.condition: ch.verdict for ch in c.checks} == {
        "spatial vs inverted (mlp)": C.HOLDS, "spatial vs alpha (selu_mlp)": C.HOLDS,
        "alpha vs inverted (mlp)": C.HOLDS, "alpha vs spatial (cnn)": C.HOLDS}
    assert c.verdict == C.HOLDS
    gains = {r[0]: r[5] for r in c.rows}
    assert gains["spatial"].startswith("+9.0") and gains["alpha"].startswith("-2.0")


def test_regularisers_architectures_parameters_inference():
    reg = table(("regulariser",), [
        ({"regulariser": "none"}, {"test_accuracy": [0.6, 0.61, 0.62]}),
        ({"regulariser": "L1"}, {"test_accuracy": [0.70, 0.71, 0.72]}),
        ({"regulariser": "L2"}, {"test_accuracy": [0.5, 0.55, 0.6]}),
        ({"regulariser": "dropout"}, {"test_accuracy": [0.66, 0.67, 0.68]})])
    c = C.claim_regularisers(run_of(T5=reg))
    assert {ch.condition: ch.verdict for ch in c.checks} == {
        "dropout vs L1": C.FAILS, "dropout vs L2": C.HOLDS}
    assert c.verdict == C.DEPENDS
    arch = table(("model", "dropout", "variant"), [
        ({"model": m, "dropout": p, "variant": v}, {"test_accuracy": [a, a + .01, a + .02]})
        for m, p, v, a in (("mlp", 0.0, "none", 0.6), ("mlp", 0.3, "inverted", 0.7),
                           ("gru", 0.0, "none", 0.8), ("gru", 0.3, "variational", 0.7))])
    c = C.claim_architectures(run_of(T6=arch))
    assert c.summary == "holds for mlp (FCN); does not hold for gru (RNN)"
    params = table(("model", "dropout"), [
        ({"model": "mlp", "dropout": p}, {"parameters": [15210] * 3, "units": [200] * 3,
                                          "active_units": [200 * (1 - p)] * 3})
        for p in (0.0, 0.5, 0.9)])
    c = C.claim_parameters(run_of(T7=params))
    assert c.verdict == C.FAILS and "15,210 parameters at p = 0.9, 15,210 at p = 0" in \
        c.checks[0].why
    mc = table(("mc_samples",), [
        ({"mc_samples": 1}, {"mc_accuracy": [0.80, 0.81, 0.80], "test_accuracy":
                             [0.90, 0.91, 0.90], "mc_nll": [0.5] * 3, "test_loss": [0.3] * 3}),
        ({"mc_samples": 50}, {"mc_accuracy": [0.90, 0.91, 0.90], "test_accuracy":
                              [0.90, 0.91, 0.90], "mc_nll": [0.25, 0.26, 0.25],
                              "test_loss": [0.30, 0.31, 0.30]})])
    c = C.claim_inference(run_of(T8=mc))
    assert {ch.condition: ch.verdict for ch in c.checks} == {"T=1": C.HOLDS,
                                                            "T=50": C.FAILS}
    assert c.verdict == C.DEPENDS and "MC dropout has the lower NLL" in c.checks[1].why


def test_every_claim_reports_missing_tables():
    for claim in C.check_all(run_of()):
        assert claim.verdict == C.MISSING and "in this run" in claim.summary
        assert claim.rule and claim.quote
