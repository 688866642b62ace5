"""Two run folders side by side: every timing and every accuracy, and what regressed.

    fastdrop compare RUN_A RUN_B [--threshold 5%]      # A is the reference, B the new run

Timings (K1's kernels.json and the training-step timings in train-timing.json, matched by
pyperf benchmark name) are compared the way `python -m pyperf compare_to --min-speed`
compares them: the means of pyperf's values, significant by pyperf's two-sample t-test
(95%), and not significant when the change is below the threshold. pyperf's test needs as
many values on both sides; when the counts differ, Welch's t-test is used instead (and
said so). Accuracies (every train, test and Monte Carlo accuracy of T1..T8, matched by
table and row) differ when their 95% confidence intervals over seeds do not overlap.

A regression: a timing significantly slower by more than the threshold, or a test (or
Monte Carlo) accuracy lower by more than the threshold (relative) with CIs that do not
overlap. The command exits with 1 when there is one, 0 when there is none, 2 when a run
folder cannot be read.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from pyperf._compare import CompareData, CompareResult
from rich.markup import escape
from rich.table import Table

from ..results.stats import t_quantile
from .diff import overlap, usable
from .format import AXIS_NAMES, fmt_mean_ci, fmt_time, label_cell, table_order
from .load import pyperf_suites

ACCURACIES = ("train_accuracy", "test_accuracy", "mc_accuracy")
GUARDED = ("test_accuracy", "mc_accuracy")  # a drop in these is a regression


@dataclasses.dataclass
class Item:
    section: str  # "timings" or a table name ("T1")
    what: str  # the benchmark, or the row's labels
    metric: str  # "time", or the column ("test acc")
    a: str
    b: str
    change: str
    test: str  # how significance was judged, and the outcome
    status: str  # "slower", "faster", "lower", "higher", "same", "only in A", "only in B", "?"
    regressed: bool = False


@dataclasses.dataclass
class Comparison:
    a: object  # Run
    b: object
    threshold: float  # relative, e.g. 0.05
    items: list[Item]
    notes: list[str]

    @property
    def regressions(self) -> list[Item]:
        return [i for i in self.items if i.regressed]


def parse_threshold(text: str) -> float:
    """'5%' or '5' -> 0.05 (always percent); ValueError for anything else."""
    t = str(text).strip().removesuffix("%").strip()
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"--threshold takes a percentage such as 5% or 2.5, got {text!r}") \
            from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"--threshold must be a percentage >= 0, got {text!r}")
    return v / 100.0


def _mean_sd(values) -> str:
    m = statistics.fmean(values)
    if len(values) < 2:
        return fmt_time(m)
    return f"{fmt_time(m)} ± {fmt_time(statistics.stdev(values))}"


def _welch_significant(x, y) -> tuple[bool, float]:
    vx, vy = statistics.variance(x) / len(x), statistics.variance(y) / len(y)
    se = math.sqrt(vx + vy)
    diff = statistics.fmean(y) - statistics.fmean(x)
    if se == 0:
        return diff != 0, math.inf if diff else 0.0
    df = (vx + vy) ** 2 / (vx * vx / (len(x) - 1) + vy * vy / (len(y) - 1))
    t = diff / se
    return abs(t) >= t_quantile(0.975, df), t


def compare_timing(name: str, bench_a, bench_b, threshold: float) -> Item:
    """pyperf's compare_to logic for one benchmark present in both runs."""
    va, vb = bench_a.get_values(), bench_b.get_values()
    res = CompareResult(CompareData("A", bench_a), CompareData("B", bench_b),
                        min_speed=100.0 * threshold)
    norm = res.norm_mean  # mean(B) / mean(A)
    if len(va) == len(vb) or len(va) < 2 or len(vb) < 2:
        significant = res.significant
        how = "pyperf t-test" if len(va) > 1 or len(vb) > 1 else "one value each (pyperf)"
    else:
        significant, _ = _welch_significant(va, vb)
        if (norm if norm >= 1 else 1 / norm) - 1.0 < threshold:  # pyperf's --min-speed
            significant = False
        how = f"Welch t-test ({len(va)} vs {len(vb)} values)"
    change = "no change" if norm == 1 else (f"{norm:.2f}x slower" if norm > 1
                                            else f"{1 / norm:.2f}x faster")
    status = "same" if not significant else ("slower" if norm > 1 else "faster")
    return Item("timings", name, "time", _mean_sd(va), _mean_sd(vb), change,
                f"{'significant' if significant else 'not significant'} ({how})", status,
                regressed=status == "slower")


def _row_key(row) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in row["labels"].items()))


BARE = ("model", "variant", "regulariser", "mc_samples")  # values that name themselves


def _row_name(row) -> str:
    """The row's labels, short: "mlp, p=0.5", "none", "T=10"."""
    return ", ".join(label_cell(k, v) if k in BARE else f"{AXIS_NAMES.get(k, k)}="
                     f"{label_cell(k, v)}" for k, v in row["labels"].items())


def compare_accuracy(section: str, what: str, col: dict, a, b, threshold: float) -> Item:
    key = col["key"]
    fa, fb = fmt_mean_ci(key, a, True), fmt_mean_ci(key, b, True)
    if not (usable(a) and usable(b)):
        return Item(section, what, col["label"], fa, fb, "", "not measured in both", "?")
    change = f"{100 * (b['mean'] - a['mean']):+.1f} pp"
    ov = overlap(a, b)
    if ov is None:
        return Item(section, what, col["label"], fa, fb, change,
                    "no CI (fewer than 2 seeds)", "?")
    if ov:
        status = "same"
    else:
        status = "lower" if b["mean"] < a["mean"] else "higher"
    rel = (b["mean"] - a["mean"]) / a["mean"] if a["mean"] else 0.0
    regressed = status == "lower" and key in GUARDED and -rel > threshold
    return Item(section, what, col["label"], fa, fb, change,
                "CIs overlap" if ov else "CIs apart", status, regressed)


def compare_runs(run_a, run_b, threshold: float) -> Comparison:
    notes = []
    ma, mb = run_a.manifest.get("machine") or {}, run_b.manifest.get("machine") or {}
    if (ma.get("hostname"), ma.get("cpu_model")) != (mb.get("hostname"), mb.get("cpu_model")):
        notes.append(f"different machines: A {ma.get('cpu_model', '?')} on "
                     f"{ma.get('hostname', '?')}, B {mb.get('cpu_model', '?')} on "
                     f"{mb.get('hostname', '?')}: timings are not comparable")
    pa, pb = run_a.results.get("profile") or {}, run_b.results.get("profile") or {}
    if pa.get("name") != pb.get("name"):
        notes.append(f"different profiles: A {pa.get('name')}, B {pb.get('name')}")
    items = []
    ta, tb = pyperf_suites(run_a), pyperf_suites(run_b)
    for name in list(ta) + [n for n in tb if n not in ta]:
        if name in ta and name in tb:
            items.append(compare_timing(name, ta[name], tb[name], threshold))
        else:
            side = "A" if name in ta else "B"
            v = (ta if side == "A" else tb)[name].get_values()
            items.append(Item("timings", name, "time", _mean_sd(v) if side == "A" else "",
                              _mean_sd(v) if side == "B" else "", "", "", f"only in {side}"))
    names = table_order(set(run_a.tables) | set(run_b.tables))
    for tname in names:
        t_a, t_b = run_a.tables.get(tname), run_b.tables.get(tname)
        if t_a is None or t_b is None:
            notes.append(f"{tname} only in {'A' if t_b is None else 'B'}")
            continue
        rows_b = {_row_key(r): r for r in t_b["rows"]}
        cols = [c for c in t_a["columns"] if c["key"] in ACCURACIES]
        for row in t_a["rows"]:
            other = rows_b.get(_row_key(row))
            for col in cols:
                what = _row_name(row)
                if other is None:
                    items.append(Item(tname, what, col["label"], fmt_mean_ci(
                        col["key"], row["values"].get(col["key"]), True), "", "", "",
                        "only in A"))
                    continue
                items.append(compare_accuracy(tname, what, col, row["values"].get(col["key"]),
                                              other["values"].get(col["key"]), threshold))
    return Comparison(run_a, run_b, threshold, items, notes)


HEADERS = ["what", "", "A", "B", "change", "test", "status"]


def sections(cmp: Comparison) -> dict[str, list[Item]]:
    """Items by section (timings first, then the tables in order)."""
    out: dict[str, list[Item]] = {}
    for i in cmp.items:
        out.setdefault(i.section, []).append(i)
    return out


def item_cells(i: Item) -> list[str]:
    return [i.what, i.metric, i.a, i.b, i.change, i.test,
            i.status + (" REGRESSED" if i.regressed else "")]


def summary_lines(cmp: Comparison) -> list[str]:
    n = len(cmp.regressions)
    out = [f"A = {cmp.a.path}", f"B = {cmp.b.path}",
           f"threshold {100 * cmp.threshold:g}%; timings: pyperf compare_to semantics "
           "(means, t-test at 95%, --min-speed = threshold); accuracies: 95% CIs over seeds"]
    out += [f"note: {n_}" for n_ in cmp.notes]
    if n:
        out.append(f"{n} regression(s) beyond {100 * cmp.threshold:g}%: "
                   + "; ".join(f"{i.what} ({i.change})" for i in cmp.regressions))
    else:
        out.append(f"no regression beyond {100 * cmp.threshold:g}%")
    return out


STATUS_STYLE = {"slower": "red", "lower": "red", "faster": "green", "higher": "green"}


def render(console, cmp: Comparison) -> None:
    for name, items in sections(cmp).items():
        t = Table(title=f"{name}: A -> B", title_justify="left")
        for h in HEADERS:
            t.add_column(h, justify="right" if h in ("A", "B", "change") else "left",
                         no_wrap=h in ("A", "B", "change", "status"))
        for item in items:
            cells = item_cells(item)
            style = "bold red" if item.regressed else STATUS_STYLE.get(item.status)
            t.add_row(*[escape(c) for c in cells[:-1]],
                      f"[{style}]{escape(cells[-1])}[/]" if style else escape(cells[-1]))
        console.print(t)
    for line in summary_lines(cmp):
        console.print(escape(line), highlight=False)
