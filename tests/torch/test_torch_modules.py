"""fastdrop.torch.Dropout and friends: torch.nn.Dropout's conventions, fastdrop's masks."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest

import fastdrop

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
fdt = pytest.importorskip("fastdrop.torch")


def _ref(x, p, seed, offset, variant="inverted"):
    return fastdrop.dropout(x.detach().numpy(), p, seed=seed, offset=offset,
                            variant=variant)[0]


@pytest.mark.parametrize("cls, variant, shape", [
    (fdt.Dropout, "inverted", (8, 20)),
    (fdt.AlphaDropout, "alpha", (8, 20)),
    (fdt.GaussianDropout, "gaussian", (8, 20)),
    (fdt.Dropout1d, "spatial", (4, 6, 10)),
    (fdt.Dropout2d, "spatial", (4, 6, 3, 3)),
    (fdt.Dropout3d, "spatial", (2, 6, 2, 3, 3)),
])
def test_offset_advances_once_per_training_call(cls, variant, shape):
    layer = cls(0.4, seed=21)
    x = torch.randn(*shape, dtype=torch.float64)
    for step in range(3):
        y = layer(x)
        np.testing.assert_allclose(y.numpy(), _ref(x, 0.4, 21, step, variant), rtol=1e-12)
        assert int(layer.offset) == step + 1
    layer.eval()
    assert layer(x) is x  # inference: identity, and no offset consumed
    assert int(layer.offset) == 3


def test_module_output_and_grad_equal_fastdrop_bit_for_bit():
    layer = fdt.Dropout(0.3, seed=5, variant="standard", store_mask=False)
    x = torch.randn(16, 30, requires_grad=True)
    layer(x)  # step 0
    y = layer(x)  # step 1
    dy = torch.randn(16, 30)
    y.backward(dy)
    y_ref, mask = fastdrop.dropout(x.detach().numpy(), 0.3, seed=5, offset=1,
                                   variant="standard")
    np.testing.assert_array_equal(y.detach().numpy(), y_ref)
    np.testing.assert_array_equal(
        x.grad.numpy(), fastdrop.dropout_backward(dy.numpy(), 0.3, mask=mask,
                                                  variant="standard"))
    layer.eval()
    y_eval, _ = fastdrop.dropout(x.detach().numpy(), 0.3, seed=5, variant="standard",
                                 training=False)
    np.testing.assert_array_equal(layer(x).detach().numpy(), y_eval)


def test_state_dict_round_trip_continues_the_sequence():
    x = torch.randn(10, 10)
    a = fdt.Dropout(0.5)  # seed drawn from torch's generator
    for _ in range(4):
        a(x)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = fdt.Dropout(0.5, seed=999)
    b.load_state_dict(torch.load(buf))
    assert int(b.seed) == int(a.seed) and int(b.offset) == 4
    for _ in range(3):
        assert torch.equal(a(x), b(x))
    assert set(a.state_dict()) == {"seed", "offset"}


def test_seed_drawn_from_torch_generator_is_reproducible():
    torch.manual_seed(3)
    s1 = int(fdt.Dropout(0.5).seed)
    torch.manual_seed(3)
    assert int(fdt.Dropout(0.5).seed) == s1
    assert int(fdt.Dropout(0.5, seed=2**64 - 1).seed) == -1  # the uint64's int64 bits
    assert "seed=18446744073709551615" in repr(fdt.Dropout(0.5, seed=2**64 - 1))


def test_extra_repr_and_modes():
    layer = fdt.Dropout2d(0.25, inplace=True, seed=4)
    assert repr(layer) == ("Dropout2d(p=0.25, inplace=True, variant='spatial', "
                           "store_mask=True, seed=4)")
    assert layer.train() is layer and layer.training
    assert not layer.eval().training


def test_inplace_module():
    layer = fdt.Dropout(0.5, inplace=True, seed=1)
    x = torch.randn(6, 6)
    expected = _ref(x, 0.5, 1, 0)
    out = layer(x)
    assert out is x
    np.testing.assert_array_equal(x.numpy(), expected)


def test_channel_dropout_unbatched_and_bad_shapes():
    layer = fdt.Dropout1d(0.5, seed=2)
    x = torch.randn(6, 10)  # (C, L): one sample
    y = layer(x)
    assert y.shape == x.shape
    np.testing.assert_array_equal(y.numpy(), _ref(x[None], 0.5, 2, 0, "spatial")[0])
    kept = (y != 0).any(1)
    assert all(torch.equal(y[c], x[c] * 2) for c in range(6) if kept[c])
    with pytest.raises(ValueError, match=r"Dropout2d takes .* got shape \(5,\)"):
        fdt.Dropout2d(0.5)(torch.randn(5))


def test_buffers_stay_on_cpu_as_int64():
    layer = torch.nn.Sequential(torch.nn.Linear(4, 4), fdt.Dropout(0.5, seed=1)).double()
    assert layer[0].weight.dtype == torch.float64
    assert layer[1].offset.dtype == torch.int64 and layer[1].offset.device.type == "cpu"
    assert layer(torch.randn(3, 4, dtype=torch.float64)).dtype == torch.float64


def test_in_a_model_gradients_match_eager_copy():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(),
                                fdt.Dropout(0.3, seed=9), torch.nn.Linear(8, 2))
    twin = copy.deepcopy(model)
    x = torch.randn(7, 5)
    model(x).sum().backward()
    twin(x).sum().backward()
    assert torch.equal(model[0].weight.grad, twin[0].weight.grad)


def test_import_fastdrop_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, fastdrop; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_copies_and_replaced_buffers_keep_their_own_sequence():
    """The eager path reads seed/offset through views of the buffers: a deep copy, a
    reloaded state or a replaced buffer must be read afresh, never through stale views."""
    x = torch.randn(8, 9)
    a = fdt.Dropout(0.5, seed=7)
    a(x)
    b = copy.deepcopy(a)
    np.testing.assert_array_equal(b(x).numpy(), _ref(x, 0.5, 7, 1))
    assert int(a.offset) == 1 and int(b.offset) == 2
    a.offset = torch.tensor(5)  # a new buffer object
    np.testing.assert_array_equal(a(x).numpy(), _ref(x, 0.5, 7, 5))
    a.load_state_dict({"seed": torch.tensor(-1), "offset": torch.tensor(-1)})
    np.testing.assert_array_equal(a(x).numpy(), _ref(x, 0.5, 2**64 - 1, 2**64 - 1))
    assert int(a.offset) == 0  # wrapped, as the uint64 does
    a.share_memory()  # the same buffer objects over new storage
    a(x)
    assert int(a.offset) == 1


@pytest.mark.parametrize("store_mask", [True, False])
def test_empty_and_strided_input(store_mask):
    layer = fdt.Dropout(0.5, seed=3, store_mask=store_mask)
    x = torch.randn(0, 4, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad.shape == (0, 4)
    xt = torch.randn(9, 7).t()  # non-contiguous: the general path, the same bits
    np.testing.assert_array_equal(layer(xt).numpy(), _ref(xt.contiguous(), 0.5, 3, 1))
