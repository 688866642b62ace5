"""`fastdrop bench`: plan the suites, run them into a run folder, print the summary.

    fastdrop bench [kernels|train|all] [--quick|--full] [--out DIR] [--resume RUN_DIR]
                   [--jobs N] [--only T1,T4] [--retry-failed] [--sizes ..] [--rates ..]
                   [--no-torch] [--executor local|dask] [--scheduler ADDR]
                   [--timing-on-workers]

A run folder `reports/runs/<timestamp>/` holds manifest.json (the machine), plan.json
(every task), tasks/ (one record per finished task), timings/ and kernels.json (pyperf),
results.json (records and tables) and kernels.md; fastdrop.results.folder lists them.
The report is rendered by the `report` function the caller passes (fastdrop.cli passes
fastdrop.report.command.report_bench_run): a benchmark never formats a table.
Exit code: 0 every task succeeded, 1 some task failed (each is recorded with its error),
2 bad options or an unreadable run folder, 130 interrupted (resume with --resume).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..atomic import WriteError
from ..exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from ..results.folder import RunFolder, RunFolderError
from ..results.manifest import collect
from . import grid
from . import suites as S
from .dask_executor import DaskExecutor
from .harness import Run
from .kernel_suite import parse_list

SUITE_CHOICES = ("kernels", "train", "all")


def add_arguments(p) -> None:
    p.add_argument("suite", nargs="?", default="all", choices=SUITE_CHOICES,
                   help="kernels (K1), train (T1..T8) or all (default)")
    # not exclusive: the last one given wins (make bench BENCH_ARGS=--full)
    p.add_argument("--quick", dest="profile", action="store_const", const="quick",
                   help="the default: every table, 3 seeds, 3000-step runs, short pyperf "
                   "runs (minutes)")
    p.add_argument("--full", dest="profile", action="store_const", const="full",
                   help="10 seeds, 6000-step runs, rates tuned on validation, longer "
                   "pyperf runs: the profile that decides (about 1.5 h on 2 cores)")
    p.set_defaults(profile="quick")
    p.add_argument("--out", default="reports/runs", metavar="DIR",
                   help="where run folders are made (default reports/runs)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="finish an interrupted run: skip its finished tasks, run the rest "
                   "(the folder's plan decides what runs; other selection options are ignored)")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume: run the failed tasks again too")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="training tasks at once (default: the usable cores); each uses one "
                   "thread")
    p.add_argument("--only", default=None, metavar="T1,T4",
                   help=f"only these suites ({', '.join(S.SUITE_NAMES)}; T2 brings "
                   f"{S.TORCH_PEER} along where torch is installed, which --only may also "
                   "name alone)")
    d = p.add_argument_group("where training tasks run")
    d.add_argument("--executor", choices=("local", "dask"), default="local",
                   help="local: a process pool on this machine (default); dask: the workers "
                   "of an existing Dask cluster (pip install 'fastdrop[dask]')")
    d.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="the Dask scheduler's address (default $FASTDROP_DASK_SCHEDULER)")
    d.add_argument("--timing-on-workers", action="store_true",
                   help="with --executor dask: run the timing (pyperf) tasks on the workers, "
                   "one at a time, each record keeping its worker's machine manifest "
                   "(default: on this machine)")
    k = p.add_argument_group("kernel suite (K1)")
    k.add_argument("--sizes", default="10,13,16,20,23,26", metavar="K,K",
                   help="log2 of the array sizes (default 10,13,16,20,23,26: every cache level)")
    k.add_argument("--rates", default="0.1,0.5,0.9", metavar="P,P",
                   help="dropout rates (default 0.1,0.5,0.9)")
    k.add_argument("--no-torch", action="store_true",
                   help="leave PyTorch out even when it is installed: no torch peers in K1, "
                   "no T2-torch beside T2")


class UsageExit(SystemExit):
    """A refused option: exit code 2 (SystemExit("text") would exit 1); str() is the
    message, which _usage has printed on stderr."""

    def __init__(self, message: str):
        super().__init__(EXIT_USAGE)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _usage(msg: str):
    """Refuse a bad option before anything is written: the message on stderr, exit 2."""
    message = f"fastdrop bench: {msg}"
    print(message, file=sys.stderr)
    raise UsageExit(message)


def _parse_kernels(args):
    try:
        sizes = parse_list(args.sizes, int)
        rates = parse_list(args.rates, float)
    except ValueError as exc:
        _usage(f"--sizes takes integers and --rates numbers ({exc})")
    bad = [k for k in sizes if not 3 <= k <= 32]
    if bad or not sizes:
        _usage(f"--sizes must be log2 sizes in 3..32, got {args.sizes}")
    bad = [p for p in rates if not 0 <= p < 1]
    if bad or not rates:
        _usage(f"--rates must be in [0, 1), got {args.rates}")
    return sizes, rates


def select(suite: str, only: str | None) -> list[str]:
    """The suite names to run, in table order."""
    names = {"kernels": [S.KERNELS], "train": list(S.TRAIN_SUITES),
             "all": list(S.SUITE_NAMES)}[suite]
    if only:
        # T2-torch comes with T2 where torch is installed; --only names it alone too
        pick = [*names, S.TORCH_PEER] if "T2" in names else names
        by_upper = {n.upper(): n for n in pick}
        want = [w.strip().upper() for w in only.split(",") if w.strip()]
        bad = [w for w in want if w not in by_upper]
        if bad or not want:
            _usage(f"--only {only}: {', '.join(bad) or 'nothing'} is not a suite of "
                   f"'{suite}'; choose from {', '.join(pick)}")
        names = [n for n in pick if n.upper() in want]
    return names


def _jobs(args) -> int:
    if args.jobs is not None and args.jobs < 1:
        _usage(f"--jobs must be >= 1, got {args.jobs}")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return args.jobs or cores


class BenchProgress:
    """rich progress: one bar for the whole run and one per suite, with counts and time
    remaining. A task shared by two suites advances both of their bars."""

    def __init__(self, console, plan: dict, records: dict, kernels: tuple[int, int]):
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=console, speed_estimate_period=600)
        k_total, k_done = kernels
        tasks = plan["tasks"]
        self.overall = self.progress.add_task(
            "[bold]all", total=len(tasks) + k_total, completed=len(records) + k_done)
        self.bars = {}
        for name, spec in plan["suites"].items():
            if spec.get("kind") == "kernels":
                total, done = k_total, k_done
            else:
                mine = [t["id"] for t in tasks if name in t["suites"]]
                total, done = len(mine), sum(t in records for t in mine)
            self.bars[name] = self.progress.add_task(f"{name} {spec['title']}", total=total,
                                                     completed=done)
        self.progress.start()

    def task_done(self, task: dict, rec: dict) -> None:
        self.progress.advance(self.overall)
        for s in task["suites"]:
            if s in self.bars:
                self.progress.advance(self.bars[s])
        if rec["status"] != "ok":
            self.console.print(f"[red]failed[/] {task['id']} ({', '.join(task['suites'])}): "
                               f"{rec['error']}")

    def kernel_done(self, name: str) -> None:
        self.progress.advance(self.overall)
        self.progress.advance(self.bars[S.KERNELS])

    def stop(self) -> None:
        self.progress.stop()


def run(args, report: Callable[[Path, Console], object] | None = None) -> int:
    """Plan (or resume) and run; then `report(run_dir, console)` renders the finished run
    (not called when the run was interrupted). Returns the exit code."""
    console = Console()
    jobs = _jobs(args)
    executor = timing_executor = None
    if args.timing_on_workers and args.executor != "dask":
        _usage("--timing-on-workers needs --executor dask")
    if args.executor == "dask":  # before anything is written: a bad address changes nothing
        try:
            executor = DaskExecutor(args.scheduler)
        except (ImportError, ValueError, ConnectionError) as exc:
            print(f"fastdrop bench --executor dask: {exc}", file=sys.stderr)
            return EXIT_USAGE
        jobs = executor.jobs
        console.print(f"Dask cluster at {executor.client.scheduler.address}: "
                      f"{len(executor.workers())} workers, {jobs} threads")
        if args.timing_on_workers:  # one timing at a time, so timings do not disturb each other
            timing_executor = DaskExecutor(client=executor.client, jobs=1)
    manifest = collect()
    try:
        if args.resume:
            folder = RunFolder(args.resume)
            try:
                plan = folder.read_plan()
            except RunFolderError as exc:
                print(f"fastdrop bench --resume: {exc}", file=sys.stderr)
                return EXIT_USAGE
            folder.add_resume(manifest)
            verb = "resuming"
        else:
            names = select(args.suite, args.only)
            sizes, rates = _parse_kernels(args)
            with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
            if S.TORCH_PEER in names and not with_torch:
                _usage(f"--only {args.only}: {S.TORCH_PEER} needs PyTorch (pip install "
                       "'fastdrop[torch]'), and --no-torch leaves it out")
            plan = grid.build(S.PROFILES[args.profile], names,
                              kernels={"sizes": sizes, "rates": rates, "torch": with_torch},
                              torch=with_torch)
            folder = RunFolder.create(args.out)
            folder.write_manifest(manifest)
            folder.write_plan(plan)
            verb = "new run"
        runner = Run(folder, plan, console, jobs=jobs, retry_failed=args.retry_failed,
                     executor=executor, timing_executor=timing_executor)
        notes = runner.load_finished()
    except WriteError as exc:  # nothing has run: the one line says what could not be written
        print(f"fastdrop bench: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RunFolderError as exc:  # manifest.json of the run to resume is damaged
        print(f"fastdrop bench --resume: {exc}", file=sys.stderr)
        return EXIT_USAGE
    prof = plan["profile"]
    for note in notes:
        console.print(f"[red]{note}[/]")
    k1 = plan["suites"].get(S.KERNELS)
    status = runner.kernel_status() or {"of": 0, "benchmarks": 0}
    k_total, k_done = status["of"], status["benchmarks"]
    n_left = len(plan["tasks"]) - len(runner.records)
    console.print(
        f"[bold]fastdrop bench[/] {verb} -> {folder.path}: suites {', '.join(plan['suites'])}; "
        f"profile {prof['name']} ({prof['seeds']} seeds, {prof['steps']} steps); "
        f"{n_left} of {len(plan['tasks'])} tasks to run"
        + (f", {k_total - k_done} of {k_total} kernel benchmarks" if k1 else "")
        + f"; {jobs} jobs")
    if k1 and not k1["torch"]:
        console.print("torch not installed (or --no-torch): no torch peers in K1")
    progress = BenchProgress(console, plan, runner.records, (k_total, k_done))
    code = runner.execute(progress, prof["kernel_args"])
    if code == EXIT_INTERRUPTED or runner.write_error:
        return code
    if report is not None:  # kernels.md, the terminal report, RUN/report/
        report(folder.path, console)
    failed = [r for r in runner.records.values() if r["status"] != "ok"]
    for r in failed:
        console.print(f"[red]failed task[/] {r['id']}: {r['error']}")
    console.print(f"run folder: {folder.path}  (results.json, manifest.json, tasks/, "
                  f"{'kernels.json, ' if k1 else ''}train-timing.json)")
    return code
