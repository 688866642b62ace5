"""`fastdrop bench` as a user runs it: Ctrl-C in the middle, then --resume; the kernel
suite resumed benchmark by benchmark; bad options refused before anything is written."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyperf
import pytest

HERE = Path(__file__).parent
TINY = [sys.executable, str(HERE / "tiny_cli.py")]


def env(cache, **extra):
    return {**os.environ, "FASTDROP_CACHE": cache, "PYTHONPATH": str(HERE.parents[1]),
            **extra}


def _default_sigint():
    """In the child before exec: SIGINT back to its default action. A runner started in
    the background (`nohup ... &`) passes SIGINT down ignored, and an ignored signal stays
    ignored across exec: the run would finish instead of stopping (a fresh clone's CI,
    launched so here, saw exit 0 for 130)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_then_resume_reproduces_finished_records(tmp_path, cache):
    out = tmp_path / "runs"
    cmd = [*TINY, "bench", "train", "--only", "TA,TV,TM", "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen(cmd, env=env(cache, TINY_STEPS="400"), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_default_sigint)
    deadline = time.time() + 120
    tasks = None
    while time.time() < deadline and proc.poll() is None:
        found = list(out.glob("*/tasks/*.json"))
        if found:
            tasks = found[0].parent
            break
        time.sleep(0.05)
    assert tasks is not None, proc.communicate()[0]
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    text = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, text
    assert "interrupted" in text and "--resume" in text
    run = tasks.parent
    res = json.loads((run / "results.json").read_text())
    assert res["counts"]["missing"] > 0 and not res["complete"]
    before = {p.name: p.read_bytes() for p in tasks.glob("*.json")}
    assert before and len(before) == res["counts"]["ok"] + res["counts"]["failed"]
    assert not list(tasks.glob(".*"))  # no temporary file left behind

    done = subprocess.run([*TINY, "bench", "--resume", str(run)], env=env(cache, TINY_STEPS="400"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming" in done.stdout
    res2 = json.loads((run / "results.json").read_text())
    assert res2["complete"] and res2["counts"]["missing"] == 0
    by_id = {r["id"]: r for r in res2["records"]}
    for name, data in before.items():
        assert (tasks / name).read_bytes() == data
        assert by_id[name[:-5]] == json.loads(data)
    assert len(json.loads((run / "manifest.json").read_text())["resumes"]) == 1


def test_kernel_suite_resumes_benchmark_by_benchmark(tmp_path, cache):
    out = tmp_path / "runs"
    args = ["bench", "kernels", "--sizes", "10", "--rates", "0.5", "--no-torch", "--out", str(out)]
    first = subprocess.run([*TINY, *args], env=env(cache), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    (run,) = out.iterdir()
    path = run / "kernels.json"
    suite = pyperf.BenchmarkSuite.load(str(path))
    benches = suite.get_benchmarks()
    names = [b.get_name() for b in benches]
    assert len(names) >= 6
    kept = benches[: len(benches) // 2]  # as if the run had been killed halfway
    pyperf.BenchmarkSuite(kept).dump(str(path), replace=True)
    kept_values = {b.get_name(): b.get_values() for b in kept}
    again = subprocess.run([*TINY, "bench", "--resume", str(run)], env=env(cache),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    after = pyperf.BenchmarkSuite.load(str(path)).get_benchmarks()
    assert sorted(b.get_name() for b in after) == sorted(names)
    for b in after:
        if b.get_name() in kept_values:
            assert b.get_values() == kept_values[b.get_name()]
    assert (run / "kernels.md").exists()
    res = json.loads((run / "results.json").read_text())
    assert res["kernels"]["complete"] and res["kernels"]["benchmarks"] == len(names)


def test_damaged_plan_is_named(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "plan.json").write_text("{")
    res = subprocess.run([sys.executable, "-m", "fastdrop.cli", "bench", "--resume", str(run)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "plan.json: truncated or corrupt JSON" in res.stderr


def test_truncated_kernels_file_is_named_and_set_aside(tmp_path):
    from fastdrop.bench import grid as planner
    from fastdrop.bench import suites as S
    from fastdrop.bench.harness import Run, kernel_names_done
    from fastdrop.results.folder import RunFolder, RunFolderError

    folder = RunFolder.create(tmp_path)
    folder.file("kernels.json").write_text('{"version": "1.0", "benchmarks": [')
    with pytest.raises(RunFolderError, match="kernels.json"):
        kernel_names_done(folder)
    plan = planner.build(S.PROFILES["quick"], ["K1"],
                         kernels={"sizes": [10], "rates": [0.5], "torch": False})
    run = Run(folder, plan, console=None)
    (note,) = run.load_finished()
    assert "kernels.json: not a readable pyperf result file" in note
    assert "kernel suite runs again" in note
    assert folder.file("kernels.json.corrupt").exists()
    status = run.kernel_status()
    assert status["benchmarks"] == 0 and status["of"] >= 6 and not status["complete"]


@pytest.mark.parametrize("args,msg", [
    (["--only", "T9"], "--only T9"),
    (["train", "--only", "K1"], "K1 is not a suite of 'train'"),
    (["--jobs", "0"], "--jobs must be >= 1"),
])
def test_bad_options_write_nothing(tmp_path, args, msg):
    res = subprocess.run([sys.executable, "-m", "fastdrop.cli", "bench", *args, "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and msg in res.stderr  # EXIT_USAGE, as documented
    assert not any(tmp_path.iterdir())


def test_resume_of_a_missing_folder(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fastdrop.cli", "bench", "--resume",
                          str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "no such run folder" in res.stderr
