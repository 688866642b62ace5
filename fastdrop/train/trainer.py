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

import ctypes
import glob
import math
import os
import platform
import time

import numpy as np

from ..nn import losses
from ..nn.models import STREAM_BATCHES, STREAM_MC, Model, build_model, derive_seed
from . import regularize
from .config import TrainConfig
from .data import Dataset, load_mnist1d
from .optim import make_optimizer

RESULT_SCHEMA = "fastdrop.train.result/1"
EVAL_CHUNK = 1000  # examples per forward pass when scoring a whole set
EXIT_DIVERGED = 3  # CLI exit code of a run stopped by a NaN/Inf loss


class Diverged(RuntimeError):
    """The loss became NaN or Inf."""


# ---------------------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------------------


def _openblas():
    """numpy's bundled OpenBLAS (scipy-openblas) as a ctypes handle, or None."""
    base = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/libscipy_openblas*.so*", ".dylibs/libscipy_openblas*"):
        for path in glob.glob(os.path.join(base, pattern)):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


def set_threads(n: int) -> dict:
    """Use n threads in Numba's parallel loops and in numpy's BLAS (best effort)."""
    import numba

    done = {"numba": None, "blas": None}
    try:
        numba.set_num_threads(min(int(n), numba.config.NUMBA_NUM_THREADS))
        done["numba"] = numba.get_num_threads()
    except Exception:  # pragma: no cover - an unusual numba build
        pass
    lib = _openblas()
    for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                 "openblas_set_num_threads"):  # fmt: skip
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            fn(ctypes.c_int(int(n)))
            done["blas"] = int(n)
            break
    return done


def thread_counts() -> dict:
    import numba

    info = {"numba": numba.get_num_threads(), "blas": None}
    lib = _openblas()
    for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            fn.restype = ctypes.c_int
            info["blas"] = int(fn())
            break
    return info


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
         for i in range(0, len(x), chunk)]  # fmt: skip
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
    """accuracy, nll and ece of predicted probabilities."""
    return {
        "accuracy": losses.accuracy(probs, y),
        "nll": losses.nll(probs, y),
        "ece": losses.expected_calibration_error(probs, y),
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


def _environment(cfg: TrainConfig) -> dict:
    import numba

    import fastdrop

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "fastdrop": fastdrop.__version__,
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
                               cache=cfg.cache_dir, dtype=cfg.dtype)  # fmt: skip
    model = build_model(
        cfg.model, dropout=cfg.dropout, input_dropout=cfg.input_dropout, variant=cfg.variant,
        seed=cfg.seed, backend=cfg.backend, dtype=cfg.dtype, store_mask=cfg.store_mask,
    )  # fmt: skip
    return model, dataset


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
        set_threads(cfg.threads)
    t_setup = time.perf_counter()
    model, data = build(cfg, dataset)
    opt = make_optimizer(cfg.optimizer, model.params, model.grads, lr=cfg.lr,
                         momentum=cfg.momentum, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                         weight_decay=cfg.weight_decay)  # fmt: skip
    loss_fn = losses.SoftmaxCrossEntropy()
    batches = Batches(data.x_train, data.y_train, cfg.batch_size, cfg.seed, cfg.shuffle)
    stopper = regularize.EarlyStopping(cfg.early_stopping) if cfg.early_stopping else None
    has_val = len(data.y_val) > 0
    setup_time = time.perf_counter() - t_setup

    history: list[dict] = []
    status, message = "completed", "trained for all steps"
    window_sum, window_n = 0.0, 0
    last_window_loss = None
    eval_time = 0.0
    report_every = max(1, cfg.steps // 200)
    step = 0
    t0 = time.perf_counter()

    def do_eval(done_steps: int) -> dict:
        nonlocal eval_time, window_sum, window_n, last_window_loss
        te = time.perf_counter()
        tr_loss, tr_acc = evaluate(model, data.x_train, data.y_train)
        te_loss, te_acc = evaluate(model, data.x_test, data.y_test)
        entry = {
            "step": done_steps,
            "batch_loss": _finite(window_sum / window_n) if window_n else None,
            "train_loss": _finite(tr_loss),
            "train_accuracy": _finite(tr_acc),
            "test_loss": _finite(te_loss),
            "test_accuracy": _finite(te_acc),
        }
        if has_val:
            va_loss, va_acc = evaluate(model, data.x_val, data.y_val)
            entry["val_loss"] = _finite(va_loss)
            entry["val_accuracy"] = _finite(va_acc)
        if window_n:
            last_window_loss = window_sum / window_n
        window_sum, window_n = 0.0, 0
        eval_time += time.perf_counter() - te
        entry["time_s"] = round(time.perf_counter() - t0, 4)
        history.append(entry)
        return entry

    for step in range(cfg.steps):
        xb, yb = batches.next()
        logits = model.forward(xb, training=True, offset=step)
        loss = loss_fn.forward(logits, yb)
        if not math.isfinite(loss):
            status = "diverged"
            message = (
                f"training diverged: the loss became {loss} at step {step} of {cfg.steps}. "
                f"Try a lower learning rate (--lr, now {cfg.lr:g}), a smaller "
                f"--weight-decay/--l1/--l2, --max-norm, or another --optimizer (now "
                f"{cfg.optimizer}); the history up to here is in the result."
            )
            break
        window_sum += loss
        window_n += 1
        model.backward(loss_fn.backward())
        regularize.add_penalty_grad(model.params, model.grads, model.weight_mask, cfg.l1, cfg.l2)
        opt.step()
        regularize.apply_max_norm(model, cfg.max_norm)
        done = step + 1
        if cfg.eval_every and done % cfg.eval_every == 0:
            entry = do_eval(done)
            if progress is not None:
                progress(done, cfg.steps, entry)
            if stopper is not None and entry.get("val_loss") is not None:
                if stopper.update(entry["val_loss"], model.params, done):
                    status = "early_stopped"
                    message = (f"early stopping at step {done}: no lower validation loss "
                               f"in {cfg.early_stopping} evaluations; best at step "
                               f"{stopper.best_step}")  # fmt: skip
                    step = done
                    break
        elif progress is not None and done % report_every == 0:
            progress(done, cfg.steps, {"batch_loss": loss})
    else:
        step = cfg.steps
    completed = step  # steps whose update was applied
    wall = time.perf_counter() - t0
    train_time = wall - eval_time

    result = {
        "schema": RESULT_SCHEMA,
        "status": status,
        "message": message,
        "config": cfg.to_dict(),
        "model": {"name": cfg.model, "layers": model.describe()},
        "parameters": model.num_parameters,
        "steps": completed,
        "data": data.info,
    }
    if window_n:
        last_window_loss = window_sum / window_n
    final = {}
    if status == "diverged":
        final = {k: None for k in ("test_accuracy", "test_loss", "test_ece", "train_accuracy",
                                   "train_loss")}  # fmt: skip
        result["diverged_at_step"] = step
        result["final_loss"] = None
        result["mc"] = None
    else:
        if stopper is not None and stopper.restore(model.params):
            result["best_step"] = stopper.best_step
        te_probs = predict_proba(model, data.x_test)
        te = prediction_metrics(te_probs, data.y_test)
        tr_loss, tr_acc = evaluate(model, data.x_train, data.y_train)
        final = {
            "test_accuracy": te["accuracy"],
            "test_loss": te["nll"],
            "test_ece": te["ece"],
            "train_accuracy": tr_acc,
            "train_loss": tr_loss,
        }
        if has_val:
            va_loss, va_acc = evaluate(model, data.x_val, data.y_val)
            final["val_accuracy"], final["val_loss"] = va_acc, va_loss
        result["final_loss"] = _finite(last_window_loss)
        if cfg.mc_samples and model.sites:
            probs = mc_predict(model, data.x_test, cfg.mc_samples, cfg.seed)
            mc = prediction_metrics(probs, data.y_test)
            result["mc"] = {"samples": cfg.mc_samples,
                            **{f"test_{k}": _finite(v) for k, v in mc.items()}}  # fmt: skip
        else:
            result["mc"] = None
    result.update({k: _finite(v) for k, v in final.items()})
    result.update({
        "wall_time_s": wall,
        "train_time_s": train_time,
        "eval_time_s": eval_time,
        "setup_time_s": setup_time,
        "step_time_ms": 1e3 * train_time / completed if completed else None,
        "environment": _environment(cfg),
        "history": history,
    })  # fmt: skip
    return result
