"""Small Numba helpers the CPU kernels need: the Philox round in vector-friendly form, and a
cache prefetch hint."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import spec

U64 = np.uint64
M32 = U64(spec.MASK32)
_M0 = U64(spec.PHILOX_M0)
_M1 = U64(spec.PHILOX_M1)
_W0 = U64(spec.PHILOX_W0)
_W1 = U64(spec.PHILOX_W1)
_S32 = U64(32)


@njit(inline="always")
def philox_lazy(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on 32-bit words held in uint64 lanes.

    Only the low 32 bits of each returned word are meaningful: the high bits of c1 and c3
    carry the multiply's high half as junk. That junk never reaches a result because each
    multiply masks its operand first (LLVM folds `(c & M32) * M` into one vpmuludq) and the
    caller masks the outputs. Dropping the two explicit masks per round is ~20% fewer
    vector instructions (NOTES.md). Written as plain scalar code on locals so that a loop
    over independent counters vectorises (per-lane state arrays stop LLVM's vectoriser).
    """
    for _ in range(spec.PHILOX_ROUNDS):
        p0 = _M0 * (c0 & M32)
        p1 = _M1 * (c2 & M32)
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ k0, p1, (p0 >> _S32) ^ c3 ^ k1, p0
        k0 = (k0 + _W0) & M32
        k1 = (k1 + _W1) & M32
    return c0 & M32, c1 & M32, c2 & M32, c3 & M32


@intrinsic
def prefetch(typingctx, arr, idx, for_write):
    """Cache hint for arr[idx] (llvm.prefetch; for_write a literal 0 or 1). No effect on
    results: a prefetch never faults, even past the end of the array."""
    if not isinstance(arr, types.Array) or not isinstance(for_write, types.IntegerLiteral):
        return None
    rw = int(for_write.literal_value)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # (address, rw, locality 3 = keep in all cache levels, cache type 1 = data)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, rw), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, idx, for_write), codegen
