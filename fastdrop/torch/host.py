"""The eager path for contiguous CPU tensors: fastdrop's Numba kernels called directly.

fastdrop.dropout validates p, seed, offset, variant, dtype and `out` on every call and
wraps its numpy results in tensors; here the caller has checked p and variant once (a
module in __init__) and the tensor is known to be a contiguous float32/float64 CPU tensor,
so a call is: the Plan (cached per shape, dtype, p and variant in kernels/plan.py), y and
the packed mask as numpy arrays the kernel writes and torch.from_numpy wraps, and the
kernel. Same Plan, same kernels as fastdrop.dropout: the same bits (tests/torch).
Measured against the general path in NOTES.md (fastdrop.torch section).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from fastdrop import _validate as v
from fastdrop.kernels import cpu
from fastdrop.kernels.plan import make_plan

from . import native
from .ops import dropout_backward_op, to_i64

# torch dtype -> numpy dtype the CPU kernels take (ops.DEVICE_DTYPES["cpu"])
NUMPY_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}
# What a Function saves when no mask is kept: an empty uint8 tensor, as the registered op
# returns (saved-tensor hooks then see one tensor of 0 bytes). Never written.
_NO_MASK = torch.empty(0, dtype=torch.uint8)


def takes(x) -> bool:
    """x can go down this path: a contiguous CPU tensor in a dtype the kernels take."""
    return type(x) is Tensor and x.is_cpu and x.dtype in NUMPY_DTYPES and x.is_contiguous()


def _flat(t: Tensor) -> np.ndarray:
    """The flat numpy view of a contiguous CPU tensor (no copy)."""
    return t.detach().numpy().reshape(-1)


def forward(x: Tensor, p: float, seed: int, offset: int, variant: str, store_mask: bool,
            inplace: bool):
    """(y, mask tensor or the empty one, plan). y is x itself when inplace."""
    if variant == "spatial":
        v.check_spatial_shape(x.shape, variant, "x")
    dtype = NUMPY_DTYPES[x.dtype]
    plan = make_plan(x.shape, dtype, p, seed, offset, variant)
    xf = _flat(x)
    if inplace:
        y, yf = x, xf
    else:  # numpy allocates, torch wraps: cheaper than torch.empty_like + .numpy()
        yn = np.empty(x.shape, dtype)
        y, yf = torch.from_numpy(yn), yn.reshape(-1)
    if not plan.n or variant == "gaussian":
        if plan.n:
            cpu.forward(xf, yf, None, plan)
        return y, _NO_MASK, plan
    if variant == "spatial" or store_mask:
        # spatial needs its channel mask to select channels even when it is not kept
        mask = np.empty(plan.nbytes, np.uint8)
        cpu.forward(xf, yf, mask, plan)
        return y, torch.from_numpy(mask) if store_mask else _NO_MASK, plan
    # element variants without a kept mask: the fused kernel with its mask store off (the
    # entry cpu.backward uses to regenerate; backward=False selects the forward's values)
    cpu._elementwise(xf, yf, None, False, plan, backward=False)
    return y, _NO_MASK, plan


def backward(dy: Tensor, mask: Tensor, plan) -> Tensor:
    """dx from dy: selected by the stored mask, or with the mask regenerated (empty mask)."""
    if not dy.is_contiguous():  # e.g. the expanded ones of .sum().backward()
        dy = dy.contiguous()
    dxn = np.empty(dy.shape, NUMPY_DTYPES[dy.dtype])
    if plan.n:
        cpu.backward(_flat(dy), dxn.reshape(-1), mask.numpy() if mask.numel() else None,
                     plan)
    return torch.from_numpy(dxn)


def apply(x: Tensor, p: float, seed: int, offset: int, variant: str, store_mask: bool,
          inplace: bool) -> Tensor:
    """Dropout of a tensor takes() accepts, with autograd: the native C++ op for the
    element variants out of place (native.py), else the Python Function below."""
    if not inplace and variant in native.VARIANTS:
        ext = native.extension()
        if ext is not None:
            return native.apply(ext, x, p, seed, offset, variant, store_mask)
    return HostDropout.apply(x, p, seed, offset, variant, store_mask, inplace)


class HostDropout(torch.autograd.Function):
    """Dropout of a contiguous CPU tensor with int seed/offset; returns y alone.

    The lightest Function form measured (NOTES.md): one output (the mask is saved, not
    returned, so no mark_non_differentiable), the Plan kept on ctx, the mask saved with
    save_for_backward so saved-tensor hooks (offloading, memory counts) see it.
    """

    @staticmethod
    def forward(ctx, x, p, seed, offset, variant, store_mask, inplace):
        y, mask, plan = forward(x, p, seed, offset, variant, store_mask, inplace)
        if inplace:
            ctx.mark_dirty(x)
        ctx.save_for_backward(mask)
        ctx.plan, ctx.p, ctx.seed, ctx.offset = plan, p, seed, offset
        return y

    @staticmethod
    def backward(ctx, dy):
        (mask,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a differentiable backward
            dx = dropout_backward_op(
                dy, mask, torch.tensor(to_i64(ctx.seed)), torch.tensor(to_i64(ctx.offset)),
                ctx.p, ctx.plan.variant,
            )
        else:
            dx = backward(dy, mask, ctx.plan)
        return dx, None, None, None, None, None, None
