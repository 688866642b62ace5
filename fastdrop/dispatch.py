"""Backends: a table of the same kernel operations plus how to hold arrays for them.

A backend adapts arrays (host numpy arrays, or CUDA device arrays) to the flat contiguous
buffers the kernels take, and names its kernel module (reference, cpu, cuda), whose
functions share names and signatures: forward, backward, inference.
"""

from __future__ import annotations

import functools
import importlib
import os

import numpy as np

from . import _validate as v
from .kernels.memory import aligned_empty


def torch_tensor(x) -> bool:
    """A PyTorch tensor, recognised without importing torch."""
    return type(x).__module__.startswith("torch") and hasattr(x, "requires_grad")


def is_device_array(x) -> bool:
    """A CUDA device array: anything with __cuda_array_interface__ (CuPy, PyTorch, numba),
    or a numba device array, which on the simulator carries only __cuda_ndarray__. The one
    test of device memory: the CUDA adaptor (cuda_dispatch.py) uses it too.

    A PyTorch CUDA tensor is one whatever its requires_grad: torch's own
    __cuda_array_interface__ raises for one that requires grad, so it is asked directly."""
    if getattr(x, "__cuda_ndarray__", False):
        return True
    if torch_tensor(x):
        return bool(x.is_cuda)
    return hasattr(x, "__cuda_array_interface__")


class HostBackend:
    """numpy arrays in host memory; kernels from fastdrop.kernels.<module>."""

    def __init__(self, name: str, module: str, dtypes: tuple[str, ...]):
        self.name = name
        self._module = module
        self.dtypes = dtypes

    @functools.cached_property
    def kernels(self):
        return importlib.import_module(f"fastdrop.kernels.{self._module}")

    def asarray(self, x, name: str):
        if type(x) is np.ndarray:  # the common case
            v.check_dtype(x.dtype, self.dtypes, self.name, name)
            return x
        if is_device_array(x) and not isinstance(x, np.ndarray):
            raise TypeError(
                f"{name} is a CUDA device array but backend {self.name!r} works on host "
                "arrays; use backend='cuda' or 'auto'"
            )
        arr = np.asarray(x)
        v.check_dtype(arr.dtype, self.dtypes, self.name, name)
        return arr

    def flat(self, a: np.ndarray) -> np.ndarray:
        """A flat C-order view, or a contiguous copy of a non-contiguous view."""
        if a.flags.c_contiguous:
            return a.reshape(-1)
        return np.ascontiguousarray(a).reshape(-1)

    def empty(self, shape, dtype):
        return aligned_empty(shape, dtype)

    def empty_mask(self, nbytes: int):
        return np.empty(nbytes, np.uint8)

    def output(self, out, x, name: str = "out"):
        """(array returned to the caller, flat buffer the kernel writes)."""
        if out is None:
            y = aligned_empty(x.shape, x.dtype)
            return y, y.reshape(-1)
        if not isinstance(out, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(out).__name__}")
        v.check_out(out, x.shape, x.dtype, name)
        v.check_host_overlap(out, x, name)
        if out.flags.c_contiguous and out.flags.writeable:
            return out, out.reshape(-1)
        if not out.flags.writeable:
            raise ValueError(f"{name} is read-only")
        return out, np.empty(out.size, dtype=out.dtype)  # copied into out by finish()

    def finish(self, y, y_flat) -> None:
        """Copy the kernel's result into a non-contiguous `out` (y_flat is then a separate
        buffer; otherwise it is a view of y, and bounds overlap says so cheaply)."""
        if not np.may_share_memory(y, y_flat):
            y[...] = y_flat.reshape(y.shape)

    def mask_array(self, mask):
        # contiguous: the CPU kernels read 4 mask bytes at a time (a strided mask read
        # that way gave wrong gradients until 2026-12-04); a copy only for a strided one
        if is_device_array(mask):
            return mask
        mask = np.asarray(mask)
        return mask if mask.flags.c_contiguous else np.ascontiguousarray(mask)


_HOST = {
    "numpy": HostBackend("numpy", "reference", v.REFERENCE_DTYPES),
    "cpu": HostBackend("cpu", "cpu", v.HOST_DTYPES),
}


def cpu_kernels():
    """fastdrop.kernels.cpu (imported on first use, as the cpu backend does)."""
    return _HOST["cpu"].kernels

CUDA_HELP = (
    "no CUDA device is usable here (numba-cuda found none). Use backend='cpu', or run "
    "the CUDA kernels on the simulator by setting NUMBA_ENABLE_CUDASIM=1 before importing "
    "fastdrop"
)


@functools.cache
def cuda_available() -> bool:
    """True where numba-cuda imports and sees a device (or the simulator is on)."""
    if os.environ.get("FASTDROP_DISABLE_CUDA"):
        return False
    try:
        from numba import cuda
    except Exception:  # numba-cuda missing or broken: no CUDA backend
        return False
    try:
        return bool(cuda.is_available())
    except Exception:
        return False


@functools.cache
def _cuda_backend():
    """The CUDA adaptor on numba's default stream (shared: it holds no per-call state)."""
    from .cuda_dispatch import CudaBackend

    return CudaBackend()


def available() -> list[str]:
    names = list(_HOST)
    if cuda_available():
        names.append("cuda")
    return names


def resolve(name: str, x, stream=None):
    """The backend object for a validated name; 'auto' is cuda for device arrays.

    stream (cuda only): where the kernels run; None is numba's default stream, or a
    PyTorch tensor's current stream."""
    if name == "auto":
        if type(x) is np.ndarray:
            name = "cpu"
        elif is_device_array(x) and not isinstance(x, np.ndarray):
            name = "cuda"
        else:
            name = "cpu"
    if name == "cuda":
        if not cuda_available():
            raise RuntimeError(CUDA_HELP)
        from .cuda_dispatch import CudaBackend, resolve_stream

        stream = resolve_stream(stream, x)
        return _cuda_backend() if isinstance(stream, int) else CudaBackend(stream)
    if stream is not None:
        raise ValueError(f"stream applies to backend 'cuda' only, not {name!r}")
    return _HOST[name]
