"""The run folder: every file a benchmark run leaves, written so that nothing finished is
lost to Ctrl-C or a killed process.

    reports/runs/<timestamp>/
      manifest.json       the machine and versions (fastdrop.results.manifest), resumes added
      plan.json           what this run does: profile, suites, every task and its payload
      tasks/<id>.json     one record per finished task (training, probe or timing)
      timings/<id>.json   pyperf's file of each training-step timing task
      kernels.json        pyperf's file of the kernel suite (appended benchmark by benchmark)
      kernels.md          the kernel table
      train-timing.json   every training-step timing in one pyperf file (for compare_to)
      results.json        the consolidated, schema-versioned results: records and tables

Every JSON file is written whole to a temporary file in the same folder, flushed to disk
and renamed over its name (os.replace), so a reader sees the old file or the new one,
never half of one (fastdrop.atomic). A file that still cannot be read is named in a
RunFolderError; a file that cannot be written (disk full, read-only folder) in a
WriteError, its temporary file removed and the old file left as it was.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from ..atomic import WriteError, make_dir, write_text
from .schema import PLAN_SCHEMA, RECORD_SCHEMA


class RunFolderError(ValueError):
    """A run-folder file that is missing, truncated or not what it should be; the message
    starts with its path, kept in `.path`."""

    def __init__(self, path, what: str):
        self.path = Path(path)
        super().__init__(f"{path}: {what}")


def write_json(path: Path, obj) -> None:
    """Atomically replace `path` with obj as JSON (write_text's guarantees)."""
    write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def read_json(path: Path, schema: str | None = None):
    """The JSON in `path`; RunFolderError naming the file if it is missing or unreadable,
    or if its "schema" is not `schema`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RunFolderError(path, "no such file") from None
    except OSError as exc:
        raise RunFolderError(path, f"cannot be read ({exc})") from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        what = "empty" if not text.strip() else "truncated or corrupt JSON"
        raise RunFolderError(path, f"{what} ({exc})") from exc
    if schema is not None:
        got = obj.get("schema") if isinstance(obj, dict) else None
        if got != schema:
            raise RunFolderError(path, f"schema {got!r}, expected {schema!r}")
    return obj


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def create(cls, out) -> RunFolder:
        """A new folder named by the time, under `out` (a suffix if that name is taken)."""
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(out)
        make_dir(base)
        for i in range(100):
            path = base / (stamp if i == 0 else f"{stamp}-{i}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise WriteError(path, exc) from exc
            return cls(path)
        raise RunFolderError(base, f"cannot make a new run folder named {stamp}")

    # -- paths -------------------------------------------------------------------------
    @property
    def tasks_dir(self) -> Path:
        return self.path / "tasks"

    @property
    def timings_dir(self) -> Path:
        return self.path / "timings"

    def task_path(self, task_id: str) -> Path:
        return self.tasks_dir / f"{task_id}.json"

    def timing_path(self, task_id: str) -> Path:
        return self.timings_dir / f"{task_id}.json"

    def file(self, name: str) -> Path:
        return self.path / name

    # -- the plan and the manifest -------------------------------------------------------
    def write_plan(self, plan: dict) -> None:
        write_json(self.file("plan.json"), plan)

    def read_plan(self) -> dict:
        if not self.path.is_dir():
            raise RunFolderError(self.path, "no such run folder")
        return read_json(self.file("plan.json"), PLAN_SCHEMA)

    def write_manifest(self, manifest: dict) -> None:
        write_json(self.file("manifest.json"), manifest)

    def add_resume(self, manifest: dict) -> None:
        """Record a resume (when, the command, the machine) in manifest.json."""
        path = self.file("manifest.json")
        first = read_json(path)
        first.setdefault("resumes", []).append(
            {k: manifest[k] for k in ("created", "command", "git_commit", "machine")})
        write_json(path, first)

    # -- task records --------------------------------------------------------------------
    def write_record(self, record: dict) -> None:
        make_dir(self.tasks_dir)
        write_json(self.task_path(record["id"]), record)

    def write_timing(self, task_id: str, pyperf_json: dict) -> None:
        make_dir(self.timings_dir)
        write_json(self.timing_path(task_id), pyperf_json)

    def scan(self, task_ids) -> tuple[dict, list[RunFolderError]]:
        """The records on disk for task_ids, and an error for each record (or timing file of
        a timing task) that exists but cannot be read."""
        records, errors = {}, []
        for tid in task_ids:
            path = self.task_path(tid)
            if not path.exists():
                continue
            try:
                rec = read_json(path, RECORD_SCHEMA)
                if rec.get("id") != tid:
                    raise RunFolderError(path, f"holds task {rec.get('id')!r}, not {tid!r}")
                if rec.get("kind") == "timing" and rec.get("status") == "ok":
                    read_json(self.timing_path(tid))
            except RunFolderError as exc:
                errors.append(exc)
                continue
            records[tid] = rec
        return records, errors

    def quarantine(self, path: Path) -> Path:
        """Rename a damaged file out of the way (kept for inspection, never deleted)."""
        dest = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, dest)
        except OSError as exc:
            raise WriteError(dest, exc) from exc
        return dest
