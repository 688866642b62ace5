"""The article's claims (/work/shared/source-article.txt, "Deep Learning Dropout"), tested
against a run: each claim is broken into checks (a model, a training-set size, a number of
Monte Carlo samples...), each check a comparison of two arms paired by seed with the
direction the claim asserts; claims.verdicts holds the vocabulary and every rule
(docs/REPORTS.md gives them too). Nothing is decided in advance: every verdict is computed
from the run. The article's own figures (its dataset is unstated) are shown beside ours;
they take no part in the verdicts.

    claims = check_all(run)           # one Claim per claim of the article, in its order
    verdict_lines(claims[0])          # the verdict, one line per check, the rule
"""

from __future__ import annotations

from .accuracy import claim_architectures, claim_gap, claim_rate, claim_regularisers
from .common import Claim
from .other import claim_inference, claim_parameters, claim_time, claim_variants
from .verdicts import EQUIV, FAILS, HOLDS, MISSING, MIXED, UNCLEAR, VERDICTS, Check

__all__ = ["CLAIMS", "EQUIV", "FAILS", "HOLDS", "MISSING", "MIXED", "UNCLEAR", "VERDICTS",
           "Check", "Claim", "check_all", "check_lines", "missing_line", "split",
           "verdict_line", "verdict_lines"]

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
    """One line for the claims this run cannot test (None when it tests them all)."""
    _, missing = split(claims)
    if not missing:
        return None
    return "Not measured in this run: " + "; ".join(
        f"claim {k} ({c.summary})" for k, c in missing)


def verdict_line(claim: Claim) -> str:
    """"verdict: ... (the checks by outcome, with effect sizes)" and what was not measured."""
    text = f"verdict: {claim.verdict} ({claim.summary})"
    if claim.unmeasured:
        text += "; not measured: " + ", ".join(c.condition for c in claim.unmeasured)
    return text


def check_lines(claim: Claim) -> list[str]:
    """One line per check made: "<verdict>: <the numbers>", then the claim's flags."""
    lines = [f"{c.verdict}: {c.why}" for c in claim.checks
             if c.verdict != MISSING or claim.verdict == MISSING]
    return lines + [f"flag: {f}" for f in claim.flags]


def verdict_lines(claim: Claim) -> list[str]:
    """The verdict, one line per check, and the rule: the text every renderer prints."""
    return [verdict_line(claim), *(f"  {line}" for line in check_lines(claim)),
            f"rule: {claim.rule}"]
