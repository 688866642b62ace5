"""MNIST-1D generation, the cache, training-set sizes and the validation split."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fastdrop.train import data


def test_standard_set(mnist):
    assert mnist.x_train.shape == (4000, 40) and mnist.x_train.dtype == np.float32
    assert mnist.x_test.shape == (1000, 40)
    assert mnist.y_train.dtype == np.int64
    assert set(np.unique(mnist.y_train)) == set(range(10))
    assert len(mnist.y_val) == 0
    # mnist1d standardises the whole set: mean 0, std 1
    allx = np.concatenate([mnist.x_train, mnist.x_test]).astype(np.float64)
    assert abs(allx.mean()) < 1e-3 and abs(allx.std() - 1) < 1e-3


def test_cache_is_reused(cache, monkeypatch):
    def fail(args):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(data, "_make", fail)
    d = data.load_mnist1d(4000, 0, cache=cache)
    assert d.x_train.shape == (4000, 40)


def test_damaged_cache_file_is_named_then_regenerated(mnist, cache, tmp_path, monkeypatch):
    args = data.generation_args(seed=42)
    (good,) = (data.cache_dir(cache) / "mnist1d").glob(f"mnist1d-{data._key(args)}.npz")
    damaged = tmp_path / "mnist1d" / good.name
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[:1000])  # truncated, as by a full disk
    made = []
    with np.load(good) as f:  # what the generator makes, without making it again
        arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test")}
    monkeypatch.setattr(data, "_make", lambda a: made.append(a) or arrays)
    with pytest.warns(data.CacheWarning, match=f"{damaged}: damaged MNIST-1D cache file"):
        got = data.generate(args, cache=tmp_path)
    assert made == [args] and np.array_equal(got["x"], arrays["x"])
    with np.load(damaged) as f:  # replaced by a good file, and no temporary left
        assert np.array_equal(f["x_test"], arrays["x_test"])
    assert [p.name for p in damaged.parent.iterdir()] == [good.name]


def test_sizes_and_validation_split(mnist, cache):
    d = data.load_mnist1d(500, 300, cache=cache)
    np.testing.assert_array_equal(d.x_train, mnist.x_train[:500])
    np.testing.assert_array_equal(d.x_val, mnist.x_train[500:800])
    np.testing.assert_array_equal(d.x_test, mnist.x_test)  # the same test set at every size


def test_no_global_random_side_effects(tmp_path):
    np.random.seed(123)
    random.seed(7)
    want_np, want_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(7)
    data.generate(data.generation_args(num_samples=20), tmp_path)
    assert np.random.random() == want_np and random.random() == want_py


def test_larger_training_sets_use_an_extra_generation(tmp_path, monkeypatch):
    calls = []

    def fake(args):  # records what mnist1d would be asked for
        calls.append(args)
        n = args["num_samples"]
        split = int(n * args["train_split"])
        x = np.full((n, 40), args["seed"], dtype=np.float64)
        y = np.arange(n) % 10
        return {"x": x[:split], "y": y[:split], "x_test": x[split:], "y_test": y[split:]}

    monkeypatch.setattr(data, "_make", fake)
    d = data.load_mnist1d(16000, 500, seed=42, cache=tmp_path)
    assert d.x_train.shape == (16000, 40) and d.x_val.shape == (500, 40)
    assert d.x_test.shape == (1000, 40) and np.all(d.x_test == 42)
    assert np.all(d.x_train[:4000] == 42) and np.all(d.x_train[4000:] == 42 + data.EXTRA_SEED)
    extra = calls[1]
    assert extra["seed"] == 42 + data.EXTRA_SEED and extra["num_samples"] == 15000
    assert d.info["sources"][1]["used"] == 12500


def test_unknown_generation_argument():
    with pytest.raises(ValueError, match="num_samples"):
        data.generation_args(bogus=1)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTDROP_CACHE", str(tmp_path))
    assert data.cache_dir() == tmp_path
