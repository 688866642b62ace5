"""consolidate(): the one builder of results.json, for the harness (a run that ended) and
the report (a folder whose run stopped before it consolidated)."""

from fastdrop.results.consolidate import consolidate, rebuild
from fastdrop.results.folder import RunFolder
from fastdrop.results.schema import RECORD_SCHEMA, RESULTS_SCHEMA

PLAN = {"created": "2026-12-01T00:00:00+00:00", "profile": {"name": "tiny"},
        "suites": {"K1": {"kind": "kernels", "title": "kernels"}},
        "tasks": [{"id": i, "kind": "train"} for i in ("a", "b", "c")]}


def rec(tid, status="ok"):
    return {"schema": RECORD_SCHEMA, "id": tid, "kind": "train", "status": status,
            "error": None if status == "ok" else "boom"}


def test_records_in_plan_order_with_counts():
    res = consolidate(PLAN, {"c": rec("c"), "a": rec("a", "failed")}, {"complete": True})
    assert res["schema"] == RESULTS_SCHEMA and res["manifest"] == "manifest.json"
    assert [r["id"] for r in res["records"]] == ["a", "c"]
    assert res["counts"] == {"tasks": 3, "ok": 1, "failed": 1, "missing": 1}
    assert res["complete"] is False and res["tables"] == {}  # K1 has no T table


def test_complete_only_when_everything_ran_and_the_run_ended():
    done = {t: rec(t) for t in "abc"}
    assert consolidate(PLAN, done, {"complete": True})["complete"] is True
    assert consolidate(PLAN, done, {"complete": False})["complete"] is False  # K1 unfinished
    assert consolidate(PLAN, done, None)["complete"] is True
    assert consolidate(PLAN, done, None, final=False)["complete"] is False


def test_rebuild_reads_the_records_on_disk(tmp_path):
    folder = RunFolder.create(tmp_path)
    folder.write_record(rec("b"))
    folder.write_record(rec("a"))
    folder.task_path("c").write_text("{")  # damaged: reported, not counted
    res, errors = rebuild(folder, PLAN)
    assert [r["id"] for r in res["records"]] == ["a", "b"]
    assert res["counts"] == {"tasks": 3, "ok": 2, "failed": 0, "missing": 1}
    assert res["created"] == PLAN["created"] and res["complete"] is False
    assert res["kernels"] == {"file": "kernels.json"}
    (err,) = errors
    assert err.path == folder.task_path("c")
