"""The CUDA backend through fastdrop's public API: device arrays in and out, out= and
in-place, non-contiguous views, empty and 0-d arrays, bad input (SPEC.md section 5), and
backend selection with and without a device."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from numba import cuda  # imported after conftest.py chose the simulator or a GPU

import fastdrop as fd
from tests.cuda.cuda_helpers import (
    OFFSET,
    SEED,
    SIMULATOR_FLOAT_WARNINGS,
    assert_same_bits,
    reference_backward,
    reference_forward,
    sample,
    to_device,
    to_host,
)

fd_backends = importlib.import_module("fastdrop.dispatch")  # the module, not fd.backends()

pytestmark = [pytest.mark.cuda, SIMULATOR_FLOAT_WARNINGS]

N = 45  # one partial tile, not a multiple of 8


def forward(x, **kw):
    kw = {"seed": SEED, "offset": OFFSET, "backend": "cuda", **kw}
    return fd.dropout(x, 0.3, **kw)


def backward(dy, **kw):
    kw = {"seed": SEED, "offset": OFFSET, "backend": "cuda", **kw}
    return fd.dropout_backward(dy, 0.3, **kw)


# --- the backend object ----------------------------------------------------------------
def test_backend_object(ck):
    from fastdrop.cuda_dispatch import CudaBackend

    backend = fd_backends.resolve("cuda", None)
    assert isinstance(backend, CudaBackend)
    assert backend.name == "cuda"
    assert backend.dtypes == ("float16", "float32")
    assert backend.kernels is ck
    for name in ("forward", "backward", "inference"):
        assert callable(getattr(backend.kernels, name))
    assert "cuda" in fd.backends()


def test_outputs_are_device_arrays():
    x = to_device(sample((N,), np.float32))
    y, mask = forward(x)
    assert y.shape == (N,) and y.dtype == np.float32
    assert mask.shape == ((N + 7) // 8,) and mask.dtype == np.uint8
    for a in (y, mask):
        assert getattr(a, "__cuda_ndarray__", False)  # numba device arrays


def test_auto_picks_cuda_for_device_arrays():
    x = sample((N,), np.float32)
    y_auto, mask_auto = fd.dropout(to_device(x), 0.3, seed=SEED, backend="auto")
    y_cuda, mask_cuda = fd.dropout(to_device(x), 0.3, seed=SEED, backend="cuda")
    assert getattr(y_auto, "__cuda_ndarray__", False), (
        "auto sent a device array to the cpu backend: fastdrop.dispatch.is_device_array must "
        "also recognise numba device arrays by __cuda_ndarray__ (the simulator's have no "
        "__cuda_array_interface__)"
    )
    assert_same_bits(to_host(y_auto), to_host(y_cuda))
    np.testing.assert_array_equal(to_host(mask_auto), to_host(mask_cuda))


def test_cuda_array_interface_objects_are_taken_zero_copy(ck):
    """Any __cuda_array_interface__ object (CuPy, PyTorch) is viewed, not copied."""
    if ck.SIMULATOR:
        pytest.skip("the simulator's device arrays have no __cuda_array_interface__")

    class Foreign:  # stands in for a CuPy array or a torch CUDA tensor
        def __init__(self, a):
            self.__cuda_array_interface__ = a.__cuda_array_interface__
            self._keep = a

    x = sample((N,), np.float16)
    dx_in = to_device(x)
    out = to_device(np.zeros(N, np.float16))
    y, _ = forward(Foreign(dx_in), out=Foreign(out))
    assert isinstance(y, Foreign)  # out= comes back as given
    assert_same_bits(to_host(out), reference_forward(x, 0.3, "inverted")[0])


# --- out= and in place ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_out_and_input_untouched(dtype):
    x = sample((3, N), dtype, specials=True)
    dx = to_device(x)
    out = cuda.device_array(x.shape, dtype=dtype)
    y, mask = forward(dx, out=out)
    assert y is out
    assert_same_bits(to_host(out), reference_forward(x, 0.3, "inverted")[0])
    assert_same_bits(to_host(dx), x)  # the input is never modified


def test_in_place_forward_and_backward():
    x = sample((N,), np.float32, specials=True)
    dx = to_device(x)
    y, mask = forward(dx, out=dx)
    assert y is dx
    assert_same_bits(to_host(dx), reference_forward(x, 0.3, "inverted")[0])

    dy = sample((N,), np.float32, seed=9)
    ddy = to_device(dy)
    g = backward(ddy, mask=mask, out=ddy)
    assert g is ddy
    assert_same_bits(to_host(ddy), reference_backward(dy, 0.3, "inverted"))


def test_in_place_inference_leaves_x_as_it_was():
    x = sample((N,), np.float16, specials=True)
    dx = to_device(x)
    y, mask = forward(dx, out=dx, training=False)
    assert y is dx and mask is None
    assert_same_bits(to_host(dx), x)


def test_non_contiguous_input_and_out():
    base = sample((4, 2 * N), np.float32, seed=3)
    view = to_device(base)[:, ::2]  # strided device view
    expected = reference_forward(np.ascontiguousarray(base[:, ::2]), 0.3, "inverted")[0]
    y, _ = forward(view)
    assert_same_bits(to_host(y), expected)

    out_base = cuda.device_array((4, 2 * N), dtype=np.float32)
    out_base.copy_to_device(np.full((4, 2 * N), 7.0, np.float32))
    out = out_base[:, 1::2]
    y, _ = forward(view, out=out)
    host = to_host(out_base)
    assert_same_bits(host[:, 1::2], expected)
    assert (host[:, ::2] == 7.0).all()  # the gaps of a strided out are left alone


def test_non_contiguous_mask_view():
    x = sample((N,), np.float32)
    _, mask = forward(to_device(x))
    wide = to_device(np.repeat(to_host(mask), 2))  # every mask byte twice
    dy = sample((N,), np.float32, seed=5)
    g = backward(to_device(dy), mask=wide[::2], seed=None)
    assert_same_bits(to_host(g), reference_backward(dy, 0.3, "inverted"))


# --- empty and 0-d -------------------------------------------------------------------------
@pytest.mark.parametrize("variant, shape", [("inverted", (0,)), ("spatial", (0, 3, 4)),
                                            ("gaussian", (2, 0))])
def test_empty_arrays(variant, shape):
    x = to_device(np.zeros(shape, np.float32))
    y, mask = forward(x, variant=variant)
    assert y.shape == shape
    if variant == "gaussian":
        assert mask is None
    else:
        assert mask.shape == (0,)
    g = backward(x, variant=variant)
    assert g.shape == shape


def test_zero_dimensional_array():
    x = np.array(2.5, dtype=np.float32)
    y, mask = forward(to_device(x))
    y_ref, mask_ref = reference_forward(x, 0.3, "inverted")
    assert y.shape == ()
    assert_same_bits(to_host(y), y_ref)
    np.testing.assert_array_equal(to_host(mask), mask_ref)


# --- bad input: a clear error, and nothing changed ------------------------------------------
def test_host_array_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="to_device"):
        fd.dropout(np.ones(8, np.float32), 0.5, seed=1, backend="cuda")
    with pytest.raises(TypeError, match="to_device"):
        fd.dropout_backward(np.ones(8, np.float32), 0.5, seed=1, backend="cuda")


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.bool_])
def test_unsupported_dtypes(dtype):
    with pytest.raises(TypeError, match="float16, float32"):
        forward(to_device(np.zeros(8, dtype)))


@pytest.mark.parametrize(
    "make_out",
    [
        lambda: cuda.device_array((N + 1,), np.float32),  # shape
        lambda: cuda.device_array((N,), np.float16),  # dtype
        lambda: np.empty((N,), np.float32),  # host memory
    ],
    ids=["shape", "dtype", "host"],
)
def test_bad_out(make_out):
    with pytest.raises(ValueError, match="out"):
        forward(to_device(np.ones(N, np.float32)), out=make_out())


def test_partial_overlap_is_refused_and_nothing_changes():
    buf = to_device(np.arange(2 * N, dtype=np.float32))
    x, out = buf[:N], buf[1 : N + 1]
    with pytest.raises(ValueError, match="overlaps"):
        forward(x, out=out)
    np.testing.assert_array_equal(to_host(buf), np.arange(2 * N, dtype=np.float32))


def test_bad_masks():
    dy = to_device(np.ones(N, np.float32))
    with pytest.raises(ValueError, match="bytes"):
        backward(dy, mask=cuda.device_array(3, np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        backward(dy, mask=cuda.device_array((N + 7) // 8, np.int32))
    with pytest.raises(TypeError, match="device mask"):
        backward(dy, mask=np.zeros((N + 7) // 8, np.uint8))


# --- no device --------------------------------------------------------------------------------
def test_no_device_is_a_runtime_error_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(fd_backends, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match="NUMBA_ENABLE_CUDASIM"):
        fd.dropout(np.ones(8, np.float32), 0.5, seed=1, backend="cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        fd.dropout_backward(np.ones(8, np.float32), 0.5, seed=1, backend="cuda")
    assert "cuda" not in fd.backends()
    assert fd_backends.resolve("auto", np.ones(3)).name == "cpu"


def test_no_device_seen_by_the_real_probe(monkeypatch):
    """FASTDROP_DISABLE_CUDA makes the cached probe answer no (after a cache_clear)."""
    monkeypatch.setenv("FASTDROP_DISABLE_CUDA", "1")
    fd_backends.cuda_available.cache_clear()
    try:
        assert not fd_backends.cuda_available()
        with pytest.raises(RuntimeError, match="no CUDA device"):
            fd.dropout(np.ones(8, np.float32), 0.5, seed=1, backend="cuda")
    finally:
        monkeypatch.delenv("FASTDROP_DISABLE_CUDA")
        fd_backends.cuda_available.cache_clear()
    assert fd_backends.cuda_available()
