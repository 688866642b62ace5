"""Every input check of the public API, in one place, with messages that name the argument
and the value (SPEC.md section 5). Kernels assume what passes here and never raise.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from . import spec

UINT64_END = 1 << 64
BACKEND_NAMES = ("auto", "numpy", "cpu", "cuda")
HOST_DTYPES = ("float32", "float64")
# The numpy reference also takes float16: it is the oracle for the CUDA float16 kernels.
REFERENCE_DTYPES = ("float16", "float32", "float64")


def _show(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_p(p, variant: str = "inverted") -> float:
    """p: a real number in [0, 1] (not a bool, not a string); p < 1 for gaussian."""
    if type(p) is not float:  # the common case skips the (slow) ABC checks
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise ValueError(f"p must be a real number in [0, 1], got {_show(p)}")
    value = float(p)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"p must be a real number in [0, 1], got {value!r}")
    if variant == "gaussian" and value == 1.0:
        raise ValueError(
            "p = 1 is not allowed for the gaussian variant: its noise std sqrt(p / (1 - p)) "
            "is infinite; use p < 1"
        )
    return value


def check_uint64(name: str, value) -> int:
    """seed / offset: an integer in [0, 2^64)."""
    if type(value) is not int:  # the common case skips the (slow) ABC checks
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer in [0, 2**64), got {_show(value)}")
    v = int(value)
    if not 0 <= v < UINT64_END:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {v}")
    return v


def check_count(name: str, value) -> int:
    """A non-negative element count."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {_show(value)}")
    if int(value) < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {int(value)}")
    return int(value)


def check_variant(variant) -> str:
    if not isinstance(variant, str) or variant not in spec.VARIANTS:
        raise ValueError(
            f"variant must be one of {', '.join(spec.VARIANTS)}; got {variant!r}"
        )
    return variant


def check_backend_name(backend) -> str:
    if not isinstance(backend, str) or backend not in BACKEND_NAMES:
        raise ValueError(
            f"backend must be one of {', '.join(BACKEND_NAMES)}; got {backend!r}"
        )
    return backend


@functools.cache
def _dtypes(allowed: tuple[str, ...]) -> frozenset:
    return frozenset(np.dtype(a) for a in allowed)


def check_dtype(dtype, allowed: tuple[str, ...], backend: str, name: str = "x") -> np.dtype:
    """A dtype of `allowed` (native byte order): hashing a dtype is cheaper than its .name."""
    dt = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    if dt not in _dtypes(allowed):
        order = "" if dt.isnative else " (non-native byte order)"
        raise TypeError(
            f"{name} has dtype {dt.name}{order}; backend {backend!r} takes {', '.join(allowed)}"
        )
    return dt


def check_spatial_shape(shape, variant: str, name: str = "x") -> None:
    if variant == "spatial" and len(shape) < 2:
        raise ValueError(
            f"the spatial variant needs {name} shaped (N, C, ...) with ndim >= 2; "
            f"got shape {tuple(shape)}"
        )


def check_out(out, shape, dtype, name: str = "out") -> None:
    if tuple(out.shape) != tuple(shape) or np.dtype(out.dtype) != np.dtype(dtype):
        raise ValueError(
            f"{name} must have shape {tuple(shape)} and dtype {np.dtype(dtype).name}; "
            f"got shape {tuple(out.shape)} and dtype {np.dtype(out.dtype).name}"
        )


def overlap_message(name: str = "out") -> str:
    return (f"{name} overlaps the input partially; pass out=x for in-place, or a separate "
            "buffer")


def check_host_overlap(out: np.ndarray, x: np.ndarray, name: str = "out") -> None:
    """out may be x itself (same memory, same layout) or disjoint from it; nothing between."""
    if not np.may_share_memory(out, x):
        return
    same = (
        out.__array_interface__["data"][0] == x.__array_interface__["data"][0]
        and out.strides == x.strides
        and out.shape == x.shape
    )
    if not same and np.shares_memory(out, x):
        raise ValueError(overlap_message(name))


def check_mask(mask, nbytes: int, variant: str) -> None:
    """A stored packed mask: uint8, one dimension, ceil(nbits / 8) bytes."""
    if variant == "gaussian":
        raise ValueError(
            "the gaussian variant has no mask (mask must be None); pass seed= and offset= "
            "to regenerate its noise"
        )
    shape = tuple(getattr(mask, "shape", ()))
    dtype = getattr(mask, "dtype", None)
    if dtype is None or np.dtype(dtype) != np.uint8 or len(shape) != 1:
        raise ValueError(
            f"mask must be a 1-D uint8 packed mask (as returned by dropout); got "
            f"{type(mask).__name__} with dtype {dtype} and shape {shape}"
        )
    if shape[0] != nbytes:
        raise ValueError(
            f"mask has {shape[0]} bytes but this input needs ceil(entries / 8) = {nbytes}"
        )


def check_mask_or_seed(mask, seed, variant: str) -> None:
    if variant == "gaussian" and seed is None:
        raise ValueError("the gaussian variant's backward needs seed= (and offset=)")
    if mask is None and seed is None:
        raise ValueError(
            "dropout_backward needs mask= (the packed mask dropout returned) or seed= and "
            "offset= (to regenerate it); got neither"
        )
