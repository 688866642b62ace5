"""The experiment grid `make bench` runs, table by table (the data is
fastdrop/bench/suites.py, so the installed `fastdrop bench` has it too):

    python bench/show_grid.py            # the quick profile
    python bench/show_grid.py --full     # the full one
    python bench/show_grid.py --full --estimate   # and how long it takes (see COSTS)
"""

import sys

from fastdrop.bench import grid
from fastdrop.bench import suites as S

# Measured CPU seconds (time.thread_time) of one 6000-step training task with its
# evaluations (every 100 steps on train, test and the 500-sequence validation split), one
# thread, after a warm-up task in the same process: fastdrop.bench.tasks.train_task on the
# full plan's seed-0 payloads, 2026-12-03, the 2-core machine loaded by other work (so
# these are upper bounds). MC: the extra seconds per Monte Carlo sample at inference.
COSTS = {"linear": 0.33, "mlp": 2.1, "selu_mlp": 2.6, "cnn": 9.7, "gru": 24.1,
         "lstm": 27.1}
VARIANT_FACTOR = {"gaussian": 6.7 / 2.1, "dropconnect": 1.5}  # gaussian measured; dropconnect
#                                  from the quick sample's task times (1.5 s vs 1.0 s)
MC_PER_SAMPLE = {"mlp": (7.21 - 2.1) / 100, "cnn": 0.1}
# one pyperf timing task: quick, the sample's 4-7 s in-process; full, extrapolated to
# calibration + 6 worker processes of about 4 s each
TIMING_S = {"quick": 5.0, "full": 28.0}
# K1: quick, measured: 499 s for its 318 benchmarks (159 cases, each with its ceiling) on
# the quiet machine, 2026-12-03; full, extrapolated (not measured): about twice that (27
# values of at least 50 ms per case against 16 of at least 20 ms)
KERNELS_S = {"quick": 499.0, "full": 1000.0}
# one T2 cost task (interleaved ratio): quick, measured 1-2 s each (12 tasks in 23 s, quiet
# machine); full, extrapolated: rounds until +-3 pp, at most its 120 s budget
COST_S = {"quick": 2.0, "full": 20.0}
CORES = 2


def estimate(plan: dict, profile) -> dict:
    """Seconds of each phase: K1 and the timings one at a time, training on CORES jobs."""
    train = 0.0
    timing = cost = 0
    for t in plan["tasks"]:
        cfg = t["payload"]["config"]
        if t["kind"] == "timing":
            timing += 1
        elif t["kind"] == "cost":
            cost += 1
        elif t["kind"] == "train":
            base = COSTS[cfg["model"]] * VARIANT_FACTOR.get(cfg["variant"], 1.0)
            train += base * cfg["steps"] / 6000
            train += MC_PER_SAMPLE.get(cfg["model"], 0.1) * cfg["mc_samples"]
    out = {"kernels": KERNELS_S[profile.name],
           "timing": timing * TIMING_S[profile.name] + cost * COST_S[profile.name],
           "training": train / CORES}
    out["total"] = sum(out.values())
    return out


def main(argv) -> None:
    profile = S.PROFILES["full" if "--full" in argv else "quick"]
    plan = grid.build(profile, S.TRAIN_SUITES)
    print(f"profile {profile.name}: {profile.seeds} seeds, {profile.steps} steps, evaluation "
          f"every {profile.eval_every} steps")
    for name, spec in plan["suites"].items():
        runs = sum(len(p["runs"]) for p in spec["points"])
        timed = sum(bool(p["timing"]) for p in spec["points"])
        print(f"\n{name} {spec['title']}: {len(spec['points'])} points, {runs} runs"
              + (f", {timed} timed" if timed else "") + f"; rows by {', '.join(spec['rows'])}")
        for p in spec["points"]:
            print("   ", ", ".join(f"{k}={v}" for k, v in p["labels"].items()))
    kinds = {}
    for t in plan["tasks"]:
        kinds[t["kind"]] = kinds.get(t["kind"], 0) + 1
    print(f"\n{len(plan['tasks'])} distinct tasks (tables share the same configs): "
          + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    if "--estimate" in argv:
        est = estimate(plan, profile)
        print("estimate: " + ", ".join(f"{k} {v / 60:.0f} min" for k, v in est.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
