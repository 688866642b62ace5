"""The experiment grid `fastdrop bench` runs, as data: one Suite per table.

A suite's `grid` is a list of blocks; a block maps an axis to its values and expands to
the product of its axes. An axis is a TrainConfig field (a list of values) or a named
axis (a dict of label -> config overrides, e.g. the regularisers of T5). Every point is
trained once per seed of the profile (or probed / timed, by the suite's kind), on top of
the profile's and the suite's base config. The same config in two suites is one task:
T2 reads T1's training runs, T5's "none" is T1's MLP at p = 0, and so on.

`rows` names the axes a table is grouped by (one row per value combination, the seeds
pooled); `metrics` names the columns (see fastdrop.results.tables for each one's meaning).
"""

from __future__ import annotations

import dataclasses
import itertools

RATES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)  # T1, T2, T7
TUNE = (0.1, 0.2, 0.3, 0.5)  # the rates a "with dropout" arm is chosen from on validation
P = 0.3  # T8's rate (one of RATES and TUNE: shared tasks)
CNN_MC_P = 0.1  # T8's CNN: dropout before the classifier (T1: the CNN's best placement)
ALPHA_RATES = (0.05, 0.1, 0.2)  # alpha vs inverted on the SELU MLP (Klambauer: 0.05-0.1)
RECURRENT_RATES = (0.1, 0.2, 0.3)  # variational dropout of T6's GRU and LSTM
SIZES = (500, 1000, 4000, 16000)  # T3's training-set sizes
DEFAULT_SIZE = 4000  # TrainConfig's train_size: the size the profile's steps are for
MC_SAMPLES = (10, 50, 100)  # T8: Monte Carlo samples at inference
# T5: every regulariser gets the same tuning budget, four strengths, chosen on validation
STRENGTHS = {
    "dropout": ("dropout", TUNE),
    "L1": ("l1", (1e-5, 3e-5, 1e-4, 3e-4)),
    "L2": ("l2", (1e-4, 3e-4, 1e-3, 3e-3)),
    "weight decay": ("weight_decay", (0.01, 0.03, 0.1, 0.3)),  # AdamW, decoupled
    "max-norm": ("max_norm", (1.0, 2.0, 3.0, 4.0)),  # each unit's incoming weight vector
}
VAL_SIZE = 500  # every run keeps a validation split (the 500 sequences after the
#                 training set: the training data do not change); arms are chosen on it

@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    seeds: int  # seeds 0 .. seeds-1 per grid point
    steps: int  # optimizer steps per training run
    eval_every: int  # evaluation interval (the resolution of steps-to-target)
    kernel_args: tuple[str, ...]  # pyperf options of the kernel suite
    timing_args: tuple[str, ...]  # pyperf options of the training-step timings
    # T2's cost ratio: train_timing.interleave's options (rounds until the CI is +-3 pp)
    cost_args: dict = dataclasses.field(default_factory=dict)


# K1 runs in one process (the ceiling is interleaved with each kernel, call by call) and
# takes the best of many values, as STREAM does: one warm-up, then 15 (quick) or 25 (full)
# values of at least 20 / 50 ms each (docs/HARNESS.md).
K1_QUICK = ("--in-process", "--processes", "1", "--values", "15", "--warmups", "1",
            "--min-time", "0.02")
K1_FULL = ("--in-process", "--processes", "1", "--values", "25", "--warmups", "2",
           "--min-time", "0.05")

PROFILES = {
    # every table in minutes: 3 seeds, runs cut to half. Too few seeds to decide most
    # claims (a 95% CI of about +-3.6 pp on an MLP difference): a smoke test of the
    # whole pipeline and a first look. pyperf runs each timing in one process
    # (--in-process: calibration, 1 warm-up and 3 values there), not in two fresh
    # worker processes per benchmark, whose start-up cost more than the timing itself.
    "quick": Profile("quick", seeds=3, steps=3000, eval_every=100,
                     kernel_args=K1_QUICK,
                     timing_args=("--in-process", "--processes", "1", "--values", "3",
                                  "--warmups", "1", "--min-time", "0.1"),
                     cost_args={"max_s": 20.0}),
    # the profile that decides: 10 seeds (a 95% CI of about +-1 pp on a paired MLP
    # difference), the MNIST-1D reference's 6000 steps; 2 h on 2 cores (docs/HARNESS.md
    # gives the estimate and how it was made)
    "full": Profile("full", seeds=10, steps=6000, eval_every=100,
                    kernel_args=K1_FULL,
                    timing_args=("--processes", "6", "--values", "3", "--min-time", "0.2"),
                    cost_args={"max_s": 120.0}),
}

# Every training task: one thread (the pool gives the parallelism: jobs x threads <= cores),
# and a thread count that does not change with --jobs keeps results reproducible on resume.
TRAIN_BASE = {"threads": 1, "val_size": VAL_SIZE}


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str  # "T1"
    title: str
    varies: str  # what varies (for the report)
    measures: str  # what is measured (for the report)
    grid: tuple  # blocks: dict axis -> list of values, or dict label -> overrides
    rows: tuple[str, ...]  # the axes a row of the table is keyed by
    metrics: tuple[str, ...]  # the table's columns (fastdrop.results.tables.METRICS)
    kind: str = "train"  # "train" (one run per seed) or "probe" (one model, no training)
    base: dict = dataclasses.field(default_factory=dict)  # config shared by every point
    timing: bool = False  # also time a training step of each point with pyperf
    cost: bool = False  # also measure step time at p over p = 0, interleaved (T2)
    targets: dict = dataclasses.field(default_factory=dict)  # model -> target test acc
    compare: tuple = ()  # paired comparisons: (axis, a, b, metric)
    equal_epochs: bool = False  # steps scale with train_size (the profile's steps are
    #                             for DEFAULT_SIZE): every size sees the same epochs


ACCURACY = ("test_accuracy", "val_accuracy", "test_loss", "test_ece", "es_test_accuracy")


TUNED_WITH = {"weight decay": {"optimizer": "adamw"}}  # decoupled decay needs AdamW


def _tuned(name: str) -> dict:
    field, values = STRENGTHS[name]
    return {"regulariser": {name: dict(TUNED_WITH.get(name, {}))},
            "strength": {f"{v:g}": {field: v} for v in values}}


SUITES = (
    Suite("T1", "accuracy vs rate", "p in {0, .1, .2, .3, .5, .7, .9}; MLP; CNN with "
          "dropout after every hidden layer and before the classifier only",
          "train, validation and test accuracy, test NLL and ECE",
          grid=({"model": ["mlp", "cnn"], "dropout": list(RATES)},
                {"model": ["cnn"], "dropout": list(RATES[1:]), "dropout_at": ["head"]}),
          rows=("model", "dropout_at", "dropout"), metrics=("train_accuracy", *ACCURACY)),
    Suite("T2", "training cost vs rate", "the grid of T1 (dropout at every hidden layer)",
          "step time at p over p = 0 (both interleaved in one process, CPU and wall time, "
          "95% CI) and the time dropout adds over its kernels' own work; time per step "
          "(pyperf); steps and time to a target test accuracy (runs that never reach it "
          "counted apart, not as slow)",
          grid=({"model": ["mlp", "cnn"], "dropout": list(RATES)},),
          rows=("model", "dropout"), timing=True, cost=True,
          targets={"mlp": 0.60, "cnn": 0.90},
          metrics=("cost_ratio", "cost_ratio_wall", "over_floor", "step_time",
                   "steps_to_target", "time_to_target", "reached")),
    Suite("T3", "overfitting", "training-set size x p in {0, .1, .3, .5} (MLP), the same "
          "number of epochs at every size", "train and test accuracy, gap, test NLL and ECE",
          grid=({"train_size": list(SIZES), "dropout": [0.0, 0.1, P, 0.5]},),
          base={"model": "mlp"}, rows=("train_size", "dropout"), equal_epochs=True,
          metrics=("train_accuracy", *ACCURACY, "gap")),
    Suite("T4", "variants", "inverted, standard, gaussian, dropconnect (MLP); inverted and "
          "spatial (CNN); inverted and alpha (SELU MLP); each at p in {.1, .2, .3, .5} "
          "(SELU: .05, .1, .2)", "test accuracy; the rate of each chosen on validation",
          grid=({"model": ["mlp", "cnn", "selu_mlp"], "dropout": [0.0]},
                {"model": ["mlp"], "dropout": list(TUNE),
                 "variant": ["inverted", "standard", "gaussian", "dropconnect"]},
                {"model": ["cnn"], "dropout": list(TUNE), "variant": ["inverted", "spatial"]},
                {"model": ["selu_mlp"], "dropout": list(ALPHA_RATES),
                 "variant": ["inverted", "alpha"]}),
          rows=("model", "variant", "dropout"), metrics=(*ACCURACY, "gap"),
          compare=(("variant", "standard", "inverted", "test_accuracy"),)),
    Suite("T5", "regularisers", "none, dropout, L1, L2, weight decay (AdamW), max-norm, "
          "each at four strengths (MLP); early stopping on validation accuracy for each",
          "test accuracy, train - test gap; the strength of each chosen on validation",
          grid=({"regulariser": {"none": {}}, "strength": {"-": {}}},
                *(_tuned(name) for name in STRENGTHS)),
          base={"model": "mlp"}, rows=("regulariser", "strength"),
          metrics=(*ACCURACY, "train_accuracy", "gap")),
    Suite("T6", "architectures", "linear, MLP, CNN (every hidden layer; before the "
          "classifier), GRU and LSTM (variational) at p = 0 and three or four rates",
          "test accuracy, time per step; the rate of each chosen on validation",
          grid=({"model": ["linear", "mlp", "cnn"], "dropout": [0.0, *TUNE]},
                {"model": ["cnn"], "dropout": list(TUNE), "dropout_at": ["head"]},
                {"model": ["gru", "lstm"], "dropout": [0.0], "eval_every": [500]},
                {"model": ["gru", "lstm"], "dropout": list(RECURRENT_RATES),
                 "variant": ["variational"], "eval_every": [500]}),
          rows=("model", "dropout_at", "variant", "dropout"), timing=True,
          metrics=(*ACCURACY, "train_accuracy", "step_time", "parameters")),
    Suite("T7", "parameters vs active units", "p (MLP and CNN)",
          "parameter count (constant); expected active units (1 - p) n and the count "
          "measured in one training-mode forward pass over the test set",
          grid=({"model": ["mlp", "cnn"], "dropout": list(RATES)},), kind="probe",
          rows=("model", "dropout"),
          metrics=("parameters", "units", "expected_active", "active_units")),
    Suite("T8", "Monte Carlo dropout", "T in {10, 50, 100} samples vs dropout off at "
          "inference (MLP p = 0.3; CNN p = 0.1 before the classifier); the same networks",
          "test accuracy, NLL, ECE and AUROC of predictive entropy (right vs wrong)",
          grid=({"model": ["mlp"], "dropout": [P], "mc_samples": list(MC_SAMPLES)},
                {"model": ["cnn"], "dropout": [CNN_MC_P], "dropout_at": ["head"],
                 "mc_samples": list(MC_SAMPLES)}),
          rows=("model", "mc_samples"),
          metrics=("mc_accuracy", "mc_nll", "mc_ece", "mc_auroc", "test_accuracy",
                   "test_loss", "test_ece", "test_auroc")),
)

# T2-torch: T2's question asked of PyTorch, with torch.nn.Dropout and fastdrop.torch.Dropout
# (fastdrop.bench.torch_peer); planned with T2 where torch is installed (not --no-torch)
TORCH_PEER = "T2-torch"
TORCH_PEER_MODELS = ("mlp", "cnn")
TORCH_PEER_RATES = (0.3, 0.5)
TORCH_PEER_SPEC = {
    "kind": "train", "title": "training cost in PyTorch",
    "varies": "p (MLP and CNN in PyTorch eager, dropout at every hidden layer, one thread)",
    "measures": "step time at p over p = 0 with torch.nn.Dropout and with "
                "fastdrop.torch.Dropout, and the one over the other; the three arms "
                "interleaved in one process, CPU time, 95% CI over rounds",
    "rows": ["model", "dropout"],
    "metrics": ["torch_cost_ratio", "fdt_cost_ratio", "fdt_over_torch"],
    "targets": {}, "compare": []}

KERNELS = "K1"  # the kernel suite (fastdrop.bench.kernel_suite), timed by its own pyperf script
SUITE_NAMES = (KERNELS, *(s.name for s in SUITES))
TRAIN_SUITES = tuple(s.name for s in SUITES)


@dataclasses.dataclass
class Point:
    """One grid point: its row labels and the config overrides that make it."""

    labels: dict
    overrides: dict


def expand(s: Suite) -> list[Point]:
    """The suite's grid points, in order, duplicates (the same overrides) removed."""
    points, seen = [], set()
    for block in s.grid:
        axes = list(block.items())
        choices = []
        for axis, values in axes:
            if isinstance(values, dict):  # a named axis: label -> overrides
                choices.append([(axis, label, dict(ov)) for label, ov in values.items()])
            else:  # a config field
                choices.append([(axis, v, {axis: v}) for v in values])
        for combo in itertools.product(*choices):
            labels, overrides = {}, dict(s.base)
            for axis, label, ov in combo:
                labels[axis] = label
                overrides.update(ov)
            key = repr(sorted(overrides.items()))
            if key not in seen:
                seen.add(key)
                points.append(Point(labels, overrides))
    return points
