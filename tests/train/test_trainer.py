"""The training loop: learns, is deterministic, handles NaN, early stopping, MC dropout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastdrop.nn.models import MODELS, VARIANTS
from fastdrop.train import TrainConfig, train
from fastdrop.train.trainer import Batches

TIME_KEYS = ("wall_time_s", "train_time_s", "eval_time_s", "setup_time_s", "step_time_ms")


def _cfg(cache, backend, **kw):
    base = dict(model="mlp", steps=300, eval_every=100, cache_dir=cache, backend=backend)
    base.update(kw)
    return TrainConfig(**base)


def _strip(result):
    r = {k: v for k, v in result.items() if k not in TIME_KEYS + ("environment",)}
    r["history"] = [{k: v for k, v in h.items() if k != "time_s"} for h in r["history"]]
    return r


def test_short_run_beats_chance(mnist, cache, backend):
    r = train(_cfg(cache, backend, dropout=0.2), dataset=mnist)
    assert r["status"] == "completed" and r["steps"] == 300
    assert r["test_accuracy"] > 0.35  # chance is 0.10
    assert r["train_accuracy"] > r["test_accuracy"] - 0.05
    assert r["parameters"] == 15210
    assert [h["step"] for h in r["history"]] == [100, 200, 300]
    json.dumps(r, allow_nan=False)  # strict JSON


def test_same_seed_same_bits(mnist, cache, backend):
    cfg = _cfg(cache, backend, model="cnn", steps=60, eval_every=30, dropout=0.3,
               variant="spatial", mc_samples=2)
    a, b = train(cfg, dataset=mnist), train(cfg, dataset=mnist)
    assert _strip(a) == _strip(b)
    c = train(_cfg(cache, backend, model="cnn", steps=60, eval_every=30, dropout=0.3,
                   variant="spatial", mc_samples=2, seed=1), dataset=mnist)
    assert _strip(c)["history"] != _strip(a)["history"]


def test_same_bits_at_any_thread_count(mnist, cache, backend):
    import numba

    from fastdrop.train.threads import get_blas_threads

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    before = get_blas_threads()
    runs = [train(_cfg(cache, backend, model=m, steps=30, eval_every=15, dropout=0.3,
                       variant=v, threads=t), dataset=mnist)
            for m, v in (("gru", "variational"), ("cnn", "inverted")) for t in (1, 2)]
    for r in runs:
        r["config"].pop("threads")
    assert _strip(runs[0]) == _strip(runs[1]) and _strip(runs[2]) == _strip(runs[3])
    assert get_blas_threads() == before  # restored after the run
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_loads_data_from_config(cache, backend):
    r = train({"model": "linear", "steps": 20, "eval_every": 0, "cache_dir": cache,
               "backend": backend, "train_size": 500, "early_stopping": 0})
    assert r["data"]["train_size"] == 500 and r["history"] == []
    assert r["test_accuracy"] is not None


def test_nan_loss_stops_with_history(mnist, cache, backend):
    r = train(_cfg(cache, backend, optimizer="sgd", lr=1e6, steps=200, eval_every=1),
              dataset=mnist)
    assert r["status"] == "diverged"
    assert "step" in r["message"] and "--lr" in r["message"]
    assert r["diverged_at_step"] == r["steps"] < 200
    assert r["test_accuracy"] is None
    assert len(r["history"]) == r["steps"]  # one evaluation per completed step
    json.dumps(r, allow_nan=False)


def test_early_stopping_restores_best(mnist, cache, backend):
    r = train(_cfg(cache, backend, steps=2000, eval_every=25, early_stopping=2, lr=3e-2,
                   val_size=400, train_size=1000), dataset=None)
    assert r["status"] == "early_stopped", r["message"]
    assert r["steps"] < 2000 and r["data"]["val_size"] == 400
    # the best evaluation: highest validation accuracy, the earliest lowest loss among ties
    best = min(r["history"], key=lambda h: (-h["val_accuracy"], h["val_loss"], h["step"]))
    assert r["best_step"] == best["step"]
    assert r["val_accuracy"] == pytest.approx(best["val_accuracy"], rel=1e-9)
    assert r["val_loss"] == pytest.approx(best["val_loss"], rel=1e-9)


def test_mc_dropout_result(mnist, cache, backend):
    r = train(_cfg(cache, backend, steps=100, eval_every=0, dropout=0.3, mc_samples=4),
              dataset=mnist)
    mc = r["mc"]
    assert mc["samples"] == 4
    assert 0.2 < mc["test_accuracy"] <= 1 and mc["test_nll"] > 0 and 0 <= mc["test_ece"] < 1
    # without dropout there is nothing to sample
    assert train(_cfg(cache, backend, steps=10, mc_samples=4), dataset=mnist)["mc"] is None


def _valid(model, variant):
    return not (variant == "variational" and model not in ("gru", "lstm"))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_model_and_variant_runs(mnist, cache, backend, model, variant):
    if not _valid(model, variant):
        pytest.skip("variational is for recurrent models")
    r = train(_cfg(cache, backend, model=model, variant=variant, dropout=0.2, steps=3,
                   eval_every=0, batch_size=16, mc_samples=2,
                   input_dropout=0.1 if model != "linear" else 0.0), dataset=mnist)
    assert r["status"] == "completed" and np.isfinite(r["final_loss"])


@pytest.mark.parametrize("opt", ["sgd", "adamw"])
def test_optimizers_and_regularisers_train(mnist, cache, backend, opt):
    cfg = _cfg(cache, backend, optimizer=opt, lr=0.05 if opt == "sgd" else 1e-2,
               weight_decay=1e-4, l1=1e-5, l2=1e-4, max_norm=3.0, steps=200,
               store_mask=False, dropout=0.1)
    r = train(cfg, dataset=mnist)
    assert r["status"] == "completed" and r["test_accuracy"] > 0.3


def test_float64_training(mnist, cache, backend):
    r = train(_cfg(cache, backend, dtype="float64", steps=50, eval_every=0, dropout=0.1),
              dataset=mnist)  # float32 data is cast to the config's dtype
    assert r["status"] == "completed" and r["config"]["dtype"] == "float64"


def test_batches_cover_each_epoch():
    x = np.arange(10, dtype=np.float32)[:, None]
    y = np.arange(10)
    b = Batches(x, y, 5, seed=0)
    seen = np.concatenate([b.next()[1].copy() for _ in range(2)])
    assert sorted(seen) == list(range(10))
    ordered = Batches(x, y, 4, seed=0, shuffle=False)
    assert list(ordered.next()[1]) == [0, 1, 2, 3]
    assert list(ordered.next()[1]) == [4, 5, 6, 7]
    assert list(ordered.next()[1]) == [0, 1, 2, 3]  # full batches only


def test_config_round_trip_and_errors():
    cfg = TrainConfig(model="gru", variant="variational", dropout=0.25)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="linear, mlp, selu_mlp, cnn, gru, lstm"):
        TrainConfig.from_dict({"model": "resnet"})
    with pytest.raises(ValueError, match="inverted, standard, spatial"):
        TrainConfig.from_dict({"variant": "zoneout"})
    with pytest.raises(ValueError, match="sgd, adam, adamw"):
        TrainConfig.from_dict({"optimizer": "lion"})
    with pytest.raises(ValueError, match="hidden, head"):
        TrainConfig.from_dict({"dropout_at": "everywhere"})
    with pytest.raises(ValueError, match="mnist1d"):
        TrainConfig.from_dict({"dataset": "mnist"})
    with pytest.raises(ValueError, match="valid: model"):
        TrainConfig.from_dict({"modle": "mlp"})
    with pytest.raises(ValueError, match="dropout"):
        TrainConfig.from_dict({"dropout": 1.5})
    with pytest.raises(ValueError, match="gru or lstm"):
        TrainConfig.from_dict({"model": "mlp", "variant": "variational"})
    with pytest.raises(ValueError, match="lr"):
        TrainConfig.from_dict({"lr": 0})
    with pytest.raises(ValueError, match="steps"):
        TrainConfig.from_dict({"steps": 1.5})


def test_mc_predict_averages_offsets(backend):
    from fastdrop.nn import build_model, softmax
    from fastdrop.nn.models import STREAM_MC, derive_seed
    from fastdrop.train.trainer import mc_predict

    model = build_model("mlp", dropout=0.4, seed=2, backend=backend)
    x = np.random.default_rng(0).standard_normal((6, 40)).astype(np.float32)
    probs = mc_predict(model, x, 3, seed=2)
    train_seeds = [s.seed for s in model.sites]
    assert train_seeds == model.train_seeds  # restored afterwards
    model.set_seeds([derive_seed(2, STREAM_MC, i) for i in range(len(model.sites))])
    want = np.mean([softmax(model.forward(x, training=True, offset=t)) for t in range(3)], 0)
    np.testing.assert_allclose(probs, want, rtol=1e-12)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-12)
