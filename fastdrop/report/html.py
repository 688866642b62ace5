"""The report as one self-contained HTML file (report.html): styles inline, plots embedded
as base64 data URIs, no scripts, no fonts, nothing fetched from anywhere."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from .document import H, Img, L, P, Tab

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .6em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d8d8d8; padding: .25em .6em; }
th { background: #f3f3f3; } td.num { text-align: right; white-space: nowrap; }
td.best { font-weight: bold; background: #e7f6e7; }
tr.dim td { color: #999; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: .3em 0; }
.note { color: #555; font-size: .92em; } ul.note { margin-top: 0; }
.warn { color: #8a4b00; } ul.warn li { color: #8a4b00; }
blockquote { margin: .5em 0; padding: .2em .9em; border-left: 3px solid #bbb; color: #444; }
.verdict { font-weight: bold; padding: .35em .6em; border-radius: 4px; display: inline-block; }
.v-holds { background: #dff3df; } .v-fails { background: #f8dede; }
.v-mixed { background: #fbf0cf; } .v-equiv { background: #dcecf8; }
.v-unclear { background: #ececec; }
.v-missing { background: #f4f4f4; color: #777; }
.rule { color: #555; font-size: .9em; }
img { max-width: 100%; height: auto; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def data_uri(plot) -> str:
    """The plot as a data URI (SVG preferred, else PNG)."""
    if plot.svg is not None:
        return "data:image/svg+xml;base64," + base64.b64encode(plot.svg.read_bytes()).decode()
    return "data:image/png;base64," + base64.b64encode(plot.png.read_bytes()).decode()


def _table(t: Tab) -> list[str]:
    out = ["<table>"]
    if t.title:
        out.append(f"<caption>{_e(t.title)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in t.headers)
               + "</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        cells = []
        for j, c in enumerate(row):
            cls = [] if j < t.label_columns else ["num"]
            if (i, j) in t.best:
                cls.append("best")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{_e(c)}</td>")
        dim = ' class="dim"' if i in t.dim_rows else ""
        out.append(f"<tr{dim}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if t.caption:
        out.append('<p class="note">' + "<br>".join(_e(c) for c in t.caption) + "</p>")
    return out


def page(blocks, title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, H):
            anchor = f' id="{_e(b.anchor)}"' if b.anchor else ""
            body.append(f"<h{b.level}{anchor}>{_e(b.text)}</h{b.level}>")
        elif isinstance(b, P):
            if b.kind == "quote":
                body.append(f"<blockquote>{_e(b.text)}</blockquote>")
            elif b.kind.startswith("verdict-"):
                cls = b.kind.split("-", 1)[1]
                body.append(f'<p><span class="verdict v-{cls}">{_e(b.text)}</span></p>')
            else:
                cls = f' class="{_e(b.kind)}"' if b.kind else ""
                body.append(f"<p{cls}>{_e(b.text)}</p>")
        elif isinstance(b, L):
            cls = f' class="{_e(b.kind)}"' if b.kind else ""
            body.append(f"<ul{cls}>" + "".join(f"<li>{_e(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Tab):
            body += _table(b)
        elif isinstance(b, Img):
            body.append(f'<p><img alt="{_e(b.plot.title)}" src="{data_uri(b.plot)}"></p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write(blocks, out_dir, title: str) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page(blocks, title))
    return path
