"""bench/torch_dropout.py measures what it says, on a tiny budget."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed")

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench():
    import numba
    import torch

    threads = torch.get_num_threads(), numba.get_num_threads()
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("torch_dropout")
    finally:
        sys.path.remove(str(BENCH))
        torch.set_num_threads(threads[0])  # the benchmark sets both to its thread count
        numba.set_num_threads(threads[1])


@pytest.fixture(scope="module")
def data():
    from fastdrop.train.data import load_mnist1d

    return load_mnist1d(4000, 0)


def test_memory_kept_for_backward(bench, data):
    rows = {r["arm"]: r for r in bench.memory(data, "mlp", 0.3)}
    assert rows["fastdrop"]["elements"] == rows["torch"]["elements"] == 2 * 100 * 100
    assert rows["fastdrop"]["bytes_per_element"] == 1 / 8
    assert rows["fastdrop"]["saved_dtypes"] == ["uint8"]
    assert rows["torch"]["bytes_per_element"] >= 1  # torch keeps a byte or more


def test_both_arms_build_the_same_network(bench):
    import torch

    a, _ = bench.build("cnn", "torch", 0.3, 4)
    b, layer = bench.build("cnn", "fastdrop", 0.3, 4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    x = torch.randn(5, 40)
    a.eval()
    b.eval()
    assert torch.equal(a(x), b(x))  # inference: dropout off on both sides
    b.train()
    b(x)
    assert int(layer.offset) == 3  # three dropout sites in the CNN, one call each


def test_step_and_accuracy_run(bench, data):
    rows = bench.step_times(data, "mlp", [0.0, 0.3], 1, rounds=2, block=2, lr=1e-2)
    assert {(r["arm"], r["p"]) for r in rows} == {(a, p) for a in bench.ARMS for p in (0, .3)}
    assert all(r["min_us"] > 0 for r in rows)
    acc = bench.accuracy(data, "mlp", 0.3, seeds=2, steps=3, lr=1e-2)
    assert len(acc["accuracies"]["fastdrop"]) == 2 and acc["paired_difference"]["n"] == 2
