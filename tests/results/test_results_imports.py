"""The import graph of the hand-off: fastdrop.bench writes results and never imports
fastdrop.report, the report never imports the bench, and fastdrop.results imports
neither. Read from the source (every import, inside functions too), nothing imported."""

import ast
from pathlib import Path

import pytest

import fastdrop

ROOT = Path(fastdrop.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def test_imported_modules_resolves_relative_imports():
    src = ROOT / "bench" / "harness.py"
    assert "fastdrop.results.consolidate" in imported_modules(src)
    assert "fastdrop.bench.executor" in imported_modules(src)


BELOW = ("fastdrop.bench", "fastdrop.report", "fastdrop.results")  # the stages after train
FORBIDDEN = {"bench": ("fastdrop.report",), "report": ("fastdrop.bench",),
             "results": ("fastdrop.bench", "fastdrop.report"),
             # the stages above never import the ones below them (DESIGN.md): no circle
             "train": BELOW, "nn": BELOW, "kernels": BELOW}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_arrow_between_bench_and_report(package):
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert not bad, "\n".join(bad)
