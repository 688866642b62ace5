"""The verdict vocabulary and its rules: how a paired comparison becomes a check's
verdict, and how a claim's checks become the claim's verdict (docs/REPORTS.md).

A check compares two arms on one measure, seed by seed (fastdrop.report.diff.pair), with
the direction the claim asserts. Within a claim, Holm's correction is applied to the
checks' p values (the difference tests and, separately, the equivalence tests), then:

    equivalent      TOST rejects |difference| >= margin (Holm): no practically relevant
                    difference, whatever the sign
    holds           else the paired t test rejects 0 (Holm) in the claimed direction
    does not hold   else the paired t test rejects 0 (Holm) against it
    inconclusive    neither (or fewer than 2 paired seeds)

A claim's verdict from its measured checks (H holds, F does not hold, E equivalent):

    not measured    no check could be made (the tables are not in the run)
    holds           every check holds
    equivalent      every check is equivalent
    mixed           some hold, and some do not hold or are equivalent
    does not hold   none holds and at least one does not hold
    inconclusive    anything else (e.g. some hold and the rest are inconclusive)
"""

from __future__ import annotations

import dataclasses

from ...results.inference import ALPHA, holm

HOLDS, FAILS, EQUIV, MIXED, UNCLEAR, MISSING = ("holds", "does not hold", "equivalent",
                                                "mixed", "inconclusive", "not measured")
VERDICTS = (HOLDS, FAILS, EQUIV, MIXED, UNCLEAR, MISSING)


@dataclasses.dataclass
class Check:
    condition: str  # where it was tested: "mlp", "train size 500, NLL", "T=50 AUROC"...
    verdict: str
    why: str  # the numbers behind the verdict
    test: object = None  # fastdrop.results.inference.Paired (or a sign-test stand-in)
    claimed: int = 0  # +1: the claim says the difference (a - b) is positive; -1 negative
    fixed: bool = False  # the verdict is set by the claim's own rule, not by decide()
    effect: str = ""  # the effect size with its 95% CI, e.g. "+1.9 ± 1.4 pp"


def measured(checks) -> list[Check]:
    return [c for c in checks if c.verdict != MISSING]


def decide(checks: list[Check]) -> list[Check]:
    """Set each test-based check's verdict, Holm-adjusting p within the list (a claim)."""
    tested = [c for c in checks if c.test is not None and not c.fixed]
    p_diff = holm([c.test.p for c in tested])
    p_eq = holm([c.test.p_equiv for c in tested])
    for c, pd, pe in zip(tested, p_diff, p_eq, strict=True):
        t = c.test
        if t.n < 2 or pd is None:
            c.verdict = UNCLEAR
            c.why += f" [{t.n} paired seed{'s' if t.n != 1 else ''}: no test]"
            continue
        sign = (t.mean > 0) - (t.mean < 0)
        if pe is not None and pe < ALPHA:
            c.verdict = EQUIV
        elif pd < ALPHA and sign == c.claimed:
            c.verdict = HOLDS
        elif pd < ALPHA:
            c.verdict = FAILS
        else:
            c.verdict = UNCLEAR
        c.why += f" [p = {_p(pd)}, equivalence p = {_p(pe)}, Holm]"
    return checks


def _p(p) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def combine(checks: list[Check]) -> tuple[str, str]:
    """The claim's verdict by the rules above, and one line naming each outcome's
    conditions with their effect sizes."""
    known = measured(checks)
    if not known:
        return MISSING, "; ".join(c.why for c in checks if c.why) or "no data"
    kinds = {c.verdict for c in known}
    if kinds == {HOLDS}:
        verdict = HOLDS
    elif kinds == {EQUIV}:
        verdict = EQUIV
    elif HOLDS in kinds and kinds & {FAILS, EQUIV}:
        verdict = MIXED
    elif FAILS in kinds and HOLDS not in kinds:
        verdict = FAILS
    else:
        verdict = UNCLEAR
    parts = [f"{k}: {', '.join(_named(c) for c in known if c.verdict == k)}"
             for k in (HOLDS, FAILS, EQUIV, UNCLEAR) if k in kinds]
    return verdict, "; ".join(parts)


def _named(c: Check) -> str:
    return f"{c.condition} ({c.effect})" if c.effect else c.condition
