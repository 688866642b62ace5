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
    share: float | None = None  # element rate over the ceiling's, same size and run
    vs_numpy: float | None = None
    vs_torch: float | None = None
    min_s: float | None = None  # the fastest and slowest of pyperf's values (seconds)
    max_s: float | None = None

    @property
    def gelems(self) -> float:
        return self.n / self.median_s / 1e9

    @property
    def gbps(self) -> float:
        return self.nbytes / self.median_s / 1e9

    @property
    def label(self) -> str:
        return f"{self.impl} {self.op}"


def rows_from_suite(suite) -> list[Row]:
    rows = []
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        if "fastdrop_impl" not in md:
            continue
        values = bench.get_values()
        median = statistics.median(values)
        p = float(md["fastdrop_p"])
        rows.append(Row(
            impl=md["fastdrop_impl"], op=md["fastdrop_op"], n=int(md["fastdrop_elements"]),
            p=None if p < 0 else p, threads=int(md["fastdrop_threads"]), median_s=median,
            spread=(max(values) - min(values)) / median, nbytes=int(md["fastdrop_bytes"]),
            min_s=min(values), max_s=max(values)))
    _derive(rows)
    return rows


def _derive(rows: list[Row]) -> None:
    """Share of the ceiling and speedups, each against the same size (and p) of this run."""
    by_key = {(r.impl, r.op, r.n, r.p): r for r in rows}
    for r in rows:
        ceiling = by_key.get(("ceiling", "scale", r.n, None))
        if ceiling and r.impl != "ceiling":
            r.share = r.gelems / ceiling.gelems
        if r.impl != "fastdrop":
            continue
        base_op = "forward" if r.op.startswith("forward") else r.op
        peer = by_key.get(("numpy", NUMPY_PEER.get(base_op, ""), r.n, r.p))
        if peer:
            r.vs_numpy = peer.median_s / r.median_s
        peer = by_key.get(("torch", TORCH_PEER.get(base_op, ""), r.n, r.p))
        if peer:
            r.vs_torch = peer.median_s / r.median_s


def thread_scaling(rows: list[Row]) -> dict[int, float]:
    """Forward at all threads over forward at one thread, per size (p = the scaling case's)."""
    out = {}
    for one in (r for r in rows if r.op == "forward-1thread"):
        full = next((r for r in rows if r.impl == "fastdrop" and r.op == "forward"
                     and r.n == one.n and r.p == one.p), None)
        if full:
            out[one.n] = one.median_s / full.median_s
    return out


def fmt_size(n: int) -> str:
    k = n.bit_length() - 1
    return f"2^{k}" if n == 1 << k else str(n)


def fmt_ratio(v: float | None, digits: int = 2) -> str:
    return "" if v is None else f"{v:.{digits}f}"


COLUMNS = ("kernel", "size", "p", "Gelem/s", "GB/s", "share of ceiling", "vs numpy",
           "vs torch", "spread")


def table_cells(rows: list[Row]) -> list[list[str]]:
    """The table as strings, in the order of the run."""
    cells = []
    for r in rows:
        cells.append([
            r.label + (f" ({r.threads} thr)" if r.op.endswith("1thread") else ""),
            fmt_size(r.n),
            "" if r.p is None else f"{r.p:g}",
            f"{r.gelems:.3f}",
            f"{r.gbps:.2f}",
            fmt_ratio(r.share),
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
        "float32. Bytes = x read + y written + mask (fastdrop 1/8 byte, numpy and "
        "torch native_dropout 1 byte per element; F.dropout returns no mask). Share = element "
        "rate over the ceiling's (Numba parallel y = a*x, same size, same run).",
    ]
    scaling = thread_scaling(rows)
    if scaling:
        lines.append("Thread scaling, forward: " + ", ".join(
            f"{fmt_size(n)}: {v:.2f}x over 1 thread" for n, v in sorted(scaling.items())))
    return lines


def markdown(manifest: dict, rows: list[Row]) -> str:
    out = ["# fastdrop kernel benchmark", ""]
    out += [line + "  " for line in header_lines(manifest, rows)]
    out += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(c) + " |" for c in table_cells(rows)]
    return "\n".join(out) + "\n"


def rich_table(manifest: dict, rows: list[Row], title: str = "fastdrop kernels",
               title_justify: str = "center"):
    from rich.table import Table

    table = Table(title=title, caption="\n".join(header_lines(manifest, rows)),
                  caption_justify="left", title_justify=title_justify)
    for col in COLUMNS:
        table.add_column(col, justify="left" if col == "kernel" else "right",
                         style="bold" if col == "share of ceiling" else None)
    for r, cells in zip(rows, table_cells(rows), strict=True):
        table.add_row(*cells, style="green" if r.impl == "fastdrop" else None)
    return table
