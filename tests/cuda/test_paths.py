"""The kernels' compile-time specialisations against the reference (scalar access for
misaligned views, uint64 indices), the launch geometry, and the adaptor's streams, devices
and PyTorch tensors that need .detach()."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from numba import cuda  # imported after conftest.py chose the simulator or a GPU

import fastdrop as fd
from fastdrop import spec
from tests.cuda.cuda_helpers import (
    OFFSET,
    SEED,
    SIMULATOR_FLOAT_WARNINGS,
    assert_matches,
    reference_backward,
    reference_forward,
    sample,
    to_device,
    to_host,
)

fd_backends = importlib.import_module("fastdrop.dispatch")

pytestmark = [pytest.mark.cuda, SIMULATOR_FLOAT_WARNINGS]


def _check_all_ops(x_dev, x, variant, p=0.3):
    """forward, backward from the mask and regenerated, against the reference."""
    y_ref, mask_ref = reference_forward(x, p, variant)
    y, mask = fd.dropout(x_dev, p, seed=SEED, offset=OFFSET, variant=variant, backend="cuda")
    assert_matches(to_host(y), y_ref, variant)
    if mask_ref is not None:
        np.testing.assert_array_equal(to_host(mask), mask_ref)
    dx_ref = reference_backward(x, p, variant)
    kws = [{"seed": SEED, "offset": OFFSET}] + ([{"mask": mask}] if mask is not None else [])
    for kw in kws:
        dx = fd.dropout_backward(x_dev, p, variant=variant, backend="cuda", **kw)
        assert_matches(to_host(dx), dx_ref, variant)


def _misaligned(x):
    """A contiguous device view of x whose first element is not 16-byte aligned."""
    flat = x.reshape(-1)
    base = to_device(np.concatenate([flat[:1], flat]))
    view = base[1:]
    from fastdrop.kernels.cuda import address

    assert address(view) % 16 != 0
    return view.reshape(x.shape)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("variant", spec.VARIANTS)
def test_misaligned_views_take_the_scalar_kernels(variant, dtype):
    shape = (3, 4, 11) if variant == "spatial" else (203,)
    x = sample(shape, dtype, seed=11, specials=True)
    _check_all_ops(_misaligned(x), x, variant)


@pytest.mark.parametrize("variant", spec.VARIANTS)
def test_uint64_index_kernels(ck, variant, monkeypatch):
    """The kernels arrays of 2^31 elements and more use, forced on a small array."""
    monkeypatch.setattr(ck, "NARROW_LIMIT", 1)
    shape = (3, 4, 11) if variant == "spatial" else (203,)
    x = sample(shape, "float16", seed=12, specials=True)
    _check_all_ops(to_device(x), x, variant)


@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 5, 8), (2, 2, 13)])
def test_spatial_channel_lengths(shape):
    """Channels shorter than a unit (several channels per 8 elements), exactly a unit,
    and not a multiple of it."""
    x = sample(shape, "float32", seed=13)
    _check_all_ops(to_device(x), x, "spatial", p=0.5)


def test_resident_blocks():
    from fastdrop.kernels.cuda_launch import resident_blocks

    # 65536 registers per SM, allocated per warp in units of 256; at most 2048 threads.
    assert resident_blocks(32) == 8
    assert resident_blocks(40) == 6
    assert resident_blocks(64) == 4
    assert resident_blocks(255) == 1
    assert resident_blocks(16) == 8


# --- streams -----------------------------------------------------------------------------------
def test_a_numba_stream_is_used_and_gives_the_same_result():
    s = cuda.stream()
    backend = fd_backends.resolve("cuda", None, s)
    assert backend.stream is s
    assert backend.kernels is not backend  # bound to the stream
    x = sample((45,), "float32", seed=14)
    y_ref, mask_ref = reference_forward(x, 0.3, "inverted")
    y, mask = fd.dropout(to_device(x), 0.3, seed=SEED, offset=OFFSET, backend="cuda", stream=s)
    dx = fd.dropout_backward(to_device(x), 0.3, mask=mask, backend="cuda", stream=s)
    s.synchronize()
    assert_matches(to_host(y), y_ref, "inverted")
    np.testing.assert_array_equal(to_host(mask), mask_ref)
    assert_matches(to_host(dx), reference_backward(x, 0.3, "inverted"), "inverted")


def test_stream_zero_is_the_default_backend(ck):
    assert fd_backends.resolve("cuda", None, 0).kernels is ck
    assert fd_backends.resolve("cuda", None).kernels is ck


def test_bad_streams():
    x = to_device(np.ones(8, np.float32))
    with pytest.raises(TypeError, match="stream"):
        fd.dropout(x, 0.5, seed=1, backend="cuda", stream="fast")
    with pytest.raises(ValueError, match="stream applies to backend 'cuda' only"):
        fd.dropout(np.ones(8, np.float32), 0.5, seed=1, backend="cpu", stream=0)


# --- PyTorch tensors that need .detach() ------------------------------------------------------
class _GradTensor:
    """Stands in for a PyTorch CUDA tensor with requires_grad: torch's
    __cuda_array_interface__ raises RuntimeError for one."""

    requires_grad = True
    is_cuda = True

    @property
    def __cuda_array_interface__(self):
        raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad")


_GradTensor.__module__ = "torch"


@pytest.mark.parametrize("backend", ["cuda", "auto"])
def test_a_tensor_that_requires_grad_is_a_clear_error(backend):
    assert fd_backends.is_device_array(_GradTensor())
    with pytest.raises(TypeError, match=r"x\.detach\(\)"):
        fd.dropout(_GradTensor(), 0.5, seed=1, backend=backend)
    with pytest.raises(TypeError, match=r"dy\.detach\(\)"):
        fd.dropout_backward(_GradTensor(), 0.5, seed=1, backend=backend)


def test_array_device_is_read_from_torch_and_cupy_objects():
    from types import SimpleNamespace

    from fastdrop.cuda_dispatch import _array_device

    assert _array_device(SimpleNamespace(device=SimpleNamespace(id=1))) == 1  # CuPy
    assert _array_device(to_device(np.ones(2))) is None  # numba: the current device


def test_the_grid_is_one_wave_of_the_compiled_kernel(monkeypatch):
    """The GPU branch of launch(): blocks = min(units / BLOCK, SMs x resident blocks at the
    compiled kernel's register count), with a stand-in for the compiled kernel."""
    from fastdrop.kernels import cuda_launch

    launched = []

    class Compiled:
        def get_regs_per_thread(self):
            return 40  # 6 blocks of 256 per SM

        def __getitem__(self, config):
            return lambda *args: launched.append((config, args))

    class Kernel:
        def specialize(self, *args):
            return Compiled()

    monkeypatch.setattr(cuda_launch, "SIMULATOR", False)
    monkeypatch.setattr(cuda_launch, "current_device_id", lambda: 3)
    monkeypatch.setattr(cuda_launch, "_sm_count", lambda dev: {3: 132}[dev])
    cuda_launch.launch(Kernel(), 10**9, "s", "a")
    cuda_launch.launch(Kernel(), 1000, 0, "b")
    assert launched == [((132 * 6, 256, "s"), ("a",)), ((4, 256, 0), ("b",))]
