"""CPU vs GPU vs PyTorch: the kernel rates of a run (K1, CPU) beside the newest GPU
benchmark file (bench/gpu.py: reports/gpu/<date>-<card>.json), labelled with its card and
date. The two were measured on different machines at different times and sizes: compare
the ratios within a column group, and the groups only as orders of magnitude.

Cells are Gelem/s (10^9 elements per second; pyperf's median on the CPU, the median of
CUDA-event timings on the GPU), float32, at the largest size each file measured.
"""

from __future__ import annotations

import dataclasses

from .kernel_table import fmt_size

# (row label, CPU (impl, op) by column, GPU op by column)
OPS = (
    ("forward", {"fastdrop": ("fastdrop", "forward"), "numpy": ("numpy", "forward"),
                 "torch": ("torch", "F.dropout")},
     {"fastdrop": "fastdrop.forward", "torch": "torch.F.dropout"}),
    ("backward, stored mask", {"fastdrop": ("fastdrop", "backward-mask"),
                               "numpy": ("numpy", "backward"),
                               "torch": ("torch", "native_dropout_backward")},
     {"fastdrop": "fastdrop.backward.mask", "torch": "torch.native_dropout_backward"}),
    ("backward, regenerated", {"fastdrop": ("fastdrop", "backward-regen")},
     {"fastdrop": "fastdrop.backward.regen"}),
)
CPU_COLS = ("fastdrop", "numpy", "torch")
GPU_COLS = ("fastdrop", "torch")


@dataclasses.dataclass
class Comparison:
    title: str
    caption: list[str]
    headers: list[str]
    rows: list[list[str]]


def _g(v) -> str:
    return "" if v is None else f"{v:.3g}"


def comparison(kernel_rows, gpu) -> Comparison | None:
    """The side-by-side table; None when there is neither K1 nor a GPU file."""
    if not kernel_rows and gpu is None:
        return None
    cpu_n = max((r.n for r in kernel_rows or ()), default=None)
    cpu = {(r.impl, r.op, r.p): r for r in kernel_rows or () if r.n == cpu_n and r.threads
           and not r.op.endswith("1thread")}
    ceiling = next((r for r in kernel_rows or () if r.impl == "ceiling" and r.n == cpu_n), None)
    grows = [r for r in (gpu.data["rows"] if gpu else ()) if r.get("dtype") == "float32"]
    gpu_n = max((r["size"] for r in grows), default=None)
    g = {(r["op"], r["p"]): r for r in grows if r["size"] == gpu_n}
    copy = next((r for (op, _), r in g.items() if op == "copy"), None)
    rates = sorted({r.p for r in cpu.values() if r.p is not None}
                   | {p for (op, p) in g if p is not None})
    headers = ["op", "p"]
    if cpu:
        headers += [f"CPU {c}" for c in CPU_COLS] + ["CPU ceiling"]
    if g:
        headers += [f"GPU {c}" for c in GPU_COLS] + ["GPU copy"]
    rows = []
    for label, cpu_ops, gpu_ops in OPS:
        for p in rates:
            cells = [label, f"{p:g}"]
            if cpu:
                for c in CPU_COLS:
                    r = cpu.get((*cpu_ops[c], p)) if c in cpu_ops else None
                    cells.append(_g(r.gelems) if r else "")
                cells.append(_g(ceiling.gelems) if ceiling else "")
            if g:
                for c in GPU_COLS:
                    r = g.get((gpu_ops[c], p)) if c in gpu_ops else None
                    cells.append(_g(r["gelem_s"]) if r else "")
                cells.append(_g(copy["gelem_s"]) if copy else "")
            if any(cells[2:]):
                rows.append(cells)
    caption = ["Gelem/s, float32; ceiling: Numba parallel y = a*x (CPU), device-to-device copy "
               "(GPU); each row's peers ran on the same machine in the same run"]
    if cpu:
        caption.append(f"CPU: this run's K1 at {fmt_size(cpu_n)} elements, "
                       f"{max(r.threads for r in cpu.values())} threads")
    else:
        caption.append("CPU: no K1 in this run")
    if gpu:
        dev = gpu.data["machine"]["device"]
        caption.append(f"GPU: {gpu.card}, {gpu.date} ({gpu.path.name}) at {fmt_size(gpu_n)} "
                       f"elements; {dev.get('sm_count', '?')} SMs, driver "
                       f"{gpu.data['machine'].get('driver') or '?'}")
        for goal in gpu.data.get("goals", []):
            caption.append(f"GPU goal: {goal['goal']}, p={goal['p']}: {goal['measured']:.3f} "
                           f"(target {goal['target']}): {'met' if goal['met'] else 'not met'}")
        caption += [f"GPU note: {n}" for n in gpu.data.get("notes", [])]
    else:
        caption.append("GPU: no reports/gpu/*.json (make bench-gpu on a machine with an "
                       "NVIDIA GPU writes one)")
    return Comparison(title="kernels: CPU vs GPU vs PyTorch", caption=caption,
                      headers=headers, rows=rows)
