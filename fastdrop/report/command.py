"""`fastdrop report` and `fastdrop compare`: options and the two command functions.

    fastdrop report [RUN_DIR] [--format term,md,html] [--out DIR] [--gpu PATH|none]
    fastdrop compare RUN_A RUN_B [--threshold 5%]

Both read run folders only; neither runs a benchmark. `fastdrop bench` renders a finished
run through `report_bench_run` (fastdrop.cli passes it to the bench command).

Exit codes: report 0 when it rendered (a partial run or failed tasks are marked in the
report, not an error), 2 when the run folder cannot be read or an option is wrong;
compare 0 no regression, 1 a regression beyond the threshold, 2 a run folder cannot be
read.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from ..results import pyperf_files
from ..results.folder import read_json
from . import compare, document, html, kernel_table, markdown, plots
from .claims import check_all
from .load import ReportError, gpu_dir_for, latest_run, load_gpu, load_run
from .terminal import render_run

FORMATS = ("term", "md", "html")


def add_report_arguments(p) -> None:
    p.add_argument("run", nargs="?", default=None, metavar="RUN_DIR",
                   help="a run folder (default: the newest under reports/runs)")
    p.add_argument("--format", default=",".join(FORMATS), metavar="term,md,html",
                   help="what to render, comma-separated (default: all three); md and html "
                   "also draw the plots (SVG and PNG) into DIR/plots")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where report.md, report.html and plots/ go (default RUN_DIR/report)")
    p.add_argument("--gpu", default=None, metavar="PATH",
                   help="a GPU benchmark file, or a folder whose newest file is used "
                   "(default: reports/gpu beside reports/runs; 'none' leaves the GPU out)")


def add_compare_arguments(p) -> None:
    p.add_argument("run_a", metavar="RUN_A", help="the reference run folder")
    p.add_argument("run_b", metavar="RUN_B", help="the run compared with it")
    p.add_argument("--threshold", default="5%", metavar="PCT",
                   help="a change smaller than this is not a regression (default 5%%; a "
                   "bare number is a percentage too)")


def _err(msg: str) -> int:
    print(msg, file=sys.stderr)
    return EXIT_USAGE


def parse_formats(text: str) -> list[str]:
    want = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in want if f not in FORMATS]
    if bad or not want:
        raise ValueError(f"--format {text}: {', '.join(bad) or 'nothing'} is not a format; "
                         f"choose from {', '.join(FORMATS)}")
    return want


def write_files(run, gpu, out_dir, formats) -> list[Path]:
    """Plots, report.md and report.html (those asked for) into out_dir; their paths."""
    out_dir = Path(out_dir)
    drawn = plots.draw_all(run, gpu, out_dir / "plots")
    blocks = document.build(run, gpu, check_all(run), drawn)
    written = [p.svg for p in drawn if p.svg] + [p.png for p in drawn if p.png]
    if "md" in formats:
        written.append(markdown.write(blocks, out_dir))
    if "html" in formats:
        written.append(html.write(blocks, out_dir, f"fastdrop report: {run.path.name}"))
    return written


def render_and_write(run_dir, console=None, *, formats=FORMATS, out=None, gpu=None) -> int:
    """The whole report of a run folder: printed to `console` ("term") and written to `out`
    (default RUN_DIR/report: report.md, report.html, plots/). Returns 0, or 2 (with the
    message printed) when the run folder cannot be read or the files cannot be written.
    `fastdrop bench` calls this when a run ends."""
    console = console or Console()
    try:
        run = load_run(run_dir)
    except ReportError as exc:
        console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        return EXIT_USAGE
    return _render(run, console, formats, out, gpu)


def _render(run, console, formats, out, gpu) -> int:
    gpu_report = None if gpu == "none" else load_gpu(gpu or gpu_dir_for(run.path),
                                                     run.problems)
    if "term" in formats:
        render_run(run, console, gpu_report)
    if "md" in formats or "html" in formats:
        out = Path(out) if out else run.path / "report"
        try:
            written = write_files(run, gpu_report, out, formats)
        except OSError as exc:
            console.print(f"[red]cannot write the report to {escape(str(out))}: "
                          f"{escape(str(exc))}[/]", highlight=False)
            return EXIT_USAGE
        for p in written:
            if p.suffix in (".md", ".html"):
                console.print(f"wrote {p}", highlight=False, soft_wrap=True)
        n_plots = sum(p.suffix == ".svg" for p in written)
        console.print(f"wrote {n_plots} plots (SVG and PNG) to {out / 'plots'}",
                      highlight=False, soft_wrap=True)
    return EXIT_OK


def write_kernel_markdown(run_dir) -> Path | None:
    """kernels.md beside kernels.json: the kernel table alone, with the machine the run
    began on. None when the run has no kernels.json."""
    run_dir = Path(run_dir)
    if not (run_dir / "kernels.json").exists():
        return None
    rows = kernel_table.rows_from_suite(pyperf_files.load_suite(run_dir / "kernels.json"))
    first = read_json(run_dir / "manifest.json")  # the machine the run began on
    out = run_dir / "kernels.md"
    out.write_text(kernel_table.markdown(first, rows))
    return out


def report_bench_run(run_dir, console) -> int:
    """What `fastdrop bench` shows when a run ends: kernels.md (when the run has K1), the
    terminal report and RUN/report/{report.md, report.html, plots/}."""
    write_kernel_markdown(run_dir)
    return render_and_write(run_dir, console)


def run_report(args) -> int:
    try:
        formats = parse_formats(args.format)
        run = load_run(Path(args.run) if args.run else latest_run())
    except (ValueError, ReportError) as exc:
        return _err(f"fastdrop report: {exc}")
    return _render(run, Console(), formats, args.out, args.gpu)


def run_compare(args) -> int:
    try:
        threshold = compare.parse_threshold(args.threshold)
        a, b = load_run(args.run_a), load_run(args.run_b)
        cmp = compare.compare_runs(a, b, threshold)
    except (ValueError, ReportError) as exc:
        return _err(f"fastdrop compare: {exc}")
    compare.render(Console(), cmp)
    return EXIT_FAILED if cmp.regressions else EXIT_OK
