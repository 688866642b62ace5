"""The terminal summary of a run folder: `fastdrop bench` prints it when a run ends.

Reads files only (results.json, manifest.json, kernels.json); runs nothing.

    python -m fastdrop.report.summary [RUN_DIR]     # default: the latest run under reports/runs

The work is done by fastdrop.report.load (reading), .format (cells), .terminal (rich);
this module keeps the names the harness calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..results.folder import RunFolderError
from .format import (  # noqa: F401  (re-exported: the summary's public names)
    DECIMALS,
    PERCENT,
    cell,
    fmt_time,
    header_lines,
    label_cell,
    notes,
    table_rows,
)
from .load import ReportError, latest_run, load_run  # noqa: F401


def load(run_dir) -> tuple[dict, dict]:
    """(results, manifest) of a run folder; ReportError names a missing or bad file."""
    run = load_run(run_dir)
    return run.results, run.manifest


def rich_tables(results: dict):
    """A rich Table per T table, with its notes as the caption."""
    from .format import views
    from .terminal import rich_view

    return [rich_view(v) for v in views(results)]


def render(run_dir, console=None, *, gpu=None, claims: bool = True) -> int:
    """Print the report of a run folder; returns 0, or 2 when it cannot be read."""
    from rich.console import Console
    from rich.markup import escape

    from .load import gpu_dir_for, load_gpu
    from .terminal import render_run

    console = console or Console()
    try:
        run = load_run(run_dir)
    except (ReportError, RunFolderError) as exc:
        console.print(f"[red]{escape(str(exc))}[/]", highlight=False)
        return 2
    gpu_report = None if gpu == "none" else load_gpu(gpu or gpu_dir_for(run.path),
                                                     run.problems)
    render_run(run, console, gpu_report, claims=claims)
    return 0


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        run = Path(args[0]) if args else latest_run()
    except (ReportError, RunFolderError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return render(run)


if __name__ == "__main__":
    sys.exit(main())
