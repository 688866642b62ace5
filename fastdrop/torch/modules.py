"""Dropout modules that follow torch.nn.Dropout's conventions, on fastdrop's kernels.

Each module holds a seed and an offset as int64 buffers (the uint64 bits), so both are in
the state dict: a run resumed from a checkpoint continues the same mask sequence. The
offset advances by one per forward call in training mode: every step gets a fresh mask
from one seed. The buffers stay on the CPU when the module moves to a GPU (the kernels
take them as host integers; reading a device scalar would synchronise every call).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fastdrop import _validate as v

from . import host, native, ops
from .functional import dropout

_STATE = ("seed", "offset")
_SITE_FIELDS = ("p", "variant", "store_mask", "inplace")
_UNSET = False  # the native Site not looked up yet (None: the native op does not serve it)
_U64_MAX = (1 << 64) - 1


def _draw_seed() -> int:
    """A uint64 seed from torch's generator, so torch.manual_seed makes it reproducible."""
    lo, hi = torch.randint(0, 1 << 32, (2,), dtype=torch.int64).tolist()
    return lo | hi << 32


class Dropout(torch.nn.Module):
    """fastdrop dropout with torch.nn.Dropout's interface.

    p: drop rate in [0, 1]. inplace: write into the input. seed: uint64 (None: drawn from
    torch's generator). variant: inverted (default), standard, spatial, alpha, gaussian
    (SPEC.md). store_mask: keep the 1-bit packed mask for backward (n/8 bytes), or keep
    nothing and regenerate it there (False).
    """

    variant_default = "inverted"

    def __init__(self, p: float = 0.5, inplace: bool = False, *, seed=None, variant=None,
                 store_mask: bool = True):
        super().__init__()
        self.variant = v.check_variant(self.variant_default if variant is None else variant)
        self.p = v.check_p(p, self.variant)
        self.inplace = bool(inplace)
        self.store_mask = bool(store_mask)
        seed = _draw_seed() if seed is None else v.check_uint64("seed", seed)
        self.register_buffer("seed", torch.tensor(ops.to_i64(seed), dtype=torch.int64))
        self.register_buffer("offset", torch.zeros((), dtype=torch.int64))
        self._views = None  # numpy views of seed and offset for the eager path (_words)

    def __setattr__(self, name, value):
        if name == "p" and "variant" in self.__dict__:  # changed after __init__: checked
            value = v.check_p(value, self.variant)
        super().__setattr__(name, value)
        if name in _SITE_FIELDS:
            self.__dict__["_site"] = _UNSET  # the native Site holds p, variant, store_mask

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return dropout(x, self.p, False, seed=0, variant=self.variant)
        # The common case in one C++ call (native.py): a contiguous CPU float tensor in
        # eager mode; the Site reads and advances the offset buffer itself. In a training
        # step every line of Python here costs several times what it costs in a loop
        # (NOTES.md, fastdrop.torch), so this path has as few as it can.
        site = self._site
        if site is not None and not torch.compiler.is_compiling() and type(x) is Tensor \
                and not torch._C._are_functorch_transforms_active():
            if site is _UNSET:
                site = self._site = self._make_site()
            if site is not None:
                b = self._buffers
                y = site(x, b["seed"], b["offset"])
                if y is not None:
                    return y
        xb = self._batched(x)
        if torch.compiler.is_compiling():
            # The buffers go in as tensors (no guard on their values), and the offset is
            # advanced into a new tensor: AOTAutograd may re-read the one the forward used
            # in the backward (it recomputes the op's saved clone), so it must not change.
            y = self._call(xb, self.seed, self.offset)
            self.offset = self.offset + 1
        elif torch._C._are_functorch_transforms_active():
            y = self._call(xb, ops.to_u64(self.seed), ops.to_u64(self.offset))
            self.offset.add_(1)
        else:  # eager, p and variant checked in __init__; x checked before the offset moves
            direct = host.takes(xb)  # contiguous CPU tensor: the kernels called directly
            if not direct:
                ops.check_tensor(xb)
            seed, offset = self._words()
            if direct:
                y = host.apply(xb, self.p, seed, offset, self.variant, self.store_mask,
                               self.inplace)
            else:
                y = ops.EagerDropout.apply(xb, self.p, seed, offset, self.variant,
                                           self.store_mask, self.inplace)[0]
        return y if xb is x else y.view(x.shape)

    def _make_site(self):
        """The native op's Site for this module's settings, or None where the native op
        does not serve it (another variant, inplace, no extension: native.status())."""
        if self.inplace or self.variant not in native.VARIANTS:  # (spatial: not there)
            return None
        ext = native.extension()
        return None if ext is None else native.site(ext, self.p, self.variant,
                                                    self.store_mask)

    def _words(self) -> tuple[int, int]:
        """(seed, offset) as uint64 ints, advancing the offset buffer by one: read and
        written through 0-dim numpy views of the buffers (1 us against 3 for int(tensor)
        twice and add_, NOTES.md), re-made when a buffer object is replaced or after _apply."""
        seed_t, off_t = self._buffers["seed"], self._buffers["offset"]
        views = self._views
        if views is None or views[0] is not seed_t or views[1] is not off_t:
            views = self._views = (seed_t, off_t, seed_t.numpy(), off_t.numpy())
        off = views[3]
        offset = int(off) & _U64_MAX
        off += 1  # int64 wraps like the uint64 it holds
        return int(views[2]) & _U64_MAX, offset

    def __getstate__(self):
        # the views are of this object's buffers: a copy or unpickled module makes its own
        # and the native Site is not picklable: made again on first use
        return {**super().__getstate__(), "_views": None, "_site": _UNSET}

    def _call(self, x, seed, offset):
        return dropout(x, self.p, True, seed=seed, offset=offset, variant=self.variant,
                       store_mask=self.store_mask, inplace=self.inplace)

    def _batched(self, x: Tensor) -> Tensor:
        return x

    def _apply(self, fn, recurse=True):
        state = {k: self._buffers[k] for k in _STATE}
        super()._apply(fn, recurse)
        self._buffers.update(state)  # seed and offset stay host integers
        self._views = None  # fn may have moved their storage in place (share_memory)
        return self

    def extra_repr(self) -> str:
        return (f"p={self.p}, inplace={self.inplace}, variant={self.variant!r}, "
                f"store_mask={self.store_mask}, seed={ops.to_u64(self.seed)}")


class AlphaDropout(Dropout):
    """Alpha dropout for SELU networks (keeps mean 0, variance 1), like torch's."""

    variant_default = "alpha"


class GaussianDropout(Dropout):
    """Multiplicative Gaussian noise 1 + sigma z, sigma = sqrt(p / (1 - p))."""

    variant_default = "gaussian"


class _ChannelDropout(Dropout):
    """Zeroes whole channels of (N, C, *spatial) input; an unbatched (C, *spatial) input is
    treated as N = 1, as torch.nn.Dropout1d/2d/3d do."""

    variant_default = "spatial"
    spatial_dims = 1

    def _batched(self, x: Tensor) -> Tensor:
        d = self.spatial_dims
        if x.dim() == d + 1:
            return x.unsqueeze(0)
        if x.dim() != d + 2:
            raise ValueError(
                f"{type(self).__name__} takes ({d + 1}-D) unbatched or ({d + 2}-D) batched "
                f"input shaped (N, C, {', '.join('LHW'[-d:] if d < 3 else 'DHW')}); got "
                f"shape {tuple(x.shape)}"
            )
        return x

    def __init__(self, p: float = 0.5, inplace: bool = False, *, seed=None,
                 store_mask: bool = True):
        super().__init__(p, inplace, seed=seed, variant="spatial", store_mask=store_mask)


class Dropout1d(_ChannelDropout):
    """Channel dropout on (N, C, L) or (C, L), like torch.nn.Dropout1d."""

    spatial_dims = 1


class Dropout2d(_ChannelDropout):
    """Channel dropout on (N, C, H, W) or (C, H, W), like torch.nn.Dropout2d."""

    spatial_dims = 2


class Dropout3d(_ChannelDropout):
    """Channel dropout on (N, C, D, H, W) or (C, D, H, W), like torch.nn.Dropout3d."""

    spatial_dims = 3
