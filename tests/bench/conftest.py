"""Harness tests: MNIST-1D generated once into a temporary cache, shared with workers."""

import pytest


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    from fastdrop.train.data import load_mnist1d

    path = tmp_path_factory.mktemp("fastdrop-bench-cache")
    load_mnist1d(200, 0, cache=str(path))
    return str(path)


@pytest.fixture
def cost_payload(cache):
    """A T2-style cost task's payload on the tiny cached set: MLP at p = 0.3, small blocks
    and 2-3 rounds (behaviour, not speed)."""
    from fastdrop.train.config import TrainConfig

    cfg = TrainConfig.from_dict({"model": "mlp", "dropout": 0.3, "train_size": 200,
                                 "batch_size": 20, "cache_dir": cache}).to_dict()
    return {"config": cfg, "interleave": {"block_s": 0.002, "min_rounds": 2, "max_rounds": 3}}
