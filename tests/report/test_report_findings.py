"""Key findings on synthetic records with known effects (tests/report/synthetic.py)."""

import pytest
from synthetic import synthetic_run

from fastdrop.report.findings import key_findings
from fastdrop.report.load import Run


def _peak(cfg):
    # test and validation accuracy peak at p = 0.3 (+3 pp); the CNN is best before its
    # classifier (+1 pp more); dropout costs 20% per step
    acc = 0.03 - 0.1 * abs(cfg["dropout"] - 0.3)
    if cfg["model"] == "cnn" and cfg["dropout_at"] == "head":
        acc += 0.01
    return {"acc": acc, "nll": -0.2, "ece": -0.03, "time": 0.2}


def num(cell: str) -> float:
    """The leading number of a cell ("+2.9 ± 0.3 pp" -> 2.9)."""
    return float(cell.split()[0].rstrip("%"))


def test_recommended_rate_cost_placement_and_anchors():
    fs = {f.key: f for f in key_findings(synthetic_run(_peak))}
    rec = {r[0]: r for r in fs["recommended"].rows}
    assert rec["MLP"][1] == "p = 0.3" and num(rec["MLP"][4]) == pytest.approx(3.0, abs=0.5)
    assert rec["CNN"][1] == "p = 0.3, before the classifier"
    assert num(rec["CNN"][4]) == pytest.approx(4.0, abs=0.5)
    assert num(rec["CNN"][5]) == pytest.approx(-0.2, abs=0.01)  # NLL, nats
    assert num(rec["CNN"][6]) == pytest.approx(-3.0, abs=0.5)  # ECE, pp
    assert rec["MLP"][3].endswith("(test set ± 2.9)")  # the binomial half-width beside
    cost = {r[0]: r for r in fs["cost"].rows}
    assert cost["MLP"][1] == "p = 0.3" and num(cost["MLP"][2]) == pytest.approx(20.0)
    note = fs["placement"].notes[0]
    assert note.startswith("before the classifier minus every hidden layer: +")
    assert num(note.split(": ")[1]) == pytest.approx(1.0, abs=0.5)
    anchors = {r[0]: r for r in fs["published"].rows}
    assert anchors["CNN"][2:] == ["94%", "92.3%"] and anchors["GRU"][2:] == ["91%", "89.1%"]


def test_no_findings_without_tables():
    assert key_findings(Run(path=".", results={"tables": {}}, manifest={})) == []


def test_step_change_reads_t2_interleaved_ratio_before_pyperf():
    """Claim 2 and the cost finding use T2's interleaved cost ratio where the run has it:
    against p = 0 the ratio itself, between two dropping arms the ratio of ratios (delta
    method CI); a row without a cost ratio falls back to pyperf's values (none here)."""
    from fastdrop.report.claims.other import step_change

    def row(p, mean=None, ci=None):
        values = {} if mean is None else {"cost_ratio": {"n": 20, "mean": mean, "sd": 0.0,
                                                         "ci": ci}}
        return {"labels": {"dropout": p}, "values": values, "runs": []}

    class NoRecords:
        records = {}

    r, h, how = step_change(NoRecords(), row(0.5, 1.2, 0.02), row(0.0))
    assert (round(r, 12), round(h, 12), how) == (0.2, 0.02, "interleaved CPU time")
    r, h, _ = step_change(NoRecords(), row(0.9, 1.32, 0.03), row(0.5, 1.2, 0.02))
    assert abs(r - 0.1) < 1e-12
    assert abs(h - 1.1 * ((0.03 / 1.32) ** 2 + (0.02 / 1.2) ** 2) ** 0.5) < 1e-12
    assert step_change(NoRecords(), row(0.5), row(0.0)) is None
