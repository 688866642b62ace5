"""Small Numba helpers the CPU kernels need: the Philox round in vector-friendly form, a
cache prefetch hint, and two 8-element vector steps (mask byte, select)."""

from __future__ import annotations

import platform

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
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


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


# --- eight elements at a time, as explicit vectors -----------------------------------------
# LLVM vectorises the plain element loops, but it cannot see that 8 compare results are
# one mask byte: packing them went through a 64-bit multiply per byte, which AVX2 emulates
# with three vpmuludq. Written as <8 x i1> <-> i8 bitcasts, the byte is one vmovmskps
# (AVX2) or kmovb (AVX-512), and when the same byte selects the elements right after,
# LLVM folds the two bitcasts away (NOTES.md).

SCALE, COPY, AFFINE = 0, 1, 2  # what a kept element becomes: x*a, x, a*x + b


def _splat(builder, value, count):
    """`value` in every lane of a <count x type> vector."""
    vty = ir.VectorType(value.type, count)
    i32 = ir.IntType(32)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(i32, 0))
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(i32, count), [0] * count))


def _vec_ptr(context, builder, aryty, ary, idx, count):
    data = context.make_array(aryty)(context, builder, ary).data
    ptr = builder.gep(data, [idx])
    return builder.bitcast(ptr, ir.VectorType(data.type.pointee, count).as_pointer())


@intrinsic
def keep_byte(typingctx, u16, e, t):
    """Mask byte of u16[e:e+8] >= t (bit j for element e + j); t an int32 in 0..65536."""
    if not (isinstance(u16, types.Array) and u16.dtype == types.uint16):
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        ptr = _vec_ptr(context, builder, sig.args[0], args[0], args[1], 8)
        words = builder.zext(builder.load(ptr, align=2), ir.VectorType(i32, 8))
        tt = context.cast(builder, args[2], sig.args[2], types.int32)
        keep = builder.icmp_unsigned(">=", words, _splat(builder, tt, 8))
        return builder.bitcast(keep, ir.IntType(8))

    return types.uint8(u16, e, t), codegen


@intrinsic
def select8(typingctx, xs, ys, e, byte, a, b, other, mode, stream):
    """ys[e+j] = kept(xs[e+j]) if bit j of byte else other, j < 8; kept by the literal mode:
    SCALE x*a, COPY x, AFFINE a*x + b (two roundings, as numpy: no FMA contraction).

    stream (a runtime bool): store with a non-temporal hint (`!nontemporal`: vmovntps),
    which writes the line without first reading it into cache (the write-allocate read, a
    third of a kernel's memory traffic out of cache; NOTES.md). Only for arrays far beyond
    the caches, and only when ys's data is 16-byte aligned: the store then claims 16-byte
    alignment (e is a multiple of 8, so 8 elements of 2 bytes or more keep it), which LLVM
    needs to emit vector non-temporal stores. The caller ends its stores with sfence()."""
    if not (isinstance(xs, types.Array) and isinstance(mode, types.IntegerLiteral)):
        return None
    kind = int(mode.literal_value)
    dt = xs.dtype

    def codegen(context, builder, sig, args):
        src = _vec_ptr(context, builder, sig.args[0], args[0], args[2], 8)
        dst = _vec_ptr(context, builder, sig.args[1], args[1], args[2], 8)
        bits8 = context.cast(builder, args[3], sig.args[3], types.uint8)
        keep = builder.bitcast(bits8, ir.VectorType(ir.IntType(1), 8))
        align = context.get_abi_sizeof(context.get_data_type(dt))
        v = builder.load(src, align=align)

        def vec(i):
            return _splat(builder, context.cast(builder, args[i], sig.args[i], dt), 8)

        if kind == SCALE:
            v = builder.fmul(v, vec(4))
        elif kind == AFFINE:
            v = builder.fadd(builder.fmul(vec(4), v), vec(5))
        out = builder.select(keep, v, vec(6))
        stream = context.cast(builder, args[8], sig.args[8], types.boolean)
        with builder.if_else(stream, likely=False) as (then, otherwise):
            with then:
                st = builder.store(out, dst, align=16)
                st.set_metadata("nontemporal", builder.module.add_metadata(
                    [ir.Constant(ir.IntType(32), 1)]))
            with otherwise:
                builder.store(out, dst, align=align)
        return context.get_dummy_value()

    return types.void(xs, ys, e, byte, a, b, other, mode, stream), codegen


@intrinsic
def sfence(typingctx):
    """Order this thread's non-temporal stores before anything it does next (they are
    weakly ordered): every kernel that streamed calls it before its block ends."""

    def codegen(context, builder, sig, args):
        if _X86:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence")
            builder.call(fn, [])
        else:  # elsewhere a full fence orders them (LLVM picks the target's barrier)
            builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def prefer_512(typingctx):
    """On an AVX-512 target, let LLVM vectorise the enclosing function with 512-bit vectors.

    LLVM's x86 targets with AVX-512 default to 256-bit vectors for auto-vectorised loops
    ("prefer-256-bit": wide vectors can lower the clock on some parts). The Philox loop is
    integer work that gains: with zmm, 8 counters per multiply and `vpternlogq` for the
    xors (NOTES.md: 1.98 -> 3.0 Gelem/s for the Philox stage, one thread). The attribute is
    per function, so it touches only the kernel that calls this, never the user's other
    Numba code; on other targets this emits nothing. No instructions are generated.
    """

    def codegen(context, builder, sig, args):
        features = getattr(context.codegen(), "_tm_features", "") or ""
        if "+avx512f" in features.split(","):
            attrs = builder.function.attributes
            # llvmlite's AttributeSet only knows enum attributes; these are string
            # attributes, printed as given into the function's attribute group
            set.add(attrs, '"prefer-vector-width"="512"')
            set.add(attrs, '"min-legal-vector-width"="512"')
        return context.get_dummy_value()

    return types.void(), codegen
