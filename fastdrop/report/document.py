"""The report as a list of blocks (headings, paragraphs, tables, images), built once and
written by fastdrop.report.markdown and fastdrop.report.html, so the two carry the same
tables, claims and plots, in the terminal's order: key findings, the claims at a glance,
the training tables, plots, the claims in full, then the kernel tables.
"""

from __future__ import annotations

import dataclasses

from . import claims as C
from .findings import glance, key_findings
from .format import CI_NOTE, kernel_view, run_header_lines, views
from .gpu_table import comparison

VERDICT_CLASS = {C.HOLDS: "holds", C.FAILS: "fails", C.MIXED: "mixed", C.EQUIV: "equiv",
                 C.UNCLEAR: "unclear", C.MISSING: "missing"}


@dataclasses.dataclass
class H:
    level: int
    text: str
    anchor: str = ""


@dataclasses.dataclass
class P:
    text: str
    kind: str = ""  # "", "note", "warn", "quote", "verdict-<class>", "rule"


@dataclasses.dataclass
class L:
    items: list[str]
    kind: str = ""


@dataclasses.dataclass
class Tab:
    headers: list[str]
    rows: list[list[str]]
    best: set = dataclasses.field(default_factory=set)  # (row, col) cells to mark
    label_columns: int = 1
    title: str = ""
    caption: list[str] = dataclasses.field(default_factory=list)
    dim_rows: set = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class Img:
    plot: object  # fastdrop.report.plots.Plot


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def build(run, gpu, claim_list, plots) -> list:
    """Every block of the report, in order."""
    out = [H(1, f"fastdrop report: {run.path.name}", "top")]
    out.append(L(run_header_lines(run.results, run.manifest)))
    if run.problems:
        out.append(P("Missing or wrong in this run folder:", "warn"))
        out.append(L(list(run.problems), "warn"))
    out += findings_blocks(run, claim_list)
    vs = views(run.results)
    if vs:
        out.append(H(2, "Tables", "tables"))
        out.append(P(CI_NOTE.replace("* = best", "bold = best"), "note"))
    for v in vs:
        out.append(H(3, v.heading, _anchor(v.name)))
        out.append(Tab(v.headers, v.rows, v.best, v.label_columns, caption=v.caption,
                       dim_rows=v.missing_rows))
        if v.notes:
            out.append(L(v.notes, "note"))
    drawn = [p for p in plots if p.missing is None]
    if plots:
        out.append(H(2, "Plots", "plots"))
    for p in drawn:
        out.append(H(3, p.title, _anchor(p.name)))
        out.append(Img(p))
        out.append(P(p.caption, "note"))
    skipped = [p for p in plots if p.missing is not None]
    if skipped:
        out.append(P("Not drawn:", "note"))
        out.append(L([f"{p.title}: {p.missing}" for p in skipped], "note"))
    if claim_list:
        out.append(H(2, "The claims", "claims"))
        out.append(P("The article's words and figures (its dataset is unstated) beside our "
                     "measured evidence (mean ± 95% CI over seeds). Verdicts are computed "
                     "from this run by the rule stated under each; none is written in "
                     "advance.", "note"))
        tested, _ = C.split(claim_list)
        for k, c in tested:
            out += claim_blocks(k, c)
        line = C.missing_line(claim_list)
        if line:
            out.append(P(line, "note"))
    if run.kernel_rows:
        kv = kernel_view(run.manifest, run.kernel_rows)
        out.append(H(2, kv.heading, "k1"))
        out.append(L(kv.caption, "note"))
        out.append(Tab(kv.headers, kv.rows, kv.best, kv.label_columns))
        out.append(P(kv.notes[0].replace("* =", "bold ="), "note"))
    cmp = comparison(run.kernel_rows, gpu)
    if cmp is not None and cmp.rows:
        out.append(H(2, cmp.title, "cpu-gpu"))
        out.append(Tab(cmp.headers, cmp.rows, label_columns=2))
        out.append(L(cmp.caption, "note"))
    return out


def findings_blocks(run, claim_list) -> list:
    """Key findings and the claims at a glance, first in the report."""
    out = []
    fs = key_findings(run)
    if fs:
        out.append(H(2, "Key findings", "key-findings"))
    for f in fs:
        out.append(H(3, f.title, _anchor(f.key)))
        out.append(Tab(f.headers, f.rows, label_columns=2))
        out.append(L(f.notes, "note"))
    if claim_list:
        out.append(H(2, "The article's claims at a glance", "claims-summary"))
        out.append(Tab(*glance(claim_list), label_columns=4))
        out.append(P("The evidence and the rule behind each verdict are under \"The "
                     "claims\", after the tables and plots; the kernel tables come last.",
                     "note"))
    return out


def claim_blocks(k: int, c) -> list:
    out = [H(3, f"Claim {k}. {c.text}", f"claim-{c.key}"),
           P(f"The article: {c.quote}", "quote")]
    for line in c.article:
        out.append(P(f"The article's figures: {line}", "quote"))
    if c.rows:
        out.append(Tab(c.headers, c.rows, label_columns=2,
                       title=f"Evidence ({', '.join(c.tables)})"))
    out.append(P(C.verdict_line(c).replace("verdict: ", "Verdict: ", 1),
                 f"verdict-{VERDICT_CLASS[c.verdict]}"))
    lines = C.check_lines(c)
    if lines:
        out.append(L(lines))
    out.append(P(f"Rule: {c.rule}", "rule"))
    return out
