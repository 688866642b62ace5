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


PHILOX_BLOCK = 32  # calls per philox_block


def _has(context, feature: str) -> bool:
    """The target Numba compiles for has this CPU feature (e.g. "avx512f")."""
    features = getattr(context.codegen(), "_tm_features", "") or ""
    return f"+{feature}" in features.split(",")


@intrinsic
def philox_block(typingctx, w64, j, cb, k0, k1, o0, o1):
    """Philox4x32-10 of the PHILOX_BLOCK calls cb + j ... cb + j + 31 (counter words 0-1 the
    call's 64-bit index, 2-3 the offset words o0, o1; key k0, k1), written to
    w64[2j ... 2j + 63] as philox_words lays them out: per call (r0 | r1 << 32), (r2 | r3
    << 32), so that viewed as uint16 they are the elements' uniforms in element order.

    Explicit vectors in LLVM IR rather than a loop for the vectoriser: 4 independent
    <8 x i64> chains (AVX-512; 8 x <4 x i64> elsewhere) in one basic block. A round is a
    multiply (5 cycles), then a shift and a 3-way xor on its result: with LLVM's loop
    vectoriser the loop kept two chains and waited on that latency; four keep the vector
    ports busy (Philox stage, one thread, 2^20 counters: 4.66 -> 6.0 Gelem/s, NOTES.md).
    The lazy masking of philox_lazy: words carry junk above bit 31, which the multiplies
    ignore (`(c & M32) * M` is one vpmuludq) and the final pack drops.
    """
    if not (isinstance(w64, types.Array) and w64.dtype == types.uint64):
        return None

    def codegen(context, builder, sig, args):
        b = builder
        i64 = ir.IntType(64)
        width = 8 if _has(context, "avx512f") else 4
        vty = ir.VectorType(i64, width)

        def const(v):
            return ir.Constant(vty, [v] * width)

        def word(i):
            return context.cast(b, args[i], sig.args[i], types.uint64)

        data = context.make_array(sig.args[0])(context, b, args[0]).data
        first = b.add(context.cast(b, args[2], sig.args[2], types.int64),
                      context.cast(b, args[1], sig.args[1], types.int64))
        m32, s32 = const(spec.MASK32), const(32)
        lanes = ir.Constant(vty, list(range(width)))
        o0, o1 = _splat(b, word(5), width), _splat(b, word(6), width)
        states = []
        for q in range(PHILOX_BLOCK // width):
            c = b.add(_splat(b, b.add(first, ir.Constant(i64, q * width)), width), lanes)
            states.append([b.and_(c, m32), b.lshr(c, s32), o0, o1])
        chains = 4  # independent vectors in flight (16 registers of state)
        for g in range(0, len(states), chains):
            ka, kb = word(3), word(4)
            for _ in range(spec.PHILOX_ROUNDS):
                kva, kvb = _splat(b, ka, width), _splat(b, kb, width)
                for st in states[g:g + chains]:
                    c0, c1, c2, c3 = st
                    p0 = b.mul(b.and_(c0, m32), const(spec.PHILOX_M0))
                    p1 = b.mul(b.and_(c2, m32), const(spec.PHILOX_M1))
                    st[:] = [b.xor(b.xor(b.lshr(p1, s32), c1), kva), p1,
                             b.xor(b.xor(b.lshr(p0, s32), c3), kvb), p0]
                ka = b.and_(b.add(ka, ir.Constant(i64, spec.PHILOX_W0)),
                            ir.Constant(i64, spec.MASK32))
                kb = b.and_(b.add(kb, ir.Constant(i64, spec.PHILOX_W1)),
                            ir.Constant(i64, spec.MASK32))
        i32 = ir.IntType(32)
        half = width // 2
        base = b.mul(context.cast(b, args[1], sig.args[1], types.int64), ir.Constant(i64, 2))
        v32 = ir.VectorType(i32, 2 * width)
        pair = ir.Constant(ir.VectorType(i32, 2 * width),
                           [v for lane in range(width) for v in (2 * lane, 2 * lane + 2 * width)])

        def words(u, v):
            """r_u | r_v << 32 per call: the low dwords of two vectors paired by a dword
            shuffle (as shl/or, LLVM folded the shift into the last round's multiply and
            emitted a 3-uop vpmullq)."""
            w = b.shuffle_vector(b.bitcast(u, v32), b.bitcast(v, v32), pair)
            return b.bitcast(w, vty)

        for q, (c0, c1, c2, c3) in enumerate(states):
            lo = words(c0, c1)  # r0 | r1 << 32 of each call
            hi = words(c2, c3)  # r2 | r3 << 32
            for h in range(2):  # per call its lo then its hi: lo_l, hi_l, lo_l+1, hi_l+1, ...
                order = [v for lane in range(h * half, (h + 1) * half)
                         for v in (lane, lane + width)]
                out = b.shuffle_vector(lo, hi, ir.Constant(ir.VectorType(i32, width), order))
                at = b.add(base, ir.Constant(i64, 2 * q * width + h * width))
                b.store(out, b.bitcast(b.gep(data, [at]), vty.as_pointer()), align=8)
        return context.get_dummy_value()

    return types.void(w64, j, cb, k0, k1, o0, o1), codegen


@intrinsic
def prefetch(typingctx, arr, idx, for_write):
    """Cache hint for arr[idx] into L2 (llvm.prefetch with locality 2: `prefetcht1` on x86;
    for_write a literal 0 or 1). No effect on results: a prefetch never faults, even past
    the end of the array.

    L2, not L1 (`prefetcht0`): a line prefetched into L1 holds one of the core's few L1
    fill buffers until it arrives, and the streaming (non-temporal) stores of y need those
    buffers too; into L2 the request waits in L2's larger queue instead. At 2^26 float32
    the forward went from 0.835-0.854 to 0.888-0.923 of the ceiling of the time (NOTES.md
    step 36)."""
    if not isinstance(arr, types.Array) or not isinstance(for_write, types.IntegerLiteral):
        return None
    rw = int(for_write.literal_value)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        _emit_prefetch(builder, builder.gep(ary.data, [args[1]]), rw)
        return context.get_dummy_value()

    return types.void(arr, idx, for_write), codegen


def _emit_prefetch(bld, ptr, rw):
    """llvm.prefetch of the line at ptr into L2 (see prefetch)."""
    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
    fn = cgutils.get_or_insert_function(bld.module, fnty, "llvm.prefetch.p0i8")
    # (address, rw, locality 2 = into L2 and outer levels, cache type 1 = data)
    bld.call(fn, [bld.bitcast(ptr, i8p), ir.Constant(i32, rw), ir.Constant(i32, 2),
                  ir.Constant(i32, 1)])


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


def _value_fn(bld, kind, a, b):
    """What a kept element becomes, for n-lane vectors: x*a, x or a*x + b."""
    def value(v, n):
        if kind == SCALE:
            return bld.fmul(v, _splat(bld, a, n))
        if kind == AFFINE:
            return bld.fadd(bld.fmul(_splat(bld, a, n), v), _splat(bld, b, n))
        return v
    return value


# How a kernel writes its output (its `stream` argument): plain stores, or non-temporal
# ones claiming 16-byte alignment (numpy's allocations; large ones sit at 16 mod 64
# bytes: each zmm goes out as four xmm vmovntps and three extracts) or 32-byte alignment
# (fastdrop's own outputs, aligned_empty: two ymm vmovntps per zmm). Whole-zmm
# non-temporal stores measured slower than ymm ones for y = a*x at 2^26 (5.4-5.5
# against 5.9-6.4 Gelem/s, 64-byte aligned, NOTES.md), so none claims 64.
PLAIN, STREAM16, STREAM32 = 0, 1, 2


def _store_fn(bld, stream):
    """A vector store of `nbytes`: non-temporal when `stream` (PLAIN, STREAM16 or STREAM32:
    an i32 value, or a Python int for code already specialised on it) is not PLAIN,
    claiming the alignment it names (at most the vector's size: the caller's offsets are
    multiples of it)."""
    nontemporal = bld.module.add_metadata([ir.Constant(ir.IntType(32), 1)])

    def put(vec, ptr, align, nbytes, mode):
        if mode == PLAIN:
            bld.store(vec, ptr, align=align)
        else:
            claim = min(32 if mode == STREAM32 else 16, nbytes)
            bld.store(vec, ptr, align=claim).set_metadata("nontemporal", nontemporal)

    def store(vec, ptr, align, nbytes):
        if isinstance(stream, int):
            put(vec, ptr, align, nbytes, stream)
        else:
            _by_stream(bld, stream, lambda mode: put(vec, ptr, align, nbytes, mode))
    return store


def _by_stream(bld, stream, emit):
    """emit(mode) under a branch per value of the runtime i32 `stream` (PLAIN, STREAM16,
    STREAM32): tested once per call, not once per vector of the loop that emit writes."""
    i32 = ir.IntType(32)
    with bld.if_else(bld.icmp_unsigned("==", stream, ir.Constant(i32, PLAIN))) as (plain, nt):
        with plain:
            emit(PLAIN)
        with nt:
            wide = bld.icmp_unsigned("==", stream, ir.Constant(i32, STREAM32))
            with bld.if_else(wide) as (w32, w16):
                with w32:
                    emit(STREAM32)
                with w16:
                    emit(STREAM16)


def _specialised(bld, store_mask, stream, emit):
    """emit(store_mask, stream) once per combination of the runtime i1 store_mask and i32
    stream, as _by_stream."""
    with bld.if_else(store_mask) as (yes, no):
        with yes:
            _by_stream(bld, stream, lambda mode: emit(True, mode))
        with no:
            _by_stream(bld, stream, lambda mode: emit(False, mode))


@intrinsic
def select8(typingctx, xs, ys, e, byte, a, b, other, mode, stream):
    """ys[e+j] = kept(xs[e+j]) if bit j of byte else other, j < 8; kept by the literal mode:
    SCALE x*a, COPY x, AFFINE a*x + b (two roundings, as numpy: no FMA contraction).

    stream (a runtime PLAIN / STREAM16 / STREAM32, cpu.streaming()): unless PLAIN, store
    with a non-temporal hint (`!nontemporal`: vmovntps), which writes the line without
    first reading it into cache (the write-allocate read, a third of a kernel's memory
    traffic out of cache; NOTES.md). Only for arrays far beyond the caches, and only when
    ys's data is 16- or 32-byte aligned as the mode says: the store claims that alignment,
    at most its own size (e is a multiple of 8, so 8 elements keep it), which LLVM needs to
    emit vector non-temporal stores. The caller ends its stores with sfence()."""
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

        a, b, other = (context.cast(builder, args[i], sig.args[i], dt) for i in (4, 5, 6))
        stream = context.cast(builder, args[8], sig.args[8], types.int32)
        out = builder.select(keep, _value_fn(builder, kind, a, b)(v, 8), _splat(builder, other, 8))
        _store_fn(builder, stream)(out, dst, align, 8 * align)
        return context.get_dummy_value()

    return types.void(xs, ys, e, byte, a, b, other, mode, stream), codegen


KEEP_BLOCK = 32  # elements per step of keep_select_run / select32_run


def _select_bits(bld, bits, src_data, dst_data, e, lty, itemsize, value, other, store):
    """dst[e + j] = value(src[e + j]) if bit j of the i32 `bits` else other, j < 32, one
    zmm of elements at a time (AVX-512)."""
    i1, i32, i64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
    per = 64 // itemsize  # elements per zmm
    vty = ir.VectorType(lty, per)
    for q in range(KEEP_BLOCK // per):
        sub = bld.trunc(bld.lshr(bits, ir.Constant(i32, q * per)), ir.IntType(per))
        keep = bld.bitcast(sub, ir.VectorType(i1, per))
        at = bld.add(e, ir.Constant(i64, q * per))
        src = bld.bitcast(bld.gep(src_data, [at]), vty.as_pointer())
        dst = bld.bitcast(bld.gep(dst_data, [at]), vty.as_pointer())
        store(bld.select(keep, value(bld.load(src, align=itemsize), per), other), dst,
              itemsize, 64)


def _select_by8(bld, keeps, src_data, dst_data, e, lty, itemsize, value, other, store):
    """The same with the keep bits as <8 x i1> vectors, 8 elements each (other targets)."""
    i64 = ir.IntType(64)
    vty = ir.VectorType(lty, 8)
    for q, keep in enumerate(keeps):
        at = bld.add(e, ir.Constant(i64, 8 * q))
        src = bld.bitcast(bld.gep(src_data, [at]), vty.as_pointer())
        dst = bld.bitcast(bld.gep(dst_data, [at]), vty.as_pointer())
        store(bld.select(keep, value(bld.load(src, align=itemsize), 8),
                         _splat(bld, other, 8)), dst, itemsize, 8 * itemsize)


def _prefetch_ahead(bld, data, e, pf, itemsize):
    """Prefetches into L2 of the cache lines of the 32 elements at e + pf (pf: a Python
    int, elements; 0: none). Never faults, even past the end of the array."""
    if not pf:
        return
    for q in range(0, KEEP_BLOCK * itemsize, 64):
        at = bld.add(e, ir.Constant(ir.IntType(64), pf + q // itemsize))
        _emit_prefetch(bld, bld.gep(data, [at]), 0)


@intrinsic
def select32_run(typingctx, xs, ys, e, mask, mb, mstep, steps, a, b, other, mode, stream,
                 pf):
    """`steps` runs of 32 elements: ys[e + 32r + j] = kept(xs[e + 32r + j]) if bit j of
    the 4 mask bytes at mb + mstep*r else other (mstep 4 reads the mask on; 0 reuses one
    4-byte mask, as the ceiling's all-ones does): the backward from a stored mask, one
    4-byte mask load and a masked multiply per zmm where AVX-512 exists, else four select8
    steps. mode and stream as select8; the loop is specialised on stream, so no store
    tests it (keep_select_run). pf (a literal, elements): when streaming, each step also
    prefetches into L2 the x lines pf elements ahead (0: none); spread over the steps the
    reads keep pace with the streaming stores (NOTES.md step 38). With plain stores (data
    that fits the caches) there are none: they would only add instructions."""
    if not (isinstance(xs, types.Array) and isinstance(mode, types.IntegerLiteral)
            and isinstance(pf, types.IntegerLiteral)):
        return None
    kind = int(mode.literal_value)
    ahead = int(pf.literal_value)
    dt = xs.dtype

    def codegen(context, builder, sig, args):
        bld = builder
        i32, i64 = ir.IntType(32), ir.IntType(64)
        # args: xs 0, ys 1, e 2, mask 3, mb 4, mstep 5, steps 6, a 7, b 8, other 9,
        # mode 10, stream 11
        data = {i: context.make_array(sig.args[i])(context, bld, args[i]).data
                for i in (0, 1, 3)}
        e0, mb0, mstep, steps = (context.cast(bld, args[i], sig.args[i], types.int64)
                                 for i in (2, 4, 5, 6))
        a, b, other = (context.cast(bld, args[i], sig.args[i], dt) for i in (7, 8, 9))
        stream = context.cast(bld, args[11], sig.args[11], types.int32)
        lty = context.get_data_type(dt)
        itemsize = context.get_abi_sizeof(lty)
        value = _value_fn(bld, kind, a, b)
        wide = _has(context, "avx512bw")
        other_v = _splat(bld, other, 64 // itemsize) if wide else other

        def emit(mode_):
            store = _store_fn(bld, mode_)
            with cgutils.for_range(bld, steps) as loop:
                r = loop.index
                e = bld.add(e0, bld.mul(r, ir.Constant(i64, KEEP_BLOCK)))
                mb = bld.add(mb0, bld.mul(r, mstep))
                if mode_ != PLAIN:  # beyond the caches only: in cache, uops for nothing
                    _prefetch_ahead(bld, data[0], e, ahead, itemsize)
                if wide:
                    bits = bld.load(bld.bitcast(bld.gep(data[3], [mb]), i32.as_pointer()),
                                    align=1)
                    _select_bits(bld, bits, data[0], data[1], e, lty, itemsize, value,
                                 other_v, store)
                else:
                    keeps = [bld.bitcast(
                        bld.load(bld.gep(data[3], [bld.add(mb, ir.Constant(i64, q))])),
                        ir.VectorType(ir.IntType(1), 8)) for q in range(KEEP_BLOCK // 8)]
                    _select_by8(bld, keeps, data[0], data[1], e, lty, itemsize, value,
                                other, store)

        _by_stream(bld, stream, emit)
        return context.get_dummy_value()

    return (types.void(xs, ys, e, mask, mb, mstep, steps, a, b, other, mode, stream, pf),
            codegen)


@intrinsic
def keep_select_run(typingctx, u16, ui, xs, ys, e, mask, mb, steps, t, a, b, other, mode,
                    store_mask, stream):
    """`steps` runs of KEEP_BLOCK elements, what keep_byte and select8 do for 8: run r takes
    the keep bits of u16[ui + 32r + j] >= t, j < 32 (t an int32 in 0..65536); with
    store_mask, writes their 4 mask bytes to mask[mb + 4r ...]; and sets ys[e + 32r + j] =
    kept(xs[e + 32r + j]) if bit j else other (mode as select8; stream: PLAIN, STREAM16
    or STREAM32, as select8).

    On AVX-512BW the 32 uniforms are one zmm load and one vpcmpuw into a 32-bit k mask
    (one 4-byte store of the mask), and each zmm of x is one masked multiply and one store:
    a third of the instructions of four keep_byte + select8 (NOTES.md). Elsewhere four
    8-element steps. The loop is written here, once per combination of store_mask and
    stream, with t's edge case folded into the compare, so that no flag is tested per run
    (as a loop of single steps it tested three per 32 elements: 2^26 forward +6%, NOTES.md).
    """
    if not (isinstance(u16, types.Array) and u16.dtype == types.uint16
            and isinstance(xs, types.Array) and isinstance(mode, types.IntegerLiteral)):
        return None
    kind = int(mode.literal_value)
    dt = xs.dtype

    def codegen(context, builder, sig, args):
        bld = builder
        i8, i16, i32, i64 = (ir.IntType(w) for w in (8, 16, 32, 64))
        # args: u16 0, ui 1, xs 2, ys 3, e 4, mask 5, mb 6, steps 7, t 8, a 9, b 10,
        # other 11, mode 12, store_mask 13, stream 14
        arr = {i: context.make_array(sig.args[i])(context, bld, args[i]).data
               for i in (0, 2, 3, 5)}
        ui0, e0, mb0, steps = (context.cast(bld, args[i], sig.args[i], types.int64)
                               for i in (1, 4, 6, 7))
        t = context.cast(bld, args[8], sig.args[8], types.int32)
        store_mask = context.cast(bld, args[13], sig.args[13], types.boolean)
        stream = context.cast(bld, args[14], sig.args[14], types.int32)
        lty = context.get_data_type(dt)
        itemsize = context.get_abi_sizeof(lty)
        a, b, other = (context.cast(bld, args[i], sig.args[i], dt) for i in (9, 10, 11))
        value = _value_fn(bld, kind, a, b)
        wide = _has(context, "avx512bw")
        if wide:
            # u >= t in 16 bits: t = 65536 (drop everything) would read as 65535 and keep
            # u = 65535, so every compare is masked by `some` (false only then)
            some = bld.icmp_unsigned("<=", t, ir.Constant(i32, 65535))
            t16 = _splat(bld, bld.trunc(bld.select(some, t, ir.Constant(i32, 65535)), i16), 32)
            some = _splat(bld, some, 32)
            other_v = _splat(bld, other, 64 // itemsize)
        else:
            t8 = _splat(bld, t, 8)

        def emit(sm, mode_):
            store = _store_fn(bld, mode_)
            with cgutils.for_range(bld, steps) as loop:
                r = loop.index
                ue = bld.add(ui0, bld.mul(r, ir.Constant(i64, KEEP_BLOCK)))
                e = bld.add(e0, bld.mul(r, ir.Constant(i64, KEEP_BLOCK)))
                cb = bld.add(mb0, bld.mul(r, ir.Constant(i64, KEEP_BLOCK // 8)))
                if wide:
                    uptr = bld.bitcast(bld.gep(arr[0], [ue]),
                                       ir.VectorType(i16, 32).as_pointer())
                    keep = bld.and_(bld.icmp_unsigned(">=", bld.load(uptr, align=2), t16),
                                    some)
                    bits = bld.bitcast(keep, i32)
                    if sm:
                        bld.store(bits, bld.bitcast(bld.gep(arr[5], [cb]), i32.as_pointer()),
                                  align=1)
                    _select_bits(bld, bits, arr[2], arr[3], e, lty, itemsize, value,
                                 other_v, store)
                else:
                    keeps = []
                    for q in range(KEEP_BLOCK // 8):
                        uptr = bld.bitcast(
                            bld.gep(arr[0], [bld.add(ue, ir.Constant(i64, 8 * q))]),
                            ir.VectorType(i16, 8).as_pointer())
                        words = bld.zext(bld.load(uptr, align=2), ir.VectorType(i32, 8))
                        keep = bld.icmp_unsigned(">=", words, t8)
                        if sm:
                            bld.store(bld.bitcast(keep, i8),
                                      bld.gep(arr[5], [bld.add(cb, ir.Constant(i64, q))]))
                        keeps.append(keep)
                    _select_by8(bld, keeps, arr[2], arr[3], e, lty, itemsize, value, other,
                                store)

        _specialised(bld, store_mask, stream, emit)
        return context.get_dummy_value()

    return types.void(u16, ui, xs, ys, e, mask, mb, steps, t, a, b, other, mode, store_mask,
                      stream), codegen


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
        if _has(context, "avx512f"):
            attrs = builder.function.attributes
            # llvmlite's AttributeSet only knows enum attributes; these are string
            # attributes, printed as given into the function's attribute group
            set.add(attrs, '"prefer-vector-width"="512"')
            set.add(attrs, '"min-legal-vector-width"="512"')
        return context.get_dummy_value()

    return types.void(), codegen
