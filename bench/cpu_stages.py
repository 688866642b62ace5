"""Single-thread, cache-resident timings of the CPU kernels' stages, and fastdrop's per-call
time beside PyTorch's: the measurements NOTES.md quotes for issue 12.

    python bench/cpu_stages.py            # this machine's codegen
    NUMBA_CPU_NAME=znver3 NUMBA_CPU_FEATURES=+avx,+avx2,+fma,+bmi,+bmi2,+popcnt,+sse4.2 \\
        NUMBA_CACHE_DIR=/tmp/avx2-cache python bench/cpu_stages.py   # AVX2 without AVX-512

Every variant is checked against the numpy reference first; the variants are then timed
interleaved (A, B, A, B, ...) with `time.thread_time_ns` (CPU time of this thread, so other
jobs on a shared machine cost less), and the min and median are printed.
"""

import argparse
import time

import numpy as np
from numba import njit

import fastdrop as fd
from fastdrop.kernels import cpu
from fastdrop.kernels._numba_ext import U64, prefer_512
from fastdrop.kernels.plan import make_plan


@njit
def philox_default(w64, nch, k0, k1, o0, o1):
    for ch in range(nch):
        cpu.philox_words(w64, ch * cpu.CH, k0, k1, o0, o1)


@njit
def philox_wide(w64, nch, k0, k1, o0, o1):
    prefer_512()
    for ch in range(nch):
        cpu.philox_words(w64, ch * cpu.CH, k0, k1, o0, o1)


def interleaved(cases: dict, rounds: int, inner: int = 1, clock=time.thread_time_ns) -> dict:
    times = {k: [] for k in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            t0 = clock()
            for _ in range(inner):
                fn()
            times[name].append((clock() - t0) / inner)
    return {k: sorted(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log2n", type=int, default=14, help="elements (log2), default 14")
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    n = 1 << args.log2n
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    y, mask = np.empty_like(x), np.empty(n // 8, np.uint8)
    plan = make_plan(x.shape, x.dtype, 0.5, 123, 0, "inverted")
    y_ref, m_ref = fd.dropout(x, 0.5, seed=123, backend="numpy")
    w64 = np.zeros((1, 2 * cpu.CH), np.uint64)
    keys = (U64(plan.k0), U64(plan.k1), U64(plan.o0), U64(plan.o1))
    nch = n // cpu.CHE

    def run(store, bwd_mask=False):
        if bwd_mask:
            return lambda: cpu._from_mask_body(x, y, m_ref, cpu.SCALE, plan.scale, plan.zero,
                                                 False)
        return lambda: cpu._masked_body(x, y, mask, store, cpu.SCALE, plan.t, plan.scale,
                                        plan.alpha_b, plan.zero, plan.k0, plan.k1, plan.o0,
                                        plan.o1, w64, False)

    cases = {
        "Philox stage (LLVM's default width)": lambda: philox_default(w64[0], nch, *keys),
        "Philox stage (prefer_512)": lambda: philox_wide(w64[0], nch, *keys),
        "forward (serial kernel)": run(True),
        "backward from the mask": run(False, bwd_mask=True),
        "backward regenerating": run(False),
    }
    a, b = np.zeros(2 * cpu.CH, np.uint64), np.zeros(2 * cpu.CH, np.uint64)
    philox_default(a, 1, *keys)
    philox_wide(b, 1, *keys)
    if not np.array_equal(a, b):
        raise AssertionError("the two Philox stages differ")
    for name, want in (("forward (serial kernel)", y_ref), ("backward from the mask", y_ref),
                       ("backward regenerating", y_ref)):
        y[:] = np.nan  # each check starts from an output the kernel must overwrite
        mask[:] = 0
        cases[name]()
        if not np.array_equal(y, want):
            raise AssertionError(f"{name} differs from the reference")
    y[:] = np.nan
    cases["forward (serial kernel)"]()
    if not (np.array_equal(mask, m_ref) and np.array_equal(y, y_ref)):
        raise AssertionError("the forward's mask differs from the reference")
    print(f"2^{args.log2n} float32, one thread, thread CPU time, {args.rounds} rounds")
    for name, v in interleaved(cases, args.rounds).items():
        print(f"  {name:38s} min {n / v[0]:.2f}  median {n / v[len(v) // 2]:.2f} Gelem/s")

    x2 = np.random.default_rng(0).standard_normal((100, 100), dtype=np.float32)
    xf, y2, m2 = x2.reshape(-1), np.empty(10_000, np.float32), np.empty(1250, np.uint8)
    plan2 = make_plan(x2.shape, x2.dtype, 0.5, 1, 0, "inverted")
    calls = {"fd.dropout 100 x 100": lambda: fd.dropout(x2, 0.5, seed=1),
             "bare kernel (cpu.forward)": lambda: cpu.forward(xf, y2, m2, plan2)}
    try:
        import torch

        torch.set_num_threads(1)
        xt = torch.from_numpy(x2)
        calls["torch F.dropout (1 thread)"] = lambda: torch.nn.functional.dropout(xt, 0.5, True)
    except ImportError:
        pass
    for fn in calls.values():
        fn()
    print("per call, 100 x 100 float32, wall time, interleaved")
    for name, v in interleaved(calls, 300, inner=20, clock=time.perf_counter_ns).items():
        print(f"  {name:38s} min {v[0] / 1e3:.2f}  median {v[len(v) // 2] / 1e3:.2f} us")


if __name__ == "__main__":
    main()
