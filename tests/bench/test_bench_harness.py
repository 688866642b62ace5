"""The harness end to end on a tiny grid (tiny_cli.CATALOG): records, failures, results.json,
tables, resume after damage, the pyperf timing path, and the terminal summary."""

import io
import json
import shutil
import subprocess
import sys

import pyperf
import pytest
import tiny_cli
from rich.console import Console

from fastdrop.bench import grid as planner
from fastdrop.bench.command import BenchProgress
from fastdrop.bench.harness import Run
from fastdrop.exitcodes import EXIT_FAILED, EXIT_OK
from fastdrop.report.command import render_and_write
from fastdrop.results.folder import RunFolder, read_json
from fastdrop.results.schema import RESULTS_SCHEMA

NAMES = [s.name for s in tiny_cli.CATALOG]


def execute(folder, plan, jobs=2):
    console = Console(file=io.StringIO(), width=120)
    run = Run(folder, plan, console, jobs=jobs)
    notes = run.load_finished()
    code = run.execute(BenchProgress(console, plan, run.records, (0, 0)), ())
    return code, run, notes, console.file.getvalue()


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cache):
    mp = pytest.MonkeyPatch()
    mp.setenv("FASTDROP_CACHE", cache)  # workers inherit it
    folder = RunFolder.create(tmp_path_factory.mktemp("runs"))
    plan = planner.build(tiny_cli.TINY, NAMES, catalog=tiny_cli.CATALOG)
    folder.write_manifest({"schema": "fastdrop.manifest/1", "machine": {}, "versions": {}})
    folder.write_plan(plan)
    code, run, notes, out = execute(folder, plan)
    yield folder, plan, code, out
    mp.undo()


def test_every_task_recorded_and_failure_kept(finished):
    folder, plan, code, out = finished
    assert code == EXIT_FAILED  # the diverging suite
    recs = {t["id"]: read_json(folder.task_path(t["id"])) for t in plan["tasks"]}
    failed = [r for r in recs.values() if r["status"] != "ok"]
    assert len(failed) == 2 and all(r["config"]["lr"] == 1e6 for r in failed)
    assert all(r["error"].startswith("diverged: training diverged") for r in failed)
    assert "failed" in out and failed[0]["id"] in out
    ok = [r for r in recs.values() if r["kind"] == "train" and r["status"] == "ok"]
    for r in ok:
        assert r["seed"] == r["config"]["seed"] and r["config"]["threads"] == 1
        assert 0 <= r["metrics"]["test_accuracy"] <= 1 and r["history"]
        assert r["timing"]["step_time_ms"] > 0 and r["environment"]["threads"]["numba"] == 1


def test_results_json_holds_records_and_tables(finished):
    folder, plan, _, _ = finished
    res = read_json(folder.file("results.json"), RESULTS_SCHEMA)
    assert res["counts"] == {"tasks": len(plan["tasks"]), "ok": len(plan["tasks"]) - 2,
                             "failed": 2, "missing": 0}
    assert res["complete"] is False
    assert [r["id"] for r in res["records"]] == [t["id"] for t in plan["tasks"]]
    ta = res["tables"]["TA"]
    assert ta["complete"] and [c["key"] for c in ta["columns"]] == list(
        tiny_cli.CATALOG[0].metrics)
    row = ta["rows"][0]
    acc = row["values"]["test_accuracy"]
    assert acc["n"] == 2 and acc["ci"] is not None and 0 < acc["mean"] < 1
    recs = [r for r in res["records"] if r["id"] in row["tasks"]]
    assert acc["mean"] == pytest.approx(sum(r["metrics"]["test_accuracy"] for r in recs) / 2)
    assert row["values"]["reached"]["of"] == 2
    tf = res["tables"]["TF"]
    assert not tf["complete"] and tf["rows"][0]["failed"] == 2 and tf["rows"][0]["errors"]
    tp = {r["labels"]["dropout"]: r["values"] for r in res["tables"]["TP"]["rows"]}
    assert tp[0.0]["parameters"]["mean"] == tp[0.5]["parameters"]["mean"] > 0
    assert tp[0.0]["units"]["mean"] == tp[0.5]["units"]["mean"] == 200  # 100 + 100 (MLP)
    assert tp[0.5]["expected_active"]["mean"] == pytest.approx(100.0)
    assert abs(tp[0.5]["active_units"]["mean"] - 100) < 10
    assert tp[0.0]["active_units"]["mean"] == 200
    (pair,) = res["tables"]["TV"]["comparisons"][0]["pairs"]
    assert pair["diff"]["n"] == 2 and pair["agree"] in (True, False)
    tm = res["tables"]["TM"]["rows"][0]["values"]
    assert tm["mc_accuracy"]["n"] == 2 and tm["mc_nll"]["mean"] > 0


def test_summary_renders_every_table(finished):
    folder, _, _, _ = finished
    console = Console(file=io.StringIO(), width=160)
    assert render_and_write(folder.path, console, formats=("term",)) == 0
    text = console.file.getvalue()
    for name in NAMES:
        assert f"{name}  " in text
    assert "standard - inverted" in text and "INCOMPLETE" in text
    assert "TF is incomplete" in text and "diverged" in text


def strip_times(rec):
    """A record without what depends on the clock (times, finish date)."""
    rec = json.loads(json.dumps(rec))
    for k in ("timing", "finished", "environment"):
        rec.pop(k, None)
    for h in rec.get("history", []):
        h.pop("time_s", None)
    return rec


def test_resume_keeps_finished_records_and_redoes_damaged(finished, tmp_path, cache,
                                                         monkeypatch):
    monkeypatch.setenv("FASTDROP_CACHE", cache)
    src, plan, _, _ = finished
    folder = RunFolder(tmp_path / "run")
    shutil.copytree(src.path, folder.path)
    train = [t["id"] for t in plan["tasks"] if t["kind"] == "train" and "TA" in t["suites"]]
    gone, broken = train[0], train[1]
    before = {t["id"]: folder.task_path(t["id"]).read_bytes() for t in plan["tasks"]}
    folder.task_path(gone).unlink()
    folder.task_path(broken).write_bytes(before[broken][:40])  # truncated
    code, run, notes, out = execute(folder, plan)
    assert code == EXIT_FAILED
    (note,) = notes
    assert f"{broken}.json: truncated" in note and "runs again" in note
    assert (folder.tasks_dir / f"{broken}.json.corrupt").exists()
    for tid, data in before.items():
        now = folder.task_path(tid).read_bytes()
        if tid in (gone, broken):  # run again: the same numbers (one seed, one thread)
            assert strip_times(json.loads(now)) == strip_times(json.loads(data))
        else:
            assert now == data  # untouched
    res = read_json(folder.file("results.json"))
    assert res["counts"]["missing"] == 0


def test_timing_task_writes_pyperf_files(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("FASTDROP_CACHE", cache)
    folder = RunFolder.create(tmp_path)
    plan = planner.build(tiny_cli.TINY, ["TT"], catalog=[tiny_cli.TIMED])
    folder.write_plan(plan)
    code, run, _, _ = execute(folder, plan)
    assert code == EXIT_OK, [r.get("error") for r in run.records.values()]
    (tid,) = [t["id"] for t in plan["tasks"] if t["kind"] == "timing"]
    rec = run.records[tid]
    assert rec["metrics"]["step_time"]["median"] > 0
    assert rec["timing_file"] == f"timings/{tid}.json"
    row = read_json(folder.file("results.json"))["tables"]["TT"]["rows"][0]
    assert row["values"]["step_time"]["median"] == rec["metrics"]["step_time"]["median"]
    for name in (rec["timing_file"], "train-timing.json"):  # pyperf's own tools read them
        res = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(folder.file(name))],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and "Total duration" in res.stdout
        (bench,) = pyperf.BenchmarkSuite.load(str(folder.file(name))).get_benchmarks()
        assert bench.get_name() == "train step mlp p=0.5 inverted"
        assert bench.get_metadata()["fastdrop_threads"] == 1
