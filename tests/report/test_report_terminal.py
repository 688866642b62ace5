"""The terminal report of fixture runs, rendered into a StringIO console."""

import json

import pytest
from report_helpers import FIXTURES, console, render_text

from fastdrop.report import format as F
from fastdrop.report.load import load_run
from fastdrop.report.terminal import render_run


@pytest.fixture(scope="module")
def full_text():
    return render_text(FIXTURES / "full")


def test_header_names_the_machine_and_the_run(full_text):
    assert "fastdrop report" in full_text
    assert "CPU: AMD EPYC (2 cores, 2 threads), memory 23.5 GiB, GPU: none" in full_text
    assert "numpy 2.4.6, numba 0.68.1, pyperf 2.11.0, torch 2.13.0+cpu" in full_text
    assert "profile tiny: 2 seeds, 40 steps per run" in full_text
    assert "tasks: 66 ok, 0 failed, 0 not run, of 66" in full_text
    assert "INCOMPLETE" not in full_text and "missing or wrong" not in full_text


def test_every_table_with_units_and_cis(full_text):
    for heading in ("T1  accuracy vs rate", "T2  training cost vs rate", "T4  variants",
                    "T5  regularisers", "T7  parameters vs active units",
                    "T8  Monte Carlo dropout"):
        assert heading in full_text
    assert "test acc (%)" in full_text and "gap (pp)" in full_text
    assert "MC NLL (nats)" in full_text
    assert "mean ± half-width of the 95% CI over seeds (Student t)" in full_text
    # T1, MLP at p = 0: 27.5 ± 21.0 (results.json: mean 0.275, ci 0.2096...)
    t1 = load_run(FIXTURES / "full").tables["T1"]
    v = t1["rows"][0]["values"]["test_accuracy"]
    assert f"{100 * v['mean']:.1f} ± {100 * v['ci']:.1f}" in full_text
    assert "350 us (spread 18%)" in full_text  # T2: pyperf's median time per step


def test_best_value_per_column_is_marked(full_text):
    line = next(ln for ln in full_text.splitlines() if "│ mlp   │ 0.5 │" in ln and "%" not in ln
                and "74.2" in ln)
    assert "27.6 ± 20.3 *" in line  # the MLP's best test accuracy in T1
    run = load_run(FIXTURES / "full")
    best = F.best_cells(run.tables["T1"])
    rows = run.tables["T1"]["rows"]
    # per model: the highest mean test accuracy; train accuracy is never "best"
    for model in ("mlp", "cnn"):
        mine = [i for i, r in enumerate(rows) if r["labels"]["model"] == model]
        top = max(mine, key=lambda i: rows[i]["values"]["test_accuracy"]["mean"])
        assert (top, 1) in best
    assert not any(j == 0 for _, j in best)


def test_notes_under_tables(full_text):
    assert "target test accuracy: mlp 20%" in full_text
    assert "standard - inverted (model=mlp, dropout=0.3), test_accuracy, paired by seed" in \
        full_text


def test_claims_have_verdicts_figures_and_rules(full_text):
    assert "Claims of the article, checked" in full_text
    assert "Claim 7. Dropout reduces the number of trainable parameters.  does not hold" in \
        full_text
    assert "does not hold: mlp: 15,210 parameters at p = 0.9, 15,210 at p = 0" in full_text
    assert "article figures: trainable parameters (millions) by dropout rate: 0%: 15.2" in \
        full_text
    assert "article figures: accuracy by dropout rate: 0%: 92.3%, 30%: 94.1%" in full_text
    assert full_text.count("rule: ") == 6  # the claims this run has tables for
    assert "Not measured in this run: claim 4" in full_text  # no spatial, no alpha
    assert "claim 6 (T6 (architectures) is not in this run)" in full_text


def test_partial_run_marks_what_is_missing():
    text = render_text(FIXTURES / "partial")
    assert "[INCOMPLETE]" in text
    assert "20 of 30 tasks have not run (resume with: fastdrop bench --resume" in text
    assert "not run yet: 3 of 5 rows (shown as -)" in text  # T4: three variants not run
    assert "T4 is incomplete" in text
    line = next(ln for ln in text.splitlines() if "gaussian" in ln and "│" in ln)
    assert "-  [0/2 runs]" in line


def test_failed_tasks_are_named_with_their_error():
    text = render_text(FIXTURES / "failed")
    rec = next(r for r in json.loads((FIXTURES / "failed" / "results.json").read_text())
               ["records"] if r["status"] != "ok")
    assert f"tasks/{rec['id']}.json: task failed (TF): diverged" in text
    assert "2 of 14 tasks failed" in text
    assert "failed (model=mlp): diverged: training diverged" in text
    assert "TF is incomplete" in text
    assert "machine: not recorded (manifest.json has no machine)" in text


def test_run_without_results_json_is_rebuilt_from_its_tasks():
    text = render_text(FIXTURES / "no-results")
    assert "results.json: missing (the run stopped before it consolidated); tables rebuilt " \
           "from plan.json and 10 task records" in text
    rebuilt = load_run(FIXTURES / "no-results").tables
    same = load_run(FIXTURES / "partial").tables  # the same run, consolidated by the harness
    assert rebuilt["T1"]["rows"] == same["T1"]["rows"]


def test_kernel_runs():
    text = render_text(FIXTURES / "k1")
    assert "K1  kernels" in text and "fastdrop forward" in text and "ceiling scale" in text
    assert "kernels: CPU vs GPU vs PyTorch" in text
    assert "GPU: no reports/gpu/*.json" in text
    legacy = render_text(FIXTURES / "kernels-only")  # `bench kernels` before results.json
    assert "torch native_dropout_backward" in legacy and "CPU torch" in legacy
    # the fastest forward and backward at 2^12, p = 0.5 (here numpy's, on a tiny array),
    # best of pyperf's values (the median rate beside it)
    fwd = next(ln for ln in legacy.splitlines() if "│ numpy forward" in ln)
    assert "0.243 *" in fwd and "2.18 *" in fwd and "0.199" in fwd
    # that run's ceiling (a parallel launch on a busy machine, 2^12) was slower than numpy:
    # a share above 1 is a measurement fault, never a result
    assert "FAULT (" in fwd and "Measurement faults:" in legacy
    assert "* = the fastest implementation of that pass" in legacy
    assert "Not measured in this run: claim 1" in legacy


def test_terminal_order_findings_first_kernels_last(full_text):
    """Key findings and the claims at a glance before the training tables; the claims in
    full after them (the k1 fixture: the kernel table after every training table)."""
    marks = ("Key findings", "The article's claims at a glance", "T1  accuracy vs rate",
             "Claims of the article, checked")
    at = [full_text.find(m) for m in marks]
    assert all(i >= 0 for i in at) and at == sorted(at), list(zip(marks, at, strict=True))
    assert "Without dropout, beside the published MNIST-1D figures" in full_text
    # the training tables of one fixture with the kernel rows of another
    run = load_run(FIXTURES / "full")
    run.kernel_rows = load_run(FIXTURES / "k1").kernel_rows
    c = console()
    render_run(run, c)
    text = c.file.getvalue()
    assert text.find("Claims of the article, checked") < text.find("K1  kernels")
    assert text.find("T8  Monte Carlo dropout") < text.find("K1  kernels")
