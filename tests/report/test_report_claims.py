"""Claims on hand-built tables (the helpers `table` and `run_of` are shared with the plot
tests) and on runs that lack tables; the verdict rules on synthetic records are in
test_report_verdicts.py."""

from pathlib import Path

from fastdrop.report import claims as C
from fastdrop.report.load import Run
from fastdrop.results.stats import summary


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


def test_every_claim_reports_missing_tables():
    for claim in C.check_all(run_of()):
        assert claim.verdict == C.MISSING and "in this run" in claim.summary
        assert claim.rule and claim.quote


def test_tables_without_records_are_not_compared():
    """A table from an older run (no per-seed records): nothing is paired, so no verdict
    is made up from the pooled means."""
    t1 = table(("model", "dropout"), [({"model": "mlp", "dropout": p}, {"test_accuracy": v})
                                      for p, v in ((0.0, [0.8, 0.81]), (0.5, [0.9, 0.91]))])
    claim = C.claim_rate(run_of(T1=t1))
    assert claim.verdict == C.MISSING
    assert "no seed with both runs usable" in " ".join(c.why for c in claim.checks) or \
        "p = 0.5" in claim.summary
