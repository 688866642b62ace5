"""Device functions of the CUDA kernels: Philox4x32-10, keep bits, Box-Muller, and 16-byte
vector loads and stores. SPEC.md sections 1-3; the kernels are in cuda.py.

On a GPU each function is a forceinlined device function. On the numba-cuda simulator
(NUMBA_ENABLE_CUDASIM=1) they stay plain Python over numpy scalars: the simulator's
device-function wrapper costs ~15 us a call, and the kernels make dozens per mask byte.

All counter arithmetic is unsigned: a mask byte index c is uint32 (arrays under 2^31
elements) or uint64 (any length SPEC.md allows), so c >> 32 is a logical shift and no
product of c can overflow a signed type.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from .. import spec


def _simulator_enabled() -> bool:
    """True when numba.cuda is the simulator (NUMBA_ENABLE_CUDASIM=1 at its import)."""
    try:
        from numba.cuda.core import config  # numba-cuda >= 0.20
    except ImportError:  # older numba-cuda keeps the flag in numba's config
        from numba.core import config
    return bool(config.ENABLE_CUDASIM)


SIMULATOR = _simulator_enabled()
VECTOR_BYTES = 16  # one ld.global.v4 / st.global.v4
UNIT = spec.ELEMENTS_PER_CALL  # elements per thread per trip: one mask byte, one Philox call

_M0 = np.uint32(spec.PHILOX_M0)
_M1 = np.uint32(spec.PHILOX_M1)
_M0_64 = np.uint64(spec.PHILOX_M0)
_M1_64 = np.uint64(spec.PHILOX_M1)
_W0 = np.uint64(spec.PHILOX_W0)  # uint64 so the key bump never overflows before truncation
_W1 = np.uint64(spec.PHILOX_W1)
_SHIFT32 = np.uint64(32)  # uint64: a uint32 or uint64 index shifts logically, in 64 bits
_LOW32 = np.uint64(0xFFFFFFFF)
_LOW16 = np.uint32(0xFFFF)
_INV_2_32 = 1.0 / 2.0**32  # exact: dividing by 2^32 and multiplying by 2^-32 agree
_TWO_PI = 2.0 * math.pi  # the reference's 2.0 * np.pi, rounded the same way


def device(fn):
    """A forceinlined device function on a GPU; plain Python on the simulator."""
    if SIMULATOR:
        return fn
    return cuda.jit(device=True, forceinline=True)(fn)


if SIMULATOR:
    # The simulator has no libdevice and no LLVM: the same arithmetic on numpy scalars.
    @device
    def _mulhi(a, b):
        """High 32 bits of the 64-bit product of two uint32."""
        return np.uint32((np.uint64(a) * np.uint64(b)) >> _SHIFT32)

    @device
    def mul_rn(a, b):
        """float32 product, rounded once (numpy scalars never fuse)."""
        return a * b

    def hmul(a, b):
        """float16 product (numpy rounds the exact product once, as mul.rn.f16 does)."""
        return a * b

    def vload(arr, i):
        """The 16 bytes at arr[i:i + 16 // itemsize] as a tuple of arr's dtype."""
        return tuple(arr[i + k] for k in range(VECTOR_BYTES // arr.dtype.itemsize))

    def vstore(arr, i, vals):
        """Store a tuple of arr's dtype as 16 bytes at arr[i]."""
        for k, value in enumerate(vals):
            arr[i + k] = value

else:
    from llvmlite import ir
    from numba.cuda import libdevice, types
    from numba.cuda.extending import intrinsic

    @device
    def _mulhi(a, b):
        return libdevice.umulhi(a, b)  # mul.hi.u32: no 64-bit multiply in the Philox rounds

    @device
    def mul_rn(a, b):
        # __fmul_rn: a multiply the compiler may not contract into an FMA with the next add.
        return libdevice.fmul_rn(a, b)

    _I16, _I32, _I64 = ir.IntType(16), ir.IntType(32), ir.IntType(64)

    @intrinsic
    def hmul(typingctx, a, b):
        """float16 product in one mul.rn.f16 (numba's float16 `*` converts both operands
        to float32 and back; cuda.fp16.hmul needs a link step that compile_ptx lacks)."""

        def codegen(context, builder, sig, args):
            # numba-cuda holds a float16 as i16: the PTX takes and gives .b16 registers
            fty = ir.FunctionType(_I16, [_I16, _I16])
            return builder.asm(fty, "mul.rn.f16 $0, $1, $2;", "=h,h,h", list(args), False)

        return types.float16(types.float16, types.float16), codegen

    _WORDS4 = ir.LiteralStructType([_I32] * 4)
    # Through inline PTX, so LLVM cannot split the access (it turns a <8 x half> load into
    # two 8-byte ones). Global addresses are generic addresses (cvta.to.global, which
    # ptxas folds away).
    _LD = ("{ .reg .u64 g; cvta.to.global.u64 g, $4; "
           "ld.global.v4.b32 {$0, $1, $2, $3}, [g]; }")
    _ST = ("{ .reg .u64 g; cvta.to.global.u64 g, $0; "
           "st.global.v4.b32 [g], {$1, $2, $3, $4}; }")

    def _address(context, builder, aryty, ary, index, indexty):
        """arr[index]'s address as i64, and the LLVM vector type of one 32-bit word of
        arr's dtype (<1 x float> or <2 x half>)."""
        data = context.make_array(aryty)(context, builder, ary).data
        at = context.cast(builder, index, indexty, types.intp)
        per_word = 32 // aryty.dtype.bitwidth
        wty = ir.VectorType(context.get_data_type(aryty.dtype), per_word)
        return builder.ptrtoint(builder.gep(data, [at]), _I64), wty

    @intrinsic
    def vload(typingctx, arr, i):
        """One 16-byte load (ld.global.v4.b32) of arr[i : i + lanes]; the caller
        guarantees that arr's data is 16-byte aligned and i a multiple of lanes."""
        lanes = VECTOR_BYTES * 8 // arr.dtype.bitwidth
        rett = types.UniTuple(arr.dtype, lanes)

        def codegen(context, builder, sig, args):
            addr, wty = _address(context, builder, sig.args[0], args[0], args[1], sig.args[1])
            fty = ir.FunctionType(_WORDS4, [_I64])
            words = builder.asm(fty, _LD, "=r,=r,=r,=r,l", [addr], False)
            vals = []
            for w in range(4):
                vec = builder.bitcast(builder.extract_value(words, w), wty)
                vals += [builder.extract_element(vec, ir.Constant(_I32, k))
                         for k in range(wty.count)]
            return context.make_tuple(builder, rett, vals)

        return rett(arr, i), codegen

    @intrinsic
    def vstore(typingctx, arr, i, vals):
        """One 16-byte store (st.global.v4.b32) of a tuple of arr's dtype at arr[i]."""

        def codegen(context, builder, sig, args):
            addr, wty = _address(context, builder, sig.args[0], args[0], args[1], sig.args[1])
            words = []
            for w in range(4):
                vec = ir.Constant(wty, ir.Undefined)
                for k in range(wty.count):
                    vec = builder.insert_element(
                        vec, builder.extract_value(args[2], w * wty.count + k),
                        ir.Constant(_I32, k))
                words.append(builder.bitcast(vec, _I32))
            fty = ir.FunctionType(ir.VoidType(), [_I64] + [_I32] * 4)
            builder.asm(fty, _ST, "l,r,r,r,r,~{memory}", [addr, *words], True)
            return context.get_dummy_value()

        return types.void(arr, i, vals), codegen


# --- Philox4x32-10 and the keep bits (SPEC.md sections 1 and 2) ---------------------------
@device
def philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of one counter; all words uint32."""
    for _ in range(spec.PHILOX_ROUNDS):
        hi0 = _mulhi(c0, _M0)
        lo0 = np.uint32(np.uint64(c0) * _M0_64)  # truncated: compiles to mul.lo.u32
        hi1 = _mulhi(c2, _M1)
        lo1 = np.uint32(np.uint64(c2) * _M1_64)
        c0, c1, c2, c3 = np.uint32(hi1 ^ c1 ^ k0), lo1, np.uint32(hi0 ^ c3 ^ k1), lo0
        k0 = np.uint32(k0 + _W0)  # the bump after the last round is dead code
        k1 = np.uint32(k1 + _W1)
    return c0, c1, c2, c3


@device
def philox_at(c, o0, o1, k0, k1):
    """Philox call number c (uint32 or uint64): counter (c mod 2^32, c >> 32, offset lo,
    offset hi). For a uint32 c the high word folds to the constant 0."""
    c64 = np.uint64(c)
    return philox(np.uint32(c64 & _LOW32), np.uint32(c64 >> _SHIFT32), o0, o1, k0, k1)


@device
def keep(r, half, t):
    """Keep bit (0 or 1, uint32) of the 16-bit uniform `half` (0 low, 1 high) of word r."""
    if half == 0:
        return np.uint32((r & _LOW16) >= t)
    return np.uint32((r >> np.uint32(16)) >= t)


@device
def byte_bits(r0, r1, r2, r3, t):
    """The 8 keep bits of one Philox output: bit j from uniform j (SPEC.md section 2)."""
    return np.uint32(
        keep(r0, 0, t) | (keep(r0, 1, t) << 1) | (keep(r1, 0, t) << 2) | (keep(r1, 1, t) << 3)
        | (keep(r2, 0, t) << 4) | (keep(r2, 1, t) << 5) | (keep(r3, 0, t) << 6)
        | (keep(r3, 1, t) << 7)
    )


@device
def keep_byte(c, last, tail_bits, t, k0, k1, o0, o1):
    """Mask byte c: bit j keeps entry 8c + j. Byte `last` (the final one) is ANDed with
    tail_bits, so the unused high bits of a partial last byte are 0. No product of c is
    formed, so every byte index below 2^64 is exact."""
    r0, r1, r2, r3 = philox_at(c, o0, o1, k0, k1)
    bits = byte_bits(r0, r1, r2, r3, t)
    if c == last:
        bits = np.uint32(bits & tail_bits)
    return np.uint8(bits)


@device
def box_muller(ra, rb):
    """Two standard normals from two uint32 words, in float64 like the reference."""
    u1 = (np.float64(ra) + 0.5) * _INV_2_32  # in (0, 1): the log is finite
    u2 = np.float64(rb) * _INV_2_32
    radius = math.sqrt(-2.0 * math.log(u1))
    angle = _TWO_PI * u2
    return radius * math.cos(angle), radius * math.sin(angle)


# --- moving one unit (8 elements) between memory and registers ----------------------------
def mover(dtype: np.dtype, aligned: bool):
    """(load, store) of one unit between arrays of `dtype` and a local array of 8."""
    lanes = VECTOR_BYTES // dtype.itemsize
    if not aligned:
        @device
        def load(src, e, raw):
            for k in range(UNIT):
                raw[k] = src[e + np.uint32(k)]

        @device
        def store(dst, e, out):
            for k in range(UNIT):
                dst[e + np.uint32(k)] = out[k]

    elif lanes == UNIT:  # float16: one 16-byte vector is the unit
        @device
        def load(src, e, raw):
            a = vload(src, e)
            for k in range(UNIT):
                raw[k] = a[k]

        @device
        def store(dst, e, out):
            vstore(dst, e, (out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]))

    else:  # float32: two vectors per unit
        @device
        def load(src, e, raw):
            a = vload(src, e)
            b = vload(src, e + np.uint32(4))
            for k in range(4):
                raw[k] = a[k]
                raw[k + 4] = b[k]

        @device
        def store(dst, e, out):
            vstore(dst, e, (out[0], out[1], out[2], out[3]))
            vstore(dst, e + np.uint32(4), (out[4], out[5], out[6], out[7]))

    return load, store
