"""T2-torch: the cost of dropout inside a PyTorch training step, torch.nn.Dropout against
fastdrop.torch.Dropout, planned beside T2 and run by the harness's torch_cost task. Small
blocks and few rounds: behaviour, not speed."""

from __future__ import annotations

import pytest

from fastdrop.bench import grid
from fastdrop.bench import suites as S
from fastdrop.report.format import table_order, views
from fastdrop.results import records, tables

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
from fastdrop.bench import torch_peer  # noqa: E402


def test_t2_brings_t2_torch_only_with_torch():
    with_torch = grid.build(S.PROFILES["quick"], ["T2"], torch=True)
    without = grid.build(S.PROFILES["quick"], ["T2"])
    assert S.TORCH_PEER not in without["suites"]
    assert not [t for t in without["tasks"] if t["kind"] == "torch_cost"]
    spec = with_torch["suites"][S.TORCH_PEER]
    peer = [t for t in with_torch["tasks"] if t["kind"] == "torch_cost"]
    assert len(peer) == len(spec["points"]) == len(S.TORCH_PEER_MODELS) * len(
        S.TORCH_PEER_RATES)
    assert {(p["labels"]["model"], p["labels"]["dropout"]) for p in spec["points"]} == {
        (m, r) for m in S.TORCH_PEER_MODELS for r in S.TORCH_PEER_RATES}
    assert all(t["suites"] == [S.TORCH_PEER] for t in peer)
    assert grid.build(S.PROFILES["quick"], ["T1"], torch=True)["suites"].keys() == {"T1"}


def test_table_order_puts_t2_torch_after_t2():
    assert table_order(["T3", "K1", "T2-torch", "T10", "T2", "T1"]) == [
        "T1", "T2", "T2-torch", "T3", "T10", "K1"]


def test_model_takes_the_dropout_module_at_every_site():
    from fastdrop.torch import Dropout

    layer = Dropout(0.3, seed=1)
    model = torch_peer.torch_model(torch, "cnn", 0.3, "inverted", layer)
    assert model.dropout is layer  # a submodule: train()/eval() and the state dict reach it
    assert "dropout.offset" in model.state_dict()
    model.train()
    model(torch.randn(4, 40))
    assert int(layer.offset) == 3  # the CNN's three sites, one call each
    model.eval()
    x = torch.randn(4, 40)
    torch.manual_seed(0)
    plain = torch_peer.torch_model(torch, "cnn", 0.3, "inverted")
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not k.startswith("dropout.")})
    plain.eval()
    assert torch.equal(model(x), plain(x))  # inference: dropout off on both
    assert int(layer.offset) == 3


def test_torch_cost_task_record_table_and_view(cost_payload):
    payload = cost_payload
    cfg = payload["config"]
    out = torch_peer.torch_cost_task(payload)
    assert set(out["arms"]) == set(torch_peer.ARMS) and 2 <= out["rounds"] <= 3
    rec = records.record({"id": "torch_cost-x", "kind": "torch_cost",
                          "suites": [S.TORCH_PEER], "payload": payload}, out, 1.0)
    m = rec["metrics"]
    for key in ("torch_cost_ratio", "fdt_cost_ratio", "fdt_over_torch"):
        assert m[key]["n"] == out["rounds"] and m[key]["mean"] > 0
    # the per-round ratios: fastdrop over torch is (fastdrop / 0) / (torch / 0) round by round
    assert m["fdt_over_torch"]["mean"] == pytest.approx(
        m["fdt_cost_ratio"]["mean"] / m["torch_cost_ratio"]["mean"], rel=0.5)
    spec = {**S.TORCH_PEER_SPEC,
            "points": [{"labels": {"model": "mlp", "dropout": 0.3}, "config": cfg,
                        "runs": [], "timing": None, "cost": "torch_cost-x"},
                       {"labels": {"model": "cnn", "dropout": 0.3}, "config": cfg,
                        "runs": [], "timing": None, "cost": "torch_cost-y"}]}
    table = tables.build_table(spec, {"torch_cost-x": rec})
    done, missing = table["rows"]
    assert (done["ok"], done["runs"]) == (1, 1) and (missing["ok"], missing["runs"]) == (0, 1)
    assert done["values"]["fdt_over_torch"] == m["fdt_over_torch"]
    assert not table["complete"]
    (view,) = views({"tables": {S.TORCH_PEER: table}})
    assert view.headers == ["model", "p", "torch.nn.Dropout: p / 0", "fastdrop.torch: p / 0",
                            "fastdrop.torch / torch"]
    assert view.rows[0][:2] == ["mlp", "0.3"] and view.rows[0][4].startswith(
        f"{m['fdt_over_torch']['mean']:.3f}")
    assert view.missing_rows == {1}
