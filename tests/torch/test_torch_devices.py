"""The same mask on CPU (1 and 2 threads), on the CUDA backend (simulator or GPU), and
through torch.compile."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import fastdrop

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
fdt = pytest.importorskip("fastdrop.torch")


def _torch_mask(x, p, seed, offset, variant="inverted"):
    y, mask = fdt.dropout_op(x, torch.tensor(seed), torch.tensor(offset), p, variant, True)
    return y, mask


@pytest.mark.parametrize("threads", [1, 2])
def test_same_mask_on_one_and_two_threads(threads):
    import numba

    x = torch.randn(200_000)  # above the kernels' serial cut-off (2^16): the parallel path
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        y, mask = _torch_mask(x, 0.3, 17, 6)
    finally:
        numba.set_num_threads(before)
    ref = fastdrop.keep_mask(200_000, 0.3, seed=17, offset=6)
    np.testing.assert_array_equal(mask.numpy(), ref)


@pytest.mark.cuda
@pytest.mark.skipif("cuda" not in fastdrop.backends(),
                    reason="no CUDA backend: no GPU and NUMBA_ENABLE_CUDASIM is not set")
@pytest.mark.parametrize("variant", ["inverted", "spatial"])
def test_same_mask_as_the_cuda_backend(variant):
    """fastdrop.torch on a CPU tensor gives the mask and output the CUDA kernels give for
    the same data (on the numba-cuda simulator here; on a GPU under make test-gpu)."""
    from numba import cuda

    x = torch.randn(3, 8, 40)
    y, mask = _torch_mask(x, 0.4, 123, 9, variant)
    y_dev, mask_dev = fastdrop.dropout(cuda.to_device(x.numpy()), 0.4, seed=123, offset=9,
                                       variant=variant, backend="cuda")
    np.testing.assert_array_equal(mask.numpy(), mask_dev.copy_to_host())
    np.testing.assert_array_equal(y.numpy(), y_dev.copy_to_host())


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs a CUDA build of PyTorch and a GPU; this build is "
                    f"{torch.__version__}, torch.cuda.is_available() is False")
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_tensor_equals_cpu_tensor(dtype):
    dt = getattr(torch, dtype)
    x = torch.randn(64, 33).to(dt)
    xg = x.cuda().requires_grad_()
    y = fdt.dropout(xg, 0.3, seed=4, offset=2)
    y.backward(torch.ones_like(y))
    y_ref, mask = fastdrop.dropout(x.numpy(), 0.3, seed=4, offset=2, backend="numpy")
    np.testing.assert_array_equal(y.detach().cpu().numpy(), y_ref)
    _, mask_t = _torch_mask(x.cuda(), 0.3, 4, 2)
    np.testing.assert_array_equal(mask_t.cpu().numpy(), mask)
    with pytest.raises(TypeError, match="dtype bfloat16"):
        fdt.dropout(x.cuda().bfloat16(), 0.3, seed=4)


def _compiler_problem() -> str | None:
    import shutil

    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("cc")):
        return "torch.compile's inductor backend needs a C++ compiler (none on PATH)"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_compiler_problem() is not None, reason=str(_compiler_problem()))
def test_torch_compile_matches_eager():
    """A compiled model (one graph: fullgraph=True fails on a graph break) gives the eager
    outputs and gradients, and advances the offset buffer the same way."""
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = torch.nn.Linear(8, 16), torch.nn.Linear(16, 4)
            self.d1 = fdt.Dropout(0.3, seed=7)
            self.d2 = fdt.Dropout(0.5, seed=8, store_mask=False)

        def forward(self, x):
            return self.l2(self.d2(self.d1(self.l1(x).relu())))

    eager = Net()
    twin = copy.deepcopy(eager)
    compiled = torch.compile(twin, fullgraph=True)
    x = torch.randn(5, 8)
    for _ in range(2):
        ye, yc = eager(x), compiled(x)
        assert torch.equal(ye, yc)
        ye.square().sum().backward()
        yc.square().sum().backward()
        assert torch.equal(eager.l1.weight.grad, twin.l1.weight.grad)
    assert int(twin.d1.offset) == int(eager.d1.offset) == 2
    eager.eval()
    twin.eval()
    assert torch.equal(eager(x), compiled(x))
