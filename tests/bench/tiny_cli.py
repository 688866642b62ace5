"""A tiny grid for the harness tests, and `fastdrop` run on it:

    python tests/bench/tiny_cli.py bench train --out DIR        (FASTDROP_CACHE: the data)

The suites and the profile are the real ones' shape, shrunk: a few points, 2 seeds,
TINY_STEPS steps (default 30) on 200 training sequences, so a whole run takes seconds.
"""

import os
import sys

from fastdrop.bench import suites as S

STEPS = int(os.environ.get("TINY_STEPS", "30"))
TINY = S.Profile("tiny", seeds=2, steps=STEPS, eval_every=10,
                 kernel_args=("--processes", "1", "--values", "1", "--warmups", "0",
                              "--loops", "4"),
                 timing_args=("--processes", "1", "--values", "1", "--warmups", "0",
                              "--loops", "2"))
SMALL = {"train_size": 200}

CATALOG = (
    S.Suite("TA", "accuracy", "p", "accuracy", grid=({"model": ["mlp"], "dropout": [0.0, 0.5]},),
            base=SMALL, rows=("model", "dropout"), targets={"mlp": 0.15},
            metrics=("train_accuracy", "test_accuracy", "gap", "steps_to_target", "reached")),
    S.Suite("TV", "variants", "variant", "agreement", base={**SMALL, "dropout": 0.5},
            grid=({"variant": ["inverted", "standard"]},), rows=("variant",),
            metrics=("test_accuracy",), compare=(("variant", "standard", "inverted",
                                                  "test_accuracy"),)),
    S.Suite("TF", "diverging", "lr", "a failure", grid=({"model": ["mlp"]},),
            base={**SMALL, "lr": 1e6, "optimizer": "sgd"}, rows=("model",),
            metrics=("test_accuracy",)),
    S.Suite("TP", "probe", "p", "units", grid=({"model": ["mlp"], "dropout": [0.0, 0.5]},),
            kind="probe", base=SMALL, rows=("model", "dropout"),
            metrics=("parameters", "units", "expected_active", "active_units")),
    S.Suite("TM", "mc", "T", "mc", grid=({"mc_samples": [3]},), base={**SMALL, "dropout": 0.5},
            rows=("mc_samples",), metrics=("mc_accuracy", "mc_nll", "test_accuracy")),
)
TIMED = S.Suite("TT", "timing", "p", "time", grid=({"model": ["mlp"], "dropout": [0.5]},),
                base=SMALL, rows=("model",), timing=True, metrics=("step_time",))


def install(catalog=CATALOG):
    """Make the CLI plan this grid under --quick."""
    S.SUITES = catalog
    S.TRAIN_SUITES = tuple(s.name for s in catalog)
    S.SUITE_NAMES = (S.KERNELS, *S.TRAIN_SUITES)
    S.PROFILES["quick"] = TINY


if __name__ == "__main__":
    install()
    from fastdrop.cli import main

    sys.exit(main(sys.argv[1:]))
