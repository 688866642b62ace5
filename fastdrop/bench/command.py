"""`fastdrop bench`: run a suite into a run folder, then render its report.

A run folder `reports/runs/<timestamp>/` holds manifest.json (the machine), kernels.json
(pyperf, appended benchmark by benchmark so an interrupted run keeps what finished) and
kernels.md (the rendered table).
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

# pyperf workers get a filtered environment: these pass through (DESIGN.md)
INHERIT = ("NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_ENABLE_CUDASIM",
           "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "FASTDROP_CACHE", "PYTHONPATH")
PROFILES = {
    # quick: one worker process after calibration, 3 values each; minutes, not hours
    "quick": ["--processes", "1", "--values", "3", "--warmups", "1", "--min-time", "0.05"],
    # full: pyperf's defaults (20 processes x 3 values) for figures to publish
    "full": [],
}


def add_arguments(p) -> None:
    p.add_argument("suite", nargs="?", default="kernels", choices=["kernels"],
                   help="what to run (default kernels)")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--quick", dest="profile", action="store_const", const="quick",
                      help="short pyperf profile (the default): 1 process x 3 values")
    prof.add_argument("--full", dest="profile", action="store_const", const="full",
                      help="pyperf's default profile (20 processes), for publishing")
    p.set_defaults(profile="quick")
    p.add_argument("--out", default="reports/runs", metavar="DIR",
                   help="where run folders are made (default reports/runs)")
    p.add_argument("--sizes", default="16,26", metavar="K,K",
                   help="log2 of the array sizes (default 16,26)")
    p.add_argument("--rates", default="0.1,0.5,0.9", metavar="P,P",
                   help="dropout rates (default 0.1,0.5,0.9)")
    p.add_argument("--no-torch", action="store_true",
                   help="leave PyTorch out even when it is installed")


def _parse(args):
    from .kernels import parse_list

    try:
        sizes = parse_list(args.sizes, int)
        rates = parse_list(args.rates, float)
    except ValueError as exc:
        raise SystemExit(f"fastdrop bench: --sizes takes integers and --rates numbers ({exc})")
    bad = [k for k in sizes if not 3 <= k <= 32]
    if bad or not sizes:
        raise SystemExit(f"fastdrop bench: --sizes must be log2 sizes in 3..32, got {args.sizes}")
    bad = [p for p in rates if not 0 <= p < 1]
    if bad or not rates:
        raise SystemExit(f"fastdrop bench: --rates must be in [0, 1), got {args.rates}")
    return sizes, rates


def new_run_dir(out: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run = Path(out) / stamp
    run.mkdir(parents=True, exist_ok=False)
    return run


def run(args) -> int:
    import numba
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn, TimeRemainingColumn

    from ..report import kernels as report
    from . import manifest as man
    from .kernels import build_cases, verify

    console = Console()
    sizes, rates = _parse(args)
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    threads = numba.get_num_threads()
    cases = build_cases(sizes, rates, threads, with_torch)
    run_dir = new_run_dir(args.out)
    manifest = man.collect(threads)
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    console.print(f"[bold]fastdrop bench kernels[/] -> {run_dir}  ({len(cases)} benchmarks, "
                  f"{threads} threads, profile {args.profile}"
                  f"{'' if with_torch else ', torch not installed: no torch peers'})")

    with console.status("checking every fastdrop kernel against the numpy reference") as st:
        verify(sizes, rates, progress=lambda msg: st.update(msg))
    console.print("[green]fastdrop kernels equal the reference, bit for bit[/]")

    result = run_dir / "kernels.json"
    cmd = [sys.executable, "-m", "fastdrop.bench.kernels", "--sizes", args.sizes,
           "--rates", args.rates, "--append", str(result), *PROFILES[args.profile]]
    inherit = [k for k in INHERIT if k in os.environ]
    if inherit:
        cmd += ["--inherit-environ", ",".join(inherit)]
    if not with_torch:
        cmd.append("--no-torch")
    warnings = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("timing", total=len(cases))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        try:
            for line in proc.stdout:
                line = line.rstrip()
                if ": Mean +- std dev:" in line:
                    progress.advance(task)
                    progress.update(task, description=line.split(":")[0])
                elif line.strip():
                    warnings.append(line)
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            console.print(f"[yellow]interrupted; finished benchmarks are kept in {result}[/]")
            return 130
    if proc.returncode != 0:
        console.print("\n".join(warnings[-30:]))
        console.print(f"[red]pyperf exited with {proc.returncode}; partial results in {result}")
        return proc.returncode or 1
    unstable = sum("may be unstable" in w for w in warnings)
    if unstable:
        console.print(f"[yellow]pyperf flagged {unstable} result(s) as possibly unstable "
                      "(a shared, noisy machine); the spread column shows each one's range")

    rows = report.rows_from_suite(report.load_suite(result))
    console.print(report.rich_table(manifest, rows))
    (run_dir / "kernels.md").write_text(report.markdown(manifest, rows))
    console.print(f"results: {result}\nreport:  {run_dir / 'kernels.md'}")
    return 0
