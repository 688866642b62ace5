"""Helpers of the report tests: the fixture folders and a StringIO console."""

import io
from pathlib import Path

from rich.console import Console

FIXTURES = Path(__file__).parent / "fixtures"


def console(width: int = 200) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, highlight=False)


def render_text(run_dir, width: int = 200, gpu="none", **kw) -> str:
    """The terminal report of a run folder, as text."""
    from fastdrop.report.command import render_and_write

    c = console(width)
    assert render_and_write(run_dir, c, formats=("term",), gpu=gpu, **kw) == 0
    return c.file.getvalue()
