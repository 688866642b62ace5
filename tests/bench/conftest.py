"""Harness tests: MNIST-1D generated once into a temporary cache, shared with workers."""

import pytest


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    from fastdrop.train.data import load_mnist1d

    path = tmp_path_factory.mktemp("fastdrop-bench-cache")
    load_mnist1d(200, 0, cache=str(path))
    return str(path)
