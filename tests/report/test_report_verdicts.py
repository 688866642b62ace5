"""The claims on synthetic records with known effects (tests/report/synthetic.py): an exact
null, large effects either way, a mixed case and collapsed runs; and the verdict rules."""

import pytest
from synthetic import synthetic_run

from fastdrop.report import claims as C
from fastdrop.report.claims.verdicts import Check, combine, decide
from fastdrop.results.inference import paired

COMPARE_ARMS = ("rate", "time", "overfitting", "variants", "regularisers", "architectures",
                "inference")


@pytest.fixture(scope="module")
def null_claims():
    return {c.key: c for c in C.check_all(synthetic_run(noise=0.0))}


def test_exact_null_never_holds(null_claims):
    """Every dropout arm identical to the p = 0 arm of its seed: no claim that compares
    arms holds; with no difference at all they are equivalent."""
    for key in COMPARE_ARMS:
        c = null_claims[key]
        assert c.verdict in (C.EQUIV, C.UNCLEAR), (key, c.verdict, c.summary)
        assert all(ch.verdict != C.HOLDS for ch in c.checks), key
    assert null_claims["rate"].verdict == C.EQUIV
    assert null_claims["architectures"].verdict == C.EQUIV
    # parameters do not change with p: the exact counts say so
    assert null_claims["parameters"].verdict == C.FAILS


def test_noisy_null_never_holds():
    """A null with arm noise (1 pp sd, no effect): never "holds"."""
    for c in C.check_all(synthetic_run(noise=0.01)):
        if c.key in COMPARE_ARMS:
            assert c.verdict not in (C.HOLDS, C.MIXED), (c.key, c.summary)


def _helps(cfg):
    # a peak at p = 0.5: 2 pp above p = 0.3 and 0.7, 5 pp above no dropout
    e = {"acc": 0.05 - 0.1 * abs(cfg["dropout"] - 0.5), "val": 0.0, "nll": -0.3,
         "ece": -0.05, "time": 0.3,
         "steps": 200 if cfg["dropout"] >= 0.5 else 100,
         "mc_acc": -0.05, "mc_nll": 0.3, "mc_ece": 0.05, "mc_auroc": -0.05}
    if cfg["variant"] == "spatial":
        e["acc"] += 0.03
    if cfg["variant"] == "alpha":
        e["acc"] -= 0.03
    if cfg["dropout"] >= 0.7:  # longer still at high rates, and a bit more per step
        e["time"], e["steps"] = 0.6, 400
    return e


@pytest.fixture(scope="module")
def large_claims():
    return {c.key: c for c in C.check_all(synthetic_run(_helps))}


@pytest.mark.parametrize("key", ["rate", "time", "overfitting", "variants", "regularisers",
                                 "architectures", "inference"])
def test_large_effect_holds(large_claims, key):
    c = large_claims[key]
    assert c.verdict == C.HOLDS, (key, c.summary, [ch.why for ch in c.checks])
    assert "pp" in c.summary or "%" in c.summary or "steps" in c.summary  # effect sizes


def test_large_effect_against_the_claim_does_not_hold():
    def hurts(cfg):
        return {"acc": -0.05, "nll": 0.3, "ece": 0.05, "mc_acc": 0.05}

    got = {c.key: c for c in C.check_all(synthetic_run(hurts))}
    for key in ("overfitting", "regularisers", "architectures", "rate"):
        assert got[key].verdict == C.FAILS, (key, got[key].summary)
    # accuracy favours MC, the rest are equal: some fail, some equivalent
    assert got["inference"].verdict == C.FAILS


def test_mixed_case():
    """Dropout helps the MLP and hurts the CNN: claim 6 is mixed."""
    def effect(cfg):
        return {"acc": 0.05 if cfg["model"] != "cnn" else -0.05}

    c = next(c for c in C.check_all(synthetic_run(effect)) if c.key == "architectures")
    assert c.verdict == C.MIXED
    assert "holds: linear" in c.summary and "does not hold: cnn" in c.summary


def test_collapsed_runs_are_flagged_and_left_out():
    def collapse(cfg):
        return cfg["model"] == "cnn" and cfg["dropout"] == 0.9

    claims = {c.key: c for c in C.check_all(synthetic_run(_helps, collapse=collapse))}
    rate = claims["rate"]
    assert any("T1 model cnn" in f and "dropout 0.9" in f and "10 of 10 runs collapsed" in f
               for f in rate.flags), rate.flags
    cnn = next(ch for ch in rate.checks if ch.condition == "cnn (every hidden layer)")
    assert "vs 0.9" not in cnn.why  # no comparison with the collapsed arm
    assert cnn.verdict == C.HOLDS


def test_rules_of_combine_and_holm():
    def ch(v):
        return Check("x", v, "")

    assert combine([ch(C.HOLDS), ch(C.HOLDS)])[0] == C.HOLDS
    assert combine([ch(C.EQUIV)])[0] == C.EQUIV
    assert combine([ch(C.HOLDS), ch(C.FAILS)])[0] == C.MIXED
    assert combine([ch(C.HOLDS), ch(C.EQUIV)])[0] == C.MIXED
    assert combine([ch(C.FAILS), ch(C.UNCLEAR)])[0] == C.FAILS
    assert combine([ch(C.HOLDS), ch(C.UNCLEAR)])[0] == C.UNCLEAR
    assert combine([ch(C.MISSING)])[0] == C.MISSING
    # Holm: p = 0.03 alone is significant, among three such tests it is not
    d = [0.5, -0.1, 0.3, 0.8, -0.2, 0.6, 0.1, 0.9, 0.1, 0.2]
    t = paired(d, [0.0] * 10, margin=0.001)
    assert 0.05 / 3 < t.p < 0.05
    one = decide([Check("x", C.UNCLEAR, "", test=t, claimed=1)])
    assert one[0].verdict == C.HOLDS
    three = decide([Check(str(i), C.UNCLEAR, "", test=t, claimed=1) for i in range(3)])
    assert {c.verdict for c in three} == {C.UNCLEAR}


def test_runs_that_never_reach_the_target_are_censored_not_dropped():
    """At p >= 0.7 no run reaches the target (censored): the sign test still finds those
    runs slower, seed by seed, and the check says how many were censored."""
    def effect(cfg):
        return {"steps": 5000 if cfg["dropout"] >= 0.7 else 0}

    time = next(c for c in C.check_all(synthetic_run(effect)) if c.key == "time")
    high = [c for c in time.checks if "steps to target: 0.9 vs 0.5" in c.condition]
    assert high and all(c.verdict == C.HOLDS for c in high), [c.why for c in high]
    assert all("slower in 10, faster in 0 of 10 seeds" in c.why and "10 censored" in c.why
               for c in high)
    same = [c for c in time.checks if "steps to target: 0.5 vs 0" in c.condition]
    assert all(c.verdict == C.EQUIV for c in same)
