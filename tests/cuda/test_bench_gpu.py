"""bench/gpu.py on the simulator: every path but the timing. A mismatch is a failed row and
the run goes on; rows are on disk as soon as they are measured; the files are the ones
fastdrop.report reads."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from fastdrop.report.load import load_gpu
from tests.cuda.cuda_helpers import SIMULATOR_FLOAT_WARNINGS

pytestmark = [pytest.mark.cuda, SIMULATOR_FLOAT_WARNINGS]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gpu_bench(ck):
    if not ck.SIMULATOR:
        pytest.skip("bench/gpu.py times for real on a GPU: make bench-gpu")
    spec = importlib.util.spec_from_file_location("gpu_bench_sim", ROOT / "bench" / "gpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(gb, out: Path, rates="0.3,0.5") -> int:
    return gb.main(["--simulator", "--sizes", "203", "--rates", rates, "--reps", "2",
                    "--warmup", "0", "--no-torch", "--out", str(out)])


def test_a_mismatch_is_a_failed_row_and_the_rest_is_timed(gpu_bench, tmp_path, monkeypatch):
    real = gpu_bench.reference

    def wrong_at_half(x, dy, p):
        y, mask, dx = real(x, dy, p)
        if p == 0.5:
            mask = mask.copy()
            mask[0] ^= 1  # one keep bit flipped: the check must see it
        return y, mask, dx

    monkeypatch.setattr(gpu_bench, "reference", wrong_at_half)
    assert _run(gpu_bench, tmp_path) == 1  # failures make the exit status nonzero

    gpu = load_gpu(tmp_path)  # what the report reads
    rows = gpu.data["rows"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert {(r["op"], r["dtype"], r["p"]) for r in failed} == {
        (op, dt, 0.5) for op in ("fastdrop.forward", "fastdrop.backward.mask",
                                 "fastdrop.backward.regen") for dt in ("float32", "float16")}
    assert all("mask differs" in r["error"] for r in failed)
    timed = [r for r in rows if r["status"] == "ok" and r["p"] == 0.3]
    assert len(timed) == 6 and all(r["median_ms"] > 0 for r in timed)
    assert sum(r["op"] == "copy" for r in rows) == 2
    lines = next(tmp_path.glob("*.rows.jsonl")).read_text().splitlines()
    assert [json.loads(line) for line in lines] == rows
    assert "FAILED" in next(tmp_path.glob("*.md")).read_text()


def test_rows_are_on_disk_as_soon_as_measured(gpu_bench, tmp_path):
    cuda = gpu_bench.require_gpu(simulator_ok=True)
    args = gpu_bench.parse_args(["--simulator", "--reps", "2"])
    rec = gpu_bench.Recorder(gpu_bench.new_report(cuda, args, None, True), tmp_path)
    rec.add(gpu_bench.row("copy", "cuMemcpyDtoD", "float32", 64, None, [0.5, 0.4], 512))
    first = json.loads((tmp_path / f"{rec.stem}.json").read_text())
    assert len(first["rows"]) == 1 and first["rows"][0]["share_of_copy"] == 1.0
    rec.add(gpu_bench.failed_row("fastdrop.forward", "fastdrop", "float32", 64, 0.5, "boom"))
    again = load_gpu(tmp_path / f"{rec.stem}.json")
    assert [r["status"] for r in again.data["rows"]] == ["ok", "failed"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_raising_case_is_recorded(gpu_bench, tmp_path):
    cuda = gpu_bench.require_gpu(simulator_ok=True)
    args = gpu_bench.parse_args(["--simulator", "--reps", "2"])
    rec = gpu_bench.Recorder(gpu_bench.new_report(cuda, args, None, True), tmp_path)

    def boom():
        raise MemoryError("out of device memory")

    rec.run("torch.F.dropout", "torch", "float32", 64, 0.5, boom)
    (r,) = rec.report["rows"]
    assert r["status"] == "failed" and r["error"].startswith("MemoryError: out of device")
