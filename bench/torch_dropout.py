"""fastdrop.torch.Dropout against torch.nn.Dropout inside PyTorch, in one process.

    python bench/torch_dropout.py                       # every part, defaults below
    python bench/torch_dropout.py --parts micro,step --threads 1,2 --rounds 30
    python bench/torch_dropout.py --parts accuracy --steps 3000 --seeds 5 \\
        --json reports/runs/torch_dropout.json

Parts (the arms always interleaved in one process, so a loaded machine slows both alike):
  micro     dropout forward, and forward + backward through autograd, on 100 x 100 float32:
            the two modules alternate call blocks (ABAB); min and median per call.
  step      the trainer's PyTorch peer models (fastdrop/bench/torch_peer.py torch_model:
            MLP, CNN) with a torch.nn.Dropout or a fastdrop.torch.Dropout submodule called
            at every dropout site, as a user writes it; step time (forward, loss,
            backward, Adam) at each rate, every (arm, rate) a model of its own, blocks
            of steps round-robin over all of them; dropout's share of the step =
            (t_p - t_0) / t_p on the medians.
  memory    bytes the dropout sites keep for backward in one training step (saved-tensor
            hooks on the dropout calls), per element that went through dropout.
  accuracy  test accuracy after --steps steps at p = --acc-p over --seeds seeds per arm:
            mean with the 95% CI (Student t) and the paired difference by seed.

One thread: both frameworks at 1 (torch.set_num_threads, numba.set_num_threads), timed
with time.thread_time (CPU time of this thread: other tenants of the machine barely
move it). More threads: time.perf_counter (the work spans threads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


import fastdrop.torch as fdt  # noqa: E402
from fastdrop.bench.torch_peer import torch_model  # noqa: E402
from fastdrop.results.stats import summary  # noqa: E402
from fastdrop.train.data import load_mnist1d  # noqa: E402
from fastdrop.train.threads import set_numba_threads  # noqa: E402
from fastdrop.train.trainer import Batches  # noqa: E402

SCHEMA = "fastdrop.torch_dropout/1"
ARMS = ("torch", "fastdrop")


class Counting(torch.nn.Module):
    """A dropout module wrapped to count the elements that pass through it and collect the
    tensors autograd saves for backward inside it (the memory part only: the timed parts
    call the bare module)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.elements = 0
        self.saved = []

    def forward(self, h):
        self.elements += h.numel()
        hook = self.saved.append
        with torch.autograd.graph.saved_tensors_hooks(lambda t: hook(t) or t, lambda t: t):
            return self.layer(h)


def build(name: str, arm: str, p: float, seed: int, count: bool = False):
    """(model, its dropout module): the peer network with one torch.nn.Dropout or
    fastdrop.torch.Dropout as its submodule `dropout`, called at every site (each call a
    fresh mask), as a user would write the model; weights from torch.manual_seed(seed),
    the same for both arms. count: wrapped in Counting."""
    layer = torch.nn.Dropout(p) if arm == "torch" else fdt.Dropout(p, seed=seed)
    if count:
        layer = Counting(layer)
    torch.manual_seed(seed)
    return torch_model(torch, name, p, "inverted", dropout=layer), layer


def set_threads(n: int) -> None:
    """n threads for torch's ops and for fastdrop's Numba kernels."""
    torch.set_num_threads(n)
    set_numba_threads(n)


def clock(threads: int):
    return time.thread_time if threads == 1 else time.perf_counter


def stats_us(per_call_s) -> dict:
    us = [1e6 * t for t in per_call_s]
    return {"min_us": min(us), "median_us": statistics.median(us), "n": len(us)}


# ---- micro: one dropout on 100 x 100 -------------------------------------------------


def micro(threads: int, rounds: int, calls: int) -> dict:
    set_threads(threads)
    now = clock(threads)
    x = torch.randn(100, 100)
    xg = x.clone().requires_grad_()
    dy = torch.randn(100, 100)
    layers = {"torch": torch.nn.Dropout(0.5), "fastdrop": fdt.Dropout(0.5, seed=0)}

    def fwd(layer):
        layer(x)

    def fwd_bwd(layer):
        layer(xg).backward(dy)

    out = {}
    for what, fn in (("forward", fwd), ("forward+backward", fwd_bwd)):
        times = {a: [] for a in ARMS}
        for a in ARMS:  # warm-up (JIT, allocator)
            for _ in range(20):
                fn(layers[a])
        for _ in range(rounds):
            for a in ARMS:
                t = now()
                for _ in range(calls):
                    fn(layers[a])
                times[a].append((now() - t) / calls)
        row = {a: stats_us(times[a]) for a in ARMS}
        row["ratio_min"] = row["fastdrop"]["min_us"] / row["torch"]["min_us"]
        row["ratio_median"] = row["fastdrop"]["median_us"] / row["torch"]["median_us"]
        out[what] = row
    return out


# ---- step: training step time of the peer models -------------------------------------


def train_steps(model, opt, batches, n: int) -> None:
    loss_fn = torch.nn.functional.cross_entropy
    for _ in range(n):
        xb, yb = batches.next()
        loss = loss_fn(model(torch.from_numpy(xb)), torch.from_numpy(yb))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def step_times(data, name: str, rates, threads: int, rounds: int, block: int, lr: float):
    set_threads(threads)
    now = clock(threads)
    runs = {}
    for p in rates:
        for arm in ARMS:
            model, _ = build(name, arm, p, 0)
            model.train()
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            runs[(p, arm)] = (model, opt, Batches(data.x_train, data.y_train, 100, 0), [])
    for model, opt, batches, _ in runs.values():
        train_steps(model, opt, batches, 20)  # warm-up
    for r in range(rounds):
        order = list(runs.items()) if r % 2 == 0 else list(runs.items())[::-1]
        for _, (model, opt, batches, times) in order:
            t = now()
            train_steps(model, opt, batches, block)
            times.append((now() - t) / block)
    rows = []
    for arm in ARMS:
        base = statistics.median(runs[(rates[0], arm)][3])
        for p in rates:
            s = stats_us(runs[(p, arm)][3])
            s.update(model=name, arm=arm, p=p, threads=threads,
                     over_p0=s["median_us"] / (1e6 * base) - 1 if rates[0] == 0 else None)
            s["dropout_share"] = (None if s["over_p0"] is None
                                  else 1 - (1e6 * base) / s["median_us"])
            rows.append(s)
    return rows


# ---- memory: what dropout keeps for backward -----------------------------------------


def memory(data, name: str, p: float) -> list[dict]:
    rows = []
    for arm in ARMS:
        model, sites = build(name, arm, p, 0, count=True)
        xb, yb = Batches(data.x_train, data.y_train, 100, 0).next()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)),
                                                 torch.from_numpy(yb))
        nbytes = sum(t.numel() * t.element_size() for t in sites.saved)
        dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in sites.saved})
        rows.append({"model": name, "arm": arm, "p": p, "elements": sites.elements,
                     "saved_bytes": nbytes, "bytes_per_element": nbytes / sites.elements,
                     "saved_dtypes": dtypes})
        loss.backward()
    return rows


# ---- accuracy over seeds -------------------------------------------------------------


def accuracy(data, name: str, p: float, seeds: int, steps: int, lr: float) -> dict:
    set_threads(1)
    acc = {a: [] for a in ARMS}
    for seed in range(seeds):
        for arm in ARMS:
            model, _ = build(name, arm, p, seed)
            model.train()
            train_steps(model, torch.optim.Adam(model.parameters(), lr=lr),
                        Batches(data.x_train, data.y_train, 100, seed), steps)
            model.eval()
            with torch.no_grad():
                pred = model(torch.from_numpy(data.x_test)).argmax(1).numpy()
            acc[arm].append(float(np.mean(pred == data.y_test)))
    diff = [f - t for f, t in zip(acc["fastdrop"], acc["torch"], strict=True)]
    out = {"model": name, "p": p, "steps": steps, "seeds": seeds, "accuracies": acc,
           "paired_difference": summary(diff)}
    for arm in ARMS:
        out[arm] = summary(acc[arm])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="micro,step,memory,accuracy")
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--rates", default="0,0.3,0.5", help="step-time rates; the first is 0")
    ap.add_argument("--threads", default="1,2", help="thread counts for micro and step")
    ap.add_argument("--rounds", type=int, default=20, help="interleaved rounds per timing")
    ap.add_argument("--block", type=int, default=25, help="training steps per timed block")
    ap.add_argument("--calls", type=int, default=200, help="micro calls per timed block")
    ap.add_argument("--acc-p", type=float, default=0.3)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3000, help="training steps per accuracy run")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--json", default=None, metavar="PATH")
    args = ap.parse_args(argv)
    parts = set(args.parts.split(","))
    models = [m for m in args.models.split(",") if m]
    rates = [float(r) for r in args.rates.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    data = load_mnist1d(4000, 0)
    result = {"schema": SCHEMA, "command": " ".join(sys.argv), "settings": vars(args),
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "load_average": os.getloadavg(), "torch": torch.__version__,
                          "numba": numba.__version__, "numpy": np.__version__}}
    if "micro" in parts:
        result["micro"] = {t: micro(t, args.rounds, args.calls) for t in threads}
        for t, m in result["micro"].items():
            for what, r in m.items():
                print(f"micro {t} thread(s) {what:>16}: torch {r['torch']['min_us']:7.1f} us "
                      f"(median {r['torch']['median_us']:7.1f})  fastdrop "
                      f"{r['fastdrop']['min_us']:6.1f} us (median "
                      f"{r['fastdrop']['median_us']:6.1f})  ratio {r['ratio_min']:.3f} "
                      f"(median {r['ratio_median']:.3f})", flush=True)
    if "memory" in parts:
        result["memory"] = [r for m in models for r in memory(data, m, 0.3)]
        for r in result["memory"]:
            print(f"memory {r['model']} {r['arm']:>8}: {r['saved_bytes']} bytes kept for "
                  f"{r['elements']} elements = {r['bytes_per_element']:.3f} B/element "
                  f"({', '.join(r['saved_dtypes'])})", flush=True)
    if "step" in parts:
        result["step"] = []
        for t in threads:
            for m in models:
                rows = step_times(data, m, rates, t, args.rounds, args.block, args.lr)
                result["step"] += rows
                for r in rows:
                    over = "" if r["over_p0"] is None else (
                        f"  vs p=0 {100 * r['over_p0']:+5.1f}%  dropout share "
                        f"{100 * r['dropout_share']:4.1f}%")
                    print(f"step {t} thread(s) {m:>4} {r['arm']:>8} p={r['p']:<4}: min "
                          f"{r['min_us']:7.1f} us  median {r['median_us']:7.1f} us{over}",
                          flush=True)
    if "accuracy" in parts:
        result["accuracy"] = []
        for m in models:
            r = accuracy(data, m, args.acc_p, args.seeds, args.steps, args.lr)
            result["accuracy"].append(r)
            d = r["paired_difference"]
            print(f"accuracy {m} p={r['p']} {r['steps']} steps, {r['seeds']} seeds: torch "
                  f"{r['torch']['mean']:.4f} +- {r['torch']['ci']:.4f}  fastdrop "
                  f"{r['fastdrop']['mean']:.4f} +- {r['fastdrop']['ci']:.4f}  paired "
                  f"difference {d['mean']:+.4f} +- {d['ci']:.4f} (95% CI)", flush=True)
    result["machine"]["load_average_end"] = os.getloadavg()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
