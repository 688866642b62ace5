"""The `fastdrop` command: subcommands dispatch to small functions; each command's module
is imported inside the function that runs it, so `fastdrop --help` is instant.

This is where the two halves meet: `fastdrop bench` runs (fastdrop.bench, which writes
fastdrop.results) and then renders the report (fastdrop.report, which reads them); neither
package imports the other."""

from __future__ import annotations

import argparse
import sys

from .exitcodes import EXIT_INTERRUPTED, EXIT_USAGE


def _cmd_train(args) -> int:
    from .train.command import run

    return run(args)


def _add_train(sub) -> None:
    from .train.command import add_arguments

    p = sub.add_parser("train", help="train a model on MNIST-1D with dropout")
    add_arguments(p)
    p.set_defaults(func=_cmd_train)


def _cmd_bench(args) -> int:
    from .bench.command import run
    from .report.command import report_bench_run

    return run(args, report=report_bench_run)


def _add_bench(sub) -> None:
    from .bench.command import add_arguments

    p = sub.add_parser("bench", help="run the benchmarks (kernels, training, or all)")
    add_arguments(p)
    p.set_defaults(func=_cmd_bench)


def _cmd_report(args) -> int:
    from .report.command import run_report

    return run_report(args)


def _add_report(sub) -> None:
    from .report.command import add_report_arguments

    p = sub.add_parser("report", help="render a run folder: terminal, report.md, report.html, "
                       "plots")
    add_report_arguments(p)
    p.set_defaults(func=_cmd_report)


def _cmd_compare(args) -> int:
    from .report.command import run_compare

    return run_compare(args)


def _add_compare(sub) -> None:
    from .report.command import add_compare_arguments

    p = sub.add_parser("compare", help="compare two run folders; exit 1 on a regression")
    add_compare_arguments(p)
    p.set_defaults(func=_cmd_compare)


def _cmd_env(args) -> int:
    """`fastdrop env`: the run manifest of this machine as a table (or JSON with --json)."""
    import json

    from .results.manifest import collect

    man = collect()
    if args.json:
        print(json.dumps(man, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="fastdrop env", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in man["machine"].items():
        if key == "gpu":
            value = "none" if not value else "; ".join(
                f"{g['name']} (driver {g['driver']}, SM {g['sm_clock_mhz']} MHz)" for g in value)
        table.add_row(key, str(value))
    table.add_row("python", man["python"])
    for name, ver in man["versions"].items():
        table.add_row(name, ver or "not installed")
    table.add_row("git commit", str(man["git_commit"]))
    Console().print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastdrop",
        description="Fast dropout kernels and an honest benchmark of what dropout costs "
        "and buys.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_bench(sub)
    _add_train(sub)
    _add_report(sub)
    _add_compare(sub)
    p = sub.add_parser("env", help="print the machine manifest (CPU, threads, versions, GPU)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_env)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
