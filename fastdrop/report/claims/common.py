"""What every claim shares: the Claim record, reading table rows, choosing an arm on the
validation split, and a check made from a paired comparison."""

from __future__ import annotations

import dataclasses

from .. import diff as D
from .verdicts import MISSING, UNCLEAR, Check, combine, decide


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
    flags: list[str] = dataclasses.field(default_factory=list)  # collapsed runs, fallbacks
    verdict: str = MISSING
    summary: str = ""

    def __post_init__(self):
        decide(self.checks)
        self.verdict, self.summary = combine(self.checks)

    @property
    def unmeasured(self) -> list[Check]:
        """Checks the run could not make (while others were made)."""
        if self.verdict == MISSING:
            return []
        return [c for c in self.checks if c.verdict == MISSING]

    @property
    def headline(self) -> str:
        """The verdict, with "partly measured" when some of the claim could not be tested."""
        return self.verdict + (" (partly measured)" if self.unmeasured else "")


def missing(key, text, quote, article, rule, tables, why) -> Claim:
    return Claim(key, text, quote, article, [], [], [Check("-", MISSING, why)], rule, tables)


def rows_of(table: dict, **labels) -> list[dict]:
    return [r for r in table["rows"]
            if all(r["labels"].get(k) == v for k, v in labels.items())]


def distinct(table: dict, axis: str) -> list:
    out = []
    for r in table["rows"]:
        v = r["labels"].get(axis)
        if v is not None and v not in out:
            out.append(v)
    return out


def choose(run, rows: list[dict], flags: list[str]) -> dict | None:
    """The row with the highest mean validation accuracy (the arm a practitioner would
    pick without looking at the test set). Without a validation split, the highest test
    accuracy, flagged as optimistic."""
    scored = [(D.mean_of(run, r, "val_accuracy"), r) for r in rows]
    scored = [(v, r) for v, r in scored if v is not None]
    if not scored:
        scored = [(D.mean_of(run, r, "test_accuracy"), r) for r in rows]
        scored = [(v, r) for v, r in scored if v is not None]
        note = ("no validation split in this run: arms were chosen on test accuracy "
                "(optimistic)")
        if scored and note not in flags:
            flags.append(note)
    if not scored:
        return None
    return max(scored, key=lambda vr: vr[0])[1]


def flag_collapsed(run, table: dict, name: str, flags: list[str]) -> None:
    """One line per row with collapsed runs (left out of every comparison)."""
    for r in table["rows"]:
        seeds = D.collapsed_seeds(run, r)
        if seeds:
            lab = ", ".join(f"{k} {v}" for k, v in r["labels"].items())
            flags.append(f"{name} {lab}: {len(seeds)} of {len(r.get('tasks', []))} runs "
                         "collapsed (one class predicted for >= 90% of the test set); left "
                         "out of every comparison")


def paired_check(run, cond: str, a: dict | None, b: dict | None, key: str,
                 claimed: int, label: str = "", key_b: str | None = None) -> Check:
    """A check of a - b on `key` (b's `key_b`), paired by seed; `claimed` is the sign the
    claim asserts (its verdict is set by verdicts.decide with the claim's other checks)."""
    if a is None or b is None:
        return Check(cond, MISSING, f"{cond}: not measured")
    d = D.pair(run, a, b, key, key_b)
    if d is None:
        return Check(cond, MISSING, f"{cond}: no seed with both runs usable (failed or "
                     "collapsed)")
    eff = D.fmt_diff(d, key)
    side = "above" if claimed > 0 else "below"
    text = (f"{cond}: {label or D.NAMES.get(key, key)} difference {eff} over {d.n} seeds "
            f"(claimed {side} 0; margin ± {_margin(key)})")
    return Check(cond, UNCLEAR, text, test=d, claimed=claimed, effect=eff)


def _margin(key: str) -> str:
    m, _, scale, unit = D.MEASURES[key]
    return f"{m * scale:g} {unit}".strip()
