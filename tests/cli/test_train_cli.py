"""`fastdrop train`: options, the summary table, the JSON result, exit codes."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from fastdrop.exitcodes import EXIT_DIVERGED, EXIT_FAILED
from fastdrop.train.command import main


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fastdrop-cache"))


def _args(cache, *extra):
    return ["--cache-dir", cache, "--quiet", "--backend", "numpy", *extra]


def test_train_writes_json_and_table(tmp_path, cache, capsys):
    out = tmp_path / "sub" / "r.json"
    code = main(_args(cache, "--model", "mlp", "--steps", "120", "--eval-every", "40",
                      "--dropout", "0.2", "--mc-samples", "2", "--json", str(out)))
    assert code == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "15,210 parameters" in text
    r = json.loads(out.read_text())
    for key in ("test_accuracy", "train_accuracy", "final_loss", "wall_time_s", "steps",
                "parameters", "config", "history"):
        assert key in r
    assert r["steps"] == 120 and len(r["history"]) == 3
    assert r["config"]["dropout"] == 0.2 and r["mc"]["samples"] == 2


def test_json_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, cache, capsys,
                                                           monkeypatch):
    out = tmp_path / "r.json"

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", disk_full)
    code = main(_args(cache, "--model", "linear", "--steps", "20", "--eval-every", "0",
                      "--json", str(out)))
    monkeypatch.undo()
    assert code == EXIT_FAILED
    assert capsys.readouterr().err == (f"fastdrop train: cannot write {out}: "
                                       f"No space left on device\n")
    assert list(tmp_path.iterdir()) == []  # no result, and no temporary file


def test_nan_loss_exit_code_and_history(tmp_path, cache, capsys):
    out = tmp_path / "nan.json"
    code = main(_args(cache, "--model", "mlp", "--optimizer", "sgd", "--lr", "1e6",
                      "--steps", "100", "--eval-every", "1", "--json", str(out)))
    assert code == EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "diverged" in err and "--lr" in err and "step" in err
    r = json.loads(out.read_text())
    assert r["status"] == "diverged" and len(r["history"]) == r["steps"]


def test_unknown_choice_lists_the_choices(cache, capsys):
    with pytest.raises(SystemExit) as e:
        main(_args(cache, "--model", "resnet"))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "linear" in err and "lstm" in err
    with pytest.raises(SystemExit):
        main(_args(cache, "--variant", "zoneout"))
    assert "variational" in capsys.readouterr().err


def test_bad_value_is_a_usage_error(cache, capsys):
    assert main(_args(cache, "--dropout", "1.5")) == 2
    assert "dropout" in capsys.readouterr().err
    assert main(_args(cache, "--model", "cnn", "--variant", "variational")) == 2
    assert "gru or lstm" in capsys.readouterr().err


def test_fastdrop_cli_dispatches_train(tmp_path, cache):
    pytest.importorskip("fastdrop.bench.command")  # cli.py builds the bench parser too
    from fastdrop.cli import main as cli_main

    out = tmp_path / "r.json"
    code = cli_main(["train", *_args(cache, "--model", "linear", "--steps", "30",
                                     "--json", str(out))])
    assert code == 0 and json.loads(out.read_text())["steps"] == 30


def test_subprocess_run(tmp_path, cache):
    out = tmp_path / "r.json"
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "fastdrop.train.command",
         *_args(cache, "--model", "cnn", "--steps", "20", "--json", str(out))],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["parameters"] == 5210
