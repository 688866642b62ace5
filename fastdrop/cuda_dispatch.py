"""The CUDA backend's adaptor: device arrays (numba, CuPy, PyTorch: anything with
`__cuda_array_interface__`) to the flat contiguous buffers of fastdrop.kernels.cuda.

It checks what the kernels assume (device memory, dtype, out=, the device the array lives
on, a PyTorch tensor that needs .detach()) and picks the stream the kernels run on. It is
imported only when backend 'cuda' is used; `import fastdrop` never imports numba.cuda.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from . import _validate as v
from .dispatch import is_device_array, torch_tensor
from .kernels import cuda as kernels
from .kernels.cuda_device import SIMULATOR

MOVE_HINT = (
    "move it to the GPU first, e.g. numba.cuda.to_device(a), cupy.asarray(a) or "
    "torch.as_tensor(a, device='cuda')"
)


def _array_device(a) -> int | None:
    """The CUDA device ordinal holding a (PyTorch, CuPy), or None where it does not say."""
    if torch_tensor(a):
        return a.device.index
    dev = getattr(a, "device", None)  # CuPy: a cupy.cuda.Device with .id
    ident = getattr(dev, "id", None)
    return ident if isinstance(ident, int) else None


def _check_usable(a, name: str) -> None:
    """A clear error for what numba cannot view: a tensor that requires grad, or an array
    on another device than numba's current one."""
    if torch_tensor(a) and a.requires_grad:
        raise TypeError(
            f"{name} is a PyTorch tensor that requires grad; pass {name}.detach() (fastdrop "
            "computes the gradient itself with dropout_backward)"
        )
    where = _array_device(a)
    if where is not None and not SIMULATOR:
        current = cuda.get_current_device().id
        if where != current:
            raise ValueError(
                f"{name} is on CUDA device {where} but numba's current device is {current}; "
                f"call numba.cuda.select_device({where}) (or run under "
                f"`with numba.cuda.gpus[{where}]:`) first"
            )


def _as_numba(a):
    """A numba view of a device array: zero-copy for CuPy arrays and torch CUDA tensors.
    numba's own arrays (the simulator's carry only the __cuda_ndarray__ marker) as they are."""
    if getattr(a, "__cuda_ndarray__", False):
        return a
    return cuda.as_cuda_array(a)


def _byte_extent(a) -> tuple[int, int]:
    """[lo, hi) of the bytes an array's elements touch."""
    lo = hi = kernels.address(a)
    for dim, stride in zip(a.shape, a.strides, strict=True):
        reach = (dim - 1) * stride
        lo, hi = (lo + reach, hi) if reach < 0 else (lo, hi + reach)
    return lo, hi + a.dtype.itemsize


def _check_device_overlap(out, x, name: str) -> None:
    """out may be x itself (same address, layout) or apart from x's bytes; nothing between.
    Interleaved views that share no element but share an extent are refused too: without
    numpy's exact solver on device memory, the extent is the safe test."""
    if out.size == 0 or x.size == 0:
        return
    (olo, ohi), (xlo, xhi) = _byte_extent(out), _byte_extent(x)
    if ohi <= xlo or xhi <= olo:
        return
    same = (
        kernels.address(out) == kernels.address(x)
        and tuple(out.strides) == tuple(x.strides)
        and tuple(out.shape) == tuple(x.shape)
    )
    if not same:
        raise ValueError(
            f"{name} overlaps the input partially; pass out=x for in-place, or a separate "
            "buffer"
        )


def _assign(dst, src, stream) -> None:
    """dst[:] = src on the device, ordered on `stream` (the simulator has no setitem)."""
    if hasattr(dst, "setitem"):
        dst.setitem(slice(None), src, stream=stream)
    else:
        dst[:] = src


def _numba_stream_type():
    """numba's stream class (cuda.stream is a factory function on a GPU, the class itself
    on the simulator)."""
    if SIMULATOR:
        return cuda.stream
    from numba.cuda.cudadrv.driver import Stream

    return Stream


def resolve_stream(stream, x):
    """The numba stream to run on: the one given (a numba stream, or an int / object with
    .cuda_stream or .ptr naming a CUDA stream handle: PyTorch, CuPy), else a PyTorch
    tensor's current stream, else numba's default stream (0)."""
    if stream is None:
        # (a tensor that requires grad is refused by asarray next, with a clear error)
        if not torch_tensor(x) or SIMULATOR or x.requires_grad:
            return 0
        import torch

        stream = torch.cuda.current_stream(x.device)
    if isinstance(stream, _numba_stream_type()):
        return stream
    handle = getattr(stream, "cuda_stream", getattr(stream, "ptr", stream))
    if isinstance(handle, (bool, np.bool_)) or not isinstance(handle, (int, np.integer)):
        raise TypeError(
            f"stream must be a numba stream, a torch.cuda.Stream, a cupy stream or a CUDA "
            f"stream handle (int), got {type(stream).__name__}"
        )
    if handle == 0:  # the legacy default stream, numba's default too
        return 0
    if SIMULATOR:
        raise ValueError("stream: the numba-cuda simulator takes only numba streams")
    return cuda.external_stream(int(handle))


class _StreamKernels:
    """The kernel module's forward / backward / inference, bound to one stream."""

    def __init__(self, stream):
        self.stream = stream

    def forward(self, x, y, mask, plan):
        kernels.forward(x, y, mask, plan, stream=self.stream)

    def backward(self, dy, dx, mask, plan):
        kernels.backward(dy, dx, mask, plan, stream=self.stream)

    def inference(self, x, y, plan):
        kernels.inference(x, y, plan, stream=self.stream)


class CudaBackend:
    """Device arrays on an NVIDIA GPU (or the numba-cuda simulator), on one stream.
    Outputs are numba device arrays: view them with cupy.asarray(y) or
    torch.as_tensor(y, device='cuda'), both zero-copy."""

    name = "cuda"
    # bfloat16 is not taken: numpy has no bfloat16 dtype, so numba device arrays cannot
    # hold one, and PyTorch does not export bfloat16 tensors via __cuda_array_interface__.
    dtypes = ("float16", "float32")

    def __init__(self, stream=0):
        self.stream = stream

    @property
    def kernels(self):
        """The kernel module itself on the default stream; bound to the stream otherwise."""
        return kernels if isinstance(self.stream, int) else _StreamKernels(self.stream)

    def asarray(self, x, name: str):
        if not is_device_array(x):
            raise TypeError(
                f"{name} is a host array ({type(x).__name__}) but backend 'cuda' takes CUDA "
                f"device arrays; {MOVE_HINT}"
            )
        _check_usable(x, name)
        arr = _as_numba(x)
        v.check_dtype(arr.dtype, self.dtypes, self.name, name)
        return arr

    def _copy(self, a):
        """A C-contiguous device copy of a strided device array, on this stream."""
        copy = cuda.device_array(a.shape, dtype=a.dtype, stream=self.stream)
        _assign(copy, a, self.stream)  # never 0-d: a 0-d array is contiguous
        return copy

    def flat(self, a):
        """A flat C-order view, or a contiguous device copy of a non-contiguous view."""
        if not a.is_c_contiguous():
            a = self._copy(a)
        return a.reshape(a.size)

    def empty(self, shape, dtype):
        return cuda.device_array(shape, dtype=np.dtype(dtype), stream=self.stream)

    def empty_mask(self, nbytes: int):
        return cuda.device_array(nbytes, dtype=np.uint8, stream=self.stream)

    def output(self, out, x, name: str = "out"):
        """(array returned to the caller, flat device buffer the kernel writes)."""
        if out is None:
            y = self.empty(x.shape, x.dtype)
            return y, y.reshape(y.size)
        if not is_device_array(out):
            raise ValueError(
                f"{name} must be a CUDA device array for backend 'cuda', got "
                f"{type(out).__name__}"
            )
        _check_usable(out, name)
        view = _as_numba(out)
        v.check_out(view, x.shape, x.dtype, name)
        _check_device_overlap(view, x, name)
        if view.is_c_contiguous():
            return out, view.reshape(view.size)
        return out, self.empty((view.size,), view.dtype)  # copied into out by finish()

    def finish(self, y, y_flat) -> None:
        """Copy the kernel's result into a non-contiguous `out`."""
        view = _as_numba(y)
        if view.size and not view.is_c_contiguous():
            _assign(view, y_flat.reshape(view.shape), self.stream)

    def mask_array(self, mask):
        if not is_device_array(mask):
            raise TypeError(
                f"mask is a host array ({type(mask).__name__}) but backend 'cuda' takes the "
                f"device mask that dropout returned; {MOVE_HINT}"
            )
        _check_usable(mask, "mask")
        mask = _as_numba(mask)
        if mask.ndim == 1 and not mask.is_c_contiguous():
            mask = self._copy(mask)
        return mask
