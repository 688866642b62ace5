"""Shares of the memory ceiling at one size (default 2^26 float32, all threads): the
ceiling (fastdrop.bench.ceiling, streaming where the kernels stream) and the forward, the
regenerating backward and the backward from a stored mask, interleaved call by call in
one process, best of `--reps` each; share = best ceiling time / best kernel time.
The A/B figures of NOTES.md's issue-12 steps (30-39) came from this loop.

    python bench/share_at_size.py                 # 2^26, p = 0.5, 25 rounds
    python bench/share_at_size.py --log2n 24 --reps 40

Comparing two trees (A/B of a kernel change): run it alternately from each tree with
PYTHONPATH=<tree>, and drop each tree's first run: it compiles the kernels, and code
compiled in the timing process runs slower than the cached code every later process loads
(NOTES.md, "Kernels compiled in the process that times them").

Both outputs are checked first: fastdrop's forward equals the numpy reference, and the
ceiling equals numpy's x * a.
"""

import argparse
import time

import numpy as np

import fastdrop as fd
from fastdrop.bench.ceiling import check, scale_kernel
from fastdrop.kernels import cpu
from fastdrop.kernels.memory import aligned_empty
from fastdrop.kernels.plan import make_plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log2n", type=int, default=26, help="elements (log2), default 26")
    ap.add_argument("--p", type=float, default=0.5, help="dropout rate, default 0.5")
    ap.add_argument("--reps", type=int, default=25, help="timed rounds, default 25")
    args = ap.parse_args()
    n = 1 << args.log2n
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    y = aligned_empty(n, np.float32)  # as fastdrop allocates its outputs
    plan = make_plan((n,), np.float32, args.p, 1, 0, "inverted")
    mask = np.empty(plan.nbytes, np.uint8)
    a = np.float32(2.0)
    ceiling = scale_kernel(n, y)
    check(x, y, a)
    cpu.forward(x, y, mask, plan)
    y_ref, mask_ref = fd.dropout(x, args.p, seed=1, backend="numpy")
    if not (np.array_equal(y, y_ref) and np.array_equal(mask, mask_ref)):
        raise AssertionError("the cpu forward disagrees with the numpy reference")
    del y_ref, mask_ref
    cases = {
        "ceiling y = a*x": lambda: ceiling(x, y, a),
        "forward": lambda: cpu.forward(x, y, mask, plan),
        "backward regenerating": lambda: cpu.backward(x, y, None, plan),
        "backward from the mask": lambda: cpu.backward(x, y, mask, plan),
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(args.reps):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    stream = getattr(ceiling, "stream", cpu.PLAIN)
    print(f"2^{args.log2n} float32, p = {args.p}, best of {args.reps}, "
          f"y {y.ctypes.data % 64} mod 64, stream mode {stream}")
    c = best["ceiling y = a*x"]
    for name, t in best.items():
        share = c / t
        flag = "  FAULT: above 1, noise" if share > 1 else ""
        print(f"  {name:24s} {n / t / 1e9:6.2f} Gelem/s  share {share:.3f}{flag}")


if __name__ == "__main__":
    main()
