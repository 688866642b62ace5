"""How the fixture run folders under tests/report/fixtures/ were made: copies of real tiny
runs (fastdrop bench on a shrunk grid), trimmed to keep the repository small.

    python tests/report/make_fixtures.py SRC_RUN_DIR DEST_NAME [--tasks] [--no-results]

Trimming keeps every number the report reads (results.json's tables, counts and profile,
manifest.json, kernels.json, train-timing.json) and drops what it does not: the learning
curves ("history") and most of the config of the task records, and plan.json and tasks/
unless --tasks is given. --no-results leaves results.json out (a run killed before it
consolidated: the report rebuilds its tables from plan.json and tasks/).

Fixtures: full (T1, T2, T4, T5, T7, T8 of a 2-seed, 40-step grid), partial (T1, T4, T5 with
20 of 30 tasks not run), no-results (the same run's plan.json and tasks/ only),
kernels-only (K1 of `fastdrop bench kernels --sizes 12 --rates 0.5` from before
results.json existed).
"""

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent / "fixtures"
KEEP = ("results.json", "manifest.json", "kernels.json", "train-timing.json")


CONFIG = ("model", "dropout", "variant", "train_size", "steps", "seed")


def trim_record(rec: dict) -> dict:
    """The record without its learning curve and with only the config fields that name it."""
    rec = dict(rec)
    if rec.get("history"):
        rec["history"] = []
    if "config" in rec:
        rec["config"] = {k: rec["config"][k] for k in CONFIG if k in rec["config"]}
    rec.pop("environment", None)
    return rec


def dump(obj, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def main(argv) -> int:
    src, name = Path(argv[0]), argv[1]
    with_tasks = "--tasks" in argv
    keep = [f for f in KEEP if not (f == "results.json" and "--no-results" in argv)]
    dest = HERE / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in keep:
        if (src / f).exists():
            if f == "results.json":
                res = json.loads((src / f).read_text())
                res["records"] = [trim_record(r) for r in res.get("records", [])]
                dump(res, dest / f)
            else:
                shutil.copy(src / f, dest / f)
    if with_tasks:
        plan = json.loads((src / "plan.json").read_text())
        for task in plan["tasks"]:
            task["payload"]["config"] = trim_record(task["payload"])["config"]
        for suite in plan["suites"].values():
            for point in suite.get("points", []):
                point["config"] = trim_record(point)["config"]
        dump(plan, dest / "plan.json")
        (dest / "tasks").mkdir()
        for t in sorted((src / "tasks").glob("*.json")):
            dump(trim_record(json.loads(t.read_text())), dest / "tasks" / t.name)
    print(f"{dest}: " + ", ".join(sorted(p.name for p in dest.iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
