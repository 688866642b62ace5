"""The MNIST-1D reference models (Greydanus 2020), with configurable dropout sites.

    linear    40 -> 10
    mlp       40 -> 100 -> ReLU -> (+ 100 -> 100 -> ReLU, residual) -> 10   (the reference's
              MLPBase: h = relu(l1 x); h = h + relu(l2 h); out = l3 h)
    selu_mlp  40 -> 100 -> SELU -> 100 -> SELU -> 10, LeCun normal init (for alpha dropout)
    cnn       Conv1d(1->25, k5, s2, p1) -> ReLU -> 2 x [Conv1d(25->25, k3, s2, p1) -> ReLU]
              -> Flatten -> Linear(125 -> 10); lengths 40 -> 19 -> 10 -> 5, 25*5 = 125
    gru       bidirectional GRU, hidden 6, over the 40 steps (one feature each); all outputs
              flattened (40 * 2 * 6 = 480) -> Linear(480 -> 10)
    lstm      the same shape with an LSTM

Dropout sites. `dropout` is the rate at the hidden sites: after every hidden activation
(mlp: after the first ReLU and inside the residual branch; selu_mlp, cnn: after each
activation), on the recurrent outputs before the classifier (gru, lstm), or on the input
for the linear model, which has no hidden layer. With dropout_at="head" there is one site
only, the classifier's input (mlp: h after the residual sum; cnn: the last conv map;
gru/lstm: the outputs, no recurrent mask; dropconnect: the classifier's weights only).
`input_dropout` adds element dropout on the input of the other models. The variant decides
what a site does:

    inverted, standard, alpha, gaussian   element-wise Dropout
    spatial      Dropout of whole channels: conv feature maps (N, C, L); on (B, T, F)
                 recurrent outputs it drops whole time steps; on (B, F) it is element-wise
    dropconnect  the site's following weight layer drops weights instead (mlp: l2, l3;
                 cnn: conv2, conv3 and the classifier; linear, gru, lstm: the classifier)
    variational  recurrent models only: one mask per (batch, feature) per sequence on the
                 outputs, and another on the state fed back into the gates

Every stochastic site gets its own seed, derived from the run seed (see `derive_seed`).

fused=True (the default) builds each weight layer that is followed by an activation and a
dropout site with both fused into it (dense.py, fused.py); fused=False builds the same network as
separate Linear/Conv1d, ReLU/SELU and Dropout layers, the reference: same parameters,
same seeds, the same outputs and gradients bit for bit.
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import spec
from .base import SELU, Flatten, Layer, ReLU, Reshape, Residual, Sequential
from .dense import Conv1d, Linear
from .dropout import Dropout, VariationalDropout
from .fused import DropSite
from .recurrent import GRU, LSTM

MODELS = ("linear", "mlp", "selu_mlp", "cnn", "gru", "lstm")
# SPEC.md's variants (spec.py is their one home) and the two that act on layers
VARIANTS = (*spec.VARIANTS, "dropconnect", "variational")
RECURRENT = ("gru", "lstm")
DROPOUT_AT = ("hidden", "head")
SEQ_LEN = 40
NUM_CLASSES = 10

# Streams of derived seeds: parameter init, batch order, dropout in training, MC inference.
STREAM_INIT, STREAM_BATCHES, STREAM_TRAIN, STREAM_MC = 1, 2, 3, 4


def derive_seed(run_seed: int, stream: int, index: int = 0) -> int:
    """A 64-bit seed for (stream, index), derived from the run seed by numpy's SeedSequence
    (hash-based: nearby run seeds give unrelated seeds)."""
    ss = np.random.SeedSequence([int(run_seed), 0x5EED, int(stream), int(index)])
    return int(ss.generate_state(1, dtype=np.uint64)[0])


class Model:
    """A network: a root layer, its parameters packed into one flat buffer, and the
    stochastic sites (dropout layers) with their seeds.

    forward(x (B, 40), training, offset) -> logits (B, 10); backward(dlogits) fills
    `grads` (flat, aligned with `params`).
    """

    def __init__(self, name: str, root: Layer, dtype):
        self.name = name
        self.root = root
        self.dtype = np.dtype(dtype)
        first = _first_layer(root)
        if first is not None:
            first.input_grad = False
        self._pack()
        self.sites = root.stochastic()
        self.train_seeds = [s.seed for s in self.sites]

    # -- parameters -------------------------------------------------------------------
    def _pack(self):
        """Move every parameter and gradient into one flat array each; layers keep views."""
        entries = []
        for layer in _walk(self.root):
            for name in layer.params:
                entries.append((layer, name, getattr(layer, name)))
        n = sum(a.size for _, _, a in entries)
        self.params = np.zeros(n, dtype=self.dtype)
        self.grads = np.zeros(n, dtype=self.dtype)
        # 1 for weights (penalties, decoupled decay and max-norm apply), 0 for biases
        self.weight_mask = np.zeros(n, dtype=self.dtype)
        self.tensors = []  # (layer, name, param view, grad view)
        o = 0
        for layer, name, a in entries:
            view = self.params[o : o + a.size].reshape(a.shape)
            view[...] = a
            gview = self.grads[o : o + a.size].reshape(a.shape)
            setattr(layer, name, view)
            setattr(layer, "d" + name, gview)
            if not name.startswith("b"):
                self.weight_mask[o : o + a.size] = 1
            self.tensors.append((layer, name, view, gview))
            o += a.size

    @property
    def num_parameters(self) -> int:
        return int(self.params.size)

    def weights(self):
        """(layer, name, view) of the weight tensors that max-norm constrains: Linear and
        Conv1d weights (one norm per output unit)."""
        return [(lay, n, v) for lay, n, v, _ in self.tensors
                if isinstance(lay, (Linear, Conv1d)) and n == "W"]

    # -- passes ----------------------------------------------------------------------
    def forward(self, x, training=False, offset=0):
        return self.root.forward(x, training, offset)

    def backward(self, dlogits):
        self.root.backward(dlogits)

    # -- memory ---------------------------------------------------------------------
    def memory(self) -> dict:
        """Bytes this model holds after a training step: `mask` = the dropout masks kept
        for backward (packed masks, DropConnect masks, variational multipliers), `buffers`
        = every array the layers keep between calls (activations, scratch, masks),
        `parameters` = parameters and gradients."""
        mask = buffers = 0
        for layer in _walk(self.root):
            buffers += sum(b.nbytes for b in layer._bufs.values())
            mask += layer.mask_nbytes()
        return {"mask": mask, "buffers": buffers,
                "parameters": self.params.nbytes + self.grads.nbytes}

    # -- seeds ----------------------------------------------------------------------
    def set_seeds(self, seeds) -> None:
        for site, s in zip(self.sites, seeds, strict=True):
            site.seed = int(s)

    def describe(self) -> str:
        return self.root.describe()


def _walk(layer: Layer):
    yield layer
    for child in layer.children():
        yield from _walk(child)


def _first_layer(layer: Layer):
    """The first layer with parameters, if nothing before it needs an input gradient."""
    for lay in _walk(layer):
        if lay.params:
            return lay
        if isinstance(lay, (Dropout, VariationalDropout)):
            return None  # nothing has a parameter before it: no input grad needed anyway
    return None




def check_options(model, variant, dropout_at="hidden", input_dropout=0.0) -> None:
    """The rules on a model and its dropout settings, for build_model and TrainConfig
    (one home, one message each): names from the lists, variational dropout on recurrent
    models only, no input_dropout on the linear model (its only site is its input)."""
    for name, value, choices in (("model", model, MODELS), ("variant", variant, VARIANTS),
                                 ("dropout_at", dropout_at, DROPOUT_AT)):
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    if variant == "variational" and model not in RECURRENT:
        raise ValueError(
            f"variant 'variational' is recurrent dropout: use model "
            f"{' or '.join(RECURRENT)}, not {model!r}"
        )
    if model == "linear" and input_dropout:
        raise ValueError(
            "input_dropout is not used by the linear model: its only dropout site is its "
            "input, set dropout instead"
        )


class _Sites:
    """What a model's builder needs: the dropout settings, the init generator, the seed
    counter (one derived seed per stochastic site, in construction order) and whether
    weight layers are built fused with their activation and dropout."""

    def __init__(self, *, dropout, input_dropout, variant, dropout_at, seed, backend, dtype,
                 store_mask, fused):
        self.p, self.input_p, self.variant = dropout, input_dropout, variant
        self.head_only = dropout_at == "head"
        self.run_seed, self.backend, self.dtype = seed, backend, np.dtype(dtype)
        self.store_mask, self.fused = store_mask, fused
        self.rng = np.random.default_rng(derive_seed(seed, STREAM_INIT))
        self._ids = itertools.count()
        self.dc = variant == "dropconnect"
        self.element = variant if variant in spec.VARIANTS else "inverted"

    def seed(self) -> int:
        return derive_seed(self.run_seed, STREAM_TRAIN, next(self._ids))

    def used(self, site: str) -> bool:
        """Site "hidden" is used when dropout_at is hidden, "head" when it is head, "both"
        always, "none" never."""
        return site == "both" or (site != "none" and (site == "head") == self.head_only)

    def dropout(self, site="hidden", variant=None) -> list[Layer]:
        """A Dropout layer at the site; nothing when p = 0 or the variant acts on weights."""
        if self.p <= 0 or self.dc or not self.used(site):
            return []
        return [Dropout(self.p, variant or self.element, seed=self.seed(),
                        backend=self.backend, store_mask=self.store_mask)]

    def input(self) -> list[Layer]:
        """Element dropout on the input (spatial would drop the one input channel whole)."""
        if self.input_p <= 0:
            return []
        v = self.element if self.element != "spatial" else "inverted"
        return [Dropout(self.input_p, v, seed=self.seed(), backend=self.backend,
                        store_mask=self.store_mask)]

    def _weight_kw(self, weights: str) -> dict:
        p = self.p if (self.dc and self.used(weights)) else 0.0
        return {"rng": self.rng, "dtype": self.dtype, "dropconnect": p,
                "seed": self.seed() if p > 0 else None, "backend": self.backend,
                "store_mask": self.store_mask}

    def _tail(self, layer, activation, site) -> list[Layer]:
        """The activation and dropout after a weight layer: fused into it when the site
        drops, else as layers. (Bias and activation alone gain nothing fused: the CNN's step
        at p = 0 was 3.9% +-1.0 slower fused, the MLP's 0.7% +-1.7, bench/train_cost.py.)"""
        has_drop = bool(site) and self.p > 0 and not self.dc and self.used(site)
        if not (self.fused and has_drop):
            act = {None: [], "relu": [ReLU()], "selu": [SELU()]}[activation]
            return [layer, *act, *(self.dropout(site) if site else [])]
        drop = DropSite(self.p, self.element, seed=self.seed(), store_mask=self.store_mask)
        layer._fuse(activation, drop)
        return [layer]

    def dense(self, n_in, n_out, *, act=None, site=None, weights="hidden",
              init="uniform") -> list[Layer]:
        """Linear (DropConnect when `weights` is a used site), then act and dropout at site."""
        layer = Linear(n_in, n_out, init=init, **self._weight_kw(weights))
        return self._tail(layer, act, site)

    def conv(self, c_in, c_out, k, *, act="relu", site="hidden", weights="hidden"):
        layer = Conv1d(c_in, c_out, k, stride=2, padding=1, **self._weight_kw(weights))
        return self._tail(layer, act, site)


# --- one function per model (the module doc draws each) -----------------------------------


def _linear(s: _Sites) -> Layer:
    v = s.element if s.element != "spatial" else "inverted"
    return Sequential(*s.dropout("both", v), *s.dense(SEQ_LEN, NUM_CLASSES, weights="both"))


def _mlp(s: _Sites) -> Layer:
    return Sequential(
        *s.input(),
        *s.dense(SEQ_LEN, 100, act="relu", site="hidden", weights="none"),
        Residual(*s.dense(100, 100, act="relu", site="hidden")),
        *s.dropout("head"), *s.dense(100, NUM_CLASSES, weights="both"),
    )


def _selu_mlp(s: _Sites) -> Layer:
    lecun = "lecun_normal"
    return Sequential(
        *s.input(),
        *s.dense(SEQ_LEN, 100, act="selu", site="hidden", weights="none", init=lecun),
        *s.dense(100, 100, act="selu", site="both", init=lecun),
        *s.dense(100, NUM_CLASSES, weights="both", init=lecun),
    )


def _cnn(s: _Sites) -> Layer:
    return Sequential(
        Reshape(1, SEQ_LEN), *s.input(),
        *s.conv(1, 25, 5, weights="none"), *s.conv(25, 25, 3), *s.conv(25, 25, 3, site="both"),
        Flatten(), *s.dense(125, NUM_CLASSES, weights="both"),
    )


def _recurrent(cell):
    def build(s: _Sites) -> Layer:
        var = s.variant == "variational" and s.p > 0
        rec_p = s.p if (var and not s.head_only) else 0.0
        rec = cell(1, 6, bidirectional=True, rng=s.rng, dtype=s.dtype, recurrent_dropout=rec_p,
                   backend=s.backend, seed=s.seed() if rec_p > 0 else None)
        if var:
            out_drop = [VariationalDropout(s.p, seed=s.seed(), backend=s.backend)]
        else:
            out_drop = s.dropout("both")
        return Sequential(Reshape(SEQ_LEN, 1), *s.input(), rec, *out_drop,
                          Flatten(), *s.dense(SEQ_LEN * 2 * 6, NUM_CLASSES, weights="both"))

    return build


BUILDERS = {"linear": _linear, "mlp": _mlp, "selu_mlp": _selu_mlp, "cnn": _cnn,
            "gru": _recurrent(GRU), "lstm": _recurrent(LSTM)}


def build_model(
    name: str,
    *,
    dropout: float = 0.0,
    input_dropout: float = 0.0,
    variant: str = "inverted",
    dropout_at: str = "hidden",
    seed: int = 0,
    backend: str = "auto",
    dtype="float32",
    store_mask: bool = True,
    fused: bool = True,
) -> Model:
    """One of MODELS with dropout rate `dropout` at its hidden sites, or (dropout_at="head")
    only at the classifier's input (see the module doc)."""
    check_options(name, variant, dropout_at, input_dropout)
    sites = _Sites(dropout=dropout, input_dropout=input_dropout, variant=variant,
                   dropout_at=dropout_at, seed=seed, backend=backend, dtype=dtype,
                   store_mask=store_mask, fused=fused)
    return Model(name, BUILDERS[name](sites), sites.dtype)
