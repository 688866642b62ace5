"""The native eager op: a C++ autograd Function (csrc/native_dropout.cpp) calling fastdrop's
Numba kernels through C function pointers, for contiguous CPU float32/float64 tensors and
the element variants (inverted, standard, alpha).

Why: a Python torch.autograd.Function costs about 27-31 us per forward + backward on this
machine before any work (NOTES.md, fastdrop.torch), more than the kernels on a 100 x 100
tensor; a C++ Function runs autograd's node without Python. The Plan (threshold, scales,
Philox words) is fastdrop's own (kernels/plan.py) and the kernels are cpu.py's bodies,
wrapped as cfuncs: the bits are fastdrop.dropout's (tests/torch/test_torch_native.py).

The C++ file is compiled on first use with torch.utils.cpp_extension (a C++ compiler is
needed; about a minute, once per torch version and source, cached by torch under
TORCH_EXTENSIONS_DIR). Where it cannot be built, or with FASTDROP_TORCH_NATIVE=0, the
Python Function (host.HostDropout) runs instead, with the same results; `status()` says
which and why.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numba
import numpy as np
from numba import carray, cfunc, types

from fastdrop.kernels import cpu
from fastdrop.kernels.plan import make_plan

SOURCE = Path(__file__).with_name("csrc") / "native_dropout.cpp"
NAME = "fastdrop_native"
ENV = "FASTDROP_TORCH_NATIVE"
VARIANTS = ("inverted", "standard", "alpha")

# --- the kernels as C functions ---------------------------------------------------------
# One per dtype, written out: a cfunc made by a factory closes over the dtype, and a
# closure's cache key differs in every process, so cache=True would never hit (NOTES.md).


def _sig(dt):
    return types.void(types.CPointer(dt), types.CPointer(dt), types.CPointer(types.uint8),
                      types.int64, types.int32, types.int32, types.int32, types.float64,
                      types.float64, types.float64, types.uint64, types.uint64,
                      types.uint64, types.uint64, types.int32)


def _from_mask_sig(dt):
    return types.void(types.CPointer(dt), types.CPointer(dt), types.CPointer(types.uint8),
                      types.int64, types.int32, types.float64, types.float64, types.int32)


# Scratch blocks of the parallel kernels: cpu._scratch gives BLOCKS_PER_THREAD per thread
# of the current count; here the most threads Numba may run (a constant: reading the
# current count from compiled code is a call through a ctypes pointer, which stops
# cache=True). More blocks than threads only splits the work finer: the bits do not depend
# on it.
_PAR_BLOCKS = cpu._PAR_BLOCKS


@numba.njit(cache=True)
def _scratch(n):
    blocks = 1 if n < cpu.SERIAL_BELOW else _PAR_BLOCKS
    return np.zeros((blocks, 2 * cpu.CH), np.uint64)


@numba.njit(inline="always")
def _masked(x, y, mask, store_mask, mode, t, a, b, other, k0, k1, o0, o1, stream):
    """cpu.py's masked kernel, serial or parallel by size as cpu._elementwise picks."""
    w64s = _scratch(x.size)
    if x.size < cpu.SERIAL_BELOW:
        cpu._masked_body(x, y, mask, store_mask != 0, mode, t, a, b, other, k0, k1, o0, o1,
                         w64s, stream)
    else:
        cpu._masked_par(x, y, mask, store_mask != 0, mode, t, a, b, other, k0, k1, o0, o1,
                        w64s, stream)


@numba.njit(inline="always")
def _from_mask(dy, dx, mask, mode, a, other, stream):
    """cpu.py's backward from a stored mask, serial or parallel by size."""
    if dy.size < cpu.SERIAL_BELOW:
        cpu._from_mask_body(dy, dx, mask, mode, a, other, stream)
    else:
        cpu._from_mask_par(dy, dx, mask, mode, a, other, stream)


def _masked32(xp, yp, mp, n, store_mask, mode, t, a, b, other, k0, k1, o0, o1, stream):
    # the constants in x's dtype, as the Plan holds them (alpha's a*x + b rounds twice)
    _masked(carray(xp, n), carray(yp, n), carray(mp, (n + 7) // 8 if store_mask else 0),
            store_mask, mode, t, np.float32(a), np.float32(b), np.float32(other), k0, k1, o0,
            o1, stream)


def _masked64(xp, yp, mp, n, store_mask, mode, t, a, b, other, k0, k1, o0, o1, stream):
    _masked(carray(xp, n), carray(yp, n), carray(mp, (n + 7) // 8 if store_mask else 0),
            store_mask, mode, t, a, b, other, k0, k1, o0, o1, stream)


def _from_mask32(dyp, dxp, mp, n, mode, a, other, stream):
    _from_mask(carray(dyp, n), carray(dxp, n), carray(mp, (n + 7) // 8), mode,
               np.float32(a), np.float32(other), stream)


def _from_mask64(dyp, dxp, mp, n, mode, a, other, stream):
    _from_mask(carray(dyp, n), carray(dxp, n), carray(mp, (n + 7) // 8), mode, a, other,
               stream)


def _cfuncs():
    """The four kernels as C functions, compiled (or loaded from Numba's cache) only when
    the native op is first wanted: importing fastdrop.torch compiles nothing."""
    # The parallel kernels inside need Numba's thread pool and its symbols
    # (allocate_sched, ...), which a cfunc loaded from the cache does not start: a parallel
    # dispatcher's first call does (any one; this one is cheap).
    one = np.zeros(1)
    cpu._copy_par(one, one.copy())
    f32, f64 = types.float32, types.float64
    return [cfunc(sig, cache=True)(fn) for sig, fn in (
        (_sig(f32), _masked32), (_sig(f64), _masked64),
        (_from_mask_sig(f32), _from_mask32), (_from_mask_sig(f64), _from_mask64))]


# --- building and loading the extension ------------------------------------------------

_lock = threading.Lock()
_state: dict = {"ext": None, "why": None}


def _build():
    from torch.utils import cpp_extension

    build_dir = Path(cpp_extension._get_build_directory(NAME, verbose=False))
    if not any(build_dir.glob(f"{NAME}*.so")):
        print(f"fastdrop.torch: compiling the native op into {build_dir} (once; about a "
              f"minute; {ENV}=0 skips it)", file=sys.stderr, flush=True)
    ext = cpp_extension.load(NAME, [str(SOURCE)], extra_cflags=["-O2"], verbose=False)
    kernels = _cfuncs()
    ext.set_kernels(*(k.address for k in kernels), int(cpu.STREAM_FROM_BYTES))
    _state["cfuncs"] = kernels  # the compiled code lives as long as these objects
    return ext


def extension():
    """The loaded extension, or None (see status())."""
    if _state["ext"] is not None or _state["why"] is not None:
        return _state["ext"]
    with _lock:
        if _state["ext"] is None and _state["why"] is None:
            if os.environ.get(ENV, "1") == "0":
                _state["why"] = f"{ENV}=0"
            else:
                try:
                    _state["ext"] = _build()
                except Exception as exc:  # no compiler, no headers, a failed build
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    _state["why"] = f"the native op could not be built: " \
                                    f"{type(exc).__name__}: {first}"
    return _state["ext"]


def status() -> str:
    """"native" when the C++ op is in use, else why the Python Function runs instead."""
    return "native" if extension() is not None else str(_state["why"])


def _modes(plan):
    """(fmode, fa, fb, fother, bmode, ba, bother): what cpu._elementwise and cpu.backward
    pass the kernels for this variant."""
    if plan.variant == "alpha":
        return (cpu.AFFINE, plan.alpha_a, plan.alpha_b, plan.alpha_drop,
                cpu.SCALE, plan.alpha_a, plan.zero)
    if plan.variant == "standard":
        return cpu.COPY, plan.scale, plan.zero, plan.zero, cpu.COPY, plan.scale, plan.zero
    return cpu.SCALE, plan.scale, plan.zero, plan.zero, cpu.SCALE, plan.scale, plan.zero


_SITES: dict = {}  # (p, variant, store_mask) -> ext.Site


def site(ext, p: float, variant: str, store_mask: bool):
    """The extension's Site for one (p, variant, store_mask): the Plan's constants for
    float32 and float64 (kernels/plan.py, the scales rounded to each dtype) and the
    backward's, made once. p and variant checked by the caller; variant in VARIANTS."""
    key = (p, variant, store_mask)
    s = _SITES.get(key)
    if s is None:
        f32, f64 = (_modes(make_plan((0,), np.dtype(dt), p, 0, 0, variant))
                    for dt in (np.float32, np.float64))
        t = make_plan((0,), np.dtype(np.float32), p, 0, 0, variant).t  # dtype-free
        s = _SITES[key] = ext.Site(
            int(t), f32[0], *map(float, f32[1:4]), *map(float, f64[1:4]), f32[4],
            float(f32[5]), float(f32[6]), float(f64[5]), float(f64[6]), float(p), variant,
            bool(store_mask))
    return s


def apply(ext, x, p: float, seed: int, offset: int, variant: str, store_mask: bool):
    """y = dropout(x) through the native op (x: a contiguous CPU float32/float64 tensor;
    variant one of VARIANTS; p, seed, offset checked by the caller). Per call only the key
    words change; the C++ side splits them as plan.key_words does."""
    return site(ext, p, variant, store_mask).apply(x, seed, offset)
