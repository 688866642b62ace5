"""results.json: the records of a run in plan order, their counts and the tables, built by
one function for both sides of the hand-off.

The harness calls `consolidate` when a run ends (or is interrupted) and writes the result
with `write_results`; the report calls `rebuild` on a folder whose run stopped before it
consolidated (or is still going), reading only: nothing is run, nothing is written.
"""

from __future__ import annotations

import time

from . import pyperf_files, tables
from .folder import RunFolder, write_json
from .schema import RESULTS_SCHEMA


def consolidate(plan: dict, records: dict, kernels: dict | None, *, final: bool = True,
                created: str | None = None) -> dict:
    """results.json's content: `records` (task id -> record) in plan order, the counts and
    the tables. `kernels` is K1's state (fastdrop.bench.harness.Run.kernel_status) or None.
    final: the run ended here (complete when nothing failed or is missing); a rebuild from
    a stopped run is never complete. created: the time stamp (default now)."""
    ordered = [records[t["id"]] for t in plan["tasks"] if t["id"] in records]
    failed = [r["id"] for r in ordered if r.get("status") != "ok"]
    missing = [t["id"] for t in plan["tasks"] if t["id"] not in records]
    complete = final and not failed and not missing and (kernels or {}).get("complete", True)
    return {
        "schema": RESULTS_SCHEMA,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "profile": plan["profile"],
        "suites": list(plan["suites"]),
        "manifest": "manifest.json",
        "counts": {"tasks": len(plan["tasks"]), "ok": len(ordered) - len(failed),
                   "failed": len(failed), "missing": len(missing)},
        "complete": complete,
        "kernels": kernels,
        "tables": tables.build_tables(plan, records),
        "records": ordered,
    }


def write_results(folder: RunFolder, results: dict) -> None:
    """results.json, and every training-step timing in train-timing.json (one pyperf file
    for python -m pyperf compare_to)."""
    write_json(folder.file("results.json"), results)
    timed = [r["id"] for r in results["records"]
             if r["kind"] == "timing" and r["status"] == "ok"]
    if timed:
        pyperf_files.merge([folder.timing_path(t) for t in timed],
                           folder.file("train-timing.json"))


def rebuild(folder: RunFolder, plan: dict) -> tuple[dict, list]:
    """(results, errors) from the plan (plan.json, read by the caller) and tasks/ of a run
    that stopped before it consolidated: K1 as found in kernels.json, never complete;
    errors: a RunFolderError for each record that exists but cannot be read."""
    records, errors = folder.scan([t["id"] for t in plan.get("tasks", [])])
    has_k1 = any(s.get("kind") == "kernels" for s in plan["suites"].values())
    kernels = {"file": "kernels.json"} if has_k1 else None
    return consolidate(plan, records, kernels, final=False, created=plan.get("created")), errors
