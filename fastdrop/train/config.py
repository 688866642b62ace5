"""TrainConfig: everything one training run depends on, as a dataclass with one comment
per field. `from_dict` / `to_dict` make it a JSON round trip for worker processes;
`validate` names the bad field and lists the valid choices."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields

from ..nn.models import check_options

DATASETS = ("mnist1d",)
OPTIMIZERS = ("sgd", "adam", "adamw")
BACKENDS = ("auto", "numpy", "cpu")
DTYPES = ("float32", "float64")


@dataclass
class TrainConfig:
    # -- what to train ---------------------------------------------------------------
    model: str = "mlp"  # one of MODELS: linear, mlp, selu_mlp, cnn, gru, lstm
    dataset: str = "mnist1d"  # one of DATASETS
    train_size: int = 4000  # training sequences (500..16000 for overfitting studies)
    val_size: int | None = None  # held-out sequences for early stopping; None: 500 if
    #                              early_stopping > 0, else 0
    data_seed: int = 42  # mnist1d generation seed (42: the standard MNIST-1D set)
    cache_dir: str | None = None  # generated-data cache; None: $FASTDROP_CACHE or
    #                               ~/.cache/fastdrop
    # -- dropout -----------------------------------------------------------------------
    dropout: float = 0.0  # rate p at the hidden sites (models.py says where they are)
    input_dropout: float = 0.0  # rate of element dropout on the input (not for linear)
    variant: str = "inverted"  # one of VARIANTS (SPEC variants, dropconnect, variational)
    dropout_at: str = "hidden"  # "hidden": every hidden site; "head": only the
    #                             classifier's input (models.py lists the sites)
    store_mask: bool = True  # keep the packed mask for backward (False: regenerate it)
    fused: bool = True  # weight layers apply bias, activation and dropout in one pass
    #                     (False: separate layers, the bit-identical reference)
    backend: str = "auto"  # fastdrop backend for dropout: auto, numpy or cpu
    # -- optimisation -------------------------------------------------------------------
    steps: int = 6000  # optimizer steps (mini-batches)
    batch_size: int = 100  # examples per step
    lr: float = 1e-2  # learning rate
    optimizer: str = "adam"  # one of OPTIMIZERS: sgd (with momentum), adam, adamw
    momentum: float = 0.9  # sgd momentum
    beta1: float = 0.9  # adam / adamw first-moment decay
    beta2: float = 0.999  # adam / adamw second-moment decay
    eps: float = 1e-8  # adam / adamw denominator guard
    weight_decay: float = 0.0  # sgd / adam: L2 added to the gradient (PyTorch's
    #                            weight_decay); adamw: decoupled decay. All parameters.
    shuffle: bool = True  # a new permutation of the training set every epoch
    # -- regularisers ---------------------------------------------------------------
    l1: float = 0.0  # L1 penalty l1 * sum|W| on weights (not biases)
    l2: float = 0.0  # L2 penalty (l2 / 2) * sum W^2 on weights (not biases)
    max_norm: float = 0.0  # max-norm constraint: each unit's incoming weight vector
    #                        (Linear and Conv1d) is rescaled to norm <= max_norm; 0: off
    early_stopping: int = 0  # patience in evaluations without a better validation accuracy;
    #                          0: off. The best parameters are restored at the end.
    # -- evaluation and the run ---------------------------------------------------------
    eval_every: int = 250  # evaluate train/test (and validation) every this many steps
    mc_samples: int = 0  # Monte Carlo dropout samples at the end (0: none)
    seed: int = 0  # run seed: init, batch order and every dropout site's seed derive from it
    dtype: str = "float32"  # training precision: float32 or float64
    threads: int | None = None  # Numba threads (dropout, recurrent kernels); None: as is
    blas_threads: int = 1  # numpy BLAS threads during the run (restored after); 0: as is.
    #                        1 is fastest for these small matrices and makes results
    #                        bit-identical whatever the thread counts (BLAS sums in an
    #                        order that depends on its thread count; our kernels do not)

    # ---------------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """A validated config from a dict; unknown keys are an error listing the valid."""
        if not isinstance(d, dict):
            raise TypeError(f"TrainConfig.from_dict takes a dict, got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.field_names()))
        if unknown:
            raise ValueError(
                f"unknown TrainConfig field(s) {unknown}; valid: {', '.join(cls.field_names())}"
            )
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def effective_val_size(self) -> int:
        if self.val_size is not None:
            return int(self.val_size)
        return 500 if self.early_stopping > 0 else 0

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad field (choices listed for names)."""
        check_options(self.model, self.variant, self.dropout_at, self.input_dropout)
        _choice("dataset", self.dataset, DATASETS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("backend", self.backend, BACKENDS)
        _choice("dtype", self.dtype, DTYPES)
        _int("train_size", self.train_size, 1)
        if self.val_size is not None:
            _int("val_size", self.val_size, 0)
        _int("data_seed", self.data_seed, 0)
        _int("steps", self.steps, 0)
        _int("batch_size", self.batch_size, 1)
        _int("early_stopping", self.early_stopping, 0)
        _int("eval_every", self.eval_every, 0)
        _int("mc_samples", self.mc_samples, 0)
        _int("seed", self.seed, 0, 2**63 - 1)
        if self.threads is not None:
            _int("threads", self.threads, 1)
        _int("blas_threads", self.blas_threads, 0)
        for name in ("dropout", "input_dropout"):
            _real(name, getattr(self, name), 0.0, 1.0)
        if self.variant == "gaussian" and self.dropout >= 1.0:
            raise ValueError("dropout must be < 1 for the gaussian variant (sigma is infinite)")
        for name in ("lr", "eps"):
            _real(name, getattr(self, name), 0.0, math.inf, open_low=True)
        for name in ("momentum", "beta1", "beta2"):
            _real(name, getattr(self, name), 0.0, 1.0, open_high=True)
        for name in ("weight_decay", "l1", "l2", "max_norm"):
            _real(name, getattr(self, name), 0.0, math.inf)
        if self.early_stopping and self.effective_val_size == 0:
            raise ValueError("early_stopping needs a validation split: set val_size > 0")
        if self.early_stopping and self.eval_every == 0:
            raise ValueError("early_stopping needs eval_every > 0")
        return self


def _choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _int(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value}")


def _real(name, value, lo, hi, open_low=False, open_high=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    bad = (
        math.isnan(v)
        or v < lo
        or v > hi
        or (open_low and v == lo)
        or (open_high and v == hi)
    )
    if bad:
        lb = "(" if open_low else "["
        rb = ")" if open_high else "]"
        raise ValueError(f"{name} must be in {lb}{lo}, {hi}{rb}, got {value!r}")
