"""Kernel throughput suite on pyperf: fastdrop vs the bandwidth ceiling vs numpy vs PyTorch.

Run as a pyperf script, in one process (the ceiling is interleaved with each kernel):

    python -m fastdrop.bench.kernel_suite --in-process --sizes 10,13,16,20,23,26 -o out.json

`fastdrop bench kernels` runs it in a subprocess, after `verify()` has checked every
fastdrop kernel against the numpy reference at the timed sizes, and renders the result.
Each benchmark's metadata says what it is (impl, op, elements, bytes moved, p, threads),
so the report computes rates from the JSON alone.

The ceiling is taken as STREAM takes it (docs/HARNESS.md): every call of a timed case is
preceded by a call of the ceiling kernel on arrays of the same size (ceiling, kernel,
ceiling, kernel, ...), each timed on its own. pyperf records the kernel's values as usual;
the ceiling's values from the same loop are written right after as a companion benchmark
"ceiling beside <case>", so each share compares two series taken side by side.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SEED = 20261128
DEFAULT_SIZES = "10,13,16,20,23,26"  # L1, L2, L3 and memory (docs/HARNESS.md)
F32 = np.dtype(np.float32)


@dataclasses.dataclass
class Case:
    """One timed function: made lazily in the worker that times it."""

    impl: str  # "ceiling", "fastdrop", "numpy", "torch"
    op: str  # "scale", "forward", "backward-mask", "backward-regen", "F.dropout", ...
    log2n: int
    p: float | None
    make: Callable[[], Callable[[], object]]  # builds (and checks) the timed callable
    mask_bytes_per_elem: float  # mask bytes written (forward) or read (backward)
    threads: int | None = None  # run the kernel on this many threads (the scaling case)
    _fn: Callable[[], object] | None = None
    _ceiling: Callable[[], object] | None = None
    ceiling_log: list = dataclasses.field(default_factory=list)  # (loops, seconds) per call

    @property
    def n(self) -> int:
        return 1 << self.log2n

    @property
    def name(self) -> str:
        rate = "" if self.p is None else f" p={self.p:g}"
        return f"{self.impl} {self.op} 2^{self.log2n}{rate}"

    @property
    def bytes_moved(self) -> float:
        """x (or dy) read + y (or dx) written + mask written/read, as DESIGN.md counts."""
        return self.n * (2 * F32.itemsize + self.mask_bytes_per_elem)

    @property
    def ceiling_name(self) -> str:
        return f"ceiling beside {self.name}"

    def metadata(self, threads: int) -> dict:
        threads = self.threads or threads
        return {
            "fastdrop_impl": self.impl,
            "fastdrop_op": self.op,
            "fastdrop_elements": self.n,
            "fastdrop_bytes": int(self.bytes_moved),
            "fastdrop_p": -1.0 if self.p is None else float(self.p),
            "fastdrop_threads": threads,
            "fastdrop_dtype": "float32",
        }

    def time(self, loops: int) -> float:
        """pyperf's time function: set up once (outside timing), then `loops` times a
        ceiling call and a kernel call, each timed on its own. Returns the kernel's total;
        the ceiling's goes to ceiling_log (for the companion benchmark)."""
        import numba

        if self._fn is None:
            self._fn = self.make()
            # the ceiling runs over the kernel's own x and y: at the cache-resident sizes
            # both calls find the same lines in cache, and neither evicts the other's data
            self._ceiling = _ceiling_over(self._fn.x, self._fn.y)
            self._fn()  # warm: JIT cache load, first-touch page faults
            self._ceiling()
        fn, ceiling, clock = self._fn, self._ceiling, time.perf_counter
        all_threads = numba.get_num_threads()
        kernel_s = ceiling_s = 0.0
        for _ in range(loops):
            if self.threads:
                # Each timed call of a case on fewer threads follows an untimed one on its
                # own thread count: the ceiling's threads leave x and y spread over every
                # core's cache and the single thread's call leaves them in one, so either
                # timed right after the other fetched from another core (1-thread 2^16:
                # 33-52 us per call in K1 runs 1-14, 16 us in a loop of its own; the
                # ceiling beside it then 4x slower than beside the others; NOTES.md)
                ceiling()
            t0 = clock()
            ceiling()
            t1 = clock()
            if self.threads:
                numba.set_num_threads(self.threads)  # outside both timed calls
                fn()
            t2 = clock()
            fn()
            t3 = clock()
            if self.threads:
                numba.set_num_threads(all_threads)
            ceiling_s += t1 - t0
            kernel_s += t3 - t2
        self.ceiling_log.append((loops, ceiling_s))
        return kernel_s

    def companion(self, nvalues: int, threads: int):
        """The ceiling's values of the last `nvalues` calls (pyperf's values; calibration
        and warm-up calls come first) as a pyperf benchmark, or None when there are none."""
        import pyperf

        log = self.ceiling_log[-nvalues:] if nvalues else []
        if not log:
            return None
        md = {**self.metadata(threads), "fastdrop_impl": "ceiling", "fastdrop_op": "scale",
              "fastdrop_bytes": int(self.n * 2 * F32.itemsize), "fastdrop_threads": threads,
              "fastdrop_beside": self.name, "name": self.ceiling_name, "unit": "second",
              "loops": log[-1][0]}
        run = pyperf.Run([s / loops for loops, s in log], metadata=md, collect_metadata=False)
        return pyperf.Benchmark([run])


def _data(n: int, salt: int = 0) -> np.ndarray:
    return np.random.default_rng(SEED + salt).standard_normal(n, dtype=np.float32)


# --- case builders: each returns a zero-argument callable with its arrays bound ----------


def _bind(fn, x, y):
    """The timed callable, with the arrays it reads (x) and writes (y) for its ceiling."""
    fn.x, fn.y = x, y
    return fn


def _ceiling_over(x, y):
    """The ceiling kernel (STREAM scale y = a*x) over x and y, checked."""
    from .ceiling import check, scale_kernel

    a, kernel = np.float32(2.0), scale_kernel(x.size, y)
    check(x, y, a)
    return lambda: kernel(x, y, a)


def _make_copy(n):
    def make():
        x, y = _data(n), np.empty(n, np.float32)
        np.copyto(y, x)
        if not np.array_equal(x, y):
            raise AssertionError("np.copyto did not copy")
        return _bind(lambda: np.copyto(y, x), x, y)

    return make


def _make_fastdrop(n, p, op):
    def make():
        import fastdrop as fd
        from fastdrop.kernels.memory import aligned_empty

        # y as fastdrop allocates its outputs (aligned where it streams); the ceiling
        # writes the same y
        x, y = _data(n), aligned_empty(n, np.float32)
        _, mask = fd.dropout(x, p, seed=SEED, backend="cpu")
        if op.startswith("forward"):
            fn = lambda: fd.dropout(x, p, seed=SEED, backend="cpu", out=y)  # noqa: E731
        elif op == "backward-mask":
            fn = lambda: fd.dropout_backward(x, p, mask=mask, backend="cpu", out=y)  # noqa: E731
        else:
            fn = lambda: fd.dropout_backward(x, p, seed=SEED, backend="cpu", out=y)  # noqa: E731
        return _bind(fn, x, y)

    return make


def _make_bare(n, p):
    """The forward kernel alone: no validation, no plan, no allocation (what the API adds
    per call is the difference to `fastdrop forward`)."""
    def make():
        from fastdrop.kernels import cpu
        from fastdrop.kernels.memory import aligned_empty
        from fastdrop.kernels.plan import make_plan

        x, y, mask = _data(n), aligned_empty(n, np.float32), np.empty((n + 7) // 8, np.uint8)
        plan = make_plan(x.shape, x.dtype, p, SEED, 0, "inverted")
        return _bind(lambda: cpu.forward(x, y, mask, plan), x, y)

    return make


def _make_numpy(n, p, op):
    def make():
        from .peers import NumpyNaive, check_dropout_semantics

        x, y = _data(n), np.empty(n, np.float32)
        peer = NumpyNaive(p, SEED)
        keep = peer.forward(x, y)
        check_dropout_semantics("numpy naive", x[: 1 << 16], y[: 1 << 16], p, keep[: 1 << 16])
        if op == "forward":
            return _bind(lambda: peer.forward(x, y), x, y)
        return _bind(lambda: peer.backward(x, keep, y), x, y)

    return make


def _make_torch(n, p, op, threads):
    def make():
        from .peers import check_dropout_semantics, torch_or_none

        torch = torch_or_none()
        torch.set_num_threads(threads)
        xn = _data(n)
        x = torch.from_numpy(xn)
        y, keep = torch.native_dropout(x, p, True)
        check_dropout_semantics("torch native_dropout", x[: 1 << 16].numpy(),
                                y[: 1 << 16].numpy(), p, keep[: 1 << 16].numpy())
        f = torch.nn.functional.dropout
        check_dropout_semantics("torch F.dropout", x[: 1 << 16].numpy(),
                                f(x[: 1 << 16], p, True).numpy(), p)
        scale = 1.0 / (1.0 - p)
        if op == "F.dropout":
            fn = lambda: f(x, p, True)  # noqa: E731
        elif op == "native_dropout":
            fn = lambda: torch.native_dropout(x, p, True)  # noqa: E731
        else:
            fn = lambda: torch.ops.aten.native_dropout_backward(x, keep, scale)  # noqa: E731
        return _bind(fn, xn, np.empty(n, np.float32))  # torch allocates its outputs

    return make


FASTDROP_OPS = ("forward", "backward-mask", "backward-regen")
SCALING_P = 0.5  # the rate of the one-thread forward case (thread scaling) and the bare kernel
PER_CALL_BELOW = 1 << 17  # sizes where per-call time matters: the bare kernel is timed too


def build_cases(log2_sizes, rates, threads: int, with_torch: bool) -> list[Case]:
    """The suite, in a fixed order (pyperf's workers select a case by its position)."""
    cases = []
    for k in log2_sizes:
        n = 1 << k
        cases.append(Case("copy", "np.copyto", k, None, _make_copy(n), 0.0))
        for p in rates:
            for op in FASTDROP_OPS:
                mask = 0.0 if op == "backward-regen" else 1 / 8
                cases.append(Case("fastdrop", op, k, p, _make_fastdrop(n, p, op), mask))
            for op in ("forward", "backward"):
                cases.append(Case("numpy", op, k, p, _make_numpy(n, p, op), 1.0))
            if with_torch:
                for op, mask in (("F.dropout", 0.0), ("native_dropout", 1.0),
                                 ("native_dropout_backward", 1.0)):
                    cases.append(Case("torch", op, k, p, _make_torch(n, p, op, threads), mask))
        if n < PER_CALL_BELOW:
            cases.append(Case("fastdrop", "forward-kernel", k, SCALING_P,
                              _make_bare(n, SCALING_P), 1 / 8))
        if threads > 1:
            cases.append(Case("fastdrop", "forward-1thread", k, SCALING_P,
                              _make_fastdrop(n, SCALING_P, "forward"), 1 / 8, threads=1))
    return cases


def verify(log2_sizes, rates, progress: Callable[[str], None] | None = None) -> None:
    """Check every fastdrop kernel of the suite against the numpy reference, bit for bit,
    at the timed sizes, before anything is timed."""
    import fastdrop as fd

    for k in log2_sizes:
        x = _data(1 << k)
        for p in rates:
            if progress:
                progress(f"checking fastdrop at 2^{k}, p={p:g} against the reference")
            y_ref, m_ref = fd.dropout(x, p, seed=SEED, backend="numpy")
            y, m = fd.dropout(x, p, seed=SEED, backend="cpu")
            dx_mask = fd.dropout_backward(x, p, mask=m, backend="cpu")
            dx_regen = fd.dropout_backward(x, p, seed=SEED, backend="cpu")
            # with dy = x, the reference backward of inverted dropout equals its forward
            for what, got in (("mask", m), ("forward", y), ("backward-mask", dx_mask),
                              ("backward-regen", dx_regen)):
                ref = m_ref if what == "mask" else y_ref
                if not np.array_equal(got.view(np.uint8), ref.view(np.uint8)):
                    raise AssertionError(
                        f"fastdrop {what} at 2^{k}, p={p:g} differs from the reference")


def parse_list(text: str, kind=float) -> list:
    return [kind(v) for v in text.split(",") if v.strip()]


def main() -> None:
    """The pyperf script: parent and workers both run this."""
    import numba
    import pyperf

    from .peers import torch_or_none

    def forward_args(cmd, args):  # pyperf's worker processes (unused: K1 is in-process)
        cmd.extend(["--sizes", args.sizes, "--rates", args.rates])
        if args.no_torch:
            cmd.append("--no-torch")
        if args.skip:
            cmd.extend(["--skip", args.skip])

    # workers run this module with -m, so its package-relative imports work there too
    runner = pyperf.Runner(add_cmdline_args=forward_args,
                           program_args=("-m", "fastdrop.bench.kernel_suite"))
    runner.argparser.add_argument("--sizes", default=DEFAULT_SIZES,
                                  help=f"log2 of the array sizes (default {DEFAULT_SIZES})")
    runner.argparser.add_argument("--rates", default="0.1,0.5,0.9", help="dropout rates")
    runner.argparser.add_argument("--no-torch", action="store_true",
                                  help="leave PyTorch out even when it is installed")
    runner.argparser.add_argument("--skip", default=None, metavar="FILE",
                                  help="a JSON list of benchmark names not to run (those a "
                                  "resumed run has already); the same file for every worker")
    args = runner.parse_args()
    # K1 always runs in this one process: each kernel's ceiling is timed in the same loop
    # and written beside it, which pyperf's worker processes could not hand back
    args.in_process = True
    out = args.append or args.output
    skip = set(json.loads(Path(args.skip).read_text())) if args.skip else set()
    threads = numba.get_num_threads()
    with_torch = not args.no_torch and torch_or_none() is not None
    runner.metadata["fastdrop_threads"] = threads
    runner.metadata["fastdrop_torch"] = "yes" if with_torch else "not installed"
    for case in build_cases(parse_list(args.sizes, int), parse_list(args.rates), threads,
                            with_torch):
        if case.name in skip and case.ceiling_name in skip:
            continue  # done in the run this one resumes (a case without its ceiling reruns)
        bench = runner.bench_time_func(case.name, case.time, metadata=case.metadata(threads))
        companion = case.companion(bench.get_nvalue() if bench else 0, threads)
        if companion is not None:
            # pyperf's own result line (the harness counts these for its progress), + best
            values, fmt = companion.get_values(), companion.format_value
            spread = companion.stdev() if len(values) > 1 else 0.0
            print(f"{case.ceiling_name}: Mean +- std dev: {fmt(companion.mean())} +- "
                  f"{fmt(spread)}; best {fmt(min(values))}", flush=True)
            if out:
                pyperf.add_runs(out, companion)
        # every case runs in this process, one after the other: free its arrays
        case._fn = case._ceiling = None
        numba.set_num_threads(threads)


if __name__ == "__main__":
    main()
