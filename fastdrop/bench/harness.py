"""Run a plan into a run folder: the kernel suite, the timing tasks one at a time, then the
training and probe tasks in a process pool; consolidate results.json
(fastdrop.results.consolidate).

Phases, each alone on the machine so that timings are not disturbed:
  1. K1: the kernel suite's pyperf script (appends to kernels.json benchmark by benchmark;
     a resumed run skips the benchmarks already there);
  2. timing tasks (pyperf, one training step of a config), one at a time;
  3. training and probe tasks, `jobs` at a time, longest first.

Every task's record is written (atomically) as soon as it finishes; results.json is
rebuilt from the records at the end, and also when the run is interrupted.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numba

from ..atomic import WriteError
from ..exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ..results import pyperf_files
from ..results.consolidate import consolidate, write_results
from ..results.folder import RunFolder, RunFolderError
from ..results.records import record
from ..train.config import TrainConfig
from ..train.data import load_mnist1d
from .executor import Executor, LocalProcessExecutor, SerialExecutor, TaskFailure
from .kernel_suite import build_cases, verify
from .suites import KERNELS
from .tasks import inherit_args

# rough relative cost of one training step, for longest-first scheduling only
STEP_COST = {"linear": 0.2, "mlp": 1.0, "selu_mlp": 1.5, "cnn": 4.0, "gru": 12.0,
             "lstm": 18.0}


def _cost(task: dict) -> float:
    c = task["payload"]["config"]
    steps = c.get("steps") or 1
    evals = steps // c["eval_every"] if c.get("eval_every") else 0
    size = c["train_size"] + 1000  # examples scored at each evaluation
    return STEP_COST.get(c["model"], 1.0) * (steps + evals * size / 100)


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # a killed run stops like Ctrl-C: records kept, results written


# --- the kernel suite -----------------------------------------------------------------


def kernel_cases(spec: dict):
    return build_cases(spec["sizes"], spec["rates"], numba.get_num_threads(), spec["torch"])


def kernel_names_done(folder: RunFolder) -> set[str]:
    """Names of the benchmarks already in kernels.json (RunFolderError if it is damaged)."""
    return pyperf_files.benchmark_names(folder.file("kernels.json"))


class KernelWatch(threading.Thread):
    """Calls advance(name) as each benchmark lands in kernels.json: progress from the run's
    own record (pyperf appends each benchmark as it finishes), not from pyperf's printed
    text. pyperf rewrites the file in place, so a read that catches it half written is
    skipped and the next poll sees it whole."""

    def __init__(self, path: Path, done: set[str], advance: Callable[[str], None],
                 every_s: float = 0.5):
        super().__init__(daemon=True)
        self.path, self.seen, self.advance, self.every_s = path, set(done), advance, every_s
        self._done = threading.Event()

    def poll(self) -> None:
        try:
            names = pyperf_files.benchmark_names(self.path)
        except RunFolderError:
            return
        for name in sorted(names - self.seen):
            self.seen.add(name)
            self.advance(name)

    def run(self) -> None:
        while not self._done.wait(self.every_s):
            self.poll()

    def stop(self) -> None:
        """Stop polling, then count what the file holds now."""
        self._done.set()
        self.join()
        self.poll()


def run_kernels(folder: RunFolder, spec: dict, profile_args, console,
                advance: Callable[[str], None]) -> tuple[bool, list[str]]:
    """Check, then time the kernel cases not yet in kernels.json. Returns (ok, warnings)."""
    with console.status("checking every fastdrop kernel against the numpy reference") as st:
        verify(spec["sizes"], spec["rates"], progress=lambda msg: st.update(msg))
    console.print("[green]fastdrop kernels equal the reference, bit for bit[/]")
    done = kernel_names_done(folder)
    result = folder.file("kernels.json")
    with tempfile.TemporaryDirectory(prefix="fastdrop-k1-") as tmp:
        skip = Path(tmp) / "skip.json"
        skip.write_text(json.dumps(sorted(done)))
        cmd = [sys.executable, "-m", "fastdrop.bench.kernel_suite",
               "--sizes", ",".join(map(str, spec["sizes"])),
               "--rates", ",".join(f"{p:g}" for p in spec["rates"]),
               "--skip", str(skip), "--append", str(result), *profile_args, *inherit_args()]
        if not spec["torch"]:
            cmd.append("--no-torch")
        lines = []
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        watch = KernelWatch(result, done, advance)
        watch.start()
        try:
            for line in proc.stdout:  # kept for pyperf's warnings and a failure's tail
                if line.strip():
                    lines.append(line.rstrip())
            proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
        finally:
            watch.stop()
    if proc.returncode != 0:
        console.print("\n".join(lines[-30:]))
        console.print(f"[red]K1: pyperf exited with {proc.returncode}; finished benchmarks "
                      f"are kept in {result}[/]")
        return False, lines
    return True, [w for w in lines if "may be unstable" in w]


# --- the run -------------------------------------------------------------------------------


class Run:
    """One execution of a plan (a fresh run or a resume)."""

    def __init__(self, folder: RunFolder, plan: dict, console, *, jobs: int | None = None,
                 retry_failed: bool = False, executor: Executor | None = None,
                 timing_executor: Executor | None = None):
        self.folder, self.plan, self.console = folder, plan, console
        self.jobs = jobs
        self.retry_failed = retry_failed
        self.executor = executor  # the pool for training tasks (default: local processes)
        # where timing tasks run, one at a time (default: this process)
        self.timing_executor = timing_executor
        self.records: dict[str, dict] = {}
        self.kernels_ok, self.kernel_warnings = True, []  # K1's pyperf run, if it ran
        self.write_error: WriteError | None = None  # the file that could not be written

    # -- what is left to do ------------------------------------------------------------
    def load_finished(self) -> list[str]:
        """Read the records on disk; damaged files are named, set aside and their tasks
        run again. Returns the messages about them."""
        ids = [t["id"] for t in self.plan["tasks"]]
        self.records, errors = self.folder.scan(ids)
        notes = []
        for exc in errors:
            dest = self.folder.quarantine(exc.path) if exc.path.exists() else None
            notes.append(f"{exc}" + (f" -> moved to {dest.name}; its task runs again"
                                     if dest else "; its task runs again"))
        if self.retry_failed:
            for tid in [t for t, r in self.records.items() if r["status"] != "ok"]:
                del self.records[tid]
        if KERNELS in self.plan["suites"]:
            try:
                kernel_names_done(self.folder)
            except RunFolderError as exc:
                dest = self.folder.quarantine(exc.path)
                notes.append(f"{exc} -> moved to {dest.name}; the kernel suite runs again")
        return notes

    def todo(self, kinds) -> list[dict]:
        return [t for t in self.plan["tasks"] if t["kind"] in kinds
                and t["id"] not in self.records]

    def kernel_status(self) -> dict | None:
        """K1's state from kernels.json: how many of its benchmarks are there."""
        spec = self.plan["suites"].get(KERNELS)
        if not spec:
            return None
        names = {n for c in kernel_cases(spec) for n in (c.name, c.ceiling_name)}
        done = kernel_names_done(self.folder) & names
        return {"file": "kernels.json", "benchmarks": len(done), "of": len(names),
                "complete": done == names, "ok": self.kernels_ok,
                "unstable": sum("unstable" in w for w in self.kernel_warnings)}

    # -- running -------------------------------------------------------------------------
    def _finish(self, task: dict, outcome: dict, elapsed: float, progress) -> None:
        rec = record(task, outcome, elapsed, failed=isinstance(outcome, TaskFailure))
        if task["kind"] == "timing" and rec["status"] == "ok":
            self.folder.write_timing(task["id"], outcome["pyperf"])  # before its record
        self.folder.write_record(rec)
        self.records[task["id"]] = rec
        progress.task_done(task, rec)

    def _run_tasks(self, executor: Executor, tasks: list[dict], progress) -> None:
        by_id = {t["id"]: t for t in tasks}
        started: dict[str, float] = {}

        def items():  # the executor takes each task as it can start it
            for t in tasks:
                started[t["id"]] = time.perf_counter()
                yield t["id"], t["fn"], t["payload"]

        for tid, outcome in executor.run(items()):
            self._finish(by_id[tid], outcome, time.perf_counter() - started[tid], progress)

    def warm_data(self, tasks: list[dict]) -> None:
        """Generate (or load) every MNIST-1D set the tasks need, once, in this process, so
        that workers find it in the cache instead of racing to make it."""
        seen = set()
        for t in tasks:
            c = TrainConfig.from_dict(t["payload"]["config"])
            key = (c.train_size + c.effective_val_size, c.data_seed, c.cache_dir)
            if key not in seen:
                seen.add(key)
                load_mnist1d(c.train_size, c.effective_val_size, seed=c.data_seed,
                             cache=c.cache_dir)

    def _adopt_written(self) -> None:
        """Take in the records on disk that self.records lacks: an interrupt can land
        between writing a record and noting it here, and the disk is what a resume reads."""
        missing = [t["id"] for t in self.plan["tasks"] if t["id"] not in self.records]
        found, _ = self.folder.scan(missing)
        self.records.update(found)

    def execute(self, progress, kernel_args) -> int:
        """Run everything not finished; returns the exit code. A file that cannot be
        written (disk full, read-only folder) stops the run: one line names it and the
        cause, the records already written stay, and --resume finishes the run."""
        old = signal.signal(signal.SIGTERM, _sigterm)
        interrupted = False
        try:
            self._execute(progress, kernel_args)
        except KeyboardInterrupt:
            interrupted = True
        except WriteError as exc:
            self.write_error = exc
        finally:
            signal.signal(signal.SIGTERM, old)
            progress.stop()
        if interrupted or self.write_error:
            self._adopt_written()
        if self.write_error is None:
            kernels = self.kernel_status()
            results = consolidate(self.plan, self.records, kernels)
            try:
                write_results(self.folder, results)
            except WriteError as exc:
                self.write_error = exc
        if self.write_error is not None:
            self.console.print(
                f"fastdrop bench: {self.write_error}; {len(self.records)} of "
                f"{len(self.plan['tasks'])} tasks are recorded in {self.folder.path}; once it "
                f"can be written, finish with: fastdrop bench --resume {self.folder.path}",
                style="red", markup=False, highlight=False, soft_wrap=True)
            return EXIT_FAILED
        if interrupted:
            self.console.print(
                f"[yellow]interrupted: {results['counts']['ok'] + results['counts']['failed']}"
                f" of {results['counts']['tasks']} tasks are recorded in "
                f"{self.folder.path}; finish with: fastdrop bench --resume {self.folder.path}[/]")
            return EXIT_INTERRUPTED
        failed = results["counts"]["failed"] or (kernels and not kernels["ok"])
        return EXIT_FAILED if failed else EXIT_OK

    def _execute(self, progress, kernel_args) -> None:
        status = self.kernel_status()
        if status and not status["complete"]:
            self.kernels_ok, self.kernel_warnings = run_kernels(
                self.folder, self.plan["suites"][KERNELS], kernel_args, self.console,
                progress.kernel_done)
        timing = self.todo({"timing", "cost", "torch_cost"})  # one at a time: they time
        pooled = self.todo({"train", "probe"})
        if timing or pooled:
            with self.console.status("MNIST-1D: loading (or generating) the data sets"):
                self.warm_data(timing + pooled)
        if timing:
            with self.timing_executor or SerialExecutor() as ex:
                self._run_tasks(ex, timing, progress)
        if pooled:
            pooled.sort(key=_cost, reverse=True)  # longest first: a short tail
            ex = self.executor or LocalProcessExecutor(self.jobs)
            with ex:
                self._run_tasks(ex, pooled, progress)

