"""Kernel throughput suite on pyperf: fastdrop vs the bandwidth ceiling vs numpy vs PyTorch.

Run as a pyperf script (it is one: pyperf re-runs this file as its worker processes):

    python -m fastdrop.bench.kernel_suite --sizes 16,26 --rates 0.1,0.5,0.9 -o out.json

`fastdrop bench kernels` runs it in a subprocess, after `verify()` has checked every
fastdrop kernel against the numpy reference at the timed sizes, and renders the result.
Each benchmark's metadata says what it is (impl, op, elements, bytes moved, p, threads),
so the report computes rates from the JSON alone.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SEED = 20261128
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
    _fn: Callable[[], object] | None = None

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

    def metadata(self, threads: int) -> dict:
        if self.op.endswith("-1thread"):
            threads = 1
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
        """pyperf's time function: set up once (outside timing), then time `loops` calls."""
        if self._fn is None:
            self._fn = self.make()
            self._fn()  # warm: JIT cache load, first-touch page faults
        fn = self._fn
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        return time.perf_counter() - t0


def _data(n: int, salt: int = 0) -> np.ndarray:
    return np.random.default_rng(SEED + salt).standard_normal(n, dtype=np.float32)


# --- case builders: each returns a zero-argument callable with its arrays bound ----------


def _make_ceiling(n):
    def make():
        from .ceiling import check, stream_scale

        x, y = _data(n), np.empty(n, np.float32)
        a = np.float32(2.0)
        check(x, y, a)
        return lambda: stream_scale(x, y, a)

    return make


def _make_fastdrop(n, p, op, threads=None):
    def make():
        import numba

        import fastdrop as fd

        if threads is not None:
            numba.set_num_threads(threads)  # the thread-scaling case
        x, y = _data(n), np.empty(n, np.float32)
        _, mask = fd.dropout(x, p, seed=SEED, backend="cpu")
        if op.startswith("forward"):
            return lambda: fd.dropout(x, p, seed=SEED, backend="cpu", out=y)
        if op == "backward-mask":
            return lambda: fd.dropout_backward(x, p, mask=mask, backend="cpu", out=y)
        return lambda: fd.dropout_backward(x, p, seed=SEED, backend="cpu", out=y)

    return make


def _make_numpy(n, p, op):
    def make():
        from .peers import NumpyNaive, check_dropout_semantics

        x, y = _data(n), np.empty(n, np.float32)
        peer = NumpyNaive(p, SEED)
        keep = peer.forward(x, y)
        check_dropout_semantics("numpy naive", x[: 1 << 16], y[: 1 << 16], p, keep[: 1 << 16])
        if op == "forward":
            return lambda: peer.forward(x, y)
        return lambda: peer.backward(x, keep, y)

    return make


def _make_torch(n, p, op, threads):
    def make():
        from .peers import check_dropout_semantics, torch_or_none

        torch = torch_or_none()
        torch.set_num_threads(threads)
        x = torch.from_numpy(_data(n))
        y, keep = torch.native_dropout(x, p, True)
        check_dropout_semantics("torch native_dropout", x[: 1 << 16].numpy(),
                                y[: 1 << 16].numpy(), p, keep[: 1 << 16].numpy())
        f = torch.nn.functional.dropout
        check_dropout_semantics("torch F.dropout", x[: 1 << 16].numpy(),
                                f(x[: 1 << 16], p, True).numpy(), p)
        if op == "F.dropout":
            return lambda: f(x, p, True)
        if op == "native_dropout":
            return lambda: torch.native_dropout(x, p, True)
        scale = 1.0 / (1.0 - p)
        return lambda: torch.ops.aten.native_dropout_backward(x, keep, scale)

    return make


FASTDROP_OPS = ("forward", "backward-mask", "backward-regen")
SCALING_P = 0.5  # the rate of the one-thread forward case (thread scaling)


def build_cases(log2_sizes, rates, threads: int, with_torch: bool) -> list[Case]:
    """The suite, in a fixed order (pyperf's workers select a case by its position)."""
    cases = []
    for k in log2_sizes:
        n = 1 << k
        cases.append(Case("ceiling", "scale", k, None, _make_ceiling(n), 0.0))
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
        if threads > 1:
            one = Case("fastdrop", "forward-1thread", k, SCALING_P,
                       _make_fastdrop(n, SCALING_P, "forward", threads=1), 1 / 8)
            cases.append(one)
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

    def forward_args(cmd, args):
        cmd.extend(["--sizes", args.sizes, "--rates", args.rates])
        if args.no_torch:
            cmd.append("--no-torch")
        if args.skip:
            cmd.extend(["--skip", args.skip])

    # workers run this module with -m, so its package-relative imports work there too
    runner = pyperf.Runner(add_cmdline_args=forward_args,
                           program_args=("-m", "fastdrop.bench.kernel_suite"))
    runner.argparser.add_argument("--sizes", default="16,26",
                                  help="log2 of the array sizes (default 16,26)")
    runner.argparser.add_argument("--rates", default="0.1,0.5,0.9", help="dropout rates")
    runner.argparser.add_argument("--no-torch", action="store_true",
                                  help="leave PyTorch out even when it is installed")
    runner.argparser.add_argument("--skip", default=None, metavar="FILE",
                                  help="a JSON list of benchmark names not to run (those a "
                                  "resumed run has already); the same file for every worker")
    args = runner.parse_args()
    skip = set(json.loads(Path(args.skip).read_text())) if args.skip else set()
    threads = numba.get_num_threads()
    with_torch = not args.no_torch and torch_or_none() is not None
    runner.metadata["fastdrop_threads"] = threads
    runner.metadata["fastdrop_torch"] = "yes" if with_torch else "not installed"
    for case in build_cases(parse_list(args.sizes, int), parse_list(args.rates), threads,
                            with_torch):
        if case.name in skip:
            continue  # workers skip the same names: pyperf selects a case by its position
        runner.bench_time_func(case.name, case.time, metadata=case.metadata(threads))
        # with --in-process every case runs in this process, one after the other: free its
        # arrays, and undo the one-thread case's thread count
        case._fn = None
        numba.set_num_threads(threads)


if __name__ == "__main__":
    main()
