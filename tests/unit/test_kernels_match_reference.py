"""Every fast host backend equals the numpy reference, bit for bit (SPEC.md section 3)."""

import re

import llvmlite.binding
import numpy as np
import pytest

import fastdrop as fd
from tests.helpers import MASKED, assert_same, bits

FAST = [b for b in fd.backends() if b == "cpu"]
VARIANTS = ["inverted", "standard", "alpha", "gaussian"]
SIZES = [1, 7, 8, 9, 511, 512, 513, 4097, 70001]
RATES = [0.0, 0.1, 0.5, 0.9, 1.0]


def rates_for(variant):
    return [p for p in RATES if not (variant == "gaussian" and p == 1.0)]


@pytest.fixture(params=FAST)
def backend(request):
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("n", SIZES)
def test_forward_and_both_backwards(backend, dtype, variant, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    for p in rates_for(variant):
        kw = dict(seed=2**40 + n, offset=7, variant=variant)
        y, mask = fd.dropout(x, p, backend=backend, **kw)
        y_ref, mask_ref = fd.dropout(x, p, backend="numpy", **kw)
        assert_same(variant, y, y_ref)
        if variant == "gaussian":
            assert mask is None and mask_ref is None
        else:
            np.testing.assert_array_equal(mask, mask_ref)
            assert mask.dtype == np.uint8 and mask.size == (n + 7) // 8
        dx_regen = fd.dropout_backward(dy, p, backend=backend, **kw)
        dx_ref = fd.dropout_backward(dy, p, backend="numpy", **kw)
        assert_same(variant, dx_regen, dx_ref)
        if variant in MASKED:
            dx_mask = fd.dropout_backward(dy, p, mask=mask, backend=backend, variant=variant)
            assert_same(variant, dx_mask, dx_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3), (4, 5, 7), (3, 2, 4, 5), (9, 70, 1), (64, 130)])
def test_spatial(backend, dtype, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    for p in RATES:
        (y, m), (y_ref, m_ref) = (
            fd.dropout(x, p, seed=3, offset=1, variant="spatial", backend=b)
            for b in (backend, "numpy")
        )
        np.testing.assert_array_equal(m, m_ref)
        assert m.size == (shape[0] * shape[1] + 7) // 8
        assert_same("spatial", y, y_ref)
        dx = fd.dropout_backward(x, p, mask=m, variant="spatial", backend=backend)
        dx_regen = fd.dropout_backward(x, p, seed=3, offset=1, variant="spatial", backend=backend)
        assert_same("spatial", dx, y_ref)
        assert_same("spatial", dx_regen, y_ref)


@pytest.mark.parametrize("variant", VARIANTS + ["spatial"])
def test_nd_and_zero_d_and_empty(backend, variant):
    rng = np.random.default_rng(2)
    shapes = [(3, 4, 5), (2, 0, 3), (0, 4)] + ([] if variant == "spatial" else [(), (0,)])
    for shape in shapes:
        x = np.asarray(rng.standard_normal(shape), dtype=np.float32)
        y, m = fd.dropout(x, 0.5, seed=11, variant=variant, backend=backend)
        y_ref, m_ref = fd.dropout(x, 0.5, seed=11, variant=variant, backend="numpy")
        assert y.shape == x.shape
        assert_same(variant, y, y_ref)
        if m is not None:
            np.testing.assert_array_equal(m, m_ref)


@pytest.mark.parametrize("variant", VARIANTS + ["spatial"])
def test_non_contiguous_equals_contiguous_copy(backend, variant):
    base = np.random.default_rng(3).standard_normal((6, 8, 10)).astype(np.float32)
    for view in (base[:, ::2, 1::3], base.transpose(2, 0, 1), base[::-1]):
        assert not view.flags.c_contiguous
        y, m = fd.dropout(view, 0.4, seed=5, variant=variant, backend=backend)
        y_c, m_c = fd.dropout(np.ascontiguousarray(view), 0.4, seed=5, variant=variant,
                              backend=backend)
        np.testing.assert_array_equal(bits(y), bits(y_c))
        if m is not None:
            np.testing.assert_array_equal(m, m_c)
            dx = fd.dropout_backward(view, 0.4, mask=m, variant=variant, backend=backend)
            dx_c = fd.dropout_backward(np.ascontiguousarray(view), 0.4, mask=m_c,
                                       variant=variant, backend=backend)
            np.testing.assert_array_equal(bits(dx), bits(dx_c))


@pytest.mark.parametrize("variant", VARIANTS)
def test_out_and_in_place(backend, variant):
    x = np.random.default_rng(4).standard_normal(1000).astype(np.float32)
    keep = x.copy()
    y_ref, m_ref = fd.dropout(x, 0.3, seed=9, variant=variant, backend="numpy")
    out = np.full_like(x, np.nan)
    y, m = fd.dropout(x, 0.3, seed=9, variant=variant, backend=backend, out=out)
    assert y is out
    assert_same(variant, out, y_ref)
    np.testing.assert_array_equal(x, keep)  # the input is never modified
    # out=x: in place
    z = x.copy()
    y2, _ = fd.dropout(z, 0.3, seed=9, variant=variant, backend=backend, out=z)
    assert y2 is z
    assert_same(variant, z, y_ref)
    # a non-contiguous out gets the same values
    big = np.full(2000, np.nan, np.float32)
    fd.dropout(x, 0.3, seed=9, variant=variant, backend=backend, out=big[::2])
    assert_same(variant, big[::2], y_ref)
    assert np.isnan(big[1::2]).all()
    # backward into out
    dout = np.empty_like(x)
    dx = fd.dropout_backward(x, 0.3, seed=9, variant=variant, backend=backend, out=dout)
    assert dx is dout


@pytest.mark.parametrize("variant", VARIANTS + ["spatial"])
def test_inference(backend, variant):
    x = np.random.default_rng(6).standard_normal((4, 3, 50)).astype(np.float64)
    for p in (0.0, 0.25, 0.9):
        y, m = fd.dropout(x, p, seed=1, variant=variant, training=False, backend=backend)
        y_ref, _ = fd.dropout(x, p, seed=1, variant=variant, training=False, backend="numpy")
        assert m is None
        np.testing.assert_array_equal(bits(y), bits(y_ref))
        if variant == "standard":
            np.testing.assert_array_equal(y, x * np.float64(1 - round(p * 65536) / 65536))
        else:
            np.testing.assert_array_equal(y, x)
            assert y is not x


@pytest.mark.parametrize("variant", ["inverted", "standard", "alpha", "gaussian", "spatial"])
def test_nan_and_inf(backend, variant):
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -2.5, 3e38] * 40, np.float32)
    x = x.reshape(4, 2, 40)
    for p in (0.0, 0.5, 1.0 if variant != "gaussian" else 0.75):
        y, m = fd.dropout(x, p, seed=21, variant=variant, backend=backend)
        y_ref, m_ref = fd.dropout(x, p, seed=21, variant=variant, backend="numpy")
        assert_same(variant, y, y_ref)
        if variant in ("inverted", "standard"):
            keep = np.unpackbits(m, bitorder="little", count=x.size).astype(bool)
            assert np.all(bits(y.reshape(-1)[~keep]) == 0)  # a dropped NaN/Inf is exactly +0.0
            kept = y.reshape(-1)[keep]
            assert np.array_equal(np.isnan(kept), np.isnan(x.reshape(-1)[keep]))  # NaN kept


def test_offsets_and_large_seeds(backend):
    x = np.ones(777, np.float32)
    masks = set()
    for seed in (0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1):
        for offset in (0, 1, 2**32, 2**64 - 1):
            _, m = fd.dropout(x, 0.5, seed=seed, offset=offset, backend=backend)
            _, m_ref = fd.dropout(x, 0.5, seed=seed, offset=offset, backend="numpy")
            np.testing.assert_array_equal(m, m_ref)
            masks.add(m.tobytes())
    assert len(masks) == 24  # every (seed, offset) gives its own mask


def test_keep_mask_is_the_reference_mask():
    x = np.zeros(1001, np.float32)
    _, m = fd.dropout(x, 0.3, seed=4, offset=2, backend="numpy")
    np.testing.assert_array_equal(fd.keep_mask(1001, 0.3, seed=4, offset=2), m)
    assert fd.keep_mask(0, 0.3, seed=4).size == 0
    last = fd.keep_mask(1001, 0.0, seed=4)[-1]
    assert last == 0b1  # 1001 = 125*8 + 1: one used bit, unused high bits are 0


def test_backends_lists_host_backends():
    names = fd.backends()
    assert names[:2] == ["numpy", "cpu"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", ["inverted", "standard", "alpha"])
def test_streaming_stores_equal_the_reference(monkeypatch, dtype, variant):
    """The non-temporal store paths (outputs of STREAM_FROM_BYTES and more: 32-byte aligned
    ones with ymm stores, 16-byte aligned ones with xmm stores) write the same bits: the
    threshold is lowered so that a parallel-sized array streams, and an output view off
    16-byte alignment takes the plain stores."""
    from fastdrop.kernels import cpu

    monkeypatch.setattr(cpu, "STREAM_FROM_BYTES", 0)
    n = cpu.SERIAL_BELOW + 4101  # parallel path, a partial chunk and a partial mask byte
    rng = np.random.default_rng(5)
    x = rng.standard_normal(n).astype(dtype)
    kw = dict(seed=11, offset=3, variant=variant)
    buf = np.empty(n + 64, dtype)

    def at(mod32):  # a view of n elements whose address is mod32 modulo 32
        k = next(k for k in range(64) if (buf.ctypes.data + k * buf.itemsize) % 32 == mod32)
        return buf[k:k + n]

    wide, aligned, odd = at(0), at(16), at(buf.itemsize)
    assert [cpu.streaming(a) for a in (wide, aligned, odd)] == [
        cpu.STREAM32, cpu.STREAM16, cpu.PLAIN]
    for p in (0.1, 0.5, 0.9):
        y_ref, mask_ref = fd.dropout(x, p, backend="numpy", **kw)
        dx_ref = fd.dropout_backward(x, p, backend="numpy", **kw)
        for out in (wide, aligned, odd):
            y, mask = fd.dropout(x, p, backend="cpu", out=out, **kw)
            assert_same(variant, y, y_ref)
            np.testing.assert_array_equal(mask, mask_ref)
            assert_same(variant, fd.dropout_backward(x, p, backend="cpu", out=out, **kw), dx_ref)
            dx = fd.dropout_backward(x, p, mask=mask_ref, backend="cpu", out=out,
                                     variant=variant)
            assert_same(variant, dx, dx_ref)


def test_streaming_ceiling_equals_numpy(monkeypatch):
    from fastdrop.bench import ceiling
    from fastdrop.kernels import cpu

    monkeypatch.setattr(cpu, "STREAM_FROM_BYTES", 0)
    n = cpu.SERIAL_BELOW + 4101
    x = np.random.default_rng(2).standard_normal(n).astype(np.float32)
    y = np.zeros_like(x)
    assert ceiling.scale_kernel(n, y).stream == cpu.streaming(y) != 0
    ceiling.check(x, y, np.float32(2.0))  # raises when it disagrees
    np.testing.assert_array_equal(y, x * np.float32(2.0))


def test_streaming_kernels_emit_non_temporal_stores():
    """The streaming path is real machine code, not a flag nobody reads: on x86 the
    backward-from-mask kernel, compiled afresh (cached code cannot be inspected), holds
    non-temporal vector stores and L2 prefetches, and writes what the plain stores write."""
    import platform

    import numba

    from fastdrop.kernels import cpu

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the instruction names checked are x86's")
    fresh = numba.njit(parallel=True)(cpu._from_mask_par.py_func)
    n = cpu.SERIAL_BELOW
    dy = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    _, mask = fd.dropout(dy, 0.5, seed=1, backend="numpy")
    dx = np.empty(n + 8, np.float32)
    dx = dx[(-dx.ctypes.data % 32) // 4:][:n]  # 32-byte aligned: the ymm stores
    fresh(dy, dx, mask, cpu.SCALE, np.float32(2.0), np.float32(0.0), cpu.STREAM32)
    np.testing.assert_array_equal(dx, fd.dropout_backward(dy, 0.5, mask=mask, backend="numpy"))
    asm = "\n".join(fresh.inspect_asm(sig) for sig in fresh.signatures)
    assert "movntp" in asm
    # dy is asked for ahead into L2 (prefetcht1), not L1: NOTES.md step 36
    assert "prefetcht1" in asm and "prefetcht0" not in asm
    if llvmlite.binding.get_host_cpu_features().get("avx2"):
        assert re.search(r"vmovntps\s+%ymm", asm), "no ymm-wide non-temporal store"


def test_aligned_empty():
    """Outputs the kernels stream into are 64-byte aligned; smaller ones are np.empty's."""
    from fastdrop.kernels import memory

    big = memory.aligned_empty((1024, memory.STREAM_FROM_BYTES // 4096), np.float32)
    assert big.ctypes.data % 64 == 0 and big.flags.c_contiguous and big.flags.writeable
    assert big.shape == (1024, memory.STREAM_FROM_BYTES // 4096) and big.dtype == np.float32
    small = memory.aligned_empty(1000, np.float64)
    assert small.shape == (1000,) and small.dtype == np.float64 and small.base is None
    y, _ = fd.dropout(np.ones(memory.STREAM_FROM_BYTES // 4, np.float32), 0.5, seed=1)
    assert y.ctypes.data % 64 == 0  # fastdrop's own outputs get the faster stores


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("t", [1, 2, 32767, 32768, 65534, 65535])
def test_thresholds_at_the_16_bit_edges(dtype, t):
    """The 32-element compare (keep_select_run) runs in 16 bits: thresholds next to 0, 2^15 and
    2^16 keep exactly the reference's elements (t = 65536, p = 1, is in SIZES x RATES)."""
    from fastdrop import spec

    p = t / 65536
    assert spec.threshold(p) == t
    n = 3 * 512 + 40  # full chunks and a partial one with a tail of single bytes
    x = np.random.default_rng(t).standard_normal(n).astype(dtype)
    y, mask = fd.dropout(x, p, seed=99, offset=t, backend="cpu")
    y_ref, mask_ref = fd.dropout(x, p, seed=99, offset=t, backend="numpy")
    np.testing.assert_array_equal(mask, mask_ref)
    np.testing.assert_array_equal(y, y_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", ["inverted", "standard", "alpha"])
def test_direct_path_equals_the_general_one(dtype, variant):
    """ops.dropout's direct path (numpy in, CPU kernels, with and without out=) and the
    general path (taken with a Fortran-order x) give the same y and mask; a partial
    overlap of out and x is refused on both, writing nothing."""
    x = np.random.default_rng(5).standard_normal((37, 29)).astype(dtype)
    kw = dict(seed=11, offset=3, variant=variant)
    y, mask = fd.dropout(x, 0.3, **kw)
    out = np.empty_like(x)
    y2, mask2 = fd.dropout(x, 0.3, out=out, **kw)
    assert y2 is out
    y3, mask3 = fd.dropout(np.asfortranarray(x).T.T, 0.3, **kw)  # a Fortran-order copy
    y_ref, mask_ref = fd.dropout(x, 0.3, backend="numpy", **kw)
    for yy, mm in ((y, mask), (y2, mask2), (y3, mask3)):
        assert_same(variant, yy, y_ref)
        np.testing.assert_array_equal(mm, mask_ref)
    assert y.shape == x.shape and y.dtype == x.dtype and y.flags.c_contiguous
    inplace = x.copy()
    y4, mask4 = fd.dropout(inplace, 0.3, out=inplace, **kw)  # out=x: in place
    assert y4 is inplace
    assert_same(variant, y4, y_ref)
    np.testing.assert_array_equal(mask4, mask_ref)
    from fastdrop import ops

    ops._DIRECT.clear()
    buf = x.reshape(-1).copy()
    for a, b in ((buf[:-1], buf[1:]), (buf[1:], buf[:-1]), (x[:, :-1], x[:, 1:])):
        before = b.copy()
        with pytest.raises(ValueError, match="overlaps"):
            fd.dropout(a, 0.3, out=b, **kw)  # a partial overlap is refused
        np.testing.assert_array_equal(b, before)  # and nothing is written
    fd.dropout(buf, 0.3, **kw)  # the 1-d key known: the next calls take the fast path
    assert len(ops._DIRECT) == 1
    for a, b in ((buf[:-1], buf[1:]), (buf[1:], buf[:-1])):
        before = b.copy()
        with pytest.raises(ValueError, match="overlaps"):
            fd.dropout(a, 0.3, out=b, **kw)
        np.testing.assert_array_equal(b, before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_direct_path_entry_points_equal_reference(dtype):
    """fd.dropout's direct path keeps, per (variant, backend, p, dtype, x writable), the
    compiled entry point of cpu._direct and calls it past Numba's dispatcher
    (dropout_backward: _direct_regen or _direct_from_mask, the key adding which): the first
    call (through the dispatcher) and later ones (the entry point), read-only and writable
    x, 0-d to 3-d, empty, serial and parallel sizes, each variant, out= apart and in place,
    the backward regenerating and from writable and read-only masks, and p, seed and
    offset of other numeric types, all equal the reference."""
    from fastdrop import ops
    from fastdrop.kernels import cpu

    ops._DIRECT.clear()
    ops._DIRECT_BACKWARD.clear()
    shapes = [(), (0,), (1000,), (10, 100), (3, 7, 11), (cpu.SERIAL_BELOW + 4133,),
              (2, cpu.SERIAL_BELOW // 2 + 9)]
    for shape in shapes:
        n = int(np.prod(shape))
        base = np.random.default_rng(n).standard_normal(shape).astype(dtype)
        frozen = base.copy()
        frozen.setflags(write=False)
        for variant in ("inverted", "standard", "alpha"):
            for seed, offset in ((3, 0), (2**64 - 1, 2**40 + 5)):
                kw = dict(offset=offset, variant=variant)
                y_ref, mask_ref = fd.dropout(base, 0.3, seed=seed, backend="numpy", **kw)
                dx_ref = fd.dropout_backward(base, 0.3, seed=seed, backend="numpy", **kw)
                frozen_mask = mask_ref.copy()
                frozen_mask.setflags(write=False)
                for x in (base, frozen, base, frozen):
                    for p, s in ((0.3, seed), (np.float32(0.3).item(), np.uint64(seed))):
                        y, mask = fd.dropout(x, p, seed=s, **kw)
                        assert y.shape == x.shape and y.flags.c_contiguous
                        assert_same(variant, y, y_ref)
                        np.testing.assert_array_equal(mask, mask_ref)
                        for m, s2 in ((None, s), (mask, None), (frozen_mask, s)):
                            dx = fd.dropout_backward(x, p, mask=m, seed=s2, **kw)
                            assert dx.shape == x.shape and dx.flags.c_contiguous
                            assert_same(variant, dx, dx_ref)
                    out = np.empty_like(base)
                    y, mask = fd.dropout(x, 0.3, seed=seed, offset=offset, variant=variant,
                                         out=out)
                    assert y is out
                    assert_same(variant, y, y_ref)
                    np.testing.assert_array_equal(mask, mask_ref)
                    dx = fd.dropout_backward(x, 0.3, mask=mask_ref, out=out, **kw)
                    assert dx is out
                    assert_same(variant, dx, dx_ref)
                inplace = base.copy()
                for _ in range(2):  # first and later calls of the key
                    inplace[...] = base
                    y, mask = fd.dropout(inplace, 0.3, seed=seed, out=inplace, **kw)
                    assert y is inplace
                    assert_same(variant, y, y_ref)
                    np.testing.assert_array_equal(mask, mask_ref)
                    for m in (None, mask_ref):
                        inplace[...] = base
                        dx = fd.dropout_backward(inplace, 0.3, mask=m, seed=seed,
                                                 out=inplace, **kw)
                        assert dx is inplace
                        assert_same(variant, dx, dx_ref)
    kernels = {cpu._direct, cpu._direct_regen, cpu._direct_from_mask}
    for key, (call, _const) in [*ops._DIRECT.items(), *ops._DIRECT_BACKWARD.items()]:
        assert key[3] == np.dtype(dtype) and key[1] == "auto"
        if all(hasattr(k, "overloads") for k in kernels):  # else the dispatchers are kept
            assert call not in kernels
    # keys: 3 variants x 2 p (0.3 and float32's 0.3) x (x writable or not), and for the
    # backward x 2 (regenerating, from a stored mask; a read-only mask takes the general
    # path); ndim is not in the key (the kernels take the flat arrays)
    assert len(ops._DIRECT) == 3 * 2 * 2
    assert len(ops._DIRECT_BACKWARD) == 3 * 2 * 2 * 2
    buf = np.zeros(1000 * np.dtype(dtype).itemsize + 1, np.uint8)
    odd = buf[1:].view(dtype)  # 1 byte past an aligned start: not aligned
    odd[:] = np.arange(1000) / 7.0
    assert not odd.flags.aligned
    y_ref, mask_ref = fd.dropout(odd.copy(), 0.3, seed=5, backend="numpy")
    y, mask = fd.dropout(odd, 0.3, seed=5)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(mask, mask_ref)
