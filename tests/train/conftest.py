"""Session fixtures: MNIST-1D generated once into a temporary cache folder."""

from __future__ import annotations

import importlib.util

import pytest

BACKEND = "cpu" if importlib.util.find_spec("fastdrop.kernels.cpu") else "numpy"


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fastdrop-cache"))


@pytest.fixture(scope="session")
def mnist(cache):
    from fastdrop.train.data import load_mnist1d

    return load_mnist1d(4000, 0, cache=cache)


@pytest.fixture
def backend():
    return BACKEND
