"""The native eager op (fastdrop/torch/native.py): a C++ autograd Function calling the
Numba kernels. Same bits as fastdrop.dropout, its gradients, double backward, gradcheck,
saved-tensor hooks, and the Python Function as the fallback."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import fastdrop
from fastdrop.kernels import cpu

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
fdt = pytest.importorskip("fastdrop.torch")
from fastdrop.torch import host, native  # noqa: E402

RATES = (0.0, 0.1, 0.5, 0.9, 1.0)


@pytest.fixture(scope="module")
def ext():
    e = native.extension()
    if e is None:
        pytest.skip(f"the native op is not available here: {native.status()}")
    return e


def _grad_fn_name(y) -> str:
    return y.grad_fn.name()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("variant", native.VARIANTS)
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (100, 100), (cpu.SERIAL_BELOW + 13,)])
@pytest.mark.parametrize("store_mask", [True, False])
def test_native_equals_fastdrop_bit_for_bit(ext, dtype, variant, shape, store_mask):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(*shape, dtype=dtype, generator=gen, requires_grad=True)
    dy = torch.randn(*shape, dtype=dtype, generator=gen)
    for p in RATES:
        if variant == "alpha" and p == 1.0:
            continue
        seed, offset = 2**63 + 17, 5
        x.grad = None
        y = fdt.dropout(x, p, seed=seed, offset=offset, variant=variant,
                        store_mask=store_mask)
        assert "NativeDropout" in _grad_fn_name(y)
        y.backward(dy)
        y_ref, mask = fastdrop.dropout(x.detach().numpy(), p, seed=seed, offset=offset,
                                       variant=variant)
        np.testing.assert_array_equal(y.detach().numpy(), y_ref)
        dx_ref = fastdrop.dropout_backward(dy.numpy(), p, seed=seed, offset=offset,
                                           variant=variant)
        np.testing.assert_array_equal(x.grad.numpy(), dx_ref)


@pytest.mark.parametrize("store_mask", [True, False])
def test_native_streaming_stores_equal_fastdrop(ext, store_mask):
    """Outputs of STREAM_FROM_BYTES and more take the non-temporal stores, ymm-wide: the op
    allocates y and dx itself, 64-byte aligned (c10), and picks the store width from their
    address. Inputs need no alignment: x and dy are views at 0, 4 and 1 elements into a
    64-byte aligned buffer. Same bits as fastdrop.dropout each time."""
    n = cpu.STREAM_FROM_BYTES // 4 + 13
    base = torch.randn(n + 16, generator=torch.Generator().manual_seed(9))
    assert base.data_ptr() % 64 == 0
    seed, offset, p = 7, 3, 0.3
    for off in (0, 4, 1):
        x = base[off:off + n].detach().requires_grad_(True)
        y = fdt.dropout(x, p, seed=seed, offset=offset, store_mask=store_mask)
        assert "NativeDropout" in _grad_fn_name(y) and y.data_ptr() % 64 == 0
        y.backward(base[16 - off:16 - off + n])
        y_ref, _ = fastdrop.dropout(x.detach().numpy(), p, seed=seed, offset=offset)
        np.testing.assert_array_equal(y.detach().numpy(), y_ref)
        dx_ref = fastdrop.dropout_backward(base[16 - off:16 - off + n].numpy(), p,
                                           seed=seed, offset=offset)
        np.testing.assert_array_equal(x.grad.numpy(), dx_ref)


def test_native_module_and_threads(ext):
    """The module takes the native op; one and two Numba threads give the same bits on an
    array large enough for the parallel kernels."""
    layer = fdt.Dropout(0.3, seed=9)
    x = torch.randn(cpu.SERIAL_BELOW * 2 + 5, requires_grad=True)
    before = numba.get_num_threads()
    outs = []
    try:
        for threads in sorted({1, before}):
            numba.set_num_threads(threads)
            layer.offset.zero_()
            x.grad = None
            y = layer(x)
            assert "NativeDropout" in _grad_fn_name(y)
            y.sum().backward()
            outs.append((y.detach().clone(), x.grad.clone()))
    finally:
        numba.set_num_threads(before)
    y_ref, mask = fastdrop.dropout(x.detach().numpy(), 0.3, seed=9, offset=0)
    for y, g in outs:
        np.testing.assert_array_equal(y.numpy(), y_ref)
        np.testing.assert_array_equal(
            g.numpy(), fastdrop.dropout_backward(np.ones_like(y_ref), 0.3, mask=mask))


def test_native_saves_one_bit_per_element(ext):
    saved = []

    def pack(t):
        saved.append(t)
        return t

    x = torch.randn(64, 100, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fdt.dropout(x, 0.5, seed=1)
        fdt.dropout(x, 0.5, seed=1, store_mask=False)
    assert [(t.dtype, t.numel()) for t in saved] == [(torch.uint8, 64 * 100 // 8),
                                                      (torch.uint8, 0)]


@pytest.mark.parametrize("store_mask", [True, False])
def test_native_double_backward_and_gradcheck(ext, store_mask):
    x = torch.randn(6, 9, dtype=torch.float64, requires_grad=True)
    fn = lambda t: fdt.dropout(t, 0.4, seed=3, offset=2, store_mask=store_mask)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))
    y = fn(x)
    dy = torch.randn(6, 9, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(y, x, dy, create_graph=True)  # dx = D dy, differentiable
    assert g.requires_grad
    _, mask = fastdrop.dropout(x.detach().numpy(), 0.4, seed=3, offset=2)
    np.testing.assert_array_equal(
        g.detach().numpy(), fastdrop.dropout_backward(dy.detach().numpy(), 0.4, mask=mask))
    g.sum().backward()  # d(sum D dy)/d dy = D 1
    np.testing.assert_array_equal(
        dy.grad.numpy(), fastdrop.dropout_backward(np.ones((6, 9)), 0.4, mask=mask))


def test_python_function_when_native_is_off(monkeypatch):
    """With the native op unavailable (no compiler, or FASTDROP_TORCH_NATIVE=0) the Python
    Function runs, with the same results."""
    monkeypatch.setattr(native, "_state", {"ext": None, "why": "FASTDROP_TORCH_NATIVE=0"})
    assert native.status() == "FASTDROP_TORCH_NATIVE=0"
    x = torch.randn(10, 10, requires_grad=True)
    y = fdt.dropout(x, 0.5, seed=4)
    assert "NativeDropout" not in _grad_fn_name(y)
    np.testing.assert_array_equal(
        y.detach().numpy(), fastdrop.dropout(x.detach().numpy(), 0.5, seed=4)[0])


def test_inplace_and_other_variants_stay_on_the_python_function(ext):
    x = torch.randn(10, 10)
    assert host.takes(x)
    y = fdt.dropout(x.clone().requires_grad_(), 0.5, seed=4, variant="gaussian")
    assert "NativeDropout" not in _grad_fn_name(y)


def test_module_site_path_reads_and_advances_the_offset(ext):
    """The module's one-call path (native Site) gives fastdrop.dropout's bits at the
    module's (seed, offset), advances the offset buffer by one per call, and continues
    across the uint64 wrap."""
    layer = fdt.Dropout(0.4, seed=2**64 - 3)
    layer.offset.fill_(-1)  # uint64 2^64 - 1: the next call wraps to 0
    x = torch.randn(33, 17, requires_grad=True)
    for offset in (2**64 - 1, 0, 1):
        y = layer(x)
        assert _grad_fn_name(y) == "NativeDropoutBackward"
        ref, _ = fastdrop.dropout(x.detach().numpy(), 0.4, seed=2**64 - 3, offset=offset)
        np.testing.assert_array_equal(y.detach().numpy(), ref)
    assert int(layer.offset) == 2


def test_module_site_follows_its_settings(ext):
    """Changing p, store_mask or inplace after construction takes effect on the next call
    (the Site is made again); a bad p is refused with fastdrop's error and changes nothing."""
    layer = fdt.Dropout(0.5, seed=7)
    x = torch.randn(20, 30)
    layer(x)
    layer.p = 0.25
    layer.offset.zero_()
    np.testing.assert_array_equal(
        layer(x).numpy(), fastdrop.dropout(x.numpy(), 0.25, seed=7, offset=0)[0])
    with pytest.raises(ValueError, match="p"):
        layer.p = 1.5
    assert layer.p == 0.25
    saved = []
    layer.store_mask = False
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t,
                                                  lambda t: t):
        layer(x.clone().requires_grad_())
    assert [t.numel() for t in saved] == [0]
    layer.inplace = True
    xi = x.clone()
    assert layer(xi) is xi  # inplace goes to the Python Function, as before


def test_module_with_site_pickles_and_copies(ext):
    import copy
    import pickle

    layer = fdt.Dropout(0.3, seed=5)
    x = torch.randn(8, 8)
    layer(x)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert int(other.offset) == 1
        np.testing.assert_array_equal(other(x).numpy(), layer(x).numpy())
        layer.offset.sub_(1)


def test_module_site_declines_what_it_does_not_take(ext):
    """Non-contiguous and integer inputs leave the one-call path: the former is handled by
    the general path (same bits), the latter gets fastdrop's dtype error, and neither
    advances the offset wrongly."""
    layer = fdt.Dropout(0.5, seed=1)
    x = torch.randn(10, 12)
    y = layer(x.t())
    ref, _ = fastdrop.dropout(np.ascontiguousarray(x.t().numpy()), 0.5, seed=1, offset=0)
    np.testing.assert_array_equal(y.numpy(), ref)
    assert int(layer.offset) == 1
    with pytest.raises(TypeError, match="int64"):
        layer(torch.ones(4, dtype=torch.int64))
    assert int(layer.offset) == 1


def test_compiled_autograd_of_an_eager_forward_says_what_to_do(ext):
    """The native node runs kernels by pointer, which compiled autograd cannot trace: the
    error names the way out (the module under torch.compile takes the registered op)."""
    from torch._dynamo import compiled_autograd

    lin = torch.nn.Linear(8, 8)
    layer = fdt.Dropout(0.5, seed=1)
    loss = layer(lin(torch.randn(4, 8))).sum()
    with pytest.raises(NotImplementedError, match="FASTDROP_TORCH_NATIVE=0"):
        with compiled_autograd._enable(torch.compile(backend="eager")):
            loss.backward()
