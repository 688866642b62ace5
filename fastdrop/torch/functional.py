"""fastdrop.torch.dropout: the functional form, like torch.nn.functional.dropout plus seed."""

from __future__ import annotations

import torch
from torch import Tensor

from fastdrop import _validate as v

from . import host, ops


def dropout(
    x: Tensor,
    p: float = 0.5,
    training: bool = True,
    *,
    seed,
    offset=0,
    variant: str = "inverted",
    store_mask: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Dropout of x at rate p, with the mask of SPEC.md for (seed, offset).

    seed, offset: integers in [0, 2^64), or 0-dim int64 tensors holding their bits (as a
    module's buffers do; under torch.compile pass tensors, since a changing Python int is
    a guard and recompiles). store_mask=False keeps no mask for backward: it is
    regenerated from (seed, offset). inplace=True writes y into x (x is returned).
    Gradients flow to x; the result equals fastdrop.dropout bit for bit.
    """
    variant = v.check_variant(variant)
    p = v.check_p(p, variant)
    ops.check_tensor(x)
    if not training:
        return ops.inference(x, p, variant)
    # torch.compile sees the registered op; torch.func transforms a Function of the form
    # they take; plain eager calls the cheaper Function (ops.py says why). Same kernels.
    if torch.compiler.is_compiling():
        seed_t, offset_t = _state_tensor("seed", seed), _state_tensor("offset", offset)
        y, _ = ops.dropout_op(x, seed_t, offset_t, p, variant, store_mask)
        return x.copy_(y) if inplace else y
    seed, offset = ops.state_word("seed", seed), ops.state_word("offset", offset)
    if torch._C._are_functorch_transforms_active():
        y = ops.TransformDropout.apply(x, p, seed, offset, variant, store_mask)[0]
        return x.copy_(y) if inplace else y
    if host.takes(x):
        return host.apply(x, p, seed, offset, variant, store_mask, inplace)
    return ops.EagerDropout.apply(x, p, seed, offset, variant, store_mask, inplace)[0]


def _state_tensor(name: str, value) -> Tensor:
    """seed / offset as the 0-dim int64 CPU tensor the registered op takes."""
    if isinstance(value, Tensor):
        if value.dim() != 0 or value.dtype != torch.int64:
            raise TypeError(
                f"{name} must be a 0-dim int64 tensor, got dtype {value.dtype} and shape "
                f"{tuple(value.shape)}"
            )
        return value
    return torch.tensor(ops.to_i64(v.check_uint64(name, value)), dtype=torch.int64)
