"""The report in the terminal (rich): the header, key findings, the claims at a glance,
T1..T8, the claims in full, then K1 and CPU vs GPU.

Functions here build rich renderables from fastdrop.report.format / claims / gpu; `render_run`
prints them. Nothing is computed here that the markdown and HTML reports do not share.
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from .claims import (
    EQUIV,
    FAILS,
    HOLDS,
    MISSING,
    MIXED,
    UNCLEAR,
    check_all,
    missing_line,
    split,
    verdict_lines,
)
from .findings import glance, key_findings
from .format import BEST_MARK, CI_NOTE, TableView, kernel_view, run_header_lines, views
from .gpu_table import comparison

VERDICT_STYLE = {HOLDS: "bold green", FAILS: "bold red", MIXED: "bold yellow",
                 EQUIV: "bold cyan", UNCLEAR: "bold", MISSING: "dim"}


def rich_view(view: TableView, caption: bool = True):
    """A TableView as a rich Table (the best cell of a column bold and starred); with
    caption=False its notes are left to the caller (printed full width under it)."""
    lines = view.caption + view.notes if caption else []
    t = Table(title=view.heading, caption="\n".join(lines) or None, caption_justify="left",
              title_justify="left")
    for i, col in enumerate(view.headers):
        t.add_column(col, justify="left" if i < view.label_columns else "right")
    for i, cells in enumerate(view.rows):
        out = [f"[bold green]{_esc(c)}{BEST_MARK}[/]" if (i, j) in view.best else _esc(c)
               for j, c in enumerate(cells)]
        t.add_row(*out, style="dim" if i in view.missing_rows else None)
    return t


def _esc(text: str) -> str:
    return escape(text)


def simple_table(title: str, headers, rows, caption=None, label_columns: int = 1):
    t = Table(title=title, caption="\n".join(caption or []) or None, caption_justify="left",
              title_justify="left")
    for i, h in enumerate(headers):
        t.add_column(h, justify="left" if i < label_columns else "right")
    for r in rows:
        t.add_row(*[_esc(c) for c in r])
    return t


def render_claims(console, claims) -> None:
    console.rule("Claims of the article, checked")
    console.print("Each claim: the article's words and figures (its dataset is unstated), "
                  "our measured evidence (mean ± 95% CI over seeds), and a verdict computed "
                  "from this run by the stated rule.")
    tested, _ = split(claims)
    for k, c in tested:
        style = VERDICT_STYLE.get(c.verdict, "")
        console.print()
        console.print(f"[bold]Claim {k}. {_esc(c.text)}[/]  [{style}]{c.headline}[/]")
        console.print(f"article: {_esc(c.quote)}")
        for line in c.article:
            console.print(f"article figures: {_esc(line)}")
        if c.rows:
            console.print(simple_table(f"evidence ({', '.join(c.tables)})", c.headers, c.rows,
                                       label_columns=2))
        for line in verdict_lines(c):
            console.print(_esc(line))
    line = missing_line(claims)
    if line:
        console.print()
        console.print(_esc(line), style="dim")


def render_findings(console, run, claims) -> None:
    """Key findings, then the claims at a glance: what a practitioner reads first."""
    fs = key_findings(run)
    if fs:
        console.rule("Key findings")
    for f in fs:
        console.print()
        console.print(simple_table(f.title, f.headers, f.rows, f.notes))
    if claims:
        console.print()
        console.print(simple_table("The article's claims at a glance", *glance(claims),
                                   label_columns=4))


def render_run(run, console, gpu=None, *, claims: bool = True) -> None:
    """Print the whole report of a loaded run: header, key findings, the claims at a
    glance, the training tables, the claims in full, then the kernel tables."""
    console.print(f"[bold]fastdrop report[/] {_esc(str(run.path))}")
    for line in run_header_lines(run.results, run.manifest):
        console.print(_esc(line))
    for p in run.problems:
        console.print(f"[yellow]missing or wrong:[/] {_esc(p)}")
    claim_list = check_all(run) if claims else []
    render_findings(console, run, claim_list)
    vs = views(run.results)
    if vs:
        console.print()
        console.print(CI_NOTE)
    for v in vs:
        console.print()
        console.print(rich_view(v, caption=False))
        for line in v.caption + v.notes:
            console.print(_esc(line), style="dim" if line in v.caption else None)
    if claims:
        render_claims(console, claim_list)
    if run.kernel_rows:
        kv = kernel_view(run.manifest, run.kernel_rows)
        console.print()
        console.print(rich_view(kv, caption=False))
        for line in kv.caption + kv.notes:
            console.print(_esc(line), style="dim" if line in kv.caption else None)
    cmp = comparison(run.kernel_rows, gpu)
    if cmp is not None and cmp.rows:
        console.print()
        console.print(simple_table(cmp.title, cmp.headers, cmp.rows, cmp.caption,
                                   label_columns=2))
