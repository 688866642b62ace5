"""`fastdrop train`: the options, a rich progress bar, a summary table and the JSON result.

add_arguments(parser) declares the options (defaults come from TrainConfig); run(args)
returns the exit code: 0 done (or stopped early), 1 the --json file cannot be written, 2 bad
options, 3 the loss became NaN/Inf (the JSON then still holds the history so far).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..atomic import WriteError, make_dir, write_text
from ..exitcodes import EXIT_DIVERGED, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from ..nn.models import DROPOUT_AT, MODELS, VARIANTS
from .config import BACKENDS, DATASETS, DTYPES, OPTIMIZERS, TrainConfig
from .trainer import train


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    g = p.add_argument_group("model and data")
    g.add_argument("--model", choices=MODELS, default=d.model, help="network (default %(default)s)")
    g.add_argument("--dataset", choices=DATASETS, default=d.dataset,
                   help="data set (default %(default)s)")
    g.add_argument("--train-size", type=int, default=d.train_size, metavar="N",
                   help="training sequences (default %(default)s; e.g. 500..16000)")
    g.add_argument("--val-size", type=int, default=None, metavar="N",
                   help="validation sequences held out for early stopping (default: 500 "
                   "with --early-stopping, else 0)")
    g.add_argument("--data-seed", type=int, default=d.data_seed, metavar="S",
                   help="mnist1d generation seed (default %(default)s, the standard set)")
    g.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="generated-data cache (default $FASTDROP_CACHE or ~/.cache/fastdrop)")
    g = p.add_argument_group("dropout")
    g.add_argument("--dropout", type=float, default=d.dropout, metavar="P",
                   help="rate at the hidden sites (default %(default)s)")
    g.add_argument("--input-dropout", type=float, default=d.input_dropout, metavar="P",
                   help="rate of dropout on the input (default %(default)s)")
    g.add_argument("--variant", choices=VARIANTS, default=d.variant,
                   help="dropout variant (default %(default)s)")
    g.add_argument("--dropout-at", choices=DROPOUT_AT, default=d.dropout_at,
                   help="hidden: after every hidden activation; head: only the classifier's "
                   "input (default %(default)s)")
    g.add_argument("--regenerate-mask", action="store_true",
                   help="do not store masks: regenerate them from seed/offset in backward")
    g.add_argument("--backend", choices=BACKENDS, default=d.backend,
                   help="fastdrop backend for dropout (default %(default)s)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--steps", type=int, default=d.steps, metavar="N",
                   help="optimizer steps (default %(default)s)")
    g.add_argument("--batch-size", type=int, default=d.batch_size, metavar="B",
                   help="examples per step (default %(default)s)")
    g.add_argument("--lr", type=float, default=d.lr, help="learning rate (default %(default)s)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer,
                   help="default %(default)s")
    g.add_argument("--momentum", type=float, default=d.momentum,
                   help="sgd momentum (default %(default)s)")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, metavar="W",
                   help="sgd/adam: L2 in the gradient; adamw: decoupled (default %(default)s)")
    g.add_argument("--no-shuffle", action="store_true",
                   help="take batches in order instead of a new permutation per epoch")
    g = p.add_argument_group("regularisers")
    g.add_argument("--l1", type=float, default=d.l1, metavar="A",
                   help="L1 penalty on weights (default %(default)s)")
    g.add_argument("--l2", type=float, default=d.l2, metavar="B",
                   help="L2 penalty (B/2)|W|^2 on weights (default %(default)s)")
    g.add_argument("--max-norm", type=float, default=d.max_norm, metavar="C",
                   help="max norm of each unit's incoming weights, 0 = off (default %(default)s)")
    g.add_argument("--early-stopping", type=int, default=d.early_stopping, metavar="PATIENCE",
                   help="stop after PATIENCE evaluations without a better validation accuracy "
                   "(default %(default)s = off)")
    g = p.add_argument_group("run")
    g.add_argument("--eval-every", type=int, default=d.eval_every, metavar="K",
                   help="evaluate every K steps (default %(default)s)")
    g.add_argument("--mc-samples", type=int, default=d.mc_samples, metavar="T",
                   help="Monte Carlo dropout samples on the test set at the end (default 0)")
    g.add_argument("--seed", type=int, default=d.seed, metavar="S",
                   help="run seed (default %(default)s)")
    g.add_argument("--dtype", choices=DTYPES, default=d.dtype, help="default %(default)s")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="Numba threads (default: as NUMBA_NUM_THREADS says)")
    g.add_argument("--blas-threads", type=int, default=d.blas_threads, metavar="N",
                   help="numpy BLAS threads during the run, 0 = leave as is (default "
                   "%(default)s: fastest here, and bit-identical results at any thread count)")
    g.add_argument("--json", default=None, metavar="PATH", help="write the result here")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args) -> TrainConfig:
    cfg = TrainConfig(
        model=args.model, dataset=args.dataset, train_size=args.train_size,
        val_size=args.val_size, data_seed=args.data_seed, cache_dir=args.cache_dir,
        dropout=args.dropout, input_dropout=args.input_dropout, variant=args.variant,
        dropout_at=args.dropout_at,
        store_mask=not args.regenerate_mask, backend=args.backend, steps=args.steps,
        batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        momentum=args.momentum, weight_decay=args.weight_decay, shuffle=not args.no_shuffle,
        l1=args.l1, l2=args.l2, max_norm=args.max_norm, early_stopping=args.early_stopping,
        eval_every=args.eval_every, mc_samples=args.mc_samples, seed=args.seed,
        dtype=args.dtype, threads=args.threads, blas_threads=args.blas_threads,
    )
    return cfg.validate()


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _num(v, fmt=".4f") -> str:
    return "-" if v is None else format(v, fmt)


def summary_rows(result: dict) -> list[tuple[str, str]]:
    """(label, value) rows of the summary table."""
    cfg = result["config"]
    drop = "none" if not (cfg["dropout"] or cfg["input_dropout"]) else (
        f"{cfg['variant']} p={cfg['dropout']:g} at {cfg['dropout_at']}"
        + (f", input p={cfg['input_dropout']:g}" if cfg["input_dropout"] else "")
    )
    rows = [
        ("model", f"{result['model']['name']} ({result['parameters']:,} parameters)"),
        ("dropout", drop),
        ("status", result["status"]),
        ("steps", f"{result['steps']} of {cfg['steps']} (batch {cfg['batch_size']}, "
                  f"{cfg['optimizer']} lr {cfg['lr']:g})"),
        ("train accuracy", _pct(result.get("train_accuracy"))),
        ("test accuracy", _pct(result.get("test_accuracy"))),
        ("test loss (NLL)", _num(result.get("test_loss"))),
        ("test ECE", _num(result.get("test_ece"))),
        ("final batch loss", _num(result.get("final_loss"))),
    ]
    if result.get("val_accuracy") is not None:
        rows.append(("val accuracy", _pct(result["val_accuracy"])))
    if result.get("best_step") is not None:
        rows.append(("best step", str(result["best_step"])))
    mc = result.get("mc")
    if mc:
        rows.append((f"MC dropout (T={mc['samples']})",
                     f"acc {_pct(mc['test_accuracy'])}, NLL {_num(mc['test_nll'])}, "
                     f"ECE {_num(mc['test_ece'])}"))
    rows.append(("wall time", f"{result['wall_time_s']:.2f} s (train "
                 f"{result['train_time_s']:.2f} s, eval {result['eval_time_s']:.2f} s)"))
    if result.get("step_time_ms") is not None:
        rows.append(("time per step", f"{result['step_time_ms']:.3f} ms"))
    return rows


def summary_table(result: dict):
    table = Table(title="fastdrop train", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in summary_rows(result):
        table.add_row(label, value)
    return table


def write_json(result: dict, path) -> None:
    """The result as JSON, written atomically (WriteError when it cannot be)."""
    path = Path(path)
    make_dir(path.parent)
    write_text(path, json.dumps(result, indent=2, allow_nan=False) + "\n")


def run(args, console=None) -> int:
    out = console or Console()
    err = Console(stderr=True) if console is None else console
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        print(f"fastdrop train: error: {e}", file=sys.stderr)
        return EXIT_USAGE

    if args.quiet or not err.is_terminal:
        result = train(cfg)
    else:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(),
                   TextColumn("{task.fields[info]}"))
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(f"{cfg.model}", total=cfg.steps, info="")

            def progress(step, total, info):
                text = ""
                if "test_accuracy" in info and info["test_accuracy"] is not None:
                    text = (f"test {100 * info['test_accuracy']:.1f}%  "
                            f"train {100 * info['train_accuracy']:.1f}%")
                if text:
                    bar.update(task, info=text)
                bar.update(task, completed=step)

            result = train(cfg, progress=progress)

    out.print(summary_table(result))
    if result["status"] == "diverged":
        print(f"fastdrop train: {result['message']}", file=sys.stderr)
    if args.json:
        try:
            write_json(result, args.json)
        except WriteError as exc:
            print(f"fastdrop train: {exc}", file=sys.stderr)
            return EXIT_FAILED
        out.print(f"result written to {args.json}")
    return EXIT_DIVERGED if result["status"] == "diverged" else EXIT_OK


def main(argv=None) -> int:
    """`python -m fastdrop.train.command ...`: the same as `fastdrop train ...`."""
    parser = argparse.ArgumentParser(prog="fastdrop train",
                                     description="train a model on MNIST-1D with dropout")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
