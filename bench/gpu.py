"""GPU benchmark: fastdrop's CUDA kernels against a device-to-device copy and PyTorch.

    make bench-gpu                      # = bash bench/gpu_run.sh: tests, benchmark, ncu
    python3 bench/gpu.py --quick --out $OUT
    python3 bench/gpu.py --sizes 2^20,2^28 --rates 0.1,0.5,0.9 --reps 30
    python3 bench/gpu.py --profile-forward 2^26   # one forward launch, for ncu

On a machine with an NVIDIA GPU it times, for each size and rate (docs/GPU.md says how to
run it on a lent machine):

- copy: a device-to-device copy of x (cuMemcpyDtoD), the ceiling;
- fastdrop forward (y and the packed mask), backward from the stored mask and backward
  regenerated from seed/offset, in float32 and float16 (the kernel calls, on buffers
  allocated beforehand: fastdrop.dropout adds validation and two allocations per call);
- PyTorch peers, where torch sees the GPU: F.dropout, torch.native_dropout and
  torch.ops.aten.native_dropout_backward in float32, float16 and bfloat16.

Method: every fastdrop case is checked against the numpy reference before it is timed (the
mask and y/dx bit for bit on the first 2^20 elements, whose Philox counters are the same
in any longer array, and the keep rate of the whole mask). Each repetition queues a 1 GiB
device copy first, so the GPU is still busy while the host submits the timed call: the
CUDA events then measure the kernels, not Python's launch overhead. Warm-up calls (JIT
compilation included) stay outside timing; the median of --reps repetitions is reported.

A run cannot be wasted: a case whose check fails (or that raises) is recorded as a row
with status "failed" and its error, and the rest are still timed; each row is printed as
it is measured, appended to <out>/<stem>.rows.jsonl, and the .json and .md are rewritten
after every row, so a run stopped by a timeout keeps everything measured before it.

Bytes counted: forward x read + y written + mask written (n/8 for fastdrop, n for torch's
bool mask); backward dy read + mask read + dx written (no mask when regenerated); copy x
read + y written. Results: reports/gpu/<date>-<card>.json (schema below) and .md, and
the table printed. No network is used. Without a GPU it says so and exits with status 2
(--simulator runs it on the numba-cuda simulator, for its tests only: no timing there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # fastdrop from this checkout, installed or not

# The GPU file's schema and the version probe live in the results package (the hand-off
# between benchmarks and reports).
from fastdrop.results.manifest import versions as package_versions  # noqa: E402
from fastdrop.results.schema import GPU_SCHEMA as SCHEMA  # noqa: E402

DEFAULT_OUT = ROOT / "reports" / "gpu"
DEFAULT_SIZES = (2**20, 2**28)
DEFAULT_RATES = (0.1, 0.5, 0.9)
FASTDROP_DTYPES = ("float32", "float16")  # bfloat16: not supported (docs/GPU.md)
TORCH_DTYPES = ("float32", "float16", "bfloat16")
CHECK_ELEMS = 2**20  # prefix compared with the numpy reference
FILLER_BYTES = 2**30  # the copy queued before each timed call
FORWARD_KERNEL = "dropout_forward"  # the forward kernel's name in a profiler (ncu -k)
SEED, OFFSET = 0x5EED_0FFA_57D2_09C3, 7  # both key words nonzero
# Goals of issue 13 (docs/GPU.md): (name, op, dtype, baseline op, baseline dtype, target).
GOALS = (
    ("float32 forward vs copy (element rate)", "fastdrop.forward", "float32", "copy",
     "float32", 0.90),
    ("float32 forward vs torch F.dropout", "fastdrop.forward", "float32", "torch.F.dropout",
     "float32", 1.3),
    ("float16 forward vs torch bfloat16 F.dropout", "fastdrop.forward", "float16",
     "torch.F.dropout", "bfloat16", 1.4),
    ("float32 backward (stored mask) vs copy (element rate)", "fastdrop.backward.mask",
     "float32", "copy", "float32", 0.92),
)


# --- command line --------------------------------------------------------------------------
def parse_size(text: str) -> int:
    """'2^28', '268435456' or '256Mi' -> elements."""
    text = text.strip()
    if "^" in text:
        base, exp = text.split("^")
        return int(base) ** int(exp)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(text[: -len(unit)]) * factor
    return int(text)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(f"2^{s.bit_length() - 1}" for s in DEFAULT_SIZES),
                    help="comma-separated element counts (2^28, 268435456, 256Mi)")
    ap.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)),
                    help="comma-separated drop rates p")
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions (median; >= 20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls before timing")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="folder for the .json and .md")
    ap.add_argument("--quick", action="store_true",
                    help="p = 0.5 only and 20 repetitions (sizes as given)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch peers")
    ap.add_argument("--profile-forward", metavar="SIZE",
                    help="run the float32 forward twice at SIZE elements and exit (for ncu: "
                         f"-k regex:{FORWARD_KERNEL} --launch-skip 1 --launch-count 1)")
    ap.add_argument("--simulator", action="store_true",
                    help="allow the numba-cuda simulator (tests of this script; no timing)")
    args = ap.parse_args(argv)
    args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if args.quick:
        args.rates, args.reps = [0.5], 20
    if args.reps < 20 and not args.simulator:
        ap.error("--reps must be at least 20 (the median of fewer is not worth reporting)")
    if not all(0.0 < p < 1.0 for p in args.rates):
        ap.error("--rates must lie strictly between 0 and 1")
    return args


def require_gpu(simulator_ok: bool = False):
    """numba.cuda on a real device, or a clear message and exit status 2."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" and simulator_ok:
        from numba import cuda

        return cuda
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        print("bench/gpu.py: NUMBA_ENABLE_CUDASIM=1 is set; the simulator cannot time "
              "kernels. Unset it and run on a machine with an NVIDIA GPU.", file=sys.stderr)
        sys.exit(2)
    try:
        from numba import cuda

        ok = cuda.is_available()
    except Exception as exc:  # numba-cuda missing or broken
        print(f"bench/gpu.py: numba-cuda cannot be used here ({exc!r}); nothing to time.",
              file=sys.stderr)
        sys.exit(2)
    if not ok:
        print("bench/gpu.py: no CUDA GPU is visible to numba-cuda (no device, or no driver); "
              "nothing to time. Run it on a machine with an NVIDIA GPU (docs/GPU.md).",
              file=sys.stderr)
        sys.exit(2)
    return cuda


# --- the machine -------------------------------------------------------------------------
SMI_FIELDS = ("name", "driver_version", "clocks.sm", "clocks.mem", "clocks.max.sm",
              "clocks.max.mem", "power.draw", "temperature.gpu", "pstate")


def nvidia_smi() -> dict | None:
    """Name, driver and clocks as nvidia-smi reports them now (None where it is absent)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(SMI_FIELDS)}",
             "--format=csv,noheader,nounits", "--id=0"],
            capture_output=True, text=True, timeout=15, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    values = [v.strip() for v in out.splitlines()[0].split(",")] if out else []
    return dict(zip(SMI_FIELDS, values, strict=False)) or None


def versions() -> dict[str, str | None]:
    return {"python": platform.python_version(),
            **package_versions(("fastdrop", "numpy", "numba", "llvmlite", "numba-cuda",
                                "cuda-bindings", "torch"))}


def device_info(cuda) -> dict:
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "numba-cuda simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    try:
        free, total = cuda.current_context().get_memory_info()
    except Exception:  # the simulator has no memory to report
        free = total = 0
    return {
        "name": name,
        "compute_capability": ".".join(map(str, getattr(dev, "compute_capability", ()))),
        "sm_count": getattr(dev, "MULTIPROCESSOR_COUNT", None),
        "memory_gib": round(total / 2**30, 1),
        "free_gib_at_start": round(free / 2**30, 1),
    }


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"


# --- timing --------------------------------------------------------------------------------
class NumbaTimer:
    """CUDA events on numba's default stream, each call queued behind a 1 GiB copy."""

    def __init__(self, cuda):
        self.cuda = cuda
        self._src = cuda.device_array(FILLER_BYTES, dtype=np.uint8)
        self._dst = cuda.device_array(FILLER_BYTES, dtype=np.uint8)

    def busy(self):
        self._dst.copy_to_device(self._src)

    def time(self, fn, reps: int, warmup: int) -> list[float]:
        cuda = self.cuda
        for _ in range(warmup):
            fn()
        cuda.synchronize()
        times = []
        for _ in range(reps):
            start, end = cuda.event(timing=True), cuda.event(timing=True)
            self.busy()
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(cuda.event_elapsed_time(start, end))
        return times


class HostTimer:
    """The simulator runs kernels synchronously in Python and its events record nothing:
    a host clock, so that this script's tests exercise every path. Not a GPU timing."""

    def time(self, fn, reps: int, warmup: int) -> list[float]:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        return times


class TorchTimer:
    """The same method with torch's events and a torch copy on torch's current stream."""

    def __init__(self, torch):
        self.torch = torch
        self._src = torch.empty(FILLER_BYTES, dtype=torch.uint8, device="cuda")
        self._dst = torch.empty_like(self._src)

    def time(self, fn, reps: int, warmup: int) -> list[float]:
        torch = self.torch
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(reps):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            self._dst.copy_(self._src)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return times


def row(op, impl, dtype, n, p, times, nbytes) -> dict:
    median = statistics.median(times)
    return {
        "op": op, "impl": impl, "dtype": dtype, "size": n, "p": p, "status": "ok",
        "median_ms": median, "min_ms": min(times), "reps": len(times), "bytes": nbytes,
        "gelem_s": n / (median * 1e-3) / 1e9,
        "tb_s": nbytes / (median * 1e-3) / 1e12,
    }


def failed_row(op, impl, dtype, n, p, error: str) -> dict:
    """A case that was not timed: its check failed or it raised. Kept in the results so
    the report shows the failure where a number would be."""
    return {
        "op": op, "impl": impl, "dtype": dtype, "size": n, "p": p, "status": "failed",
        "error": error, "median_ms": None, "min_ms": None, "reps": 0, "bytes": None,
        "gelem_s": None, "tb_s": None,
    }


def ok(r: dict) -> bool:
    return r.get("status", "ok") == "ok"


class Recorder:
    """Rows as they are measured: printed, appended to <stem>.rows.jsonl, and the .json
    and .md rewritten after each, so a run cut short keeps what it measured."""

    def __init__(self, report: dict, out_dir: Path):
        self.report = report
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.stem = report_stem(report, out_dir)
        self.rows_path = out_dir / f"{self.stem}.rows.jsonl"

    def add(self, r: dict) -> None:
        self.report["rows"].append(r)
        self.save()  # ratios first: the printed line shows the share of copy
        print(table_lines([r])[-1], flush=True)
        with self.rows_path.open("a") as f:
            f.write(json.dumps(r) + "\n")

    def run(self, op, impl, dtype, n, p, measure) -> None:
        """Record measure()'s row, or a failed row with the exception it raised."""
        try:
            r = measure()
        except Exception as exc:  # a broken case must not cost the rest of the run
            r = failed_row(op, impl, dtype, n, p, _error(exc))
        self.add(r)

    def save(self) -> tuple[Path, Path]:
        add_ratios(self.report["rows"])
        self.report["goals"] = goals(self.report["rows"])
        return write_report(self.report, self.out_dir, self.stem)


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


# --- fastdrop: check, then time ------------------------------------------------------------
def host_data(n: int, dtype: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n, dtype=np.float32).astype(dtype)


def reference(x_host, dy_host, p):
    """(y, mask, dx) of the numpy reference on a prefix of the data."""
    import fastdrop as fd

    kw = {"seed": SEED, "offset": OFFSET, "backend": "numpy"}
    y_ref, mask_ref = fd.dropout(x_host, p, **kw)
    return y_ref, mask_ref, fd.dropout_backward(dy_host, p, **kw)


def check_fastdrop(x_host, y, mask, dx_stored, dx_regen, dy_host, p, plan):
    """Raise AssertionError unless the device results match the numpy reference."""
    m = min(CHECK_ELEMS, x_host.size)
    y_ref, mask_ref, dx_ref = reference(x_host[:m], dy_host[:m], p)
    mask_host = mask.copy_to_host()
    nb = mask_ref.size if m == x_host.size else m // 8  # whole bytes of the prefix
    assert np.array_equal(mask_host[:nb], mask_ref[:nb]), "mask differs from the reference"
    for name, got, ref in (("y", y, y_ref), ("dx (stored mask)", dx_stored, dx_ref),
                           ("dx (regenerated)", dx_regen, dx_ref)):
        got = got[:m].copy_to_host()
        assert np.array_equal(got.view(np.uint8), ref.view(np.uint8)), f"{name} differs"
    # The keep rate of the whole mask: within 6 sigma of the binomial.
    kept = int(np.unpackbits(mask_host, count=plan.n).sum())
    q = 1.0 - plan.t / 65536
    sigma = max((plan.n * q * (1 - q)) ** 0.5, 1.0)
    assert abs(kept - plan.n * q) < 6 * sigma, f"keep rate {kept / plan.n:.5f}, expected {q}"


def bench_fastdrop(cuda, timer, rec, n, dtype, rates, reps, warmup) -> None:
    from fastdrop.kernels import cuda as ck
    from fastdrop.kernels.plan import make_plan

    x_host, dy_host = host_data(n, dtype, 1), host_data(n, dtype, 2)
    x, dy = cuda.to_device(x_host), cuda.to_device(dy_host)
    y, dx = cuda.device_array_like(x), cuda.device_array_like(x)
    item = np.dtype(dtype).itemsize
    mask = cuda.device_array(-(-n // 8), dtype=np.uint8)
    rec.run("copy", "cuMemcpyDtoD", dtype, n, None, lambda: row(
        "copy", "cuMemcpyDtoD", dtype, n, None,
        timer.time(lambda: y.copy_to_device(x), reps, warmup), 2 * n * item))
    for p in rates:
        plan = make_plan((n,), dtype, p, SEED, OFFSET, "inverted")
        cases = fastdrop_cases(ck, x, y, dy, dx, mask, plan)
        try:  # correct first: nothing of this p is timed unless all three match
            ck.forward(x, y, mask, plan)
            ck.backward(dy, dx, mask, plan)
            dx_stored = cuda.device_array_like(x)
            dx_stored.copy_to_device(dx)
            ck.backward(dy, dx, None, plan)
            cuda.synchronize()
            check_fastdrop(x_host, y, mask, dx_stored, dx, dy_host, p, plan)
            del dx_stored
        except Exception as exc:
            for op, _, _ in cases:
                rec.add(failed_row(op, "fastdrop", dtype, n, p, _error(exc)))
            continue
        for op, fn, nbytes in cases:
            rec.run(op, "fastdrop", dtype, n, p, lambda op=op, fn=fn, nbytes=nbytes, p=p: row(
                op, "fastdrop", dtype, n, p, timer.time(fn, reps, warmup), nbytes))


def fastdrop_cases(ck, x, y, dy, dx, mask, plan):
    """(op, call, bytes moved) of the three timed kernel calls for one plan."""
    data = 2 * plan.n * x.dtype.itemsize
    return (
        ("fastdrop.forward", lambda: ck.forward(x, y, mask, plan), data + mask.size),
        ("fastdrop.backward.mask", lambda: ck.backward(dy, dx, mask, plan), data + mask.size),
        ("fastdrop.backward.regen", lambda: ck.backward(dy, dx, None, plan), data),
    )


# --- PyTorch peers -------------------------------------------------------------------------
def load_torch(skip: bool):
    """torch where it sees the GPU, else (None, why)."""
    if skip:
        return None, "--no-torch"
    try:
        import torch
    except Exception as exc:
        return None, f"torch not importable ({exc!r})"
    if not torch.cuda.is_available():
        return None, "torch sees no CUDA device"
    return torch, None


def bench_torch(torch, timer, rec, n, dtype, rates, reps, warmup) -> None:
    import torch.nn.functional as F

    tdtype = getattr(torch, dtype)
    gen = torch.Generator(device="cuda").manual_seed(1)
    x = torch.randn(n, device="cuda", dtype=torch.float32, generator=gen).to(tdtype)
    dy = torch.randn(n, device="cuda", dtype=torch.float32, generator=gen).to(tdtype)
    for p in rates:
        _, mask = torch.native_dropout(x, p, True)
        keep = mask.float().mean().item()  # a sanity check of the peer, not a bit-exact one
        cases = torch_cases(torch, F, x, dy, mask, p)
        if n >= 10_000 and abs(keep - (1 - p)) >= 0.01:
            for op, _, _ in cases:
                rec.add(failed_row(op, "torch", dtype, n, p, f"torch keep rate {keep}"))
            continue
        for op, fn, nbytes in cases:
            def measure(op=op, fn=fn, nbytes=nbytes, p=p):
                with torch.no_grad():
                    return row(op, "torch", dtype, n, p, timer.time(fn, reps, warmup), nbytes)

            rec.run(op, "torch", dtype, n, p, measure)


def torch_cases(torch, F, x, dy, mask, p):
    """(op, call, bytes moved) of the PyTorch peers; their masks are one bool per element."""
    n = x.numel()
    nbytes = 2 * n * x.element_size() + n
    scale = 1.0 / (1.0 - p)
    return (
        ("torch.F.dropout", lambda: F.dropout(x, p, training=True), nbytes),
        ("torch.native_dropout", lambda: torch.native_dropout(x, p, True), nbytes),
        ("torch.native_dropout_backward",
         lambda: torch.ops.aten.native_dropout_backward(dy, mask, scale), nbytes),
    )


def torch_copy_row(torch, timer, n, dtype, reps, warmup) -> dict:
    """The copy ceiling for a dtype fastdrop does not take (bfloat16), through torch."""
    x = torch.empty(n, dtype=getattr(torch, dtype), device="cuda")
    y = torch.empty_like(x)
    times = timer.time(lambda: y.copy_(x), reps, warmup)
    return row("copy", "torch.copy_", dtype, n, None, times, 2 * n * x.element_size())


# --- summary ---------------------------------------------------------------------------------
def add_ratios(rows: list[dict]) -> None:
    """share_of_copy: achieved bandwidth / the copy's at the same size and dtype;
    vs_copy_elem_rate: the copy's time / this op's time (elements per second ratio)."""
    copies = {(r["size"], r["dtype"]): r for r in rows if r["op"] == "copy" and ok(r)}
    for r in rows:
        c = copies.get((r["size"], r["dtype"])) if ok(r) else None
        r["share_of_copy"] = r["tb_s"] / c["tb_s"] if c else None
        r["vs_copy_elem_rate"] = c["median_ms"] / r["median_ms"] if c else None


def goals(rows: list[dict]) -> list[dict]:
    """Each goal at the largest size measured, per rate: measured ratio against target."""
    rows = [r for r in rows if ok(r)]
    if not rows:
        return []
    size = max(r["size"] for r in rows)
    by = {(r["op"], r["dtype"], r["size"], r["p"]): r for r in rows}
    out = []
    for name, op, dtype, base_op, base_dtype, target in GOALS:
        for r in rows:
            if (r["op"], r["dtype"], r["size"]) != (op, dtype, size):
                continue
            base = by.get((base_op, base_dtype, size, None if base_op == "copy" else r["p"]))
            if base is None:
                continue
            ratio = base["median_ms"] / r["median_ms"]
            out.append({"goal": name, "size": size, "p": r["p"], "target": target,
                        "measured": ratio, "met": ratio >= target})
    return out


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def table_lines(rows: list[dict]) -> list[str]:
    """The results as a markdown table (printed, and written to the .md)."""
    lines = ["| op | dtype | size | p | median ms | Gelem/s | TB/s | share of copy |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        size = f"2^{r['size'].bit_length() - 1}" if r["size"] & (r["size"] - 1) == 0 \
            else str(r["size"])
        if not ok(r):
            lines.append(f"| {r['op']} | {r['dtype']} | {size} | {fmt(r['p'], 'g')} | "
                         f"FAILED: {r['error']} | | | |")
            continue
        lines.append(
            f"| {r['op']} | {r['dtype']} | {size} | {fmt(r['p'], 'g')} | "
            f"{r['median_ms']:.4f} | {r['gelem_s']:.1f} | {r['tb_s']:.3f} | "
            f"{fmt(r['share_of_copy'], '.3f')} |"
        )
    return lines


def goal_lines(items: list[dict]) -> list[str]:
    lines = ["| goal | size | p | target | measured | met |", "|---|---|---|---|---|---|"]
    for g in items:
        lines.append(f"| {g['goal']} | {g['size']} | {g['p']} | "
                     f">= {g['target']} | {g['measured']:.3f} | {'yes' if g['met'] else 'no'} |")
    return lines


def markdown(report: dict) -> str:
    m = report["machine"]
    head = [
        f"# fastdrop GPU benchmark, {m['device']['name']}, {report['created']}",
        "",
        f"Driver {m.get('driver') or '?'}; {m['device']['sm_count']} SMs; "
        f"{m['device']['memory_gib']} GiB. Clocks (nvidia-smi) before: "
        f"{m.get('clocks_before')}; after: {m.get('clocks_after')}.",
        f"Versions: {report['versions']}.",
        f"Method: {report['method']['timer']} Median of {report['method']['reps']} "
        f"repetitions after {report['method']['warmup']} warm-up calls.",
        "",
    ]
    notes = [f"- {n}" for n in report["notes"]]
    return "\n".join(head + table_lines(report["rows"]) + ["", "## Goals", ""]
                     + goal_lines(report["goals"]) + ["", "## Notes", ""] + notes) + "\n"


def report_stem(report: dict, out_dir: Path) -> str:
    """<date>-<card>, with the time added when that file exists (a second run the same
    day keeps the first)."""
    stem = f"{report['created'][:10]}-{slug(report['machine']['device']['name'])}"
    if (out_dir / f"{stem}.json").exists():
        stem += "-" + report["created"][11:19].replace(":", "")
    return stem


def write_report(report: dict, out_dir: Path, stem: str | None = None) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or report_stem(report, out_dir)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    # Written whole to a temporary name, then renamed: a kill mid-write leaves the last
    # complete file, never a truncated one.
    for path, text in ((json_path, json.dumps(report, indent=1) + "\n"),
                       (md_path, markdown(report))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return json_path, md_path


# --- main ------------------------------------------------------------------------------------
def release(cuda, torch) -> None:
    """Hand freed device memory back before the next size."""
    import gc

    gc.collect()
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":  # the simulator frees nothing
        cuda.current_context().deallocations.clear()
    if torch is not None:
        torch.cuda.empty_cache()


def profile_forward(cuda, size: str) -> int:
    """Two float32 forward launches at `size` elements (the first compiles): the run an
    Nsight Compute pass profiles with --launch-skip 1 --launch-count 1."""
    from fastdrop.kernels import cuda as ck
    from fastdrop.kernels.plan import make_plan

    n = parse_size(size)
    x = cuda.to_device(host_data(n, "float32", 1))
    y = cuda.device_array_like(x)
    mask = cuda.device_array(-(-n // 8), dtype=np.uint8)
    plan = make_plan((n,), "float32", 0.5, SEED, OFFSET, "inverted")
    for _ in range(2):
        ck.forward(x, y, mask, plan)
    cuda.synchronize()
    print(f"profiled forward: float32, {n} elements, p = 0.5")
    return 0


def new_report(cuda, args, smi_before, simulated: bool) -> dict:
    return {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "device": device_info(cuda),
            "driver": (smi_before or {}).get("driver_version"),
            "host": platform.node(),
            "clocks_before": smi_before,
        },
        "versions": versions(),
        "method": {
            "timer": ("host clock on the numba-cuda simulator: NOT a GPU timing"
                      if simulated else
                      "CUDA events around one call, queued behind a 1 GiB device copy so "
                      "host launch overhead is hidden; warm-up (JIT) untimed."),
            "reps": args.reps,
            "warmup": args.warmup,
            "bytes": "forward: x + y + mask (n/8 fastdrop, n torch); backward: dy + mask + dx "
                     "(no mask when regenerated); copy: x + y",
            "check": f"fastdrop vs numpy reference on the first {CHECK_ELEMS} elements, "
                     "bit for bit, and the whole mask's keep rate",
        },
        "rows": [],
        "notes": [],
        "goals": [],
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    cuda = require_gpu(simulator_ok=args.simulator)
    if args.profile_forward:
        return profile_forward(cuda, args.profile_forward)
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    smi_before = None if simulated else nvidia_smi()
    torch, torch_note = (None, "simulator") if simulated else load_torch(args.no_torch)
    report = new_report(cuda, args, smi_before, simulated)
    if simulated:
        report["notes"].append("Run on the numba-cuda simulator: the times are not GPU "
                               "timings (this script's own test).")
    if torch_note:
        report["notes"].append(f"PyTorch peers skipped: {torch_note}.")
    report["notes"].append("fastdrop has no bfloat16 kernels (docs/GPU.md); bfloat16 rows "
                           "are PyTorch's only.")
    rec = Recorder(report, Path(args.out))
    ntimer = HostTimer() if simulated else NumbaTimer(cuda)
    ttimer = TorchTimer(torch) if torch is not None else None
    for n in args.sizes:
        for dtype in TORCH_DTYPES:
            print(f"-- size {n}, {dtype}", flush=True)
            if dtype in FASTDROP_DTYPES:
                bench_fastdrop(cuda, ntimer, rec, n, dtype, args.rates, args.reps,
                               args.warmup)
            elif torch is not None:
                rec.run("copy", "torch.copy_", dtype, n, None, lambda n=n, dtype=dtype:
                        torch_copy_row(torch, ttimer, n, dtype, args.reps, args.warmup))
            if torch is not None:
                bench_torch(torch, ttimer, rec, n, dtype, args.rates, args.reps, args.warmup)
            release(cuda, torch)
    report["machine"]["clocks_after"] = None if simulated else nvidia_smi()
    json_path, md_path = rec.save()
    print("\n".join(table_lines(report["rows"]) + [""] + goal_lines(report["goals"])))
    failed = sum(not ok(r) for r in report["rows"])
    print(f"\nwrote {json_path}, {md_path} and {rec.rows_path}"
          + (f"; {failed} FAILED rows" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
