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
P = 0.3  # the "with dropout" rate of T3, T4, T5, T6 and T8 (one of RATES: shared tasks)
ALPHA_P = 0.1  # alpha dropout's rate (Klambauer et al. recommend 0.05-0.1)
RECURRENT_P = 0.2  # variational dropout of T6's GRU and LSTM (the trainer's measured setting)
MAX_NORM = 2.0  # max-norm c for T5 (each unit's incoming weight vector)
L1, L2, WD = 1e-4, 1e-3, 0.05  # T5 penalty strengths (WD: AdamW's decoupled decay)
PATIENCE = 5  # early stopping, in evaluations


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    seeds: int  # seeds 0 .. seeds-1 per grid point
    steps: int  # optimizer steps per training run
    eval_every: int  # evaluation interval (the resolution of steps-to-target)
    kernel_args: tuple[str, ...]  # pyperf options of the kernel suite
    timing_args: tuple[str, ...]  # pyperf options of the training-step timings


PROFILES = {
    # every table in minutes: 3 seeds, runs cut to half (the models without dropout have
    # converged by then, and the CNN at p = 0.3 reaches 88.4 +- 4.1% of the 89.3% it has at
    # 6000 steps; at 2000 steps it had 86.0 +- 1.8%). pyperf runs each
    # timing in one process (--in-process: calibration, 1 warm-up and 3 values there), not
    # in two fresh worker processes per benchmark, whose start-up (imports, JIT cache, data)
    # cost more than the timing itself.
    "quick": Profile("quick", seeds=3, steps=3000, eval_every=100,
                     kernel_args=("--in-process", "--processes", "1", "--values", "3",
                                  "--warmups", "1", "--min-time", "0.05"),
                     timing_args=("--in-process", "--processes", "1", "--values", "3",
                                  "--warmups", "1", "--min-time", "0.1")),
    # the size for publishing: the MNIST-1D reference's 6000 steps, 5 seeds, pyperf's
    # default number of processes for the kernels
    "full": Profile("full", seeds=5, steps=6000, eval_every=100, kernel_args=(),
                    timing_args=("--processes", "6", "--values", "3", "--min-time", "0.2")),
}

# Every training task: one thread (the pool gives the parallelism: jobs x threads <= cores),
# and a thread count that does not change with --jobs keeps results reproducible on resume.
TRAIN_BASE = {"threads": 1}


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
    targets: dict = dataclasses.field(default_factory=dict)  # model -> target test acc
    compare: tuple = ()  # paired comparisons: (axis, a, b, metric)


SUITES = (
    Suite("T1", "accuracy vs rate", "p in {0, .1, .2, .3, .5, .7, .9}; MLP and CNN",
          "train and test accuracy, mean and 95% CI over seeds",
          grid=({"model": ["mlp", "cnn"], "dropout": list(RATES)},),
          rows=("model", "dropout"), metrics=("train_accuracy", "test_accuracy")),
    Suite("T2", "training cost vs rate", "the grid of T1",
          "time per step (pyperf), steps and time to a target test accuracy",
          grid=({"model": ["mlp", "cnn"], "dropout": list(RATES)},),
          rows=("model", "dropout"), timing=True, targets={"mlp": 0.60, "cnn": 0.90},
          metrics=("step_time", "steps_to_target", "time_to_target", "reached")),
    Suite("T3", "overfitting", "with / without dropout x training-set size (MLP)",
          "train - test accuracy gap",
          grid=({"train_size": [500, 1000, 4000, 16000], "dropout": [0.0, P]},),
          base={"model": "mlp"}, rows=("train_size", "dropout"),
          metrics=("train_accuracy", "test_accuracy", "gap")),
    Suite("T4", "variants",
          "inverted, standard, gaussian, dropconnect (MLP); spatial (CNN); alpha (SELU MLP)",
          "test accuracy; standard vs inverted agree",
          grid=({"model": ["mlp"], "dropout": [0.0]},
                {"model": ["mlp"], "dropout": [P],
                 "variant": ["inverted", "standard", "gaussian", "dropconnect"]},
                {"model": ["cnn"], "dropout": [0.0]},
                {"model": ["cnn"], "dropout": [P], "variant": ["inverted", "spatial"]},
                {"model": ["selu_mlp"], "dropout": [0.0]},
                {"model": ["selu_mlp"], "dropout": [ALPHA_P], "variant": ["alpha"]}),
          rows=("model", "variant", "dropout"), metrics=("test_accuracy", "gap"),
          compare=(("variant", "standard", "inverted", "test_accuracy"),)),
    Suite("T5", "regularisers", "none, L1, L2, weight decay, max-norm, early stopping, "
          "dropout and two combinations (MLP)", "test accuracy, train - test gap",
          grid=({"regulariser": {
              "none": {},
              "L1": {"l1": L1},
              "L2": {"l2": L2},
              "weight decay": {"optimizer": "adamw", "weight_decay": WD},
              "max-norm": {"max_norm": MAX_NORM},
              "early stopping": {"early_stopping": PATIENCE},
              "dropout": {"dropout": P},
              "dropout+max-norm": {"dropout": P, "max_norm": MAX_NORM},
              "dropout+L2": {"dropout": P, "l2": L2},
          }},),
          base={"model": "mlp"}, rows=("regulariser",),
          metrics=("test_accuracy", "train_accuracy", "gap")),
    Suite("T6", "architectures", "linear, MLP, CNN, GRU, LSTM with and without dropout "
          "(p 0.3; variational p 0.2 for the recurrent ones)", "test accuracy, time per step",
          grid=({"model": ["linear", "mlp", "cnn"], "dropout": [0.0, P]},
                {"model": ["gru", "lstm"], "dropout": [0.0], "eval_every": [500]},
                {"model": ["gru", "lstm"], "dropout": [RECURRENT_P], "variant": ["variational"],
                 "eval_every": [500]}),
          rows=("model", "dropout", "variant"), timing=True,
          metrics=("test_accuracy", "train_accuracy", "step_time", "parameters")),
    Suite("T7", "parameters vs active units", "p (MLP and CNN)",
          "parameter count (constant); expected active units (1 - p) n and the count "
          "measured in one training-mode forward pass over the test set",
          grid=({"model": ["mlp", "cnn"], "dropout": list(RATES)},), kind="probe",
          rows=("model", "dropout"),
          metrics=("parameters", "units", "expected_active", "active_units")),
    Suite("T8", "Monte Carlo dropout", "T in {1, 10, 50} samples vs dropout off at "
          "inference (MLP, p = 0.3)", "test accuracy, NLL, expected calibration error",
          grid=({"mc_samples": [1, 10, 50]},), base={"model": "mlp", "dropout": P},
          rows=("mc_samples",),
          metrics=("mc_accuracy", "mc_nll", "mc_ece", "test_accuracy", "test_loss",
                   "test_ece")),
)

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
