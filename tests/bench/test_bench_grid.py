"""The declarative grid (fastdrop.bench.suites; fastdrop.bench.grid) and the plan built from it."""

import dataclasses

import pytest

from fastdrop.bench import grid as planner
from fastdrop.bench import suites as S


@pytest.mark.parametrize("profile", sorted(S.PROFILES))
def test_every_suite_plans_and_validates(profile):
    """Every config of every table is a valid TrainConfig, in both profiles."""
    prof = S.PROFILES[profile]
    p = planner.build(prof, S.SUITE_NAMES, kernels={"sizes": [16], "rates": [0.5],
                                                    "torch": False})
    assert list(p["suites"]) == list(S.SUITE_NAMES)
    ids = [t["id"] for t in p["tasks"]]
    assert len(ids) == len(set(ids))
    for name in S.TRAIN_SUITES:
        spec = p["suites"][name]
        assert spec["points"], name
        for point in spec["points"]:
            assert len(point["runs"]) == prof.seeds
            assert set(point["labels"]) == set(spec["rows"])
    train = [t for t in p["tasks"] if t["kind"] == "train"]
    assert all(t["payload"]["config"]["threads"] == 1 for t in train)
    # T3 trains every size for the same number of epochs; everything else for the
    # profile's steps
    t3 = [t for t in train if t["suites"] == ["T3"]]
    assert {t["payload"]["config"]["steps"] for t in train if t not in t3} == {prof.steps}
    for t in t3:
        cfg = t["payload"]["config"]
        assert cfg["steps"] * cfg["batch_size"] / cfg["train_size"] == pytest.approx(
            prof.steps * cfg["batch_size"] / S.DEFAULT_SIZE, rel=1e-3)
    assert all(t["payload"]["config"]["val_size"] == S.VAL_SIZE for t in train)
    assert {t["payload"]["config"]["seed"] for t in train} == set(range(prof.seeds))


def test_tables_share_tasks():
    """T2 times T1's grid (every hidden layer) and reads T1's runs; T5's 'none' is T1's MLP
    at p = 0 and T5's dropout arms are T1's MLP at those rates."""
    p = planner.build(S.PROFILES["quick"], ["T1", "T2", "T5"])
    by_id = {t["id"]: t for t in p["tasks"]}
    t1 = {(pt["labels"]["model"], pt["labels"]["dropout"]): pt
          for pt in p["suites"]["T1"]["points"] if pt["labels"]["dropout_at"] != "head"}
    t2 = {tuple(pt["labels"].values()): pt for pt in p["suites"]["T2"]["points"]}
    assert t1.keys() == t2.keys()
    for key, pt in t1.items():
        assert pt["runs"] == t2[key]["runs"]
        in_t5 = key[0] == "mlp" and (key[1] == 0.0 or key[1] in S.TUNE)
        assert all(by_id[r]["suites"] == ["T1", "T2", *(["T5"] if in_t5 else [])]
                   for r in pt["runs"])
        assert t2[key]["timing"] and by_id[t2[key]["timing"]]["kind"] == "timing"
    t5 = p["suites"]["T5"]["points"]
    none = next(pt for pt in t5 if pt["labels"]["regulariser"] == "none")
    assert none["runs"] == t1[("mlp", 0.0)]["runs"]
    # the same tuning budget for every regulariser
    counts = {}
    for pt in t5:
        counts[pt["labels"]["regulariser"]] = counts.get(pt["labels"]["regulariser"], 0) + 1
    assert counts.pop("none") == 1 and set(counts.values()) == {4}
    wd = [pt for pt in t5 if pt["labels"]["regulariser"] == "weight decay"]
    assert all(pt["config"]["optimizer"] == "adamw" and pt["config"]["weight_decay"] > 0
               for pt in wd)
    heads = [pt for pt in p["suites"]["T1"]["points"] if pt["labels"]["dropout_at"] == "head"]
    assert heads and all(pt["config"]["model"] == "cnn" and pt["labels"]["dropout"] > 0
                         for pt in heads)


def test_named_axes_blocks_and_labels():
    s = S.Suite("TX", "t", "v", "m", rows=("reg", "model"), metrics=("test_accuracy",),
                base={"train_size": 100},
                grid=({"model": ["mlp", "cnn"], "reg": {"none": {}, "L2": {"l2": 0.1}}},
                      {"model": ["mlp"], "reg": {"none": {}}}))  # a duplicate point
    points = S.expand(s)
    assert [(pt.labels["model"], pt.labels["reg"]) for pt in points] == [
        ("mlp", "none"), ("mlp", "L2"), ("cnn", "none"), ("cnn", "L2")]
    assert points[1].overrides == {"train_size": 100, "model": "mlp", "l2": 0.1}
    prof = dataclasses.replace(S.PROFILES["quick"], seeds=2)
    p = planner.build(prof, ["TX"], catalog=[s])
    assert len(p["tasks"]) == 8


def test_variant_label_without_dropout_and_timing_names():
    p = planner.build(S.PROFILES["quick"], ["T6"])
    labels = [pt["labels"] for pt in p["suites"]["T6"]["points"]]
    assert {"model": "gru", "dropout_at": "hidden", "dropout": 0.2,
            "variant": "variational"} in labels
    assert all(lab["variant"] == lab["dropout_at"] == "none" for lab in labels
               if lab["dropout"] == 0)
    names = [t["payload"]["name"] for t in p["tasks"] if t["kind"] == "timing"]
    assert len(names) == len(set(names)) == len(labels)
    assert "train step gru p=0.2 variational" in names


def test_ids_are_stable_and_depend_on_the_payload():
    a = planner.task_id("train", {"config": {"model": "mlp", "seed": 1}})
    assert a == planner.task_id("train", {"config": {"seed": 1, "model": "mlp"}})
    assert a != planner.task_id("train", {"config": {"model": "mlp", "seed": 2}})
    assert a.startswith("train-mlp-")


def test_bad_grid_fails_at_plan_time():
    bad = S.Suite("TB", "t", "v", "m", grid=({"model": ["nope"]},), rows=("model",),
                  metrics=("test_accuracy",))
    with pytest.raises(ValueError, match="model must be one of"):
        planner.build(S.PROFILES["quick"], ["TB"], catalog=[bad])
    with pytest.raises(ValueError, match="no suite"):
        planner.build(S.PROFILES["quick"], ["T9"])
