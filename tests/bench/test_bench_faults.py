"""Faults at the edges of a run: a file that cannot be written (disk full, a read-only or
missing folder) stops the run with one line naming the file and the cause, exit 1; the
records already written stay whole, no temporary file is left, and --resume finishes.
And K1's progress, read from kernels.json as it grows (a half-written file skipped)."""

import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import pyperf
import tiny_cli
from rich.console import Console

from fastdrop.bench import grid
from fastdrop.bench.command import BenchProgress
from fastdrop.bench.harness import KernelWatch, Run
from fastdrop.exitcodes import EXIT_FAILED, EXIT_OK
from fastdrop.results.folder import RunFolder, read_json

HERE = Path(__file__).parent


def execute(folder, plan):
    console = Console(file=io.StringIO(), width=100)
    run = Run(folder, plan, console, jobs=1)
    notes = run.load_finished()
    code = run.execute(BenchProgress(console, plan, run.records, (0, 0)), ())
    return code, run, notes, console.file.getvalue()


def test_disk_full_stops_the_run_and_resume_finishes_it(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("FASTDROP_CACHE", cache)  # workers inherit it
    folder = RunFolder.create(tmp_path)
    plan = grid.build(tiny_cli.TINY, ["TA"], catalog=tiny_cli.CATALOG)
    folder.write_plan(plan)
    real_replace, written, refused = os.replace, [], []

    def replace(src, dst, **kw):  # the disk fills up after two task records
        if Path(dst).parent == folder.tasks_dir:
            if len(written) == 2:
                refused.append(Path(dst))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written.append(Path(dst).name)
        return real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    code, run, _, out = execute(folder, plan)
    monkeypatch.setattr(os, "replace", real_replace)
    assert code == EXIT_FAILED and run.write_error is not None
    (line,) = [x for x in out.splitlines() if "cannot write" in x]
    assert line == (f"fastdrop bench: cannot write {refused[0]}: No space left on device; "
                    f"2 of {len(plan['tasks'])} tasks are recorded in {folder.path}; once it "
                    f"can be written, finish with: fastdrop bench --resume {folder.path}")
    assert "Traceback" not in out
    # the finished records are whole, and nothing else is in tasks/ (no temporary file)
    assert sorted(p.name for p in folder.tasks_dir.iterdir()) == sorted(written)
    before = {name: (folder.tasks_dir / name).read_bytes() for name in written}
    for name in written:
        assert read_json(folder.tasks_dir / name)["status"] == "ok"
    assert not folder.file("results.json").exists()

    code, run, notes, _ = execute(folder, plan)  # --resume, once there is room
    assert code == EXIT_OK and notes == []
    for name, data in before.items():
        assert (folder.tasks_dir / name).read_bytes() == data
    res = read_json(folder.file("results.json"))
    assert res["complete"] and res["counts"]["ok"] == len(plan["tasks"])


def test_run_folder_that_cannot_be_made_is_one_line_and_exit_1(tmp_path, cache):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "runs"
    env = {**os.environ, "FASTDROP_CACHE": cache, "PYTHONPATH": str(HERE.parents[1])}
    res = subprocess.run([sys.executable, str(HERE / "tiny_cli.py"), "bench", "train",
                          "--only", "TA", "--out", str(out)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr.strip() == f"fastdrop bench: cannot write {out}: Not a directory"


def test_kernel_progress_follows_kernels_json_not_pyperf_text(tmp_path):
    fixture = HERE.parent / "report" / "fixtures" / "k1" / "kernels.json"
    benches = pyperf.BenchmarkSuite.load(str(fixture)).get_benchmarks()
    path, seen = tmp_path / "kernels.json", []
    watch = KernelWatch(path, {benches[0].get_name()}, seen.append)  # one done before
    watch.poll()  # no file yet
    pyperf.BenchmarkSuite(benches[:3]).dump(str(path))
    watch.poll()
    assert seen == sorted(b.get_name() for b in benches[1:3])
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # caught while pyperf rewrites it: skipped
    watch.poll()
    assert len(seen) == 2
    pyperf.BenchmarkSuite(benches).dump(str(path), replace=True)
    watch.every_s = 0.01
    watch.start()  # polling in its thread, as during a run
    watch.stop()  # and once more when the pyperf script ends
    watch.poll()  # each benchmark counted once
    assert sorted(seen) == sorted(b.get_name() for b in benches[1:])
