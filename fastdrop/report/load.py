"""Read a run folder: the one module of the report that knows its files and schemas.

    run = load_run("reports/runs/20261128-030333")   # ReportError names the file and fault
    run.tables["T1"]["rows"]                          # fastdrop.results.tables' layout
    run.kernel_rows                                   # K1 (fastdrop.report.kernel_table.Row)

The run folder's layout is fastdrop.results.folder's. What the report does with each file:

    results.json    the tables (schema fastdrop.bench.results/1). Required; a run killed
                    before it wrote one is rebuilt here from plan.json and tasks/ (read
                    only: nothing is run) and marked so.
    manifest.json   the machine; when missing the header says so.
    kernels.json    K1 (pyperf); when damaged K1 is marked missing with the reason.
    train-timing.json  pyperf's file of the training-step timings (fastdrop compare).

Faults that stop a report (ReportError): no such folder, a folder that is not a run
folder, a truncated or corrupt results.json, a schema this fastdrop does not know (older
tools reading a newer run are told to update). Faults that do not (a missing manifest,
a damaged kernels.json, failed or missing tasks) are listed in `run.problems` and shown.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..results import pyperf_files
from ..results.consolidate import rebuild
from ..results.folder import RunFolder, RunFolderError, read_json
from ..results.schema import GPU_SCHEMA, PLAN_SCHEMA, RESULTS_SCHEMA
from . import kernel_table

DEFAULT_RUNS = Path("reports/runs")
DEFAULT_GPU = Path("reports/gpu")


class ReportError(ValueError):
    """A run folder the report cannot read: the message starts with the file's path (kept
    in `.path`) and says what is wrong."""

    def __init__(self, path, what: str):
        self.path = Path(path)
        super().__init__(f"{path}: {what}")


def _from_folder(exc: RunFolderError) -> ReportError:
    """fastdrop.results' error about a run-folder file, as the report's."""
    path = getattr(exc, "path", None)
    text = str(exc)
    if path is not None and text.startswith(f"{path}: "):
        return ReportError(path, text[len(f"{path}: "):])
    return ReportError(path or "?", text)


def _schema_parts(schema) -> tuple[str, int | None]:
    if not isinstance(schema, str) or "/" not in schema:
        return str(schema), None
    name, _, version = schema.rpartition("/")
    try:
        return name, int(version)
    except ValueError:
        return name, None


def check_schema(path: Path, obj, expected: str) -> None:
    """ReportError unless obj["schema"] is `expected`; a newer version of the same schema
    says to update fastdrop, any other value says the file is not one of ours."""
    got = obj.get("schema") if isinstance(obj, dict) else None
    if got == expected:
        return
    name, version = _schema_parts(got)
    want_name, want_version = _schema_parts(expected)
    if name == want_name and version is not None and version > want_version:
        raise ReportError(path, f"schema {got} is newer than this fastdrop reads "
                          f"({expected}); update fastdrop to report this run")
    if got is None:
        raise ReportError(path, f"no \"schema\" field: not a fastdrop file "
                          f"(expected {expected})")
    raise ReportError(path, f"schema {got!r}, expected {expected!r}: not a fastdrop "
                      f"{want_name.rsplit('.', 1)[-1]} file")


def read(path: Path, schema: str | None = None):
    """JSON of `path` (ReportError naming it when missing, empty, truncated or foreign)."""
    try:
        obj = read_json(path)
    except RunFolderError as exc:
        raise _from_folder(exc) from exc
    if schema is not None:
        check_schema(path, obj, schema)
    return obj


def _need(obj, keys, where: str) -> None:
    missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise ReportError(where, f"missing {', '.join(repr(k) for k in missing)}")


def check_results(path: Path, results: dict) -> None:
    """The parts of results.json the report reads, present and of the right shape."""
    _need(results, ("tables", "counts", "profile"), str(path))
    if not isinstance(results["tables"], dict):
        raise ReportError(path, "\"tables\" is not an object")
    for name, table in results["tables"].items():
        where = f"{path}: table {name}"
        _need(table, ("title", "rows_by", "columns", "rows"), where)
        for col in table["columns"]:
            _need(col, ("key", "label", "kind"), f"{where}, a column")
        for i, row in enumerate(table["rows"]):
            _need(row, ("labels", "values", "runs", "ok"), f"{where}, row {i + 1}")


@dataclasses.dataclass
class Run:
    """What the report knows of one run folder."""

    path: Path
    results: dict  # results.json (or rebuilt from plan.json and tasks/)
    manifest: dict  # manifest.json, {} when missing
    kernel_rows: list | None = None  # K1 rows, None when the run has no (readable) K1
    problems: list[str] = dataclasses.field(default_factory=list)  # shown in the report
    rebuilt: bool = False  # results.json was absent: tables rebuilt from the task records

    @property
    def tables(self) -> dict:
        return self.results.get("tables", {})

    @property
    def records(self) -> dict:
        return {r["id"]: r for r in self.results.get("records", []) if "id" in r}

    def table(self, name: str) -> dict | None:
        return self.tables.get(name)

    def failed_records(self) -> list[dict]:
        return [r for r in self.results.get("records", []) if r.get("status") != "ok"]

    def file(self, name: str) -> Path:
        return self.path / name


def _rebuild(path: Path) -> dict:
    """results.json's content from plan.json and tasks/ (a run killed before consolidating),
    with "unreadable": the records that could not be read."""
    results, errors = rebuild(RunFolder(path), read(path / "plan.json", PLAN_SCHEMA))
    return {**results, "unreadable": [str(e) for e in errors]}


def _records_newer_than(path: Path, results: Path) -> int:
    """How many task records were written after results.json."""
    tasks = path / "tasks"
    if not tasks.is_dir():
        return 0
    t = results.stat().st_mtime
    return sum(1 for f in tasks.glob("*.json") if f.stat().st_mtime > t)


def _kernel_only(path: Path) -> dict:
    """A folder of `fastdrop bench kernels` from before results.json existed: K1 alone."""
    return {"schema": RESULTS_SCHEMA, "profile": {}, "suites": ["K1"], "tables": {},
            "counts": {"tasks": 0, "ok": 0, "failed": 0, "missing": 0}, "complete": True,
            "kernels": {"file": "kernels.json"}, "records": []}


def load_run(path) -> Run:
    """Read a run folder (ReportError when it cannot be reported at all)."""
    path = Path(path)
    if not path.exists():
        raise ReportError(path, "no such run folder")
    if not path.is_dir():
        raise ReportError(path, "not a folder (a run folder holds results.json, "
                          "manifest.json, ...)")
    problems: list[str] = []
    rebuilt = False
    res_path = path / "results.json"
    if res_path.exists():
        results = read(res_path, RESULTS_SCHEMA)
        newer = _records_newer_than(path, res_path)
        if newer and (path / "plan.json").exists():
            results = _rebuild(path)
            rebuilt = True
            problems.append(f"{res_path}: older than {newer} task record(s) in tasks/ (the "
                            f"run is still going, or stopped before it consolidated); tables "
                            f"rebuilt from plan.json and {len(results['records'])} task "
                            f"records")
            problems += results.pop("unreadable")
    elif (path / "plan.json").exists():
        results = _rebuild(path)
        rebuilt = True
        problems.append(f"{res_path}: missing (the run stopped before it consolidated); "
                        f"tables rebuilt from plan.json and {len(results['records'])} task "
                        f"records in tasks/")
        problems += results.pop("unreadable")
    elif (path / "kernels.json").exists() and (path / "manifest.json").exists():
        results = _kernel_only(path)
    else:
        raise ReportError(path, "not a fastdrop run folder (no results.json, plan.json "
                          "or kernels.json)")
    check_results(res_path, results)
    try:
        manifest = read(path / "manifest.json")
    except ReportError as exc:
        manifest = {}
        problems.append(f"{exc}: the machine is unknown")
    run = Run(path=path, results=results, manifest=manifest, problems=problems,
              rebuilt=rebuilt)
    _load_kernels(run)
    _note_gaps(run)
    return run


def _load_kernels(run: Run) -> None:
    """K1's rows from kernels.json when the run has K1 (a problem noted when unreadable)."""
    k = run.results.get("kernels")
    if not k:
        if "K1" not in run.results.get("suites", ()) or not run.file("kernels.json").exists():
            return
        k = {"file": "kernels.json"}  # consolidated before K1 finished: show what is there
        run.problems.append(f"{run.file('results.json')}: K1 not consolidated (the run "
                            f"stopped during or before K1); kernels.json shown as found")
    path = run.file(k.get("file", "kernels.json"))
    if not path.exists():
        run.problems.append(f"{path}: missing: K1 (kernels) has no results")
        return
    try:
        run.kernel_rows = kernel_table.rows_from_suite(pyperf_files.load_suite(path))
    except RunFolderError as exc:
        run.problems.append(f"{exc}: K1 (kernels) not shown")
        return
    if k.get("of") and k.get("benchmarks", k["of"]) < k["of"]:
        run.problems.append(f"K1: {k['benchmarks']} of {k['of']} kernel benchmarks ran")
    if k.get("ok") is False:
        run.problems.append("K1: the kernel suite's pyperf script failed (see the run's "
                            "output); its finished benchmarks are shown")


SHOW_FAILED = 10  # failed tasks named one by one in the problems; the rest are counted


def _note_gaps(run: Run) -> None:
    c = run.results.get("counts", {})
    if c.get("failed"):
        run.problems.append(f"{c['failed']} of {c['tasks']} tasks failed (their errors are "
                            f"also listed under their tables)")
    failed = run.failed_records()
    for rec in failed[:SHOW_FAILED]:
        run.problems.append(f"{run.path / 'tasks' / (rec['id'] + '.json')}: task failed "
                            f"({', '.join(rec.get('suites', []))}): {rec.get('error')}")
    if len(failed) > SHOW_FAILED:
        run.problems.append(f"... and {len(failed) - SHOW_FAILED} more failed tasks")
    if c.get("missing"):
        run.problems.append(f"{c['missing']} of {c['tasks']} tasks have not run (resume "
                            f"with: fastdrop bench --resume {run.path})")


def latest_run(out=DEFAULT_RUNS) -> Path:
    """The newest run folder under `out` (by name: run folders are named by time)."""
    out = Path(out)
    runs = sorted(p for p in out.glob("*") if p.is_dir() and any(
        (p / f).exists() for f in ("results.json", "plan.json")))
    if not runs:
        raise ReportError(out, "no run folder with a results.json (run make bench)")
    return runs[-1]


# --- the GPU benchmark (bench/gpu.py) ---------------------------------------------------


@dataclasses.dataclass
class GpuReport:
    path: Path
    data: dict  # bench/gpu.py's JSON

    @property
    def card(self) -> str:
        return self.data["machine"]["device"]["name"]

    @property
    def date(self) -> str:
        return str(self.data.get("created", ""))[:10]


def gpu_dir_for(run_path) -> Path:
    """Where a run's GPU files are looked for by default: reports/gpu beside reports/runs
    (RUN_DIR/../../gpu), else reports/gpu under the current folder."""
    beside = Path(run_path).resolve().parent.parent / "gpu"
    return beside if beside.is_dir() else DEFAULT_GPU


def load_gpu(where=None, problems: list[str] | None = None) -> GpuReport | None:
    """The newest GPU benchmark file (by its "created") in a folder, or the file given
    (default: reports/gpu). None when there is none; files that cannot be read are noted
    in `problems`."""
    where = Path(DEFAULT_GPU if where is None else where)
    files = [where] if where.is_file() else sorted(where.glob("*.json")) if where.is_dir() \
        else []
    best = None
    for f in files:
        try:
            data = read(f, GPU_SCHEMA)
            _need(data, ("created", "machine", "rows"), str(f))
            _need(data["machine"], ("device",), f"{f}: machine")
        except ReportError as exc:
            if problems is not None:
                problems.append(f"{exc}: GPU results not used")
            continue
        if best is None or str(data["created"]) > str(best.data["created"]):
            best = GpuReport(f, data)
    return best


def pyperf_suites(run: Run) -> dict:
    """name -> pyperf.Benchmark of every timing in the run (K1 and training steps)."""
    out = {}
    for fname in ("kernels.json", "train-timing.json"):
        path = run.file(fname)
        if not path.exists():
            continue
        try:
            suite = pyperf_files.load_suite(path)
        except RunFolderError as exc:
            raise _from_folder(exc) from exc
        for bench in suite.get_benchmarks():
            out[bench.get_name()] = bench
    return out


__all__ = ["GPU_SCHEMA", "RESULTS_SCHEMA", "GpuReport", "ReportError", "Run",
           "check_schema", "gpu_dir_for", "latest_run", "load_gpu", "load_run",
           "pyperf_suites", "read"]
