"""Inference for the claims: paired differences, equivalence, Holm, the test set's binomial
uncertainty and an exact sign test (plain Python: scipy is not a dependency).

Every arm of the grid uses the same seeds, and a seed fixes the initial weights and the
batch order, so two arms are compared seed by seed: the t test is on the per-seed
differences d_i = a_i - b_i (n - 1 degrees of freedom).

    d = paired(a, b, margin=0.01)   # Paired: mean, sd, n, ci (95% half-width), p, p_equiv
    holm([0.01, 0.04, 0.03])        # Holm-adjusted p values, same order
    binomial_halfwidth(0.65, 1000)  # 95% half-width of an accuracy on 1000 test examples
    sign_test(9, 1)                 # exact two-sided p of 9 wins and 1 loss

Equivalence is the two one-sided tests (TOST, Schuirmann 1987): the difference is
practically nil when both H0: mean <= -margin and H0: mean >= +margin are rejected, i.e.
when the 90% CI of the mean difference lies inside (-margin, +margin). p_equiv is the
larger of the two one-sided p values.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from .stats import t_cdf, t_quantile

ALPHA = 0.05
Z975 = 1.959963984540054  # the standard normal's 97.5% quantile


@dataclasses.dataclass(frozen=True)
class Paired:
    """The mean of per-seed differences a - b with its tests."""

    n: int  # seeds with both values
    mean: float
    sd: float  # sample sd of the differences (0 when they are all equal)
    ci: float | None  # half-width of the 95% CI of the mean (None below 2 seeds)
    p: float | None  # two-sided p of H0: mean difference = 0
    p_equiv: float | None  # TOST p of H0: |mean difference| >= margin
    margin: float
    diffs: tuple[float, ...]


def _one_sided_p(t: float, df: int) -> float:
    """P(T >= t)."""
    return 1.0 - t_cdf(t, df)


def paired(a, b, margin: float) -> Paired | None:
    """Paired t test and TOST of a - b over the seeds where both are known (None in either
    drops that seed). None when no seed has both."""
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin!r}")
    if len(a) != len(b):
        raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
    d = tuple(float(x) - float(y) for x, y in zip(a, b, strict=True)
              if x is not None and y is not None)
    n = len(d)
    if n == 0:
        return None
    mean = statistics.fmean(d)
    if n < 2:
        return Paired(n, mean, 0.0, None, None, None, margin, d)
    sd = statistics.stdev(d)
    if sd == 0.0:  # every seed gives the same difference: it is known exactly
        p = 0.0 if mean != 0 else 1.0
        p_eq = 0.0 if abs(mean) < margin else 1.0
        return Paired(n, mean, 0.0, 0.0, p, p_eq, margin, d)
    se = sd / math.sqrt(n)
    df = n - 1
    t = mean / se
    p = min(1.0, 2.0 * _one_sided_p(abs(t), df))
    p_low = _one_sided_p((mean + margin) / se, df)  # H0: mean <= -margin
    p_high = _one_sided_p((margin - mean) / se, df)  # H0: mean >= +margin
    ci = t_quantile(1.0 - ALPHA / 2.0, df) * se
    return Paired(n, mean, sd, ci, p, max(p_low, p_high), margin, d)


def holm(pvalues) -> list[float | None]:
    """Holm's step-down adjustment (controls the family-wise error rate); None stays None."""
    known = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(known)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(known):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def binomial_halfwidth(accuracy: float, n: int) -> float:
    """95% half-width of an accuracy measured on n independent test examples (normal
    approximation of the binomial): the uncertainty of the test set itself, which no
    number of seeds removes."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n!r}")
    acc = min(1.0, max(0.0, float(accuracy)))
    return Z975 * math.sqrt(acc * (1.0 - acc) / n)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided p of the sign test (ties left out): P(as extreme | p = 1/2)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def welch_relative(a, b) -> tuple[float, float] | None:
    """(mean(a)/mean(b) - 1, 95% half-width) of two independent samples (timings: the
    values of two pyperf benchmarks are not paired), by the delta method on Welch's
    standard error. None when either has fewer than two values."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) < 2 or len(b) < 2:
        return None
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    r = ma / mb
    var = (va + r * r * vb) / (mb * mb)
    if var == 0.0:
        return r - 1.0, 0.0
    df = (va + r * r * vb) ** 2 / (va ** 2 / (len(a) - 1) + (r * r * vb) ** 2 / (len(b) - 1))
    return r - 1.0, t_quantile(1.0 - ALPHA / 2.0, df) * math.sqrt(var)
