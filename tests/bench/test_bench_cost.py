"""T2's cost measurement: arms interleaved in one process, the ratio's CI, the floor, and
the record and table it becomes. Small blocks and few rounds: behaviour, not speed."""

from __future__ import annotations

import pytest

from fastdrop.bench import tasks
from fastdrop.bench.train_timing import interleave, site_shapes
from fastdrop.results import records, tables


class FakeArm:
    """block(k) -> (wall, cpu) of k steps at a fixed cost per step."""

    def __init__(self, per_step):
        self.per_step, self.calls = per_step, []

    def block(self, k):
        self.calls.append(k)
        return k * self.per_step, k * self.per_step


def test_interleave_ratios_floor_and_alternating_order():
    arms = {"a": FakeArm(3e-3), "b": FakeArm(2e-3), "f": FakeArm(5e-4)}
    res = interleave(arms, [("a", "b")], floors={"a": ("b", "f")}, block_s=0.01,
                     min_rounds=4, max_rounds=6)
    r = res["ratios"]["a / b"]
    assert r["cpu"]["mean"] == pytest.approx(1.5) and r["cpu"]["ci"] == pytest.approx(0)
    assert res["rounds"] == 4  # CI 0 <= 3 pp: stops at min_rounds
    assert res["over_floor"]["a"]["cpu"]["mean"] == pytest.approx(2.0)  # 1 ms over 0.5 ms
    assert res["block_steps"]["a"] == 3 and res["block_steps"]["f"] == 20


def test_site_shapes_are_the_dropout_inputs():
    cfg = {"model": "cnn", "dropout": 0.3, "variant": "inverted", "seed": 0}
    shapes = [s[0] for s in site_shapes(cfg, 7)]
    assert shapes == [(7, 25, 19), (7, 25, 10), (7, 25, 5)]
    assert site_shapes({**cfg, "dropout": 0.0}, 7) == []


def test_cost_task_record_and_table(cost_payload):
    payload = cost_payload
    cfg = payload["config"]
    out = tasks.cost_task(payload)
    assert set(out["arms"]) == {"p", "0", "floor"} and 2 <= out["rounds"] <= 3
    rec = records.record({"id": "cost-x", "kind": "cost", "suites": ["T2"],
                        "payload": payload}, out, 1.0)
    assert rec["metrics"]["cost_ratio"]["mean"] > 0
    spec = {"title": "t", "varies": "", "measures": "", "rows": ["model"],
            "metrics": ["cost_ratio", "over_floor"],
            "points": [{"labels": {"model": "mlp"}, "config": cfg, "runs": [],
                        "timing": None, "cost": "cost-x"}]}
    row = tables.build_table(spec, {"cost-x": rec})["rows"][0]
    assert row["values"]["cost_ratio"] == rec["metrics"]["cost_ratio"]
    assert row["values"]["over_floor"]["n"] == out["rounds"]


def test_grid_plans_a_cost_task_per_t2_rate_above_zero():
    from fastdrop.bench import grid
    from fastdrop.bench import suites as S

    p = grid.build(S.PROFILES["quick"], ["T2"])
    by_id = {t["id"]: t for t in p["tasks"]}
    for pt in p["suites"]["T2"]["points"]:
        if pt["labels"]["dropout"] == 0:
            assert pt["cost"] is None
        else:
            task = by_id[pt["cost"]]
            assert task["kind"] == "cost" and task["payload"]["config"]["threads"] == 1
            assert task["payload"]["interleave"] == S.PROFILES["quick"].cost_args
