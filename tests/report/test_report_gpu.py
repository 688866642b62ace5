"""The CPU vs GPU vs PyTorch table and the kernel plot with a GPU benchmark file.

No GPU file has been recorded yet, so the file here is assembled by bench/gpu.py's own
functions (row, add_ratios, goals) from made-up times: a test input in bench/gpu.py's
schema, never a result."""

import importlib.util
import json
from pathlib import Path

import pytest
from report_helpers import FIXTURES, render_text

from fastdrop.report.gpu_table import comparison
from fastdrop.report.load import load_gpu, load_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "bench" / "gpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def gpu_file(gb, folder: Path, card: str, created: str) -> Path:
    n = 2**20
    rows = [gb.row("copy", "cuMemcpyDtoD", "float32", n, None, [0.010] * 20, 8 * n)]
    for p in (0.1, 0.5):
        rows += [gb.row("fastdrop.forward", "fastdrop", "float32", n, p, [0.011] * 20,
                        8 * n + n // 8),
                 gb.row("fastdrop.backward.mask", "fastdrop", "float32", n, p, [0.012] * 20,
                        8 * n + n // 8),
                 gb.row("torch.F.dropout", "torch", "float32", n, p, [0.020] * 20, 9 * n)]
    gb.add_ratios(rows)
    report = {"schema": gb.SCHEMA, "created": created,
              "machine": {"device": {"name": card, "compute_capability": "9.0",
                                     "sm_count": 132, "memory_gib": 79.1},
                          "driver": "550.00", "host": "gpu-host"},
              "versions": {}, "method": {}, "rows": rows, "notes": ["a note"],
              "goals": gb.goals(rows)}
    path = folder / f"{created[:10]}-{gb.slug(card)}.json"
    path.write_text(json.dumps(report))
    return path


def test_newest_gpu_file_is_used_and_labelled(gpu_bench, tmp_path):
    gpu_file(gpu_bench, tmp_path, "Old Card", "2026-01-01T00:00:00Z")
    gpu_file(gpu_bench, tmp_path, "NVIDIA H100 80GB HBM3", "2026-11-30T10:00:00Z")
    gpu = load_gpu(tmp_path)
    assert gpu.card == "NVIDIA H100 80GB HBM3" and gpu.date == "2026-11-30"
    cmp = comparison(load_run(FIXTURES / "k1").kernel_rows, gpu)
    assert cmp.headers == ["op", "p", "CPU fastdrop", "CPU numpy", "CPU torch", "CPU ceiling",
                           "GPU fastdrop", "GPU torch", "GPU copy"]
    fwd = next(r for r in cmp.rows if r[:2] == ["forward", "0.5"])
    n = 2**20
    assert fwd[6] == f"{n / 0.011e-3 / 1e9:.3g}" and fwd[8] == f"{n / 0.010e-3 / 1e9:.3g}"
    caption = "\n".join(cmp.caption)
    assert "GPU: NVIDIA H100 80GB HBM3, 2026-11-30 (2026-11-30-nvidia-h100-80gb-hbm3.json)" \
        in caption
    assert "GPU goal: float32 forward vs copy (element rate), p=0.5" in caption
    text = render_text(FIXTURES / "k1", gpu=str(tmp_path))
    assert "GPU: NVIDIA H100 80GB HBM3, 2026-11-30" in text and "GPU fastdrop" in text


def test_gpu_without_k1_and_the_plot(gpu_bench, tmp_path):
    from fastdrop.report.plots import draw_all

    path = gpu_file(gpu_bench, tmp_path, "Card", "2026-11-30T10:00:00Z")
    gpu = load_gpu(path)  # a file given directly
    cmp = comparison(None, gpu)
    assert "CPU: no K1 in this run" in cmp.caption and "CPU fastdrop" not in cmp.headers
    plots = {p.name: p for p in draw_all(load_run(FIXTURES / "k1"), gpu, tmp_path / "plots",
                                         formats=("svg",))}
    svg = plots["kernels-vs-rate"].svg.read_text()
    # text is drawn as paths; matplotlib keeps each string in a comment
    assert "<!-- GPU Card (2026-11-30), n = 2^20 -->" in svg
    assert "<!-- CPU forward, n = 2^10 -->" in svg and "<!-- ceiling (y = a*x) -->" in svg
    assert plots["kernels-vs-rate"].missing is None and plots["accuracy-vs-rate"].missing


def test_gpu_file_found_beside_the_runs_folder(gpu_bench, tmp_path):
    import shutil

    from report_helpers import console

    from fastdrop.report.command import render_and_write

    run = tmp_path / "reports" / "runs" / "20261130-100000"
    shutil.copytree(FIXTURES / "k1", run)
    (tmp_path / "reports" / "gpu").mkdir()
    gpu_file(gpu_bench, tmp_path / "reports" / "gpu", "Beside Card", "2026-11-30T10:00:00Z")
    c = console()
    assert render_and_write(run, c, formats=("term",)) == 0
    assert "GPU: Beside Card, 2026-11-30" in c.file.getvalue()
