"""`fastdrop bench kernels` and `fastdrop env` as a user runs them."""

import json
import subprocess
import sys

import pytest

from fastdrop.cli import main
from fastdrop.report import kernel_table as report
from fastdrop.results.folder import RunFolderError
from fastdrop.results.pyperf_files import load_suite


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastdrop.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def test_help_lists_subcommands():
    res = run_cli("--help")
    assert res.returncode == 0
    for word in ("bench", "train", "env"):
        assert word in res.stdout


def test_env_json(capsys):
    assert main(["env", "--json"]) == 0
    man = json.loads(capsys.readouterr().out)
    assert man["schema"] == "fastdrop.manifest/1"
    assert man["machine"]["threads"] >= 1 and man["machine"]["cpu_model"]


@pytest.mark.parametrize("flag,value", [("--sizes", "2"), ("--sizes", "x"), ("--rates", "1.0")])
def test_bench_rejects_bad_options(tmp_path, flag, value):
    res = run_cli("bench", "kernels", flag, value, "--out", str(tmp_path))
    assert res.returncode != 0
    assert flag in res.stderr + res.stdout
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.slow
def test_bench_kernels_small_run(tmp_path):
    res = run_cli("bench", "kernels", "--sizes", "10", "--rates", "0.5", "--no-torch",
                  "--out", str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    (run,) = list(tmp_path.iterdir())
    assert {"manifest.json", "kernels.json", "kernels.md"} <= {p.name for p in run.iterdir()}
    assert "equal the reference" in res.stdout
    rows = report.rows_from_suite(load_suite(run / "kernels.json"))
    ops = {(r.impl, r.op) for r in rows}
    assert ("ceiling", "scale") in ops and ("numpy", "forward") in ops
    assert {("fastdrop", o) for o in ("forward", "backward-mask", "backward-regen")} <= ops
    fwd = next(r for r in rows if r.impl == "fastdrop" and r.op == "forward")
    assert fwd.share is not None and fwd.vs_numpy is not None and fwd.gelems > 0
    md = (run / "kernels.md").read_text()
    assert "| fastdrop forward | 2^10 | 0.5 |" in md
    # pyperf's own tools read the result file
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(run / "kernels.json")],
                           capture_output=True, text=True, timeout=60)
    assert stats.returncode == 0 and "fastdrop forward 2^10 p=0.5" in stats.stdout


def test_truncated_result_file_is_named(tmp_path):
    bad = tmp_path / "kernels.json"
    bad.write_text('{"version": "1.0", "benchmarks": [')
    with pytest.raises(RunFolderError, match="kernels.json"):
        load_suite(bad)
    with pytest.raises(RunFolderError, match="no such"):
        load_suite(tmp_path / "missing.json")
