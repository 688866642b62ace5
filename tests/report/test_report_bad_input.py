"""Bad run folders: a clear message naming the file and what is wrong; what can still be
reported is, with the fault marked."""

import json

import pytest
from report_helpers import FIXTURES, console, render_text

from fastdrop.cli import main
from fastdrop.report.load import ReportError, latest_run, load_gpu, load_run


def test_missing_folder(tmp_path):
    with pytest.raises(ReportError, match="nope: no such run folder"):
        load_run(tmp_path / "nope")


def test_a_file_is_not_a_run_folder(tmp_path):
    f = tmp_path / "results.json"
    f.write_text("{}")
    with pytest.raises(ReportError, match="not a folder"):
        load_run(f)


def test_foreign_folder(tmp_path):
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(ReportError, match="not a fastdrop run folder"):
        load_run(tmp_path)


def test_foreign_results_file(fixture_copy):
    run = fixture_copy("partial")
    (run / "results.json").write_text(json.dumps({"schema": "someone.else/3", "tables": {}}))
    with pytest.raises(ReportError, match=r"results.json: schema 'someone.else/3', expected "
                       r"'fastdrop.bench.results/1': not a fastdrop results file"):
        load_run(run)
    (run / "results.json").write_text(json.dumps([1, 2, 3]))
    with pytest.raises(ReportError, match="results.json: no \"schema\" field"):
        load_run(run)


def test_newer_schema_says_update(fixture_copy):
    run = fixture_copy("partial")
    res = json.loads((run / "results.json").read_text())
    res["schema"] = "fastdrop.bench.results/2"
    (run / "results.json").write_text(json.dumps(res))
    with pytest.raises(ReportError, match=r"results.json: schema fastdrop.bench.results/2 is "
                       r"newer than this fastdrop reads .*update fastdrop"):
        load_run(run)


@pytest.mark.parametrize("cut", [0, 1, 200, -10])
def test_truncated_results(fixture_copy, cut):
    run = fixture_copy("partial")
    data = (run / "results.json").read_text()
    (run / "results.json").write_text(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(ReportError, match="results.json: (empty|truncated or corrupt JSON)"):
        load_run(run)


def test_table_missing_a_field(fixture_copy):
    run = fixture_copy("partial")
    res = json.loads((run / "results.json").read_text())
    del res["tables"]["T4"]["rows"][2]["values"]
    (run / "results.json").write_text(json.dumps(res))
    with pytest.raises(ReportError, match="results.json: table T4, row 3: missing 'values'"):
        load_run(run)


def test_missing_manifest_is_marked(fixture_copy):
    run = fixture_copy("partial")
    (run / "manifest.json").unlink()
    text = render_text(run)
    assert "machine: unknown (no readable manifest.json)" in text
    assert "manifest.json: no such file: the machine is unknown" in text
    assert "T1  accuracy vs rate" in text  # the rest is still reported


def test_damaged_kernels_json_is_marked(fixture_copy):
    run = fixture_copy("k1")
    (run / "kernels.json").write_text('{"version": "1.0", "benchmarks": [')
    # the problem line names the temporary folder, so where rich wraps it depends on the
    # path's length: compare with the wrapping undone
    text = " ".join(render_text(run).split())
    assert "kernels.json: not a readable pyperf result file" in text
    assert "K1 (kernels) not shown" in text


def test_cli_exit_code_and_message(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "--format", "term"]) == 2
    err = capsys.readouterr().err
    assert "fastdrop report:" in err and "no such run folder" in err
    assert main(["report", str(FIXTURES / "full"), "--format", "pdf"]) == 2
    assert "--format pdf: pdf is not a format; choose from term, md, html" in \
        capsys.readouterr().err


def test_terminal_render_returns_2_with_the_message(tmp_path):
    from fastdrop.report.command import render_and_write

    c = console()
    assert render_and_write(tmp_path / "nope", c, formats=("term",)) == 2
    assert "no such run folder" in c.file.getvalue()


def test_latest_run_skips_folders_that_are_not_runs(tmp_path):
    (tmp_path / "accuracy").mkdir()  # reports/runs holds other things too
    with pytest.raises(ReportError, match="no run folder with a results.json"):
        latest_run(tmp_path)
    for name in ("20261128-010101", "20261129-010101"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text("{}")
    assert latest_run(tmp_path).name == "20261129-010101"


def test_unreadable_gpu_files_are_noted_and_skipped(tmp_path):
    (tmp_path / "a.json").write_text("{")
    (tmp_path / "b.json").write_text(json.dumps({"schema": "fastdrop.gpu-bench/9"}))
    problems = []
    assert load_gpu(tmp_path, problems) is None
    assert any("a.json: truncated or corrupt JSON" in p for p in problems)
    assert any("b.json: schema fastdrop.gpu-bench/9 is newer" in p for p in problems)
    assert load_gpu(tmp_path / "absent") is None


def test_results_older_than_task_records_are_rebuilt(fixture_copy):
    import os
    import shutil

    run = fixture_copy("no-results")  # plan.json and tasks/ of the run "partial" consolidated
    shutil.copy(FIXTURES / "partial" / "results.json", run / "results.json")
    old = min(f.stat().st_mtime for f in (run / "tasks").iterdir()) - 60
    os.utime(run / "results.json", (old, old))
    text = render_text(run)
    assert "results.json: older than 10 task record(s) in tasks/" in text
    assert "T1  accuracy vs rate" in text
