"""`fastdrop compare`: every timing and accuracy of two runs, pyperf's significance for
timings, CI overlap for accuracies, exit code 1 on a regression beyond the threshold."""

import json

import pytest
from report_helpers import FIXTURES, console

from fastdrop.cli import main
from fastdrop.report import compare
from fastdrop.report.load import load_run


def slow_down(run, factor: float) -> None:
    """Multiply every pyperf value of the run's train-timing.json (a test input)."""
    path = run / "train-timing.json"
    suite = json.loads(path.read_text())
    for bench in suite["benchmarks"]:
        for r in bench["runs"]:
            if "values" in r:
                r["values"] = [v * factor for v in r["values"]]
    path.write_text(json.dumps(suite))


def lower_accuracy(run, table: str, row: int, mean: float) -> None:
    path = run / "results.json"
    res = json.loads(path.read_text())
    v = res["tables"][table]["rows"][row]["values"]["test_accuracy"]
    v.update(mean=mean, ci=0.01, sd=0.001)
    path.write_text(json.dumps(res))


def test_a_run_against_itself_has_no_regression(capsys):
    assert main(["compare", str(FIXTURES / "full"), str(FIXTURES / "full")]) == 0
    out = capsys.readouterr().out
    assert "timings: A -> B" in out and "T1: A -> B" in out
    assert "train step mlp p=0.5 inverted" in out
    assert "no regression beyond 5%" in out


def test_slower_timing_is_a_regression(fixture_copy, capsys):
    b = fixture_copy("full")
    slow_down(b, 2.0)
    assert main(["compare", str(FIXTURES / "full"), str(b)]) == 1
    out = capsys.readouterr().out
    assert "2.00x slower" in out and "REGRESSED" in out
    assert "2 regression(s) beyond 5%: train step mlp no dropout (2.00x slower)" in out
    # the same change below the threshold is not one (pyperf's --min-speed)
    assert main(["compare", str(FIXTURES / "full"), str(b), "--threshold", "150%"]) == 0


def test_lower_accuracy_with_separate_cis_is_a_regression(fixture_copy):
    b = fixture_copy("partial")
    a = load_run(FIXTURES / "partial")
    lower_accuracy(b, "T1", 2, 0.02)  # cnn, p = 0: far below A's CI
    cmp = compare.compare_runs(a, load_run(b), 0.05)
    (reg,) = cmp.regressions
    assert (reg.section, reg.what, reg.metric) == ("T1", "cnn, p=0", "test acc")
    assert reg.status == "lower" and reg.test == "CIs apart"
    c = console(200)
    compare.render(c, cmp)
    text = c.file.getvalue()
    assert "lower REGRESSED" in text and "1 regression(s) beyond 5%" in text
    # inside A's CI: the same, not a regression
    lower_accuracy(b, "T1", 2, a.tables["T1"]["rows"][2]["values"]["test_accuracy"]["mean"]
                   - 0.05)
    assert not compare.compare_runs(a, load_run(b), 0.05).regressions


def test_rows_only_in_one_run_and_different_runs_noted():
    cmp = compare.compare_runs(load_run(FIXTURES / "full"), load_run(FIXTURES / "partial"),
                               0.05)
    assert "T2 only in A" in cmp.notes and "different profiles" not in " ".join(cmp.notes)
    assert any(i.status == "only in A" and i.section == "timings" for i in cmp.items)


@pytest.mark.parametrize("text,value", [("5%", 0.05), ("2.5", 0.025), ("0", 0.0)])
def test_threshold(text, value):
    assert compare.parse_threshold(text) == pytest.approx(value)


def test_bad_threshold_and_bad_run(capsys, tmp_path):
    assert main(["compare", str(FIXTURES / "full"), str(FIXTURES / "full"),
                 "--threshold=-1%"]) == 2
    assert "--threshold must be a percentage >= 0" in capsys.readouterr().err
    assert main(["compare", str(FIXTURES / "full"), str(tmp_path / "gone")]) == 2
    assert "gone: no such run folder" in capsys.readouterr().err
