"""fastdrop.torch.dropout and the registered op compute fastdrop.dropout bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
fdt = pytest.importorskip("fastdrop.torch")

VARIANTS = ("inverted", "standard", "spatial", "alpha", "gaussian")
EXACT = ("inverted", "standard", "spatial")  # alpha: 2 ulp, gaussian: 1e-5 (SPEC.md)


def _reference(x, p, seed, offset, variant, dy):
    """(y, mask, dx) from the numpy API on the CPU backend."""
    y, mask = fastdrop.dropout(x.numpy(), p, seed=seed, offset=offset, variant=variant,
                               backend="cpu")
    dx = fastdrop.dropout_backward(dy.numpy(), p, mask=mask, seed=seed, offset=offset,
                                   variant=variant, backend="cpu")
    return y, mask, dx


def _op(x, p, seed, offset, variant, store_mask=True):
    return fdt.dropout_op(x, torch.tensor(seed), torch.tensor(offset), p, variant, store_mask)


def _close(a, b, variant):
    if variant in EXACT or variant == "alpha":  # on one backend alpha is exact too
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("store_mask", [True, False])
@pytest.mark.parametrize("path", ["eager", "op"])
def test_forward_and_grad_equal_fastdrop(variant, dtype, store_mask, path):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 5, 7, generator=g, dtype=dtype)
    dy = torch.randn(6, 5, 7, generator=g, dtype=dtype)
    y_ref, mask_ref, dx_ref = _reference(x, 0.3, 11, 4, variant, dy)
    xr = x.clone().requires_grad_()
    if path == "eager":
        y = fdt.dropout(xr, 0.3, seed=11, offset=4, variant=variant, store_mask=store_mask)
    else:
        y, mask = _op(xr, 0.3, 11, 4, variant, store_mask)
        if store_mask and variant != "gaussian":
            np.testing.assert_array_equal(mask.numpy(), mask_ref)
        else:
            assert mask.numel() == 0
    y.backward(dy)
    assert y.dtype == dtype and y.shape == x.shape
    _close(y.detach().numpy(), y_ref, variant)
    _close(xr.grad.numpy(), dx_ref, variant)


@pytest.mark.parametrize("store_mask", [True, False])
def test_mask_memory_kept_for_backward(store_mask):
    """1 bit per element kept for backward, or nothing (regenerated)."""
    x = torch.randn(100, 100, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = fdt.dropout(x, 0.5, seed=0, store_mask=store_mask)
    assert [t.dtype for t in saved] == [torch.uint8]
    assert sum(t.numel() * t.element_size() for t in saved) == (1250 if store_mask else 0)
    y.sum().backward()


def test_seed_and_offset_above_int64():
    """uint64 seeds and offsets travel as their int64 bits and come back unchanged."""
    seed, offset = 2**64 - 3, 2**63 + 5
    x = torch.randn(40)
    y = fdt.dropout(x, 0.5, seed=seed, offset=offset)
    y_ref, _ = fastdrop.dropout(x.numpy(), 0.5, seed=seed, offset=offset)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    y_op, _ = _op(x, 0.5, fdt.ops.to_i64(seed), fdt.ops.to_i64(offset), "inverted")
    np.testing.assert_array_equal(y_op.numpy(), y_ref)


@pytest.mark.parametrize("variant", VARIANTS)
def test_non_contiguous_input_and_grad(variant):
    base = torch.randn(7, 6, 4, dtype=torch.float64)
    x = base.transpose(0, 1)  # (6, 7, 4), not contiguous
    assert not x.is_contiguous()
    xr = x.clone().requires_grad_()  # clone keeps the strides
    y = fdt.dropout(x, 0.4, seed=3, offset=1, variant=variant)
    y_ref, _ = fastdrop.dropout(x.contiguous().numpy(), 0.4, seed=3, offset=1,
                                variant=variant)
    _close(y.numpy(), y_ref, variant)
    # an expanded (stride 0) gradient: sum()'s backward
    fdt.dropout(xr, 0.4, seed=3, offset=1, variant=variant).sum().backward()
    dx_ref = fastdrop.dropout_backward(np.ones(x.shape), 0.4, seed=3, offset=1,
                                       variant=variant)
    _close(xr.grad.numpy(), dx_ref, variant)


def test_input_is_not_modified_and_inplace_writes_it():
    x = torch.randn(9, 9)
    before = x.clone()
    y = fdt.dropout(x, 0.5, seed=2)
    assert torch.equal(x, before)
    h = x.clone().requires_grad_()
    a = h * 1.0  # in place on a leaf that requires grad is an error, as in torch
    out = fdt.dropout(a, 0.5, seed=2, inplace=True)
    assert out is a and torch.equal(a.detach(), y)
    out.backward(torch.ones(9, 9))
    np.testing.assert_array_equal(h.grad.numpy(), (y != 0).numpy() * np.float32(2.0))


def test_inference_is_identity_or_scaled():
    x = torch.randn(30)
    assert fdt.dropout(x, 0.3, False, seed=0) is x
    y = fdt.dropout(x, 0.3, False, seed=0, variant="standard")
    y_ref, mask = fastdrop.dropout(x.numpy(), 0.3, seed=0, variant="standard", training=False)
    assert mask is None
    np.testing.assert_array_equal(y.numpy(), y_ref)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("store_mask", [True, False])
def test_gradcheck_float64(variant, store_mask):
    x = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)

    def eager(t):
        return fdt.dropout(t, 0.3, seed=8, offset=2, variant=variant, store_mask=store_mask)

    def op(t):
        return _op(t, 0.3, 8, 2, variant, store_mask)[0]

    for f in (eager, op):
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("variant", VARIANTS)
def test_opcheck(variant):
    """torch.library's own checks: schema, fake (meta) implementation, autograd."""
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    for store in (True, False):
        args = (x, torch.tensor(5), torch.tensor(-2), 0.25, variant, store)
        torch.library.opcheck(torch.ops.fastdrop.dropout.default, args)
    y, mask = _op(x, 0.25, 5, 0, variant)
    torch.library.opcheck(torch.ops.fastdrop.dropout_backward.default,
                          (x.detach(), mask, torch.tensor(5), torch.tensor(0), 0.25, variant))


def test_torch_func_grad():
    x = torch.randn(12, dtype=torch.float64)
    g = torch.func.grad(lambda t: fdt.dropout(t, 0.5, seed=1, offset=3).sum())(x)
    ref = fastdrop.dropout_backward(np.ones(12), 0.5, seed=1, offset=3)
    np.testing.assert_array_equal(g.numpy(), ref)


def test_empty_input():
    x = torch.empty(0, 3, requires_grad=True)
    y = fdt.dropout(x, 0.5, seed=0)
    y.sum().backward()
    assert y.shape == (0, 3) and x.grad.shape == (0, 3)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", None])
def test_bad_p(p):
    with pytest.raises(ValueError, match="p must be"):
        fdt.dropout(torch.randn(4), p, seed=0)
    with pytest.raises(ValueError, match="p must be"):
        fdt.Dropout(p)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.bfloat16,
                                   torch.float16, torch.complex64])
def test_bad_dtype_names_it(dtype):
    x = torch.zeros(4, dtype=dtype)
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(TypeError, match=f"dtype {name}; fastdrop takes float32, float64"):
        fdt.dropout(x, 0.5, seed=0)
    with pytest.raises(TypeError, match=f"dtype {name}"):
        fdt.Dropout(0.5)(x)


def test_unknown_device():
    x = torch.empty(4, device="meta")
    with pytest.raises(RuntimeError, match="device 'meta'; fastdrop runs on cpu and cuda"):
        fdt.dropout(x, 0.5, seed=0)


def test_bad_variant_seed_and_offset():
    x = torch.randn(4)
    with pytest.raises(ValueError, match="variant must be one of"):
        fdt.dropout(x, 0.5, seed=0, variant="dropconnect")
    with pytest.raises(ValueError, match="seed must be an integer"):
        fdt.dropout(x, 0.5, seed=-1)
    with pytest.raises(TypeError, match="offset must be an integer"):
        fdt.dropout(x, 0.5, seed=0, offset=1.5)
    with pytest.raises(ValueError, match="gaussian"):
        fdt.dropout(x, 1.0, seed=0, variant="gaussian")
    with pytest.raises(ValueError, match="ndim >= 2"):
        fdt.dropout(x, 0.5, seed=0, variant="spatial")


def test_cpu_tensors_reach_the_kernels_without_a_copy(monkeypatch):
    """x goes in as a view of the tensor's memory, y and the mask come back without a copy."""
    seen = {}
    real = fastdrop.dropout

    def spy(x, p, **kw):
        y, mask = real(x, p, **kw)
        seen.update(x=x, y=y, mask=mask)
        return y, mask

    monkeypatch.setattr(fastdrop, "dropout", spy)
    x = torch.randn(32, 16, requires_grad=True)
    y, mask = fdt.dropout_op(x, torch.tensor(1), torch.tensor(0), 0.5, "inverted", True)
    assert seen["x"].ctypes.data == x.data_ptr() and seen["x"].base is not None
    assert y.data_ptr() == seen["y"].ctypes.data
    assert mask.data_ptr() == seen["mask"].ctypes.data
