"""Plots of a run (matplotlib, Agg; SVG and PNG), from its tables only.

    plots = draw_all(run, gpu, out_dir / "plots")   # [Plot]; a plot whose data is absent
                                                    # has .missing (why) and no files

Bands and error bars are the tables' 95% confidence intervals over seeds (Student t), or
the range of pyperf's values for timings. Files are written without dates or random ids
so that re-rendering the same run gives the same bytes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

COLORS = {"mlp": "#1f77b4", "cnn": "#d62728", "linear": "#7f7f7f", "gru": "#2ca02c",
          "lstm": "#9467bd", "selu_mlp": "#8c564b"}
IMPL_COLORS = {"fastdrop": "#d62728", "numpy": "#1f77b4", "torch": "#ff7f0e",
               "ceiling": "#444444", "copy": "#444444"}
RC = {"svg.hashsalt": "fastdrop", "svg.fonttype": "path", "font.size": 9,
      "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
      "axes.spines.right": False}


@dataclasses.dataclass
class Plot:
    name: str  # file stem: plots/<name>.svg and .png
    title: str
    caption: str
    svg: Path | None = None
    png: Path | None = None
    missing: str | None = None  # why it was not drawn


def _figure(ncols: int, width: float = 4.2, height: float = 3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _series(rows, x_axis: str, key: str, scale: float = 1.0):
    """(x, mean, lo, hi) of the rows that have a mean, sorted by x."""
    pts = []
    for r in rows:
        v = r["values"].get(key)
        if not v or v.get("mean") is None:
            continue
        ci = v.get("ci") or 0.0
        pts.append((r["labels"][x_axis], v["mean"] * scale, (v["mean"] - ci) * scale,
                    (v["mean"] + ci) * scale))
    pts.sort()
    return [list(c) for c in zip(*pts, strict=True)] if pts else [[], [], [], []]


def _line_band(ax, rows, x_axis, key, color, label, scale=100.0, style="-"):
    x, m, lo, hi = _series(rows, x_axis, key, scale)
    if not x:
        return False
    if key.endswith("accuracy"):  # a CI over few seeds can pass 0% or 100%: draw it inside
        lo, hi = [max(v, 0.0) for v in lo], [min(v, 100.0) for v in hi]
    ax.plot(x, m, style, color=color, marker="o", ms=3.5, label=label)
    ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
    return True


def _legend(ax, **kw) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, **kw)


def _models(table):
    return list(dict.fromkeys(r["labels"].get("model") for r in table["rows"]))


def accuracy_vs_rate(run, gpu):
    t = run.table("T1")
    if t is None:
        return None, "T1 (accuracy vs rate) is not in this run"
    models = _models(t)
    if not models:
        return None, "T1 has no rows"
    fig, axes = _figure(len(models))
    for ax, model in zip(axes, models, strict=True):
        rows = [r for r in t["rows"] if r["labels"].get("model") == model]
        # the CNN's placement arms: dropout before the classifier only, a line of its own
        head = [r for r in rows if r["labels"].get("dropout_at") in ("head", "none")]
        rows = [r for r in rows if r["labels"].get("dropout_at") != "head"]
        c = COLORS.get(model, "#333333")
        _line_band(ax, rows, "dropout", "test_accuracy", c, "test")
        _line_band(ax, rows, "dropout", "train_accuracy", "#999999", "train", style="--")
        if any(r["labels"].get("dropout_at") == "head" for r in head):
            _line_band(ax, head, "dropout", "test_accuracy", "#555555",
                       "test, before the classifier only", style=":")
        ax.set(title=model.upper(), xlabel="dropout rate p", ylabel="accuracy (%)")
        _legend(ax, loc="best")
    return fig, None


def cost_vs_rate(run, gpu):
    t = run.table("T2")
    if t is None:
        return None, "T2 (training cost vs rate) is not in this run"
    fig, (ax1, ax2) = _figure(2)
    for model in _models(t):
        rows = sorted((r for r in t["rows"] if r["labels"].get("model") == model),
                      key=lambda r: r["labels"]["dropout"])
        c = COLORS.get(model, "#333333")
        timed = [(r["labels"]["dropout"], r["values"].get("step_time")) for r in rows]
        timed = [(p, v) for p, v in timed if v and v.get("median")]
        if timed:
            xs = [p for p, _ in timed]
            med = [1e3 * v["median"] for _, v in timed]
            err = [[1e3 * (v["median"] - v["min"]) for _, v in timed],
                   [1e3 * (v["max"] - v["median"]) for _, v in timed]]
            ax1.errorbar(xs, med, yerr=err, color=c, marker="o", ms=3.5, capsize=3,
                         label=model)
        _line_band(ax2, rows, "dropout", "steps_to_target", c, model, scale=1.0)
    ax1.set(title="time per training step (one thread)", xlabel="dropout rate p",
            ylabel="ms (median; bars: min-max)")
    ax1.set_ylim(bottom=0)
    ax2.set(title="steps to the target test accuracy", xlabel="dropout rate p",
            ylabel="steps (runs that reached it)")
    for ax in (ax1, ax2):
        _legend(ax)
    return fig, None


def kernels_vs_rate(run, gpu):
    rows = run.kernel_rows or []
    grows = [r for r in (gpu.data["rows"] if gpu else ()) if r.get("dtype") == "float32"]
    if not rows and not grows:
        return None, "no K1 in this run and no GPU benchmark file"
    panels = []
    if rows:
        n = max(r.n for r in rows)
        at = [r for r in rows if r.n == n and not r.op.endswith("1thread")]
        ceiling = next((r for r in at if r.impl == "ceiling"), None)
        for title, ops in (("CPU forward", ("forward", "F.dropout")),
                           ("CPU backward", ("backward-mask", "backward-regen", "backward",
                                             "native_dropout_backward"))):
            series = {}
            for r in at:
                if r.op in ops and r.p is not None:
                    series.setdefault(f"{r.impl} {r.op}", []).append(
                        (r.p, r.gelems, r.n / r.max_s / 1e9 if r.max_s else r.gelems,
                         r.n / r.min_s / 1e9 if r.min_s else r.gelems, r.impl))
            panels.append((f"{title}, n = 2^{n.bit_length() - 1}", series,
                           ceiling.gelems if ceiling else None, "ceiling (y = a*x)"))
    if grows:
        n = max(r["size"] for r in grows)
        series, copy = {}, None
        for r in grows:
            if r["size"] != n:
                continue
            if r["op"] == "copy":
                copy = r["gelem_s"]
            elif r["p"] is not None:
                impl = r["op"].split(".")[0]
                series.setdefault(r["op"], []).append((r["p"], r["gelem_s"], r["gelem_s"],
                                                       r["gelem_s"], impl))
        panels.append((f"GPU {gpu.card} ({gpu.date}), n = 2^{n.bit_length() - 1}", series,
                       copy, "device copy"))
    fig, axes = _figure(len(panels))
    styles = ["-", "--", ":", "-."]
    for ax, (title, series, ceil, ceil_label) in zip(axes, panels, strict=True):
        for k, (label, pts) in enumerate(sorted(series.items())):
            pts.sort()
            x, m, lo, hi, impl = zip(*pts, strict=True)
            ax.errorbar(x, m, yerr=[[a - b for a, b in zip(m, lo, strict=True)],
                                    [b - a for a, b in zip(m, hi, strict=True)]],
                        color=IMPL_COLORS.get(impl[0], "#333333"), ls=styles[k % 4],
                        marker="o", ms=3.5, capsize=2, label=label)
        if ceil:
            ax.axhline(ceil, color="#444444", lw=1.2, ls=(0, (6, 3)), label=ceil_label)
        ax.set(title=title, xlabel="dropout rate p", ylabel="Gelem/s")
        ax.set_ylim(bottom=0)
        _legend(ax, fontsize=7)
    return fig, None


def kernels_vs_size(run, gpu):
    """K1 across the cache levels: best Gelem/s against size, and the per-call time of the
    small sizes (fastdrop's API call, its bare kernel, PyTorch's F.dropout)."""
    rows = [r for r in (run.kernel_rows or []) if not r.fault]
    if len({r.n for r in rows}) < 2:
        return None, "K1 has fewer than two sizes (run it with --sizes 10,13,16,20,23,26)"
    rates = sorted({r.p for r in rows if r.p is not None})
    p = 0.5 if 0.5 in rates else (rates[len(rates) // 2] if rates else None)
    wanted = [("ceiling", "scale"), ("copy", "np.copyto"), ("fastdrop", "forward"),
              ("fastdrop", "backward-mask"), ("fastdrop", "backward-regen"),
              ("fastdrop", "forward-kernel"), ("numpy", "forward"), ("torch", "F.dropout")]
    styles = ["-", "--", ":", "-."]
    fig, (ax1, ax2) = _figure(2, width=4.6)
    for k, (impl, op) in enumerate(wanted):
        pts = sorted((r.n, r) for r in rows if r.impl == impl and r.op == op
                     and (r.p is None or r.p == p))
        if not pts:
            continue
        x = [n for n, _ in pts]
        color = IMPL_COLORS.get(impl, "#333333")
        ax1.plot(x, [r.gelems for _, r in pts], color=color, ls=styles[k % 4], marker="o",
                 ms=3.5, label=f"{impl} {op}")
        small = [(n, r) for n, r in pts if n < (1 << 17)]
        if op in ("forward", "forward-kernel", "F.dropout") and impl != "numpy" and small:
            ax2.plot([n for n, _ in small], [r.best_s * 1e6 for _, r in small], color=color,
                     ls=styles[k % 4], marker="o", ms=3.5, label=f"{impl} {op}")
    ax1.set(title=f"throughput vs size (p = {p:g}, best of the values)" if p is not None
            else "throughput vs size", xlabel="elements", ylabel="Gelem/s", xscale="log")
    ax1.set_xscale("log", base=2)
    ax1.set_ylim(bottom=0)
    ax2.set(title="time per call, small sizes", xlabel="elements", ylabel="us per call",
            yscale="log")
    ax2.set_xscale("log", base=2)
    for ax in (ax1, ax2):
        _legend(ax, fontsize=7)
    return fig, None


def gap_vs_size(run, gpu):
    t = run.table("T3")
    if t is None:
        return None, "T3 (overfitting vs training-set size) is not in this run"
    fig, (ax1, ax2) = _figure(2)
    rates = sorted({r["labels"].get("dropout") for r in t["rows"]})
    for k, p in enumerate(rates):
        rows = [r for r in t["rows"] if r["labels"].get("dropout") == p]
        c = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"][k % 4]
        label = "no dropout" if not p else f"p = {p:g}"
        _line_band(ax1, rows, "train_size", "gap", c, label)
        _line_band(ax2, rows, "train_size", "test_accuracy", c, label)
    sizes = sorted({r["labels"]["train_size"] for r in t["rows"]})
    for ax, what in ((ax1, "train - test accuracy gap (pp)"), (ax2, "test accuracy (%)")):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(v) for v in sizes])
        ax.minorticks_off()
        ax.set(xlabel="training-set size (sequences)", ylabel=what)
        _legend(ax)
    ax1.set_title("overfitting (MLP)")
    ax2.set_title("test accuracy (MLP)")
    return fig, None


def mc_vs_samples(run, gpu):
    t = run.table("T8")
    if t is None:
        return None, "T8 (Monte Carlo dropout) is not in this run"
    models = _models(t)
    fig, axes = _figure(len(models), width=5.0)
    for ax, model in zip(axes, models, strict=True):  # one panel per model (the same nets)
        rows = [r for r in t["rows"] if r["labels"].get("model") == model]
        _line_band(ax, rows, "mc_samples", "mc_accuracy", "#d62728", "MC dropout (mean of T)")
        x, m, lo, hi = _series(rows, "mc_samples", "test_accuracy", 100.0)
        if x:
            ax.axhline(m[0], color="#1f77b4", lw=1.2, label="dropout off")
            ax.axhspan(lo[0], hi[0], color="#1f77b4", alpha=0.12, linewidth=0)
        ax.set_xscale("log")
        ts = sorted({r["labels"]["mc_samples"] for r in rows})
        ax.set_xticks(ts, [str(v) for v in ts])
        ax.minorticks_off()
        name = f"{model.upper()}: " if model else ""
        ax.set(title=f"{name}test accuracy vs samples T", xlabel="samples T",
               ylabel="test accuracy (%)")
        _legend(ax)
    return fig, None


PLOTS = (
    ("accuracy-vs-rate", "Test accuracy vs dropout rate", accuracy_vs_rate,
     "T1: mean test (solid) and train (dashed) accuracy over seeds; bands: 95% CI."),
    ("cost-vs-rate", "Training cost vs dropout rate", cost_vs_rate,
     "T2: pyperf's median time per step (bars: range of its values) and the steps to the "
     "target test accuracy (band: 95% CI over the runs that reached it)."),
    ("kernels-vs-rate", "Kernel throughput vs dropout rate", kernels_vs_rate,
     "K1 (and the newest GPU file): elements per second at the largest size, per backend; "
     "dashed: the memory-copy ceiling measured in the same run; bars: range of pyperf's "
     "values."),
    ("kernels-vs-size", "Kernel throughput vs size", kernels_vs_size,
     "K1 at every cache level (L1, L2, L3, memory): best elements per second per size, the "
     "memory ceiling and the plain copy measured beside the kernels; right: the time per "
     "call of the small sizes (fastdrop's API call, its bare kernel, PyTorch's F.dropout). "
     "Rows flagged as measurement faults (share above 1) are left out."),
    ("gap-vs-size", "Overfitting vs training-set size", gap_vs_size,
     "T3: train - test accuracy gap and test accuracy, with and without dropout; bands: 95% "
     "CI."),
    ("mc-vs-samples", "Monte Carlo dropout accuracy vs T", mc_vs_samples,
     "T8: accuracy of the mean of T dropout samples against dropout off at inference (the "
     "same models); bands: 95% CI."),
)


def draw_all(run, gpu, out_dir, formats=("svg", "png")) -> list[Plot]:
    """Draw every plot whose data the run has into out_dir (created when needed)."""
    import matplotlib

    out_dir = Path(out_dir)
    plots = []
    with matplotlib.rc_context(RC):
        for name, title, fn, caption in PLOTS:
            fig, why = fn(run, gpu)
            if fig is not None and not any(ax.has_data() for ax in fig.axes):
                fig, why = None, "its table has no finished runs yet"
            plot = Plot(name, title, caption, missing=why)
            if fig is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                if "svg" in formats:
                    plot.svg = out_dir / f"{name}.svg"
                    fig.savefig(plot.svg, format="svg", metadata={"Date": None})
                if "png" in formats:
                    plot.png = out_dir / f"{name}.png"
                    fig.savefig(plot.png, format="png", dpi=110,
                                metadata={"Software": None})
            plots.append(plot)
    return plots

