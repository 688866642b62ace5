"""Differences of means between table cells, with a 95% confidence interval (Welch).

A table cell is a summary {n, mean, sd, ci} over seeds (fastdrop.results.stats.summary).
Two cells of different grid points are independent runs, so the difference of their
means has standard error sqrt(sd_a^2/n_a + sd_b^2/n_b) and Welch-Satterthwaite degrees of
freedom; `combo` does the same for any linear combination (a gain over a baseline, the
difference of two gains).

    d = difference(a, b)        # {"mean", "ci", "df"}: a - b, 95% CI half-width
    direction(d)                # +1 a > b, -1 a < b, 0 the CI contains 0, None unknown
"""

from __future__ import annotations

import math

from ..results.stats import t_quantile

CONFIDENCE = 0.95


def usable(s) -> bool:
    return bool(s) and s.get("mean") is not None and s.get("n", 0) >= 1


def combo(terms) -> dict | None:
    """sum(coef * mean) of (coef, summary) terms with its CI half-width; ci is None when a
    term has fewer than two values (no spread to go on). None when a term is absent."""
    terms = list(terms)
    if not terms or not all(usable(s) for _, s in terms):
        return None
    mean = sum(c * s["mean"] for c, s in terms)
    if any(s["n"] < 2 or s.get("sd") is None for _, s in terms):
        return {"mean": mean, "ci": None, "df": None}
    parts = [c * c * s["sd"] ** 2 / s["n"] for c, s in terms]
    var = sum(parts)
    if var == 0.0:
        return {"mean": mean, "ci": 0.0, "df": math.inf}
    df = var * var / sum(p * p / (s["n"] - 1) for p, (_, s) in zip(parts, terms, strict=True)
                         if p > 0)
    return {"mean": mean, "ci": t_quantile(0.5 + CONFIDENCE / 2, df) * math.sqrt(var),
            "df": df}


def difference(a, b) -> dict | None:
    """a - b (two summaries) with the 95% CI of the difference (Welch)."""
    return combo([(1.0, a), (-1.0, b)])


def direction(d) -> int | None:
    """+1 when the CI lies above 0, -1 below, 0 when it contains 0; None when unknown."""
    if d is None or d.get("ci") is None:
        return None
    if d["mean"] - d["ci"] > 0:
        return 1
    if d["mean"] + d["ci"] < 0:
        return -1
    return 0


def overlap(a, b) -> bool | None:
    """Whether the 95% CIs of two summaries overlap (None when either has none)."""
    if not usable(a) or not usable(b) or a.get("ci") is None or b.get("ci") is None:
        return None
    return a["mean"] - a["ci"] <= b["mean"] + b["ci"] and b["mean"] - b["ci"] <= a["mean"] \
        + a["ci"]
