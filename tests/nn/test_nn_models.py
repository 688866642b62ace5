"""Whole models: parameter counts, shapes, and the gradient of the loss with respect to
the packed parameters against central differences (float64, dropout on)."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import BACKEND

from fastdrop.nn import SoftmaxCrossEntropy, build_model
from fastdrop.nn.models import MODELS, derive_seed

COUNTS = {"linear": 410, "mlp": 15210, "selu_mlp": 15210, "cnn": 5210, "gru": 5134,
          "lstm": 5242}


@pytest.mark.parametrize("name", MODELS)
def test_parameter_counts_and_shapes(name):
    model = build_model(name)
    assert model.num_parameters == COUNTS[name]
    x = np.zeros((7, 40), dtype=np.float32)
    assert model.forward(x).shape == (7, 10)


CASES = [
    ("linear", "inverted", 0.0),
    ("linear", "dropconnect", 0.0),
    ("mlp", "inverted", 0.2),
    ("mlp", "standard", 0.0),
    ("mlp", "dropconnect", 0.1),
    ("mlp", "gaussian", 0.0),
    ("selu_mlp", "alpha", 0.1),
    ("cnn", "spatial", 0.1),
    ("cnn", "dropconnect", 0.0),
    ("gru", "variational", 0.1),
    ("gru", "inverted", 0.0),
    ("lstm", "variational", 0.0),
    ("lstm", "spatial", 0.0),
]


@pytest.mark.parametrize("name,variant,inp", CASES)
def test_model_gradient(name, variant, inp):
    model = build_model(name, dropout=0.3, input_dropout=inp, variant=variant, seed=5,
                        backend=BACKEND, dtype="float64")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 40))
    y = np.array([1, 4, 7])
    loss = SoftmaxCrossEntropy()

    def f():
        return loss.forward(model.forward(x, training=True, offset=11), y)

    f()
    model.backward(loss.backward())
    grads = model.grads.copy()
    eps = 1e-6
    for i in rng.choice(model.num_parameters, size=25, replace=False):
        orig = model.params[i]
        model.params[i] = orig + eps
        fp = f()
        model.params[i] = orig - eps
        fm = f()
        model.params[i] = orig
        np.testing.assert_allclose(grads[i], (fp - fm) / (2 * eps), rtol=1e-5, atol=1e-8,
                                   err_msg=f"parameter {i}")


def test_sites_get_distinct_seeds():
    model = build_model("cnn", dropout=0.3, variant="spatial", input_dropout=0.1, seed=3)
    seeds = [s.seed for s in model.sites]
    assert len(seeds) == 4 and len(set(seeds)) == 4
    assert seeds[0] == derive_seed(3, 3, 0)
    other = build_model("cnn", dropout=0.3, variant="spatial", input_dropout=0.1, seed=4)
    assert not set(seeds) & {s.seed for s in other.sites}


def test_same_seed_same_init_and_dropout_sites():
    a = build_model("mlp", dropout=0.5, seed=1)
    b = build_model("mlp", dropout=0.5, seed=1)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, build_model("mlp", seed=2).params)


def test_dropout_placement():
    assert "Dropout" not in build_model("mlp").describe()
    d = build_model("mlp", dropout=0.5).describe()
    assert d.count("Dropout(p=0.5, inverted)") == 2
    assert build_model("cnn", dropout=0.5, variant="spatial").describe().count("spatial") == 3
    dc = build_model("cnn", dropout=0.5, variant="dropconnect").describe()
    assert dc.count("dropconnect=0.5") == 3 and "Dropout" not in dc
    g = build_model("gru", dropout=0.5, variant="variational").describe()
    assert "recurrent_dropout=0.5" in g and "VariationalDropout" in g
    assert "Linear(480->10)" in g
    s = build_model("selu_mlp", dropout=0.1, variant="alpha").describe()
    assert s.count("SELU") == 2 and s.count("alpha") == 2


def test_dropout_at_head():
    m = build_model("mlp", dropout=0.5, dropout_at="head").describe()
    assert m.count("Dropout") == 1 and m.endswith("Dropout(p=0.5, inverted) -> Linear(100->10)")
    c = build_model("cnn", dropout=0.5, variant="spatial", dropout_at="head").describe()
    assert c.count("Dropout") == 1 and "spatial) -> Flatten" in c
    dc = build_model("mlp", dropout=0.5, variant="dropconnect", dropout_at="head").describe()
    assert dc.count("dropconnect") == 1 and "Linear(100->10, dropconnect=0.5)" in dc
    g = build_model("gru", dropout=0.5, variant="variational", dropout_at="head").describe()
    assert "recurrent_dropout" not in g and "VariationalDropout" in g
    for name in ("linear", "selu_mlp", "lstm"):
        assert "Dropout" in build_model(name, dropout=0.5, dropout_at="head").describe()
    with pytest.raises(ValueError, match="hidden, head"):
        build_model("mlp", dropout_at="everywhere")


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_head_dropout_gradient(name):
    model = build_model(name, dropout=0.3, dropout_at="head", seed=1, backend=BACKEND,
                        dtype="float64")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40))
    y = np.array([3, 8])
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(x, training=True, offset=2), y)
    model.backward(loss.backward())
    grads = model.grads.copy()
    for i in rng.choice(model.num_parameters, size=10, replace=False):
        orig = model.params[i]
        model.params[i] = orig + 1e-6
        fp = loss.forward(model.forward(x, training=True, offset=2), y)
        model.params[i] = orig - 1e-6
        fm = loss.forward(model.forward(x, training=True, offset=2), y)
        model.params[i] = orig
        np.testing.assert_allclose(grads[i], (fp - fm) / 2e-6, rtol=1e-5, atol=1e-8)


def test_bad_model_and_variant():
    with pytest.raises(ValueError, match="linear, mlp, selu_mlp, cnn, gru, lstm"):
        build_model("transformer")
    with pytest.raises(ValueError, match="dropconnect, variational"):
        build_model("mlp", variant="zoneout")
    with pytest.raises(ValueError, match="gru or lstm"):
        build_model("cnn", variant="variational")


def test_inference_is_deterministic_and_dropout_free():
    model = build_model("mlp", dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32)
    a = model.forward(x).copy()
    b = model.forward(x, training=False, offset=99).copy()
    np.testing.assert_array_equal(a, b)
    c = model.forward(x, training=True, offset=0).copy()
    assert not np.array_equal(a, c)
