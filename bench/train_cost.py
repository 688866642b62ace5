"""What dropout costs per training step, as ratios measured in one warm process.

    python bench/train_cost.py                         # mlp and cnn, p = 0.3, batch 100
    python bench/train_cost.py --models mlp --p 0.5 --json reports/runs/train_cost.json

Arms, each a warm training loop in this process, one thread (Numba, BLAS, torch):
fastdrop fused at p and at 0; fastdrop unfused (separate Linear -> ReLU -> Dropout layers,
the code before fused layers) at p and at 0; the floor (the CPU dropout kernels' own
forward and backward on each site's arrays, nothing else); PyTorch eager (the peer models
of bench/train_peers.py) at p and at 0 where torch is installed. Every block of every arm
starts from the arm's initial state (train_timing.TrainArm says why). Arms run in rounds, the
order reversed every other round, blocks of ~50 ms each, until the 95% CI on every ratio's
CPU time is within +-halfwidth (fastdrop.bench.train_timing.interleave). Wall time and CPU
time (time.thread_time, which other processes' load inflates least) are both reported.

Memory, per model: bytes of mask kept for backward (fastdrop with stored masks, fastdrop
regenerating them, PyTorch's saved bool mask, counted by an autograd saved-tensors hook)
and the arrays a training step keeps (the layers' buffers) plus the tracemalloc peak of
one warm step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_peers import torch_or_none  # noqa: E402

from fastdrop.bench.torch_peer import TorchArm  # noqa: E402
from fastdrop.bench.train_timing import FloorArm, TrainArm, interleave, site_shapes  # noqa: E402
from fastdrop.train.data import load_mnist1d  # noqa: E402
from fastdrop.train.threads import set_threads, thread_counts  # noqa: E402

SCHEMA = "fastdrop.train_cost/1"


def config(name, p, variant, batch, lr, seed, fused, store_mask=True) -> dict:
    return {"model": name, "dropout": p, "variant": variant if p > 0 else "inverted",
            "batch_size": batch, "lr": lr, "optimizer": "adam", "seed": seed,
            "threads": 1, "blas_threads": 0, "fused": fused, "store_mask": store_mask}


def fastdrop_memory(cfg, data) -> dict:
    """Mask bytes and buffers of the model after one training step; tracemalloc peak of
    one more (warm) step."""
    arm = TrainArm(cfg, data)
    arm.block(1)
    mem = arm.run.model.memory()
    tracemalloc.start()
    arm.block(1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {**mem, "step_peak": peak}


def measure_model(name, args, data, torch) -> dict:
    p, v, b = args.p, args.variant, args.batch
    common = (b, args.lr, args.seed)
    arms = {
        "fd p": TrainArm(config(name, p, v, *common, fused=True), data),
        "fd 0": TrainArm(config(name, 0.0, v, *common, fused=True), data),
    }
    pairs = [("fd p", "fd 0")]
    floors = {"fd p": ("fd 0", "floor")}
    if not args.no_unfused:
        arms["unfused p"] = TrainArm(config(name, p, v, *common, fused=False), data)
        arms["unfused 0"] = TrainArm(config(name, 0.0, v, *common, fused=False), data)
        pairs += [("unfused p", "unfused 0"), ("fd p", "unfused p"), ("fd 0", "unfused 0")]
        floors["unfused p"] = ("unfused 0", "floor")
    arms["floor"] = FloorArm(site_shapes(config(name, p, v, *common, fused=False), b))
    if torch is not None:
        arms["torch p"] = TorchArm(torch, data, name, p, v, *common)
        arms["torch 0"] = TorchArm(torch, data, name, 0.0, v, *common)
        pairs += [("torch p", "torch 0"), ("fd p", "torch p")]
    res = interleave(arms, pairs, floors=floors, block_s=args.block_s, halfwidth=args.halfwidth,
                     max_s=args.max_s, min_rounds=args.min_rounds)
    mem = {"fastdrop stored": fastdrop_memory(config(name, p, v, *common, True), data),
           "fastdrop regenerated": fastdrop_memory(
               config(name, p, v, *common, True, store_mask=False), data),
           "unfused stored": fastdrop_memory(config(name, p, v, *common, False), data),
           "fastdrop p=0": fastdrop_memory(config(name, 0.0, v, *common, True), data)}
    if torch is not None:
        # PyTorch's CPU dropout keeps its mask as a float tensor (input * mask): the mask's
        # bytes are what autograd saves at p beyond what it saves at p = 0
        at_p, at_0 = arms["torch p"].saved_bytes(), arms["torch 0"].saved_bytes()
        mem["torch"] = {"mask": at_p["saved"] - at_0["saved"], "bool_mask": at_p["mask"],
                        "saved": at_p["saved"]}
        mem["torch p=0"] = {"saved": at_0["saved"]}
    return {"model": name, "p": p, "variant": v, "batch": b, **res, "memory": mem}


def _pct(s):
    return f"{100 * (s['mean'] - 1):+.1f}% +-{100 * s['ci']:.1f}"


def report(row) -> list[str]:
    lines = [f"{row['model']} p={row['p']} {row['variant']} batch {row['batch']}: "
             f"{row['rounds']} rounds, {row['seconds']:.0f} s"]
    for name, a in row["arms"].items():
        lines.append(f"  {name:<10} wall {1e6 * a['wall']['median']:8.1f} us/step "
                     f"(min {1e6 * a['wall']['min']:.1f})  cpu {1e6 * a['cpu']['median']:8.1f}"
                     f" us/step (min {1e6 * a['cpu']['min']:.1f})")
    for key, r in row["ratios"].items():
        lines.append(f"  {key:<22} cpu {_pct(r['cpu']):<16} wall {_pct(r['wall'])}")
    for key, r in row["over_floor"].items():
        lines.append(f"  {key} adds {r['cpu']['mean']:.2f}x +-{r['cpu']['ci']:.2f} the floor "
                     f"(cpu), {r['wall']['mean']:.2f}x +-{r['wall']['ci']:.2f} (wall)")
    for key, m in row["memory"].items():
        lines.append(f"  memory {key:<22} " + ", ".join(f"{k} {v:,} B" for k, v in m.items()))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--p", type=float, default=0.3)
    ap.add_argument("--variant", default="inverted", choices=("inverted", "spatial", "alpha"))
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--halfwidth", type=float, default=0.03,
                    help="stop when every ratio's 95%% CI (CPU time) is within this")
    ap.add_argument("--min-rounds", type=int, default=10)
    ap.add_argument("--max-s", type=float, default=150.0, help="time limit per model")
    ap.add_argument("--block-s", type=float, default=0.05, help="seconds per block")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-unfused", action="store_true",
                    help="leave out the unfused (before) arms")
    ap.add_argument("--json", default=None, metavar="PATH")
    args = ap.parse_args(argv)

    torch = None if args.no_torch else torch_or_none()
    if torch is not None:
        torch.set_num_threads(1)
    set_threads(1)
    data = load_mnist1d(4000, 0)
    rows = []
    with np.errstate(over="ignore", invalid="ignore"):
        for name in [m for m in args.models.split(",") if m]:
            row = measure_model(name, args, data, torch)
            print("\n".join(report(row)), flush=True)
            rows.append(row)
    if args.json:
        out = {"schema": SCHEMA, "command": " ".join(["train_cost.py", *(argv or sys.argv[1:])]),
               "settings": vars(args),
               "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                           "load_avg": os.getloadavg(), "numpy": np.__version__,
                           "torch": getattr(torch, "__version__", None),
                           "threads": thread_counts()},
               "rows": rows}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
