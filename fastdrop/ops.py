"""The public operations of SPEC.md section 4: validate once, then dispatch to a backend."""

from __future__ import annotations

import numpy as np

from . import _validate as v
from . import dispatch as _backends
from .kernels import reference
from .kernels.memory import aligned_empty
from .kernels.plan import make_plan

# the direct path of dropout(): element variants, numpy float arrays, the CPU kernels
_DIRECT_VARIANTS = frozenset({"inverted", "standard", "alpha"})
_DIRECT_BACKENDS = frozenset({"auto", "cpu"})
_DIRECT_DTYPES = frozenset(np.dtype(d) for d in v.HOST_DTYPES)


def backends() -> list[str]:
    """Backend names usable here, e.g. ['numpy', 'cpu'] (plus 'cuda' where a GPU is seen)."""
    return _backends.available()


def dropout(
    x, p, *, seed, offset=0, variant="inverted", training=True, backend="auto", out=None,
    stream=None,
):
    """Dropout of x at rate p. Returns (y, mask).

    mask is the packed uint8 keep mask (bit j of byte c keeps entry 8c + j; per channel
    for `spatial`), or None for `gaussian` and for training=False. The mask is a pure
    function of (seed, offset, index, p): every backend gives the same bits.
    """
    variant = v.check_variant(variant)
    p = v.check_p(p, variant)
    seed = v.check_uint64("seed", seed)
    offset = v.check_uint64("offset", offset)
    if (type(x) is np.ndarray and stream is None and training
            and variant in _DIRECT_VARIANTS and backend in _DIRECT_BACKENDS
            and x.dtype in _DIRECT_DTYPES and (xf := x.flags).c_contiguous and xf.aligned
            and (out is None or _direct_out(out, x))):
        # The common call, numpy in and out on the CPU kernels, without the general
        # path's backend objects: the same checks, plan and kernel (NOTES.md: 0.3-0.5 us
        # of a 6-7 us call on 10^4 elements), the kernel called past Numba's dispatcher
        # (cpu.forward_direct: another 0.7 us)
        y = aligned_empty(x.shape, x.dtype) if out is None else out
        plan = make_plan(x.shape, x.dtype, p, seed, offset, variant)
        mask = np.empty((plan.n + 7) >> 3, np.uint8)  # plan.nbytes: an element variant
        if plan.n:
            flat = x.ndim == 1  # a 1-D array is its own flat view (reshape: 0.1 us each)
            _backends.cpu_kernels().forward_direct(x if flat else x.reshape(-1),
                                                   y if flat else y.reshape(-1), mask, plan,
                                                   xf.writeable)
        return y, mask
    be = _backends.resolve(v.check_backend_name(backend), x, stream)
    x = be.asarray(x, "x")
    if variant == "spatial":
        v.check_spatial_shape(x.shape, variant, "x")
    y, y_flat = be.output(out, x)
    plan = make_plan(x.shape, x.dtype, p, seed, offset, variant)
    mask = None
    if training and variant != "gaussian":
        mask = be.empty_mask(plan.nbytes)
    if plan.n:
        x_flat = be.flat(x)
        if not training:
            be.kernels.inference(x_flat, y_flat, plan)
        else:
            be.kernels.forward(x_flat, y_flat, mask, plan)
        if out is not None:  # without out, y_flat is a view of y: nothing to copy
            be.finish(y, y_flat)
    return y, mask


def _direct_out(out, x) -> bool:
    """out is a C-contiguous, aligned, writable numpy array of x's shape and dtype that
    the kernel can write in place (x itself, or memory apart from x); anything else takes
    the general path, which checks it and says what is wrong."""
    if not (type(out) is np.ndarray and out.shape == x.shape and out.dtype == x.dtype):
        return False
    flags = out.flags
    if not (flags.c_contiguous and flags.writeable and flags.aligned):
        return False
    v.check_host_overlap(out, x)
    return True


def dropout_backward(
    dy, p, *, mask=None, seed=None, offset=0, variant="inverted", backend="auto", out=None,
    stream=None,
):
    """Gradient of dropout: dx from dy, using the stored mask or regenerating it from
    seed/offset (no mask memory at all). The mask wins when both are given."""
    variant = v.check_variant(variant)
    p = v.check_p(p, variant)
    v.check_mask_or_seed(mask, seed, variant)
    seed = 0 if seed is None else v.check_uint64("seed", seed)
    offset = v.check_uint64("offset", offset)
    be = _backends.resolve(v.check_backend_name(backend), dy, stream)
    dy = be.asarray(dy, "dy")
    if variant == "spatial":
        v.check_spatial_shape(dy.shape, variant, "dy")
    plan = make_plan(dy.shape, dy.dtype, p, seed, offset, variant)
    if mask is not None:
        mask = be.mask_array(mask)
        v.check_mask(mask, plan.nbytes, variant)
    dx, dx_flat = be.output(out, dy)
    if plan.n:
        be.kernels.backward(be.flat(dy), dx_flat, mask, plan)
        if out is not None:
            be.finish(dx, dx_flat)
    return dx


def keep_mask(n, p, *, seed, offset=0):
    """The packed keep mask of n elements (numpy reference): ceil(n / 8) uint8 bytes."""
    n = v.check_count("n", n)
    p = v.check_p(p)
    seed = v.check_uint64("seed", seed)
    offset = v.check_uint64("offset", offset)
    plan = make_plan((n,), "float32", p, seed, offset, "inverted")
    return reference.keep_mask(plan)
