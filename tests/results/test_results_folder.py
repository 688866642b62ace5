"""Run-folder files: atomic writes, and damaged files named, never skipped silently."""

import errno
import json
import os

import pytest

from fastdrop.atomic import WriteError
from fastdrop.results.folder import RunFolder, RunFolderError, read_json, write_json
from fastdrop.results.schema import RECORD_SCHEMA


def test_write_json_is_atomic_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"x": 1})
    write_json(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    with pytest.raises(ValueError):  # NaN is not JSON: refused, the old file stays
        write_json(path, {"x": float("nan")})
    assert json.loads(path.read_text()) == {"x": 2}


def raise_oserror(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize("where,code", [("fsync", errno.ENOSPC), ("replace", errno.ENOSPC),
                                        ("replace", errno.EROFS)])
def test_failed_write_names_the_file_and_leaves_the_old_one(tmp_path, monkeypatch, where,
                                                            code):
    path = tmp_path / "a.json"
    write_json(path, {"x": 1})
    monkeypatch.setattr(os, where, raise_oserror(code))  # the disk fills up, or turns read-only
    with pytest.raises(WriteError) as info:
        write_json(path, {"x": 2})
    monkeypatch.undo()
    assert str(info.value) == f"cannot write {path}: {os.strerror(code)}"
    assert info.value.path == path and info.value.errno == code
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # the temporary file is gone


def test_folder_that_cannot_be_made_is_a_write_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'file'}/runs"):
        RunFolder.create(tmp_path / "file" / "runs")


@pytest.mark.parametrize("text,what", [("", "empty"), ('{"schema": "fastdrop.bench.t', "truncated"),
                                       ('{"schema": "other/1"}', "schema")])
def test_read_json_names_the_file(tmp_path, text, what):
    path = tmp_path / "rec.json"
    path.write_text(text)
    with pytest.raises(RunFolderError, match=f"rec.json.*{what}"):
        read_json(path, RECORD_SCHEMA)
    with pytest.raises(RunFolderError, match="no such file"):
        read_json(tmp_path / "missing.json")


def test_scan_reports_damaged_records(tmp_path):
    folder = RunFolder.create(tmp_path)
    folder.write_record({"schema": RECORD_SCHEMA, "id": "a", "kind": "train", "status": "ok"})
    folder.write_record({"schema": RECORD_SCHEMA, "id": "b", "kind": "train", "status": "ok"})
    folder.task_path("b").write_text('{"schema": "fastdrop.bench.task/1", "id": "b", "ki')
    folder.write_record({"schema": RECORD_SCHEMA, "id": "c", "kind": "timing", "status": "ok"})
    records, errors = folder.scan(["a", "b", "c", "d"])
    assert set(records) == {"a"}
    msgs = sorted(str(e) for e in errors)
    assert "b.json: truncated" in msgs[0]
    assert "timings/c.json: no such file" in msgs[1]  # a timing record needs its pyperf file
    moved = folder.quarantine(folder.task_path("b"))
    assert moved.name == "b.json.corrupt" and moved.exists()


def test_create_never_reuses_a_folder(tmp_path):
    a, b = RunFolder.create(tmp_path), RunFolder.create(tmp_path)
    assert a.path != b.path and a.path.is_dir() and b.path.is_dir()
    with pytest.raises(RunFolderError, match="no such run folder"):
        RunFolder(tmp_path / "nope").read_plan()
