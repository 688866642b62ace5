"""Training speed: fastdrop's trainer (numpy + Numba) against PyTorch CPU eager, on the same
model, data, batch order, optimizer, steps and thread count, in one run.

    python bench/train_peers.py                       # mlp and cnn, p = 0 and 0.3
    python bench/train_peers.py --models mlp,cnn,gru --rates 0,0.3 --steps 6000 \\
        --threads 1 --repeats 3 --json reports/runs/train_peers.json

What is timed: the training loop only (mini-batch gather, forward, loss, backward,
optimizer step), 6000 steps by default, no evaluation inside; each framework warms up
first (fastdrop: every kernel runs once before its clock starts; PyTorch: 20 steps on a
throwaway copy). Every timing runs in a fresh process (--same-process: in this one), so
the frameworks' thread pools never share a process. Both sides take their batches from
the same sampler (the same indices, gathered with np.take, the same cost on both sides).
The figure kept per case is the fastest of --repeats runs (the machine may be shared),
the two frameworks alternating.
After timing, each side's test accuracy is printed: the same task was learned.

PyTorch is optional: without it the script times fastdrop alone and says so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastdrop.bench.torch_peer import torch_model  # noqa: E402
from fastdrop.train import TrainConfig, train  # noqa: E402
from fastdrop.train.data import load_mnist1d  # noqa: E402
from fastdrop.train.threads import set_threads, thread_counts  # noqa: E402
from fastdrop.train.trainer import Batches  # noqa: E402

SCHEMA = "fastdrop.train_peers/1"
TORCH_VARIANTS = ("inverted", "spatial", "alpha")


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def time_torch(torch, data, name, p, variant, steps, batch_size, lr, seed):
    """(seconds for `steps` training steps, test accuracy) of the PyTorch model."""
    torch.manual_seed(seed)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(model, n):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        batches = Batches(data.x_train, data.y_train, batch_size, seed)
        model.train()
        t = time.perf_counter()
        for _ in range(n):
            xb, yb = batches.next()
            loss = loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(yb))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return time.perf_counter() - t

    run(torch_model(torch, name, p, variant), 20)  # warm-up on a throwaway model
    model = torch_model(torch, name, p, variant)
    seconds = run(model, steps)
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(data.x_test)).argmax(1).numpy()
    return seconds, float(np.mean(pred == data.y_test))


def time_fastdrop(data, name, p, variant, steps, batch_size, lr, seed, backend, threads):
    cfg = TrainConfig(model=name, dropout=p, variant=variant, steps=steps,
                      batch_size=batch_size, lr=lr, optimizer="adam", eval_every=0,
                      seed=seed, backend=backend, threads=threads, blas_threads=threads)
    r = train(cfg, dataset=data)
    if r["status"] != "completed":
        raise RuntimeError(f"fastdrop {name} p={p}: {r['message']}")
    return r["wall_time_s"], r["test_accuracy"]


def measure(kind, name, p, variant, steps, batch_size, lr, seed, backend, threads):
    """One timing in this process: (seconds, test accuracy)."""
    set_threads(threads)
    data = load_mnist1d(4000, 0)
    if kind == "torch":
        torch = torch_or_none()
        torch.set_num_threads(threads)
        return time_torch(torch, data, name, p, variant, steps, batch_size, lr, seed)
    return time_fastdrop(data, name, p, variant, steps, batch_size, lr, seed, backend, threads)


def measure_isolated(*args):
    """measure() in a fresh process: thread pools of the two frameworks (Numba's, torch's
    OpenMP) spin-wait after use and would fight over the cores if they shared a process."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(measure, *args).result()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,cnn", help="comma list (default mlp,cnn)")
    ap.add_argument("--rates", default="0,0.3", help="dropout rates (default 0,0.3)")
    ap.add_argument("--variant", default="inverted", choices=TORCH_VARIANTS,
                    help="dropout variant on both sides (default inverted)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for both sides: Numba + BLAS, torch.set_num_threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="auto", help="fastdrop dropout backend")
    ap.add_argument("--no-torch", action="store_true", help="time fastdrop alone")
    ap.add_argument("--same-process", action="store_true",
                    help="time both frameworks in this process (fine with 1 thread; with "
                    "more, their thread pools spin against each other)")
    ap.add_argument("--json", default=None, metavar="PATH", help="write the figures here")
    args = ap.parse_args(argv)

    models = [m for m in args.models.split(",") if m]
    rates = [float(r) for r in args.rates.split(",") if r]
    torch = None if args.no_torch else torch_or_none()
    if torch is None:
        why = "--no-torch" if args.no_torch else "PyTorch is not installed (pip install torch)"
        print(f"train_peers: timing fastdrop alone: {why}", file=sys.stderr)
    else:
        torch.set_num_threads(args.threads)
    set_threads(args.threads)
    data = load_mnist1d(4000, 0)

    rows = []
    for name in models:
        for p in rates:
            fd_times, th_times, fd_acc, th_acc = [], [], None, None
            common = (name, p, args.variant, args.steps, args.batch_size, args.lr,
                      args.seed, args.backend, args.threads)
            for _ in range(args.repeats):
                if args.same_process:
                    t, fd_acc = time_fastdrop(data, *common)
                else:
                    t, fd_acc = measure_isolated("fastdrop", *common)
                fd_times.append(t)
                if torch is not None:
                    if args.same_process:
                        t, th_acc = time_torch(torch, data, *common[:-2])
                    else:
                        t, th_acc = measure_isolated("torch", *common)
                    th_times.append(t)
            row = {"model": name, "p": p, "variant": args.variant,
                   "fastdrop_s": min(fd_times), "fastdrop_all_s": fd_times,
                   "fastdrop_test_accuracy": fd_acc}
            if th_times:
                row.update(torch_s=min(th_times), torch_all_s=th_times,
                           torch_test_accuracy=th_acc, ratio=min(fd_times) / min(th_times))
            rows.append(row)
            print(_line(row), flush=True)

    base = {(r["model"]): r for r in rows if r["p"] == 0}
    for r in rows:
        b = base.get(r["model"])
        if b is not None and r["p"] > 0:
            r["fastdrop_dropout_overhead"] = r["fastdrop_s"] / b["fastdrop_s"] - 1
            if "torch_s" in r:
                r["torch_dropout_overhead"] = r["torch_s"] / b["torch_s"] - 1
    _table(rows, args, torch)
    if args.json:
        out = {
            "schema": SCHEMA,
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "settings": vars(args),
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                        "python": platform.python_version(), "numpy": np.__version__,
                        "torch": getattr(torch, "__version__", None),
                        "threads": thread_counts(),
                        "torch_threads": torch.get_num_threads() if torch else None},
            "rows": rows,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"written to {args.json}")
    return 0


def _line(r) -> str:
    s = f"{r['model']:>8} p={r['p']:<4} fastdrop {r['fastdrop_s']:7.2f} s"
    if "torch_s" in r:
        s += f"  torch {r['torch_s']:7.2f} s  ratio {r['ratio']:.2f}"
    return s


def _table(rows, args, torch) -> None:
    t = Table(title=f"training {args.steps} steps, batch {args.batch_size}, Adam, "
                    f"{args.threads} thread(s): fastest of {args.repeats}")
    for col in ("model", "p", "fastdrop s", "torch s", "ratio", "+drop fd", "+drop torch",
                "acc fd", "acc torch"):
        t.add_column(col, justify="right")

    def pct(v):
        return "-" if v is None else f"{100 * v:+.1f}%"

    for r in rows:
        t.add_row(
            r["model"], f"{r['p']:g}", f"{r['fastdrop_s']:.2f}",
            f"{r['torch_s']:.2f}" if "torch_s" in r else "-",
            f"{r['ratio']:.2f}x" if "ratio" in r else "-",
            pct(r.get("fastdrop_dropout_overhead")), pct(r.get("torch_dropout_overhead")),
            f"{100 * r['fastdrop_test_accuracy']:.1f}%",
            f"{100 * r['torch_test_accuracy']:.1f}%" if "torch_test_accuracy" in r else "-",
        )
    Console().print(t)
    if torch is None:
        print("(PyTorch columns empty: --no-torch, or PyTorch is not installed)")


if __name__ == "__main__":
    sys.exit(main())
