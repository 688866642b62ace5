"""The experiment grid `make bench` runs, table by table (the data is
fastdrop/bench/suites.py, so the installed `fastdrop bench` has it too):

    python bench/show_grid.py            # the quick profile
    python bench/show_grid.py --full     # the full one
"""

import sys

from fastdrop.bench import grid
from fastdrop.bench import suites as S


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


if __name__ == "__main__":
    main(sys.argv[1:])
