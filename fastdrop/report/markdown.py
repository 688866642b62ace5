"""The report as markdown (report.md): the blocks of fastdrop.report.document, plots linked
as files next to it (plots/<name>.svg)."""

from __future__ import annotations

import os
from pathlib import Path

from .document import H, Img, L, P, Tab


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_lines(t: Tab) -> list[str]:
    out = []
    if t.title:
        out += [f"**{_cell(t.title)}**", ""]
    align = ["---" if i < t.label_columns else "---:" for i in range(len(t.headers))]
    out.append("| " + " | ".join(_cell(h) for h in t.headers) + " |")
    out.append("|" + "|".join(align) + "|")
    for i, row in enumerate(t.rows):
        cells = []
        for j, c in enumerate(row):
            c = _cell(c)
            if (i, j) in t.best and c:
                c = f"**{c}**"
            cells.append(c)
        out.append("| " + " | ".join(cells) + " |")
    if t.caption:
        out += [""] + [f"_{_cell(line)}_  " for line in t.caption]
    return out


def _rel(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def lines(blocks, out_dir: Path) -> list[str]:
    """The markdown lines of the blocks; images relative to out_dir (report.md's folder)."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, H):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, P):
            if b.kind == "quote":
                out += ["> " + b.text, ""]
            elif b.kind.startswith("verdict"):
                out += [f"**{b.text}**", ""]
            elif b.kind in ("note", "rule"):
                out += [f"_{b.text}_", ""]
            else:
                out += [b.text, ""]
        elif isinstance(b, L):
            out += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Tab):
            out += table_lines(b) + [""]
        elif isinstance(b, Img):
            p = b.plot
            path = p.svg or p.png
            out += [f"![{p.title}]({_rel(path, out_dir)})", ""]
    return out


def write(blocks, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.md"
    path.write_text("\n".join(lines(blocks, out_dir)).rstrip() + "\n")
    return path
