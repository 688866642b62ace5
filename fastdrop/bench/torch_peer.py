"""PyTorch beside fastdrop in the harness: the trainer's peer networks in PyTorch
(torch_model: the same layers and dropout sites as fastdrop.nn.models) and T2-torch, the
cost of dropout inside a PyTorch training step with torch.nn.Dropout and with
fastdrop.torch.Dropout, the three arms (p = 0, torch's, fastdrop's) interleaved in one
process (train_timing.interleave). Imports torch only when called: PyTorch stays an
optional extra (the harness plans T2-torch only where it is installed).
"""

from __future__ import annotations

import copy
import time

from ..train.config import TrainConfig
from ..train.data import load_mnist1d
from ..train.threads import set_threads
from ..train.trainer import Batches
from .train_timing import interleave

ARMS = ("0", "torch", "fastdrop.torch")  # p = 0; torch.nn.Dropout; fastdrop.torch.Dropout
PAIRS = (("torch", "0"), ("fastdrop.torch", "0"), ("fastdrop.torch", "torch"))


def torch_model(torch, name: str, p: float, variant: str, dropout=None):
    """The same networks as fastdrop.nn.models, in PyTorch, with dropout at the same sites
    (inverted: F.dropout; spatial: F.dropout1d on conv maps; alpha: F.alpha_dropout).

    dropout: a module that takes the inverted sites' place (torch.nn.Dropout(p), or
    fastdrop.torch.Dropout(p)); it becomes the model's submodule `dropout`, so train() /
    eval() and the state dict reach it. One module serves every site: each call draws a
    fresh mask."""
    nn, F = torch.nn, torch.nn.functional

    def drop(h, training):
        if p == 0:
            return h
        if variant == "spatial" and h.dim() == 3:
            return F.dropout1d(h, p, training)
        if variant == "alpha":
            return F.alpha_dropout(h, p, training)
        if dropout is not None:
            return dropout(h)  # the module follows the model's training flag
        return F.dropout(h, p, training)

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(40, 10)

        def forward(self, x):
            return self.fc(drop(x, self.training))

    class MLP(nn.Module):  # the MNIST-1D reference: h = relu(l1 x); h = h + relu(l2 h)
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.l3 = nn.Linear(40, 100), nn.Linear(100, 100), nn.Linear(100, 10)

        def forward(self, x):
            h = drop(self.l1(x).relu(), self.training)
            h = h + drop(self.l2(h).relu(), self.training)
            return self.l3(h)

    class SeluMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.l3 = nn.Linear(40, 100), nn.Linear(100, 100), nn.Linear(100, 10)

        def forward(self, x):
            h = drop(F.selu(self.l1(x)), self.training)
            h = drop(F.selu(self.l2(h)), self.training)
            return self.l3(h)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(1, 25, 5, stride=2, padding=1)
            self.c2 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.c3 = nn.Conv1d(25, 25, 3, stride=2, padding=1)
            self.fc = nn.Linear(125, 10)

        def forward(self, x):
            h = x.view(-1, 1, 40)
            h = drop(self.c1(h).relu(), self.training)
            h = drop(self.c2(h).relu(), self.training)
            h = drop(self.c3(h).relu(), self.training)
            return self.fc(h.flatten(1))

    class RNN(nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.rnn = cell(1, 6, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(480, 10)

        def forward(self, x):
            out, _ = self.rnn(x.view(x.shape[0], 40, 1))
            return self.fc(drop(out, self.training).flatten(1))

    models = {"linear": Linear, "mlp": MLP, "selu_mlp": SeluMLP, "cnn": CNN,
              "gru": lambda: RNN(nn.GRU), "lstm": lambda: RNN(nn.LSTM)}
    model = models[name]()
    if dropout is not None:
        model.dropout = dropout
    return model


class TorchArm:
    """Blocks of PyTorch training steps (Adam, the same batches) for one model and rate."""

    def __init__(self, torch, data, name, p, variant, batch, lr, seed, dropout=None):
        torch.manual_seed(seed)
        self.torch = torch
        self.model = torch_model(torch, name, p, variant, dropout)
        self.model.train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss = torch.nn.CrossEntropyLoss()
        self.batches = Batches(data.x_train, data.y_train, batch, seed)
        self.step()  # warm-up, and the optimizer's state exists from here on
        # every block starts from this state, as fastdrop's TrainArm does
        self._start = (copy.deepcopy(self.model.state_dict()),
                       copy.deepcopy(self.opt.state_dict()), self.batches.order.copy(),
                       self.batches.pos, self.batches.rng.bit_generator.state)

    def _restore(self):
        model, opt, order, pos, rng = self._start
        self.model.load_state_dict(model)
        self.opt.load_state_dict(copy.deepcopy(opt))
        self.batches.order, self.batches.pos = order.copy(), pos
        self.batches.rng.bit_generator.state = rng

    def step(self):
        xb, yb = self.batches.next()
        loss = self.loss(self.model(self.torch.from_numpy(xb)), self.torch.from_numpy(yb))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss

    def block(self, k):
        self._restore()
        c, t = time.thread_time(), time.perf_counter()
        for _ in range(k):
            self.step()
        return time.perf_counter() - t, time.thread_time() - c

    def saved_bytes(self) -> dict:
        """Bytes autograd saves for backward in one step: bool tensors (dropout masks) and
        all tensors."""
        out = {"mask": 0, "saved": 0}

        def pack(t):
            out["saved"] += t.nelement() * t.element_size()
            if t.dtype == self.torch.bool:
                out["mask"] += t.nelement() * t.element_size()
            return t

        with self.torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            self.step()
        return out


def torch_cost_task(payload: dict) -> dict:
    """T2-torch: PyTorch's training step of the config's model (Adam, its batch size and
    learning rate, one thread) at p = 0, with torch.nn.Dropout(p) and with
    fastdrop.torch.Dropout(p) at every element dropout site; the three arms interleaved in
    this process (ABBA rounds until the ratios' 95% CI is within the profile's goal),
    CPU time of this thread. The ratios are per round, so they pair the arms in time."""
    import torch

    from ..torch import Dropout

    cfg = TrainConfig.from_dict(payload["config"])
    set_threads(1)
    torch.set_num_threads(1)
    data = load_mnist1d(cfg.train_size, cfg.effective_val_size, seed=cfg.data_seed,
                        cache=cfg.cache_dir)
    p, seed = cfg.dropout, cfg.seed
    common = (data, cfg.model, cfg.batch_size, cfg.lr, seed)
    layers = {"0": None, "torch": torch.nn.Dropout(p), "fastdrop.torch": Dropout(p, seed=seed)}
    arms = {name: _arm(torch, name, p, layers[name], *common) for name in ARMS}
    res = interleave(arms, list(PAIRS), **payload.get("interleave", {}))
    return {**res, "torch": torch.__version__}


def _arm(torch, name, p, layer, data, model, batch, lr, seed):
    if name == "0":
        return TorchArm(torch, data, model, 0.0, "inverted", batch, lr, seed)
    return TorchArm(torch, data, model, p, "inverted", batch, lr, seed, dropout=layer)
