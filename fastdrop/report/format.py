"""Tables of a run as strings, one model for every renderer (terminal, markdown, HTML).

Cells: accuracies and gaps in percent, "mean ± h" where h is the half-width of the 95%
confidence interval of the mean over seeds (Student t); time per step is pyperf's median
with the spread of its values ((max - min) / median), one thread. The best value of a
column is marked (a column whose key is in BETTER: higher or lower is better), among the
rows that share the first row axis when a table has several (per model in T1, per
training-set size in T3), else over the whole table.
"""

from __future__ import annotations

import dataclasses

from ..results.inference import binomial_halfwidth
from . import kernel_table as kreport
from .diff import TEST_SIZE

# absolute test accuracies: each gets the test set's own binomial uncertainty in the notes
TEST_ACCURACIES = ("test_accuracy", "mc_accuracy", "es_test_accuracy")

PERCENT = {"train_accuracy", "test_accuracy", "gap", "mc_accuracy", "test_ece", "mc_ece",
           "val_accuracy", "es_test_accuracy"}
DECIMALS = {"test_loss": 3, "mc_nll": 3, "test_auroc": 3, "mc_auroc": 3, "units": 0,
            "expected_active": 1, "active_units": 1,
            "parameters": 0, "steps_to_target": 0}
# what "best" means for a column: +1 higher is better, -1 lower is better (others: none)
BETTER = {"test_accuracy": 1, "mc_accuracy": 1, "val_accuracy": 1, "es_test_accuracy": 1,
          "test_auroc": 1, "mc_auroc": 1, "gap": -1, "test_loss": -1, "mc_nll": -1,
          "test_ece": -1, "mc_ece": -1, "step_time": -1, "steps_to_target": -1,
          "time_to_target": -1, "reached": 1}
UNITS = {"train_accuracy": "%", "test_accuracy": "%", "val_accuracy": "%",
         "es_test_accuracy": "%", "mc_accuracy": "%", "gap": "pp",
         "test_ece": "%", "mc_ece": "%", "test_loss": "nats", "mc_nll": "nats",
         "time_to_target": "s", "units": "units", "expected_active": "units",
         "active_units": "units"}
AXIS_NAMES = {"dropout": "p", "mc_samples": "T", "train_size": "train size"}
BEST_MARK = " *"
CI_NOTE = ("mean ± half-width of the 95% CI over seeds (Student t); pp = percentage points; "
           "* = best in its column (per value of the first row label when there are several)")


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def scale_digits(key: str) -> tuple[float, int]:
    return (100.0, 1) if key in PERCENT else (1.0, DECIMALS.get(key, 3))


def fmt_mean_ci(key: str, v: dict | None, with_unit: bool = False) -> str:
    """A summary {n, mean, ci} as "mean ± h" in the column's unit ("" when absent)."""
    if not v or v.get("mean") is None:
        return "-" if v and v.get("n") == 0 else ""
    scale, d = scale_digits(key)
    text = f"{v['mean'] * scale:,.{d}f}"
    if v.get("ci") is not None and (v["ci"] * scale) >= 0.5 * 10 ** -d:
        text += f" ± {v['ci'] * scale:,.{d}f}"
    if with_unit and UNITS.get(key) in ("%", "pp"):
        text += "%" if UNITS[key] == "%" else " pp"
    return text


def cell(key: str, kind: str, v) -> str:
    """One table cell as text ("" when nothing was measured, "-" when no run counted)."""
    if v is None:
        return ""
    if kind == "count":
        return f"{v['count']}/{v['of']}"
    if kind == "timing":
        if v.get("median") is None:
            return ""
        spread = "" if v.get("spread") is None else f" (spread {100 * v['spread']:.0f}%)"
        return fmt_time(v["median"]) + spread
    if key == "time_to_target" and v.get("mean") is not None:
        ci = v.get("ci")
        return fmt_time(v["mean"]) + (f" ± {fmt_time(ci)}" if ci else "")
    return fmt_mean_ci(key, v)


def label_cell(axis: str, value) -> str:
    if axis == "dropout" and isinstance(value, (int, float)):
        return f"{value:g}"
    if axis == "mc_samples":
        return f"T={value}"
    return str(value)


def column_label(col: dict) -> str:
    unit = UNITS.get(col["key"])
    return f"{col['label']} ({unit})" if unit in ("%", "pp", "nats") else col["label"]


def sort_value(kind: str, v):
    """The number a column is ranked by (None when there is none)."""
    if not v:
        return None
    if kind == "timing":
        return v.get("median")
    if kind == "count":
        return v["count"] / v["of"] if v.get("of") else None
    return v.get("mean")


def best_cells(table: dict) -> set[tuple[int, int]]:
    """(row index, column index) of the best value of each ranked column."""
    rows, cols = table["rows"], table["columns"]
    axes = table["rows_by"]
    group_axis = axes[0] if len(axes) > 1 else None
    groups: dict = {}
    for i, row in enumerate(rows):
        groups.setdefault(row["labels"].get(group_axis) if group_axis else None, []).append(i)
    best = set()
    for j, col in enumerate(cols):
        sign = BETTER.get(col["key"])
        if not sign:
            continue
        for members in groups.values():
            scored = [(sort_value(col["kind"], rows[i]["values"].get(col["key"])), i)
                      for i in members]
            scored = [(s, i) for s, i in scored if s is not None]
            if len(scored) < 2:
                continue
            top = max(sign * s for s, _ in scored)
            if all(sign * s == top for s, _ in scored):
                continue  # a tie across the whole group marks nothing
            best |= {(i, j) for s, i in scored if sign * s == top}
    return best


@dataclasses.dataclass
class TableView:
    """A table ready to print: every cell a string."""

    name: str
    title: str
    caption: list[str]  # what varies and what is measured
    headers: list[str]
    label_columns: int  # the first columns are row labels
    rows: list[list[str]]
    best: set  # (row, column) in `rows` / `headers` coordinates
    notes: list[str]  # targets, comparisons, failures, what is missing
    complete: bool
    missing_rows: set = dataclasses.field(default_factory=set)  # rows with no finished run

    @property
    def heading(self) -> str:
        return f"{self.name}  {self.title}"


def table_rows(table: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a T table as strings."""
    header = [AXIS_NAMES.get(a, a) for a in table["rows_by"]]
    header += [column_label(c) for c in table["columns"]]
    rows = []
    for row in table["rows"]:
        cells = [label_cell(a, row["labels"].get(a)) for a in table["rows_by"]]
        cells += [cell(c["key"], c["kind"], row["values"].get(c["key"]))
                  for c in table["columns"]]
        if row.get("failed") or row["ok"] < row["runs"]:
            cells[-1] += f"  [{row['ok']}/{row['runs']} runs]"
        rows.append(cells)
    return header, rows


def notes(name: str, table: dict) -> list[str]:
    """Lines under a table: targets, comparisons, failures, what is missing."""
    out = []
    line = binomial_note(table)
    if line:
        out.append(line)
    targets = sorted({(r["labels"].get("model", ""), r["target"]) for r in table["rows"]
                      if "target" in r})
    if targets:
        out.append("target test accuracy: " + ", ".join(
            f"{m} {100 * t:.0f}%" for m, t in targets))
    for comp in table.get("comparisons", []):
        for pair in comp["pairs"]:
            d = pair["diff"]
            where = ", ".join(f"{k}={label_cell(k, v)}" for k, v in pair["labels"].items())
            if d["mean"] is None:
                out.append(f"{comp['a']} vs {comp['b']} ({where}): no paired runs")
                continue
            ci = "" if d["ci"] is None else f" ± {100 * d['ci']:.1f}"
            verdict = {True: "agree (the 95% CI of the difference contains 0)",
                       False: "differ (the 95% CI of the difference excludes 0)",
                       None: "too few seeds to say"}[pair["agree"]]
            out.append(f"{comp['a']} - {comp['b']} ({where}), {comp['metric']}, paired by "
                       f"seed: {100 * d['mean']:+.1f}{ci} points over {d['n']} seeds: "
                       f"{verdict}")
    for row in table["rows"]:
        for err in row.get("errors", []):
            out.append(f"failed ({', '.join(f'{k}={v}' for k, v in row['labels'].items())}): "
                       f"{err}")
    not_run = [row for row in table["rows"] if row["ok"] == 0 and not row.get("failed")]
    if not_run:
        out.append(f"not run yet: {len(not_run)} of {len(table['rows'])} rows "
                   f"(shown as -)")
    if not table.get("complete", True):
        out.append(f"{name} is incomplete: some of its tasks have not run or failed")
    return out


def binomial_note(table: dict) -> str | None:
    """The test set's own 95% binomial half-width at the accuracies of this table (a
    second, independent test set of the same size would move an accuracy by about this
    much); it bounds absolute accuracies, not paired differences between arms."""
    means = [row["values"][c["key"]]["mean"] for row in table["rows"]
             for c in table["columns"] if c["key"] in TEST_ACCURACIES
             and isinstance(row["values"].get(c["key"]), dict)
             and row["values"][c["key"]].get("mean") is not None]
    if not means:
        return None
    hw = sorted(100 * binomial_halfwidth(m, TEST_SIZE) for m in means)
    span = f"± {hw[0]:.1f}" if hw[-1] - hw[0] < 0.05 else f"± {hw[0]:.1f} to {hw[-1]:.1f}"
    return (f"test set ({TEST_SIZE} examples): the binomial 95% half-width of an absolute "
            f"test accuracy here is {span} pp, beside the CI over seeds; it does not apply "
            "to differences between arms, which share the test set")


def table_view(name: str, table: dict) -> TableView:
    header, rows = table_rows(table)
    n_labels = len(table["rows_by"])
    best = {(i, n_labels + j) for i, j in best_cells(table)}
    caption = [f"varies: {table.get('varies', '')}; measured: {table.get('measures', '')}"]
    missing = {i for i, r in enumerate(table["rows"]) if r["ok"] == 0}
    return TableView(name=name, title=table["title"], caption=caption, headers=header,
                     label_columns=n_labels, rows=rows, best=best, notes=notes(name, table),
                     complete=bool(table.get("complete", True)), missing_rows=missing)


def table_order(names) -> list[str]:
    """K1, T1..T8 in order (T2-torch after T2), then any other suite by name."""
    def key(n: str):
        digits, _, rest = n[1:].partition("-")
        return (0, int(digits), rest) if n[:1] == "T" and digits.isdigit() else (1, 0, n)
    return sorted(names, key=key)


def views(results: dict) -> list[TableView]:
    return [table_view(n, results["tables"][n]) for n in table_order(results["tables"])]


def _kernel_family(op: str) -> str | None:
    """Which ops do the same work: a forward pass, or a backward pass."""
    if op in ("forward", "F.dropout", "native_dropout"):
        return "forward"
    if op.startswith("backward") or op == "native_dropout_backward":
        return "backward"
    return None


def kernel_view(manifest: dict, rows) -> TableView:
    """K1 (fastdrop.report.kernel_table rows) as a TableView: the fastest implementation of each
    pass (forward, backward) at each size and rate marked in Gelem/s and GB/s."""

    headers = list(kreport.COLUMNS)
    cols = [headers.index("Gelem/s"), headers.index("GB/s")]
    groups: dict = {}
    for i, r in enumerate(rows):
        fam = _kernel_family(r.op)
        if fam and r.impl != "ceiling" and r.p is not None:
            groups.setdefault((r.n, r.p, fam), []).append(i)
    best = set()
    for members in groups.values():
        if len(members) > 1:
            top = max(members, key=lambda i: rows[i].gelems)
            best |= {(top, j) for j in cols}
    return TableView(name="K1", title="kernels", caption=kreport.header_lines(manifest, rows),
                     headers=headers, label_columns=1, rows=kreport.table_cells(rows),
                     best=best, notes=["* = the fastest implementation of that pass (forward "
                                       "or backward) at that size and p"], complete=True)


# --- the header ---------------------------------------------------------------------------


def run_header_lines(results: dict, manifest: dict) -> list[str]:
    """The machine, versions and run: what a reader needs to weigh the numbers."""
    m = manifest.get("machine") or {}
    v = manifest.get("versions") or {}
    c = results.get("counts") or {}
    prof = results.get("profile") or {}
    lines = []
    if not manifest:
        lines.append("machine: unknown (no readable manifest.json)")
    elif not m:
        lines.append("machine: not recorded (manifest.json has no machine)")
    else:
        gpu = "; ".join(g.get("name", "?") for g in m["gpu"]) if m.get("gpu") else "none"
        lines.append(
            f"CPU: {m.get('cpu_model', '?')} ({m.get('cores', '?')} cores, "
            f"{m.get('threads', '?')} threads), memory {m.get('memory_gib', '?')} GiB, "
            f"GPU: {gpu}; host {m.get('hostname', '?')}, {m.get('platform', '?')}")
        lines.append(
            f"Python {manifest.get('python', '?')}, numpy {v.get('numpy', '?')}, numba "
            f"{v.get('numba', '?')}, pyperf {v.get('pyperf', '?')}, torch "
            f"{v.get('torch') or 'not installed'}; fastdrop {v.get('fastdrop', '?')}, commit "
            f"{manifest.get('git_commit', '?')}")
        when = manifest.get("created", "?")
        resumes = manifest.get("resumes") or []
        lines.append(f"started {when}" + (f", resumed {len(resumes)} time(s), last "
                                          f"{resumes[-1].get('created')}" if resumes else "")
                     + (f"; command: {manifest['command']}" if manifest.get("command") else ""))
    if prof:
        lines.append(
            f"profile {prof.get('name')}: {prof.get('seeds')} seeds, {prof.get('steps')} "
            f"steps per run, evaluation every {prof.get('eval_every')} steps; tasks: "
            f"{c.get('ok', 0)} ok, {c.get('failed', 0)} failed, {c.get('missing', 0)} not "
            f"run, of {c.get('tasks', 0)}" + ("" if results.get("complete") else
                                              "  [INCOMPLETE]"))
    return lines
