"""The training loop: `train(config) -> result dict` (JSON-serialisable), for the CLI and
for a harness's worker processes.

One step: gather a mini-batch into preallocated arrays, forward with dropout on (offset =
step, so every step draws a fresh mask from the same seeds), softmax cross-entropy,
backward, penalties, one optimizer call over the flat parameter buffer, max-norm. Every
`eval_every` steps the model is scored with dropout off on the whole training, test (and
validation) sets. At the end, optional Monte Carlo dropout inference on the test set.

Determinism: everything random derives from `config.seed` (parameter init, batch order,
one seed per dropout site), so one seed gives the same result bit for bit on one machine
with the same thread counts.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time

import numpy as np

from ..nn import losses
from ..nn.models import STREAM_BATCHES, STREAM_MC, Model, build_model, derive_seed
from ..versions import versions
from . import regularize
from .config import TrainConfig
from .data import Dataset, load_mnist1d
from .optim import make_optimizer
from .threads import get_blas_threads, set_blas_threads, set_numba_threads, thread_counts
from .uncertainty import entropy_auroc, top_class_share

RESULT_SCHEMA = "fastdrop.train.result/1"
EVAL_CHUNK = 1000  # examples per forward pass when scoring a whole set


# ---------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------


def evaluate(model: Model, x, y, chunk: int = EVAL_CHUNK) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the model with dropout off."""
    if len(y) == 0:
        return float("nan"), float("nan")
    total, hits = 0.0, 0
    for i in range(0, len(y), chunk):
        logits = model.forward(x[i : i + chunk], training=False)
        t, h = losses.loss_and_hits(logits, y[i : i + chunk])
        total += t
        hits += h
    return total / len(y), hits / len(y)


def predict_proba(model: Model, x, chunk: int = EVAL_CHUNK) -> np.ndarray:
    """Class probabilities (N, 10) with dropout off, float64."""
    return np.concatenate(
        [losses.softmax(model.forward(x[i : i + chunk], training=False))
         for i in range(0, len(x), chunk)]
    )


def mc_predict(model: Model, x, samples: int, seed: int) -> np.ndarray:
    """Monte Carlo dropout (Gal & Ghahramani 2016): the mean of `samples` softmax outputs
    with dropout on, at offsets 0..samples-1. Every dropout site uses a seed derived from
    (seed, MC stream), not its training seed; the whole of x is one batch, so every
    example gets its own mask. Returns (N, 10) float64."""
    train_seeds = list(model.train_seeds)
    model.set_seeds([derive_seed(seed, STREAM_MC, i) for i in range(len(model.sites))])
    try:
        acc = np.zeros((len(x), 10), dtype=np.float64)
        for t in range(samples):
            acc += losses.softmax(model.forward(x, training=True, offset=t))
        return acc / max(samples, 1)
    finally:
        model.set_seeds(train_seeds)


def prediction_metrics(probs, y) -> dict:
    """accuracy, nll, ece, auroc (of predictive entropy, right vs wrong) and
    top_class_share (near 1: the model collapsed to one class) of predicted probabilities."""
    return {
        "accuracy": losses.accuracy(probs, y),
        "nll": losses.nll(probs, y),
        "ece": losses.expected_calibration_error(probs, y),
        "auroc": entropy_auroc(probs, y),
        "top_class_share": top_class_share(probs),
    }


# ---------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------


class Batches:
    """Mini-batches gathered into two preallocated arrays: a fresh permutation of the
    training set each epoch (shuffle) or the set in order, full batches only."""

    def __init__(self, x, y, batch_size: int, seed: int, shuffle: bool = True):
        self.x, self.y = x, y
        self.n = len(y)
        self.b = min(batch_size, self.n)
        self.rng = np.random.default_rng(derive_seed(seed, STREAM_BATCHES))
        self.shuffle = shuffle
        self.xb = np.empty((self.b, *x.shape[1:]), dtype=x.dtype)
        self.yb = np.empty(self.b, dtype=y.dtype)
        self.order = np.arange(self.n)
        self.pos = self.n  # start a new epoch at the first call

    def next(self):
        if self.pos + self.b > self.n:
            if self.shuffle:
                self.order = self.rng.permutation(self.n)
            self.pos = 0
        idx = self.order[self.pos : self.pos + self.b]
        self.pos += self.b
        np.take(self.x, idx, axis=0, out=self.xb)
        np.take(self.y, idx, out=self.yb)
        return self.xb, self.yb


def _finite(v):
    """JSON has no NaN/Inf: those become None."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _or_inf(v):
    """A loss that _finite() turned to None compares as +inf (never the best)."""
    return math.inf if v is None else v


def _environment(cfg: TrainConfig) -> dict:
    return {
        "python": platform.python_version(),
        **versions(("numpy", "numba", "fastdrop")),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": thread_counts(),
        "dropout_backend": cfg.backend,
    }


def build(config: TrainConfig, dataset: Dataset | None = None):
    """(model, dataset) for a validated config."""
    cfg = config
    if dataset is None:
        dataset = load_mnist1d(cfg.train_size, cfg.effective_val_size, seed=cfg.data_seed,
                               cache=cfg.cache_dir, dtype=cfg.dtype)
    elif dataset.x_train.dtype != np.dtype(cfg.dtype):  # train in the config's precision
        dataset = dataclasses.replace(dataset, **{
            k: getattr(dataset, k).astype(cfg.dtype) for k in ("x_train", "x_val", "x_test")
        })
    model = build_model(
        cfg.model, dropout=cfg.dropout, input_dropout=cfg.input_dropout, variant=cfg.variant,
        dropout_at=cfg.dropout_at, seed=cfg.seed, backend=cfg.backend, dtype=cfg.dtype,
        store_mask=cfg.store_mask, fused=cfg.fused,
    )
    return model, dataset


def _warmup(model, loss_fn, opt, cfg, data) -> None:
    """Run every kernel once before the clock starts, so wall_time_s does not include
    Numba compiling or loading its cache. Changes no state that training reads: gradients
    are overwritten by the next backward, the optimizer kernel runs on a scratch array."""
    b = min(cfg.batch_size, len(data.y_train))
    x, y = data.x_train[:b], data.y_train[:b]
    loss_fn.forward(model.forward(x, training=True, offset=0), y)
    model.backward(loss_fn.backward())
    evaluate(model, x, y)
    opt.warmup()
    if cfg.l1 or cfg.l2:
        regularize.add_penalty_grad(model.params[:1].copy(), model.grads[:1].copy(),
                                    model.weight_mask[:1], cfg.l1, cfg.l2)
    if cfg.max_norm:
        regularize.apply_max_norm(_ScratchWeights(model), cfg.max_norm)
    model.grads.fill(0)


class _ScratchWeights:
    """Copies of a model's constrained weights, so warm-up touches no real parameter."""

    def __init__(self, model):
        self._w = [(layer, n, w.copy()) for layer, n, w in model.weights()]

    def weights(self):
        return self._w


def _diverged_message(loss, step, cfg) -> str:
    return (
        f"training diverged: the loss became {loss} at step {step} of {cfg.steps}. "
        f"Try a lower learning rate (--lr, now {cfg.lr:g}), a smaller "
        f"--weight-decay/--l1/--l2, --max-norm, or another --optimizer (now "
        f"{cfg.optimizer}); the history up to here is in the result."
    )


class _Run:
    """The state of one training run: built from a config, stepped by loop()."""

    def __init__(self, cfg: TrainConfig, dataset, progress):
        self.cfg, self.progress = cfg, progress
        t = time.perf_counter()
        self.model, self.data = build(cfg, dataset)
        self.opt = make_optimizer(
            cfg.optimizer, self.model.params, self.model.grads, lr=cfg.lr,
            momentum=cfg.momentum, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
            weight_decay=cfg.weight_decay,
        )
        self.loss_fn = losses.SoftmaxCrossEntropy()
        self.batches = Batches(self.data.x_train, self.data.y_train, cfg.batch_size,
                               cfg.seed, cfg.shuffle)
        self.stopper = None
        if cfg.early_stopping:
            self.stopper = regularize.EarlyStopping(cfg.early_stopping)
        self.has_val = len(self.data.y_val) > 0
        _warmup(self.model, self.loss_fn, self.opt, cfg, self.data)
        self.setup_time = time.perf_counter() - t
        self.history: list[dict] = []
        self.status, self.message = "completed", "trained for all steps"
        self.steps_done = 0
        self.window = [0.0, 0]  # batch-loss sum and count since the last evaluation
        self.last_window_loss = None
        self.eval_time = 0.0

    def evaluation(self) -> dict:
        """Score the model (dropout off) on train, test and validation; log it."""
        te = time.perf_counter()
        d, m = self.data, self.model
        tr_loss, tr_acc = evaluate(m, d.x_train, d.y_train)
        te_loss, te_acc = evaluate(m, d.x_test, d.y_test)
        total, n = self.window
        entry = {
            "step": self.steps_done,
            "batch_loss": _finite(total / n) if n else None,
            "train_loss": _finite(tr_loss),
            "train_accuracy": _finite(tr_acc),
            "test_loss": _finite(te_loss),
            "test_accuracy": _finite(te_acc),
        }
        if self.has_val:
            va_loss, va_acc = evaluate(m, d.x_val, d.y_val)
            entry["val_loss"], entry["val_accuracy"] = _finite(va_loss), _finite(va_acc)
        if n:
            self.last_window_loss = total / n
        self.window = [0.0, 0]
        self.eval_time += time.perf_counter() - te
        entry["time_s"] = round(time.perf_counter() - self.t0, 4)
        self.history.append(entry)
        return entry

    def loop(self) -> None:
        cfg, model, loss_fn, opt = self.cfg, self.model, self.loss_fn, self.opt
        report_every = max(1, cfg.steps // 200)
        self.t0 = time.perf_counter()
        for step in range(cfg.steps):
            xb, yb = self.batches.next()
            loss = loss_fn.forward(model.forward(xb, training=True, offset=step), yb)
            if not math.isfinite(loss):
                self.status = "diverged"
                self.message = _diverged_message(loss, step, cfg)
                break
            self.window[0] += loss
            self.window[1] += 1
            model.backward(loss_fn.backward())
            regularize.add_penalty_grad(model.params, model.grads, model.weight_mask,
                                        cfg.l1, cfg.l2)
            opt.step()
            regularize.apply_max_norm(model, cfg.max_norm)
            self.steps_done = done = step + 1
            if cfg.eval_every and done % cfg.eval_every == 0:
                entry = self.evaluation()
                if self.progress is not None:
                    self.progress(done, cfg.steps, entry)
                if self.stopper is not None and entry.get("val_accuracy") is not None \
                        and self.stopper.update(entry["val_accuracy"],
                                                _or_inf(entry["val_loss"]), model.params,
                                                done):
                    self.status = "early_stopped"
                    self.message = (
                        f"early stopping at step {done}: no better validation accuracy in "
                        f"{cfg.early_stopping} evaluations; best at step "
                        f"{self.stopper.best_step}"
                    )
                    break
            elif self.progress is not None and done % report_every == 0:
                self.progress(done, cfg.steps, {"batch_loss": loss})
        self.wall = time.perf_counter() - self.t0

    def result(self) -> dict:
        cfg, model, data = self.cfg, self.model, self.data
        total, n = self.window
        if n:
            self.last_window_loss = total / n
        train_time = self.wall - self.eval_time
        r = {
            "schema": RESULT_SCHEMA,
            "status": self.status,
            "message": self.message,
            "config": cfg.to_dict(),
            "model": {"name": cfg.model, "layers": model.describe()},
            "parameters": model.num_parameters,
            "steps": self.steps_done,
            "data": data.info,
            "final_loss": None,
            "mc": None,
        }
        final = dict.fromkeys(
            ("test_accuracy", "test_loss", "test_ece", "test_auroc", "test_top_class_share",
             "train_accuracy", "train_loss")
        )
        if self.status == "diverged":
            r["diverged_at_step"] = self.steps_done
        else:
            if self.stopper is not None and self.stopper.restore(model.params):
                r["best_step"] = self.stopper.best_step
            te = prediction_metrics(predict_proba(model, data.x_test), data.y_test)
            tr_loss, tr_acc = evaluate(model, data.x_train, data.y_train)
            final.update(test_accuracy=te["accuracy"], test_loss=te["nll"],
                         test_ece=te["ece"], test_auroc=te["auroc"],
                         test_top_class_share=te["top_class_share"], train_accuracy=tr_acc,
                         train_loss=tr_loss)
            if self.has_val:
                final["val_loss"], final["val_accuracy"] = evaluate(model, data.x_val,
                                                                    data.y_val)
            r["final_loss"] = _finite(self.last_window_loss)
            if cfg.mc_samples and model.sites:
                probs = mc_predict(model, data.x_test, cfg.mc_samples, cfg.seed)
                mc = prediction_metrics(probs, data.y_test)
                r["mc"] = {"samples": cfg.mc_samples,
                           **{f"test_{k}": _finite(v) for k, v in mc.items()}}
        r.update({k: _finite(v) for k, v in final.items()})
        r.update({
            "wall_time_s": self.wall,
            "train_time_s": train_time,
            "eval_time_s": self.eval_time,
            "setup_time_s": self.setup_time,
            "step_time_ms": 1e3 * train_time / self.steps_done if self.steps_done else None,
            "environment": _environment(cfg),
            "history": self.history,
        })
        return r


def train(config, *, dataset: Dataset | None = None, progress=None) -> dict:
    """Train one model; returns the result dict (see docs/TRAINING.md for its fields).

    config: a TrainConfig or a dict of its fields. dataset: preloaded data (else loaded
    from the cache per the config). progress: optional callable(step, steps, info dict),
    called at most about 200 times plus at each evaluation.

    A NaN/Inf loss does not raise: the result has status "diverged", a message naming the
    step and what to try, and the history so far.
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    cfg.validate()
    if cfg.threads:
        set_numba_threads(cfg.threads)
    blas_before = get_blas_threads() if cfg.blas_threads else None
    if blas_before is not None:
        set_blas_threads(cfg.blas_threads)
    try:
        run = _Run(cfg, dataset, progress)
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported
            run.loop()
        return run.result()
    finally:
        if blas_before is not None:
            set_blas_threads(blas_before)
