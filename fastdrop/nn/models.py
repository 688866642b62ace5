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
"""

from __future__ import annotations

import numpy as np

from .layers import (
    GRU,
    LSTM,
    SELU,
    Conv1d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    VariationalDropout,
)

MODELS = ("linear", "mlp", "selu_mlp", "cnn", "gru", "lstm")
VARIANTS = (
    "inverted",
    "standard",
    "spatial",
    "alpha",
    "gaussian",
    "dropconnect",
    "variational",
)
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
) -> Model:
    """One of MODELS with dropout rate `dropout` at its hidden sites, or (dropout_at="head")
    only at the classifier's input (see the module doc)."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; got {name!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    if dropout_at not in DROPOUT_AT:
        raise ValueError(
            f"dropout_at must be one of {', '.join(DROPOUT_AT)}; got {dropout_at!r}"
        )
    if variant == "variational" and name not in RECURRENT:
        raise ValueError(
            f"the variational variant is recurrent dropout: use it with model "
            f"{' or '.join(RECURRENT)}, not {name!r}"
        )
    if name == "linear" and input_dropout:
        raise ValueError(
            "the linear model's only dropout site is its input: set dropout, not input_dropout"
        )
    dt = np.dtype(dtype)
    rng = np.random.default_rng(derive_seed(seed, STREAM_INIT))
    site_ids = iter(range(1 << 30))
    head_only = dropout_at == "head"

    def site_seed():
        return derive_seed(seed, STREAM_TRAIN, next(site_ids))

    dc = variant == "dropconnect"
    element = variant if variant in ("inverted", "standard", "spatial", "alpha",
                                     "gaussian") else "inverted"

    def drop(site="hidden", v=None):
        """A Dropout site: site "hidden" is used when dropout_at is hidden, "head" when it
        is head, "both" always. Nothing when p = 0 or the variant acts on weights."""
        used = site == "both" or (site == "head") == head_only
        if dropout <= 0 or dc or not used:
            return []
        return [Dropout(dropout, v or element, seed=site_seed(), backend=backend,
                        store_mask=store_mask)]

    def in_drop():
        # element dropout on the input; spatial would drop the one input channel whole
        v = element if element != "spatial" else "inverted"
        if input_dropout <= 0:
            return []
        return [Dropout(input_dropout, v, seed=site_seed(), backend=backend,
                        store_mask=store_mask)]

    def weight_p(site):
        used = site == "both" or (site == "head") == head_only
        return dropout if (dc and used and site != "none") else 0.0

    def linear(n_in, n_out, site="hidden", **kw):
        p = weight_p(site)
        return Linear(n_in, n_out, rng=rng, dtype=dt, dropconnect=p,
                      seed=site_seed() if p > 0 else None, backend=backend,
                      store_mask=store_mask, **kw)

    def conv(c_in, c_out, k, site="hidden"):
        p = weight_p(site)
        return Conv1d(c_in, c_out, k, stride=2, padding=1, rng=rng, dtype=dt, dropconnect=p,
                      seed=site_seed() if p > 0 else None, backend=backend,
                      store_mask=store_mask)

    if name == "linear":
        v = element if element != "spatial" else "inverted"
        root = Sequential(*drop("both", v), linear(SEQ_LEN, NUM_CLASSES, "both"))
    elif name == "mlp":
        root = Sequential(
            *in_drop(),
            linear(SEQ_LEN, 100, "none"), ReLU(), *drop(),
            Residual(linear(100, 100), ReLU(), *drop()),
            *drop("head"), linear(100, NUM_CLASSES, "both"),
        )
    elif name == "selu_mlp":
        lecun = {"init": "lecun_normal"}
        root = Sequential(
            *in_drop(),
            linear(SEQ_LEN, 100, "none", **lecun), SELU(), *drop(),
            linear(100, 100, **lecun), SELU(), *drop("both"),
            linear(100, NUM_CLASSES, "both", **lecun),
        )
    elif name == "cnn":
        root = Sequential(
            Reshape(1, SEQ_LEN), *in_drop(),
            conv(1, 25, 5, "none"), ReLU(), *drop(),
            conv(25, 25, 3), ReLU(), *drop(),
            conv(25, 25, 3), ReLU(), *drop("both"),
            Flatten(), linear(125, NUM_CLASSES, "both"),
        )
    else:  # gru, lstm
        cell = GRU if name == "gru" else LSTM
        var = variant == "variational" and dropout > 0
        rec_p = dropout if (var and not head_only) else 0.0
        rec = cell(1, 6, bidirectional=True, rng=rng, dtype=dt, recurrent_dropout=rec_p,
                   backend=backend, seed=site_seed() if rec_p > 0 else None)
        if var:
            out_drop = [VariationalDropout(dropout, seed=site_seed(), backend=backend)]
        else:
            out_drop = drop("both")
        root = Sequential(
            Reshape(SEQ_LEN, 1), *in_drop(), rec, *out_drop,
            Flatten(), linear(SEQ_LEN * 2 * 6, NUM_CLASSES, "both"),
        )
    return Model(name, root, dt)
