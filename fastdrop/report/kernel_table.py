"""The kernel table: rates, bandwidth and ratios computed from a pyperf result file
(loaded by fastdrop.results.pyperf_files).

Functions here return data or lines; the terminal renderer prints them (rich), the
markdown renderer writes them. Every ratio compares benchmarks of the same file, i.e.
measured side by side in one run.
"""

from __future__ import annotations

import dataclasses
import statistics

# which peer a fastdrop op is compared with
NUMPY_PEER = {"forward": "forward", "backward-mask": "backward", "backward-regen": "backward"}
TORCH_PEER = {"forward": "F.dropout", "backward-mask": "native_dropout_backward",
              "backward-regen": "native_dropout_backward"}


@dataclasses.dataclass
class Row:
    impl: str
    op: str
    n: int
    p: float | None
    threads: int
    median_s: float
    spread: float  # relative: (max - min) / median of pyperf's values
    nbytes: int
    share: float | None = None  # best element rate over its ceiling's best (same loop)
    share_median: float | None = None  # the same from the medians
    vs_numpy: float | None = None  # numpy's best time over this row's best
    vs_torch: float | None = None
    min_s: float | None = None  # the fastest and slowest of pyperf's values (seconds)
    max_s: float | None = None
    ceiling: Row | None = None  # the ceiling timed beside this row, call by call

    @property
    def best_s(self) -> float:
        """The best (minimum) time per call: the statistic STREAM reports."""
        return self.min_s if self.min_s is not None else self.median_s

    @property
    def gelems(self) -> float:
        """Elements per second (Gelem/s) at the best time."""
        return self.n / self.best_s / 1e9

    @property
    def gelems_median(self) -> float:
        return self.n / self.median_s / 1e9

    @property
    def gbps(self) -> float:
        return self.nbytes / self.best_s / 1e9

    @property
    def bytes_per_elem(self) -> float:
        return self.nbytes / self.n

    @property
    def fault(self) -> bool:
        """A share above 1: the kernel beat the memory ceiling it was timed beside, which
        no kernel moving these bytes can; the measurement is at fault, not a result."""
        return self.share is not None and self.share > 1.0

    @property
    def label(self) -> str:
        return f"{self.impl} {self.op}"


def rows_from_suite(suite) -> list[Row]:
    """The table's rows, in the order of the run. Each "ceiling beside <case>" benchmark is
    attached to its case (row.ceiling), and one ceiling row per size pools them all."""
    rows, beside = [], {}
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        if "fastdrop_impl" not in md:
            continue
        values = bench.get_values()
        median = statistics.median(values)
        p = float(md["fastdrop_p"])
        row = Row(
            impl=md["fastdrop_impl"], op=md["fastdrop_op"], n=int(md["fastdrop_elements"]),
            p=None if p < 0 else p, threads=int(md["fastdrop_threads"]), median_s=median,
            spread=(max(values) - min(values)) / median, nbytes=int(md["fastdrop_bytes"]),
            min_s=min(values), max_s=max(values))
        if "fastdrop_beside" in md:
            beside[md["fastdrop_beside"]] = (row, values)
        else:
            rows.append(row)
    _attach_ceilings(rows, beside)
    _derive(rows)
    return rows


def _attach_ceilings(rows: list[Row], beside: dict) -> None:
    """row.ceiling from the companion benchmarks, and a pooled ceiling row per size placed
    before that size's first row (a run from before the companions has its own)."""
    pooled: dict[int, list[float]] = {}
    for r in rows:
        name = f"{r.label} {fmt_size(r.n)}" + ("" if r.p is None else f" p={r.p:g}")
        if name in beside:
            r.ceiling, values = beside[name]
            pooled.setdefault(r.n, []).extend(values)
    for n, values in pooled.items():
        if any(r.impl == "ceiling" and r.n == n for r in rows):
            continue
        median = statistics.median(values)
        first = next(i for i, r in enumerate(rows) if r.n == n)
        rows.insert(first, Row(
            impl="ceiling", op="scale", n=n, p=None, threads=max(r.threads for r in rows),
            median_s=median, spread=(max(values) - min(values)) / median,
            nbytes=2 * 4 * n, min_s=min(values), max_s=max(values)))


def _derive(rows: list[Row]) -> None:
    """Share of the ceiling (from its own interleaved ceiling when it has one, else the
    size's ceiling row) and speedups over the peers, all from best times, same size and p."""
    by_key = {(r.impl, r.op, r.n, r.p): r for r in rows}
    for r in rows:
        ceiling = r.ceiling or by_key.get(("ceiling", "scale", r.n, None))
        if ceiling and r.impl != "ceiling":
            r.share = ceiling.best_s / r.best_s
            r.share_median = ceiling.median_s / r.median_s
        if r.impl != "fastdrop":
            continue
        base_op = "forward" if r.op.startswith("forward") else r.op
        peer = by_key.get(("numpy", NUMPY_PEER.get(base_op, ""), r.n, r.p))
        if peer:
            r.vs_numpy = peer.best_s / r.best_s
        peer = by_key.get(("torch", TORCH_PEER.get(base_op, ""), r.n, r.p))
        if peer:
            r.vs_torch = peer.best_s / r.best_s


@dataclasses.dataclass
class Scaling:
    """Forward on all threads over forward on one thread, at one size."""

    n: int
    threads: int
    best: float  # from the best times
    low: float  # the range the values allow: one thread's fastest over all threads' slowest
    high: float  # ... and one thread's slowest over all threads' fastest

    @property
    def noise(self) -> bool:
        """More than the thread count: no kernel scales past it; the timing is noise."""
        return self.best > self.threads


def thread_scaling(rows: list[Row]) -> list[Scaling]:
    """Per size: forward at all threads over forward at one thread (p = the scaling case's)."""
    out = []
    for one in (r for r in rows if r.op == "forward-1thread"):
        full = next((r for r in rows if r.impl == "fastdrop" and r.op == "forward"
                     and r.n == one.n and r.p == one.p), None)
        if full and one.max_s and full.max_s:
            out.append(Scaling(one.n, full.threads, one.best_s / full.best_s,
                               one.min_s / full.max_s, one.max_s / full.min_s))
    return sorted(out, key=lambda s: s.n)


def fmt_size(n: int) -> str:
    k = n.bit_length() - 1
    return f"2^{k}" if n == 1 << k else str(n)


COLUMNS = ("kernel", "size", "p", "Gelem/s", "median", "us/call", "B/elem", "GB/s",
           "share of ceiling", "share (median)", "vs numpy", "vs torch", "spread")
PER_CALL_BELOW = 1 << 17  # sizes whose per-call time is shown (us)


def share_cell(r: Row) -> str:
    if r.share is None:
        return ""
    if r.fault:  # never shown as a result
        return f"FAULT ({r.share:.2f} > 1)"
    return f"{r.share:.2f}"


def table_cells(rows: list[Row]) -> list[list[str]]:
    """The table as strings, in the order of the run. Rates and ratios from best times (the
    median rate beside them)."""
    cells = []
    for r in rows:
        cells.append([
            r.label + (f" ({r.threads} thr)" if r.op.endswith("1thread") else ""),
            fmt_size(r.n),
            "" if r.p is None else f"{r.p:g}",
            f"{r.gelems:.3f}",
            f"{r.gelems_median:.3f}",
            f"{r.best_s * 1e6:.1f}" if r.n < PER_CALL_BELOW else "",
            f"{r.bytes_per_elem:.3g}",
            f"{r.gbps:.2f}",
            share_cell(r),
            "" if r.share_median is None else f"{r.share_median:.2f}",
            "" if r.vs_numpy is None else f"{r.vs_numpy:.1f}x",
            "" if r.vs_torch is None else f"{r.vs_torch:.1f}x",
            f"{100 * r.spread:.0f}%",
        ])
    return cells


def header_lines(manifest: dict, rows: list[Row]) -> list[str]:
    m = manifest.get("machine", {})
    threads = max((r.threads for r in rows), default=m.get("threads"))
    lines = [
        f"CPU: {m.get('cpu_model')} ({m.get('cores')} cores), threads: {threads}, "
        f"memory: {m.get('memory_gib')} GiB",
        f"numpy {manifest.get('versions', {}).get('numpy')}, numba "
        f"{manifest.get('versions', {}).get('numba')}, torch "
        f"{manifest.get('versions', {}).get('torch') or 'not installed'}; "
        f"run {manifest.get('created')}, commit {manifest.get('git_commit')}",
        "float32. Gelem/s, GB/s, us/call and shares from the best (minimum) time of pyperf's "
        "values, as STREAM reports; the median rate and share beside them. B/elem = x read + "
        "y written + mask (fastdrop 1/8 byte, numpy and torch native_dropout 1 byte; "
        "F.dropout returns no mask). Share = element rate over the ceiling's (Numba y = a*x "
        "over the same arrays, timed call by call beside the kernel: ceiling, kernel, "
        "ceiling, ...). A share above 1 is a measurement fault (FAULT), not a result. "
        "forward-kernel: the bare kernel, without the API's checks and allocation.",
    ]
    faults = [r for r in rows if r.fault]
    if faults:
        lines.append(f"Measurement faults: {len(faults)} share(s) above 1 ("
                     + ", ".join(f"{r.label} {fmt_size(r.n)}" for r in faults[:4])
                     + ("..." if len(faults) > 4 else "") + "): rerun on a quiet machine.")
    scaling = thread_scaling(rows)
    if scaling:
        lines.append("Thread scaling, forward (best; range the values allow): " + ", ".join(
            f"{fmt_size(s.n)}: {s.best:.2f}x ({s.low:.2f}-{s.high:.2f}) on {s.threads} threads"
            + (" NOISE: above the thread count" if s.noise else "") for s in scaling))
    return lines


def markdown(manifest: dict, rows: list[Row]) -> str:
    out = ["# fastdrop kernel benchmark", ""]
    out += [line + "  " for line in header_lines(manifest, rows)]
    out += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(c) + " |" for c in table_cells(rows)]
    return "\n".join(out) + "\n"
