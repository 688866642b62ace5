"""The Dask executor on a LocalCluster of process workers, loopback only.

Skipped, with the reason, where dask[distributed] is not installed (it is an optional extra).
"""

import os
import signal
import time

import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is an optional extra (pip install fastdrop[dask])")

from fastdrop.bench.dask_executor import DaskExecutor, local_cluster, scheduler_address  # noqa: E402
from fastdrop.bench.executor import LocalProcessExecutor, TaskFailure  # noqa: E402

TRAIN = "fastdrop.bench.tasks:train_task"


def config(seed, steps=40, model="mlp", dropout=0.3):
    return {"config": {"model": model, "dropout": dropout, "steps": steps, "batch_size": 50,
                       "eval_every": 20, "train_size": 500, "seed": seed, "threads": 1}}


def comparable(outcome):
    """The parts of a training result that must agree bit for bit (no wall times)."""
    r = outcome["result"]
    return (r["test_accuracy"], r["train_accuracy"], r["final_loss"],
            [(h["step"], h.get("test_loss"), h.get("train_loss")) for h in r["history"]])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    os.environ.setdefault("FASTDROP_CACHE", str(tmp_path_factory.mktemp("cache")))
    # warm the data cache once, as the harness does, so workers do not race to make it
    from fastdrop.train.trainer import train

    train(config(0, steps=1)["config"])
    with local_cluster(workers=2, threads=1) as c:
        yield c


def test_same_records_as_the_local_pool(cluster):
    items = [(f"t{s}", TRAIN, config(s)) for s in range(4)]
    with distributed.Client(cluster, set_as_default=False) as client:
        with DaskExecutor(client=client) as ex:
            assert ex.jobs == 2 and len(ex.workers()) == 2
            dask_out = dict(ex.run(iter(items)))
    with LocalProcessExecutor(2) as ex:
        local_out = dict(ex.run(iter(items)))
    assert set(dask_out) == set(local_out) == {k for k, _, _ in items}
    for key in dask_out:
        assert not isinstance(dask_out[key], TaskFailure), dask_out[key]
        assert comparable(dask_out[key]) == comparable(local_out[key])


def test_a_failing_task_is_recorded_and_the_rest_go_on(cluster):
    bad = {"config": {"model": "no-such-model", "steps": 5}}
    items = [("ok", TRAIN, config(1, steps=10)), ("bad", TRAIN, bad)]
    with distributed.Client(cluster, set_as_default=False) as client:
        with DaskExecutor(client=client) as ex:
            out = dict(ex.run(iter(items)))
    assert isinstance(out["bad"], TaskFailure) and "no-such-model" in out["bad"]["error"]
    assert not isinstance(out["ok"], TaskFailure)


def test_killing_a_worker_loses_and_duplicates_nothing(tmp_path):
    os.environ.setdefault("FASTDROP_CACHE", str(tmp_path))
    items = [(f"k{s}", TRAIN, config(s, steps=300)) for s in range(6)]
    seen = []
    with local_cluster(workers=2, threads=1) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            with DaskExecutor(client=client) as ex:
                killed = False
                for key, outcome in ex.run(iter(items)):
                    seen.append((key, outcome))
                    if not killed:  # SIGKILL one worker process while tasks run on it
                        pids = client.run(os.getpid)
                        os.kill(next(iter(pids.values())), signal.SIGKILL)
                        killed = True
                        time.sleep(0.5)
    keys = [k for k, _ in seen]
    assert sorted(keys) == sorted(k for k, _, _ in items)  # every task once: none lost
    assert len(keys) == len(set(keys))  # none duplicated
    for _, outcome in seen:  # a task retried after the death finishes normally
        assert isinstance(outcome, TaskFailure) or outcome["result"]["steps"] == 300


def test_scheduler_address_comes_from_the_option_or_the_environment(monkeypatch):
    monkeypatch.delenv("FASTDROP_DASK_SCHEDULER", raising=False)
    with pytest.raises(ValueError, match="--scheduler"):
        scheduler_address(None)
    monkeypatch.setenv("FASTDROP_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    assert scheduler_address(None) == "tcp://127.0.0.1:8786"
    assert scheduler_address("tcp://127.0.0.1:1") == "tcp://127.0.0.1:1"


def test_no_scheduler_listening_is_a_clear_error():
    with pytest.raises(ConnectionError, match="no Dask scheduler answered"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=2)


def _records(run_dir):
    import json
    from pathlib import Path

    out = {}
    for f in sorted((Path(run_dir) / "tasks").glob("*.json")):
        rec = json.loads(f.read_text())
        m = rec.get("metrics") or {}
        out[rec["id"]] = (rec["status"], m.get("test_accuracy"), m.get("train_accuracy"))
    return out


def test_cli_runs_the_grid_on_the_cluster_like_the_local_pool(tmp_path):
    """`fastdrop bench train --executor dask --scheduler ADDR` on a tiny grid: the same
    records, task by task, as the local process pool."""
    import subprocess
    import sys
    from pathlib import Path

    tiny = Path(__file__).resolve().parents[1] / "bench" / "tiny_cli.py"
    env = dict(os.environ, FASTDROP_CACHE=str(tmp_path / "cache"), TINY_STEPS="20")
    runs = {}
    with local_cluster(workers=2, threads=1) as cluster:
        for name, extra in (("dask", ["--executor", "dask", "--scheduler",
                                      cluster.scheduler_address]), ("local", ["--jobs", "2"])):
            out = tmp_path / name
            res = subprocess.run([sys.executable, str(tiny), "bench", "train", "--only", "TA,TV",
                                  "--out", str(out), *extra], env=env, capture_output=True,
                                 text=True, timeout=600)
            assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
            (run,) = list(out.iterdir())
            runs[name] = _records(run)
        assert "Dask cluster at" in res.stdout or runs["dask"]
    assert runs["dask"] and runs["dask"] == runs["local"]
    assert all(status == "ok" for status, _, _ in runs["dask"].values())


def test_cli_without_a_scheduler_is_a_usage_error(tmp_path, monkeypatch):
    from fastdrop.cli import main

    monkeypatch.delenv("FASTDROP_DASK_SCHEDULER", raising=False)
    code = main(["bench", "train", "--executor", "dask", "--out", str(tmp_path)])
    assert code == 2
    assert not any(tmp_path.iterdir())  # nothing written


def test_timing_on_workers_records_the_worker_machine(tmp_path, monkeypatch):
    """--timing-on-workers: timing tasks run on a worker, one at a time, and each record
    keeps that worker's machine manifest beside its figures."""
    import io
    import sys
    from pathlib import Path

    from rich.console import Console

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import tiny_cli

    from fastdrop.bench import grid as planner
    from fastdrop.bench.command import BenchProgress
    from fastdrop.bench.harness import Run
    from fastdrop.exitcodes import EXIT_OK
    from fastdrop.results.folder import RunFolder
    from fastdrop.train.data import load_mnist1d

    monkeypatch.setenv("FASTDROP_CACHE", str(tmp_path / "cache"))
    load_mnist1d(200, 0, cache=str(tmp_path / "cache"))
    folder = RunFolder.create(tmp_path / "runs")
    plan = planner.build(tiny_cli.TINY, ["TT"], catalog=[tiny_cli.TIMED])
    folder.write_plan(plan)
    console = Console(file=io.StringIO(), width=120)
    with local_cluster(workers=1, threads=1) as cluster:
        with distributed.Client(cluster, set_as_default=False) as client:
            timing = DaskExecutor(client=client, jobs=1)
            run = Run(folder, plan, console, jobs=1, timing_executor=timing)
            run.load_finished()
            with distributed.get_task_stream(client=client) as stream:
                code = run.execute(BenchProgress(console, plan, run.records, (0, 0)), ())
    ran_on_workers = [str(t["key"]) for t in stream.data]
    assert code == EXIT_OK, [r.get("error") for r in run.records.values()]
    (rec,) = [r for r in run.records.values() if r["kind"] == "timing"]
    assert rec["metrics"]["step_time"]["median"] > 0
    assert rec["machine"]["cores"] >= 1 and rec["machine"]["cpu_model"]
    assert any(rec["id"] in key for key in ran_on_workers)  # it ran on the cluster


def test_timing_on_workers_needs_the_dask_executor(tmp_path):
    from fastdrop.cli import main

    with pytest.raises(SystemExit, match="--executor dask"):
        main(["bench", "train", "--timing-on-workers", "--out", str(tmp_path)])
