"""fastdrop's dropout as a PyTorch operator, with its gradient.

`torch.ops.fastdrop.dropout` and `torch.ops.fastdrop.dropout_backward` are registered with
torch.library.custom_op, each with an autograd formula and a fake (meta) implementation:
torch.compile sees one opaque op (no graph break), gradcheck and double backward work.
In eager mode the same kernels run through a torch.autograd.Function instead, because a
custom_op call costs about 13 us of Python dispatch (26 us with autograd) against about 6 us
for a Function, as much as the kernel itself on a 100 x 100 tensor (NOTES.md).

Tensors reach the kernels without a copy: CPU tensors as numpy views (`.numpy()` of the
detached tensor; a non-contiguous view is copied once inside fastdrop.dropout), CUDA
tensors through __cuda_array_interface__, on torch's current stream for their device
(fastdrop.dropout picks it for a PyTorch tensor when no stream= is given).

seed and offset are uint64 (SPEC.md) but an op schema has int64 only: inside torch they
travel as 0-dim int64 CPU tensors holding the same 64 bits (two's complement), which also
lets a module keep its offset as a buffer that torch.compile can read and advance.
"""

from __future__ import annotations

import torch
from torch import Tensor

import fastdrop
from fastdrop import _validate as v
from fastdrop import spec

U64 = 1 << 64
# What each device's backend takes (bfloat16: numpy cannot hold it, and torch does not
# export it through __cuda_array_interface__).
DEVICE_DTYPES = {
    "cpu": (torch.float32, torch.float64),
    "cuda": (torch.float16, torch.float32),
}


def to_i64(u: int) -> int:
    """The int64 holding the same 64 bits as the uint64 u."""
    return u - U64 if u >= 1 << 63 else u


def to_u64(i) -> int:
    """The uint64 whose bits an int64 (int or 0-dim tensor) holds."""
    return int(i) & (U64 - 1)


def check_tensor(x, name: str = "x") -> None:
    """x: a floating tensor on a device and in a dtype fastdrop has a backend for."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    allowed = DEVICE_DTYPES.get(x.device.type)
    if allowed is None:
        raise RuntimeError(
            f"{name} is on device {str(x.device)!r}; fastdrop runs on cpu and cuda tensors "
            "(move it with .cpu() or .cuda())"
        )
    if x.dtype not in allowed:
        names = ", ".join(str(d).removeprefix("torch.") for d in allowed)
        raise TypeError(
            f"{name} has dtype {str(x.dtype).removeprefix('torch.')}; fastdrop takes "
            f"{names} on {x.device.type}"
        )


def state_word(name: str, value) -> int:
    """seed / offset as a uint64: an int, or a 0-dim integer tensor holding its int64 bits."""
    if isinstance(value, Tensor):
        if value.dim() != 0 or value.dtype.is_floating_point or value.dtype == torch.bool:
            raise TypeError(
                f"{name} must be an integer or a 0-dim integer tensor, got a tensor of dtype "
                f"{value.dtype} and shape {tuple(value.shape)}"
            )
        return to_u64(value.item())
    return v.check_uint64(name, value)


def _empty_mask(x: Tensor) -> Tensor:
    return torch.empty(0, dtype=torch.uint8, device=x.device)


def _host(t: Tensor):
    """A numpy view of a CPU tensor (strided where the tensor is): no copy."""
    return t.detach().numpy()


def forward_impl(x, p, seed, offset, variant, store_mask, out=None):
    """(y, packed mask or an empty uint8 tensor): fastdrop.dropout on x's device."""
    if x.device.type == "cpu":
        # numpy allocates y and torch wraps it: cheaper than validating an out= buffer
        y, mask = fastdrop.dropout(
            _host(x), p, seed=seed, offset=offset, variant=variant, backend="cpu",
            out=None if out is None else _host(out),
        )
        y = torch.from_numpy(y) if out is None else out
        keep = store_mask and mask is not None
        return y, torch.from_numpy(mask) if keep else _empty_mask(x)
    # CUDA: the tensor is the device array; the mask comes back as a numba device array,
    # allocated on numba's current device: made x's device for the call.
    y = torch.empty(x.shape, dtype=x.dtype, device=x.device) if out is None else out
    with _on_device(x):
        _, mask = fastdrop.dropout(
            x.detach(), p, seed=seed, offset=offset, variant=variant, backend="cuda",
            out=y.detach(),
        )
    keep = store_mask and mask is not None
    return y, torch.as_tensor(mask, device=x.device) if keep else _empty_mask(x)


def backward_impl(dy, mask, p, seed, offset, variant):
    """dx from dy, with the stored mask (non-empty) or regenerating it from seed/offset."""
    stored = mask is not None and mask.numel() > 0
    if dy.device.type == "cpu":
        return torch.from_numpy(fastdrop.dropout_backward(
            _host(dy), p, mask=mask.numpy() if stored else None, seed=seed, offset=offset,
            variant=variant, backend="cpu",
        ))
    dx = torch.empty(dy.shape, dtype=dy.dtype, device=dy.device)
    with _on_device(dy):
        fastdrop.dropout_backward(
            dy.detach(), p, mask=mask if stored else None, seed=seed, offset=offset,
            variant=variant, backend="cuda", out=dx,
        )
    return dx


def _on_device(t: Tensor):
    """numba-cuda's context for the GPU a CUDA tensor lives on."""
    from numba import cuda

    return cuda.gpus[t.device.index if t.device.index is not None else 0]


def mask_nbytes(shape, variant: str, store_mask: bool):
    """Bytes of the mask the op returns: ceil(entries / 8), or 0 (gaussian, not stored)."""
    if not store_mask or variant == "gaussian":
        return 0
    entries = shape[0] * shape[1] if variant == "spatial" else _numel(shape)
    return (entries + 7) // 8


def _numel(shape):
    n = 1
    for d in shape:
        n = n * d
    return n


# ---- the registered operators (torch.compile, torch.library, gradcheck) ----


@torch.library.custom_op("fastdrop::dropout", mutates_args=(), device_types=("cpu", "cuda"))
def dropout_op(
    x: Tensor, seed: Tensor, offset: Tensor, p: float, variant: str, store_mask: bool
) -> tuple[Tensor, Tensor]:
    """(y, mask) of SPEC.md; mask is empty when store_mask is False or variant gaussian."""
    return forward_impl(x, p, to_u64(seed), to_u64(offset), variant, store_mask)


@dropout_op.register_fake
def _dropout_fake(x, seed, offset, p, variant, store_mask):
    nbytes = mask_nbytes(x.shape, variant, store_mask)
    return torch.empty_like(x, memory_format=torch.contiguous_format), x.new_empty(
        (nbytes,), dtype=torch.uint8
    )


@torch.library.custom_op(
    "fastdrop::dropout_backward", mutates_args=(), device_types=("cpu", "cuda")
)
def dropout_backward_op(
    dy: Tensor, mask: Tensor, seed: Tensor, offset: Tensor, p: float, variant: str
) -> Tensor:
    """dx of SPEC.md: from the packed mask, or regenerated from seed/offset if it is empty."""
    return backward_impl(dy, mask, p, to_u64(seed), to_u64(offset), variant)


@dropout_backward_op.register_fake
def _dropout_backward_fake(dy, mask, seed, offset, p, variant):
    return torch.empty_like(dy, memory_format=torch.contiguous_format)


def _setup_forward(ctx, inputs, output):
    _, seed, offset, p, variant, _ = inputs
    # Clones: a module advances its offset buffer in place right after the forward.
    ctx.save_for_backward(output[1], seed.clone(), offset.clone())
    ctx.p, ctx.variant = p, variant


def _backward_of_forward(ctx, dy, _dmask):
    mask, seed, offset = ctx.saved_tensors
    return dropout_backward_op(dy, mask, seed, offset, ctx.p, ctx.variant), None, None, None, \
        None, None


def _setup_backward(ctx, inputs, output):
    _, mask, seed, offset, p, variant = inputs
    ctx.save_for_backward(mask, seed, offset)
    ctx.p, ctx.variant = p, variant


def _backward_of_backward(ctx, ddx):
    # dx = D dy with D diagonal (keep * scale, or 1 + sigma z): its gradient is D ddx.
    mask, seed, offset = ctx.saved_tensors
    return dropout_backward_op(ddx, mask, seed, offset, ctx.p, ctx.variant), None, None, \
        None, None, None


dropout_op.register_autograd(_backward_of_forward, setup_context=_setup_forward)
dropout_backward_op.register_autograd(_backward_of_backward, setup_context=_setup_backward)


# ---- eager mode: the same kernels through an autograd.Function (less dispatch); a
# ---- contiguous CPU tensor takes the lighter host.HostDropout instead ----


class EagerDropout(torch.autograd.Function):
    """y = dropout(x) with ints for seed/offset; backward from the mask or regenerated.

    The combined forward(ctx, ...) form: with a separate setup_context the same call costs
    68 us instead of 28 (torch 2.13, 100 x 100). torch.func transforms need that form, so
    under them fastdrop.torch.dropout calls TransformDropout instead.
    """

    @staticmethod
    def forward(ctx, x, p, seed, offset, variant, store_mask, inplace):
        y, mask = forward_impl(x, p, seed, offset, variant, store_mask,
                               out=x if inplace else None)
        if inplace:
            ctx.mark_dirty(x)
        ctx.mark_non_differentiable(mask)
        # saved, not kept as an attribute: saved-tensor hooks (offloading, memory counts)
        # see the mask like any other tensor kept for backward
        ctx.save_for_backward(mask)
        ctx.p, ctx.seed, ctx.offset, ctx.variant = p, seed, offset, variant
        return y, mask

    @staticmethod
    def backward(ctx, dy, _dmask):
        (mask,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a differentiable backward
            dx = dropout_backward_op(
                dy, mask, torch.tensor(to_i64(ctx.seed)), torch.tensor(to_i64(ctx.offset)),
                ctx.p, ctx.variant,
            )
        else:
            dx = backward_impl(dy, mask, ctx.p, ctx.seed, ctx.offset, ctx.variant)
        return dx, None, None, None, None, None, None


class TransformDropout(torch.autograd.Function):
    """EagerDropout in the form torch.func's grad transforms take (torch.func.grad, vjp,
    jacrev); the registered op's autograd cannot run under them in torch 2.13."""

    @staticmethod
    def forward(x, p, seed, offset, variant, store_mask):
        return forward_impl(x, p, seed, offset, variant, store_mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, p, seed, offset, variant, _ = inputs
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(output[1])
        ctx.p, ctx.seed, ctx.offset, ctx.variant = p, seed, offset, variant

    @staticmethod
    def backward(ctx, dy, _dmask):
        (mask,) = ctx.saved_tensors
        dx = dropout_backward_op(dy, mask, torch.tensor(to_i64(ctx.seed)),
                                 torch.tensor(to_i64(ctx.offset)), ctx.p, ctx.variant)
        return dx, None, None, None, None, None


def inference(x: Tensor, p: float, variant: str) -> Tensor:
    """Dropout off: x itself, or x * (1 - p_hat) rounded to x's dtype for `standard`."""
    if variant != "standard":
        return x
    return x * torch.tensor(spec.inference_scale(p, variant), dtype=x.dtype)
