"""The public operations of SPEC.md section 4: validate once, then dispatch to a backend."""

from __future__ import annotations

import numpy as np

from . import _validate as v
from . import dispatch as _backends
from .kernels import reference
from .kernels.memory import STREAM_FROM_BYTES, aligned_empty
from .kernels.plan import make_plan

# dropout()'s direct path: element variants, numpy float arrays in and out, the CPU kernels
_DIRECT_VARIANTS = frozenset({"inverted", "standard", "alpha"})
_DIRECT_BACKENDS = frozenset({"auto", "cpu"})
_DIRECT_DTYPES = frozenset(np.dtype(d) for d in v.HOST_DTYPES)
# (variant, backend, p, dtype, x writable) -> cpu.direct_entry's (call, const), kept by
# the first call of each key after the full checks; bounded: p is any float.
_DIRECT: dict = {}
# the same for dropout_backward, the key ending in whether the mask is regenerated
_DIRECT_BACKWARD: dict = {}
_DIRECT_KEYS_MAX = 4096
_M32 = 0xFFFFFFFF
_U64_END = v.UINT64_END
_OVERLAP = v.overlap_message("out")
_U8 = np.dtype(np.uint8)


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
    if (type(x) is np.ndarray and type(p) is float and type(seed) is int
            and type(offset) is int and type(variant) is str and type(backend) is str
            and training is True and stream is None):
        # The common call of a known (variant, backend, p, dtype, x writable), each
        # argument of exactly the type that key implies, in as few Python steps as
        # possible: every check of the general path below, the plan's constants cached
        # with the kernel's compiled entry point (NOTES.md step 41: a 2^16 call spent 3.7
        # us beside its kernel, now 1.2-1.5).
        xf = x.flags
        direct = _DIRECT.get((variant, backend, p, x.dtype, xf.writeable))
        if (direct is not None and xf.c_contiguous and xf.aligned
                and 0 <= seed < _U64_END and 0 <= offset < _U64_END):
            y = _new_output(x) if out is None else out if _direct_out(out, x) else None
            if y is not None:  # (else the general path checks out and says what is wrong)
                call, const = direct
                mask = np.empty((x.size + 7) >> 3, np.uint8)
                flat = x.ndim == 1  # the kernel takes 1-D arrays: one compile per dtype
                if call(x if flat else x.reshape(-1), y if flat else y.reshape(-1), mask,
                        seed & _M32, seed >> 32, offset & _M32, offset >> 32, *const):
                    return y, mask
                # refused (out overlaps x partially), nothing written: the checks below
                # say so
    variant = v.check_variant(variant)
    p = v.check_p(p, variant)
    seed = v.check_uint64("seed", seed)
    offset = v.check_uint64("offset", offset)
    backend = v.check_backend_name(backend)
    if (type(x) is np.ndarray and stream is None and training is True
            and variant in _DIRECT_VARIANTS and backend in _DIRECT_BACKENDS
            and x.dtype in _DIRECT_DTYPES and (xf := x.flags).c_contiguous and xf.aligned
            and (out is None or _direct_out(out, x))):
        # The first call of a key above, or p, seed or offset of another type than the
        # fast path takes (np.float32(0.5), np.uint64(7)): checked above, run, and its
        # (call, const) kept under its key, which holds p as the float check_p made.
        y = aligned_empty(x.shape, x.dtype) if out is None else out
        plan = make_plan(x.shape, x.dtype, p, seed, offset, variant)
        mask = np.empty(plan.nbytes, np.uint8)
        call, const = _backends.cpu_kernels().direct_entry(x.reshape(-1), y.reshape(-1), mask,
                                                           plan)
        if call is None:
            raise ValueError(_OVERLAP)
        if len(_DIRECT) >= _DIRECT_KEYS_MAX:
            _DIRECT.clear()
        _DIRECT[(variant, backend, p, x.dtype, xf.writeable)] = call, const
        return y, mask
    be = _backends.resolve(backend, x, stream)
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


def _new_output(x) -> np.ndarray:
    """aligned_empty(x.shape, x.dtype) without its checks: x is an ndarray."""
    if x.nbytes < STREAM_FROM_BYTES:
        return np.empty(x.shape, x.dtype)
    return aligned_empty(x.shape, x.dtype)


def _direct_out(out, x) -> bool:
    """out is a C-contiguous, aligned, writable numpy array of x's shape and dtype that
    the kernel can write in place (x itself, or memory apart from x: the kernel tests it);
    anything else takes the general path, which checks it and says what is wrong."""
    return (type(out) is np.ndarray and out.shape == x.shape and out.dtype == x.dtype
            and out.flags.carray)


def dropout_backward(
    dy, p, *, mask=None, seed=None, offset=0, variant="inverted", backend="auto", out=None,
    stream=None,
):
    """Gradient of dropout: dx from dy, using the stored mask or regenerating it from
    seed/offset (no mask memory at all). The mask wins when both are given."""
    if (type(dy) is np.ndarray and type(p) is float and type(offset) is int
            and type(variant) is str and type(backend) is str and stream is None
            and (type(seed) is int or (seed is None and mask is not None))
            and (mask is None or type(mask) is np.ndarray)):
        # dropout()'s fast path for the backward: the key adds whether the mask is
        # regenerated; a stored one must be a writable, C-contiguous 1-D uint8 array (its
        # Numba type), and the kernel checks its size
        dyf = dy.flags
        regen = mask is None
        direct = _DIRECT_BACKWARD.get((variant, backend, p, dy.dtype, dyf.writeable, regen))
        key0 = 0 if seed is None else seed  # unused beside a stored mask
        if (direct is not None and dyf.c_contiguous and dyf.aligned
                and 0 <= key0 < _U64_END and 0 <= offset < _U64_END
                and (regen or (mask.ndim == 1 and mask.dtype == _U8
                               and (mf := mask.flags).c_contiguous and mf.writeable))):
            dx = _new_output(dy) if out is None else out if _direct_out(out, dy) else None
            if dx is not None:
                call, const = direct
                flat = dy.ndim == 1
                dys, dxs = (dy, dx) if flat else (dy.reshape(-1), dx.reshape(-1))
                if (call(dys, dxs, key0 & _M32, key0 >> 32, offset & _M32, offset >> 32, *const)
                        if regen else call(dys, dxs, mask, *const)):
                    return dx
                # refused (out overlaps dy partially, or a mask of the wrong size), nothing
                # written: the checks below say so
    variant = v.check_variant(variant)
    p = v.check_p(p, variant)
    v.check_mask_or_seed(mask, seed, variant)
    seed = 0 if seed is None else v.check_uint64("seed", seed)
    offset = v.check_uint64("offset", offset)
    be = _backends.resolve(backend := v.check_backend_name(backend), dy, stream)
    dy = be.asarray(dy, "dy")
    if variant == "spatial":
        v.check_spatial_shape(dy.shape, variant, "dy")
    plan = make_plan(dy.shape, dy.dtype, p, seed, offset, variant)
    if mask is not None:
        mask = be.mask_array(mask)
        v.check_mask(mask, plan.nbytes, variant)
    if (type(dy) is np.ndarray and stream is None and variant in _DIRECT_VARIANTS
            and backend in _DIRECT_BACKENDS and dy.dtype in _DIRECT_DTYPES
            and (dyf := dy.flags).c_contiguous and dyf.aligned
            and (out is None or _direct_out(out, dy))
            and (mask is None or (type(mask) is np.ndarray and mask.flags.c_contiguous
                                  and mask.flags.writeable))):
        # The first call of a key of the fast path above: checked, run, and kept
        dx = aligned_empty(dy.shape, dy.dtype) if out is None else out
        call, const = _backends.cpu_kernels().direct_entry(dy.reshape(-1), dx.reshape(-1),
                                                           mask, plan, backward=True)
        if call is None:
            raise ValueError(_OVERLAP)  # check_mask has passed: what is left is out
        if len(_DIRECT_BACKWARD) >= _DIRECT_KEYS_MAX:
            _DIRECT_BACKWARD.clear()
        _DIRECT_BACKWARD[(variant, backend, p, dy.dtype, dyf.writeable, mask is None)] = (
            call, const)
        return dx
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
