"""Statistics over seeds and over pyperf values, in plain Python (scipy is not a dependency).

- `summary(values)`: n, mean, sample standard deviation and the half-width of the 95%
  confidence interval of the mean (Student t with n - 1 degrees of freedom).
- `t_quantile(q, df)`: the Student t quantile, by bisection on the t distribution's CDF,
  which is the regularised incomplete beta function (continued fraction, Lentz's method).
- `timing(values)`: median and spread of pyperf's values (the kernel table's convention).
- `steps_to_target(history, target)`: the first evaluation that reached the target.
"""

from __future__ import annotations

import math
import statistics

CONFIDENCE = 0.95


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with df degrees of freedom."""
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The t such that P(T <= t) = q (e.g. q = 0.975 for a two-sided 95% interval)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:  # bracket: the t quantile grows without bound as df -> 0
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def summary(values, confidence: float = CONFIDENCE) -> dict:
    """n, mean, sd (n - 1 in the denominator) and ci (half-width of the confidence
    interval of the mean, Student t). Values that are None are left out; sd and ci are
    None below two values."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    out = {"n": n, "mean": None, "sd": None, "ci": None}
    if n == 0:
        return out
    out["mean"] = statistics.fmean(xs)
    if n >= 2:
        sd = statistics.stdev(xs)
        out["sd"] = sd
        out["ci"] = t_quantile(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)
    return out


def timing(values) -> dict:
    """Median, spread ((max - min) / median) and count of pyperf's values (seconds)."""
    xs = sorted(float(v) for v in values)
    if not xs:
        return {"n": 0, "median": None, "spread": None, "min": None, "max": None}
    med = statistics.median(xs)
    return {"n": len(xs), "median": med, "spread": (xs[-1] - xs[0]) / med if med else None,
            "min": xs[0], "max": xs[-1]}


def steps_to_target(history, target: float, key: str = "test_accuracy"):
    """(step, time_s) of the first evaluation with history[key] >= target, else None."""
    for entry in history or ():
        value = entry.get(key)
        if value is not None and value >= target:
            return entry["step"], entry.get("time_s")
    return None
