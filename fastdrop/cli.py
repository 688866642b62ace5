"""The `fastdrop` command: subcommands dispatch to small functions; heavy imports happen
inside the command that needs them, so `fastdrop --help` is instant."""

from __future__ import annotations

import argparse
import sys


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

    return run(args)


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
    from .bench.manifest import print_manifest

    return print_manifest(args)


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
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
