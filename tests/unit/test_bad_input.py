"""Every row of SPEC.md section 5: a clear error naming the argument, and nothing changed."""

import numpy as np
import pytest

import fastdrop as fd
from fastdrop import dispatch as be

BACKENDS = ["numpy", "cpu"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal(100).astype(np.float32)


@pytest.mark.parametrize("p", [float("nan"), -0.1, 1.5, "0.5", None, True, complex(0.5, 0)])
def test_bad_p(backend, x, p):
    before = x.copy()
    with pytest.raises(ValueError, match=r"\bp\b.*" if p is None else r"p must be"):
        fd.dropout(x, p, seed=1, backend=backend)
    with pytest.raises(ValueError, match="p must be"):
        fd.dropout_backward(x, p, seed=1, backend=backend)
    with pytest.raises(ValueError, match="p must be"):
        fd.keep_mask(10, p, seed=1)
    np.testing.assert_array_equal(x, before)


def test_p_error_names_the_value(x):
    with pytest.raises(ValueError, match=r"1\.5"):
        fd.dropout(x, 1.5, seed=1)
    with pytest.raises(ValueError, match="'0.5'"):
        fd.dropout(x, "0.5", seed=1)


def test_gaussian_rejects_p_one(backend, x):
    with pytest.raises(ValueError, match="gaussian"):
        fd.dropout(x, 1.0, seed=1, variant="gaussian", backend=backend)
    with pytest.raises(ValueError, match="gaussian"):
        fd.dropout_backward(x, 1.0, seed=1, variant="gaussian", backend=backend)


@pytest.mark.parametrize("name", ["seed", "offset"])
@pytest.mark.parametrize(
    "value,error",
    [(1.5, TypeError), ("3", TypeError), (True, TypeError), (np.float64(2.0), TypeError),
     (-1, ValueError), (2**64, ValueError)],
)
def test_bad_seed_and_offset(backend, x, name, value, error):
    kw = {"seed": 1, "offset": 0, name: value}
    with pytest.raises(error, match=name):
        fd.dropout(x, 0.5, backend=backend, **kw)
    with pytest.raises(error, match=name):
        fd.dropout_backward(x, 0.5, backend=backend, **kw)
    with pytest.raises(error, match=name):
        fd.keep_mask(8, 0.5, **kw)


def test_seed_none_is_a_type_error(x):
    with pytest.raises(TypeError, match="seed"):
        fd.dropout(x, 0.5, seed=None)


def test_numpy_integer_seeds_are_fine(x):
    y1, m1 = fd.dropout(x, 0.5, seed=np.uint64(2**64 - 1), offset=np.int32(3))
    y2, m2 = fd.dropout(x, 0.5, seed=2**64 - 1, offset=3)
    np.testing.assert_array_equal(m1, m2)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.complex64, object, np.uint8])
def test_bad_dtype(backend, dtype):
    x = np.zeros(10, dtype=dtype)
    with pytest.raises(TypeError, match=np.dtype(dtype).name) as info:
        fd.dropout(x, 0.5, seed=1, backend=backend)
    assert "float32" in str(info.value)  # names the allowed dtypes
    with pytest.raises(TypeError, match="float32"):
        fd.dropout_backward(x, 0.5, seed=1, backend=backend)


def test_float16_is_reference_only():
    x = np.ones(10, np.float16)
    with pytest.raises(TypeError, match="float16"):
        fd.dropout(x, 0.5, seed=1, backend="cpu")
    y, _ = fd.dropout(x, 0.5, seed=1, backend="numpy")
    assert y.dtype == np.float16


@pytest.mark.parametrize("shape", [(), (5,)])
def test_spatial_needs_two_dims(backend, shape):
    x = np.ones(shape, np.float32)
    with pytest.raises(ValueError, match=r"shape \(" if shape else r"shape \(\)"):
        fd.dropout(x, 0.5, seed=1, variant="spatial", backend=backend)
    with pytest.raises(ValueError, match="ndim >= 2"):
        fd.dropout_backward(x, 0.5, seed=1, variant="spatial", backend=backend)


def test_bad_out(backend, x):
    y_before = np.full(100, 7.0, np.float32)
    wrong = (np.zeros(99, np.float32), np.zeros(100, np.float64), np.zeros((10, 10), np.float32))
    for out in wrong:
        with pytest.raises(ValueError, match="out must have shape"):
            fd.dropout(x, 0.5, seed=1, backend=backend, out=out)
    buf = np.arange(200, dtype=np.float32)
    keep = buf.copy()
    with pytest.raises(ValueError, match="overlaps"):
        fd.dropout(buf[:100], 0.5, seed=1, backend=backend, out=buf[50:150])
    np.testing.assert_array_equal(buf, keep)  # nothing changed
    with pytest.raises(ValueError, match="out must have shape"):
        fd.dropout_backward(x, 0.5, seed=1, backend=backend, out=np.zeros(3, np.float32))
    np.testing.assert_array_equal(y_before, 7.0)


def test_disjoint_interleaved_out_is_fine(backend):
    buf = np.arange(200, dtype=np.float32)
    y, _ = fd.dropout(buf[::2], 0.5, seed=1, backend=backend, out=buf[1::2])
    ref, _ = fd.dropout(np.arange(0, 200, 2, dtype=np.float32), 0.5, seed=1, backend="numpy")
    np.testing.assert_array_equal(buf[1::2], ref)


def test_bad_mask(backend, x):
    _, mask = fd.dropout(x, 0.5, seed=1, backend=backend)
    for bad in (mask[:-1], np.append(mask, 0), mask.astype(np.int8), mask.astype(np.uint16),
                mask.reshape(1, -1), mask.tolist()):
        with pytest.raises(ValueError, match="mask"):
            fd.dropout_backward(x, 0.5, mask=bad, backend=backend)
    with pytest.raises(ValueError, match="neither"):
        fd.dropout_backward(x, 0.5, backend=backend)
    with pytest.raises(ValueError, match="no mask"):
        fd.dropout_backward(x, 0.5, mask=mask, seed=1, variant="gaussian", backend=backend)
    with pytest.raises(ValueError, match="seed"):
        fd.dropout_backward(x, 0.5, variant="gaussian", backend=backend)


def test_cuda_without_a_device(monkeypatch, x):
    monkeypatch.setattr(be, "cuda_available", lambda: False)
    with pytest.raises(RuntimeError, match="NUMBA_ENABLE_CUDASIM"):
        fd.dropout(x, 0.5, seed=1, backend="cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        fd.dropout_backward(x, 0.5, seed=1, backend="cuda")
    assert "cuda" not in fd.backends()
    y, m = fd.dropout(x, 0.5, seed=1, backend="auto")  # auto falls back to cpu
    y_cpu, m_cpu = fd.dropout(x, 0.5, seed=1, backend="cpu")
    np.testing.assert_array_equal(y, y_cpu)


@pytest.mark.parametrize("variant", ["dropconnect", "Inverted", "", None])
def test_unknown_variant(x, variant):
    with pytest.raises(ValueError, match="inverted, standard, spatial, alpha, gaussian"):
        fd.dropout(x, 0.5, seed=1, variant=variant)
    with pytest.raises(ValueError, match="variant must be one of"):
        fd.dropout_backward(x, 0.5, seed=1, variant=variant)


@pytest.mark.parametrize("backend_name", ["gpu", "CPU", "torch", 3, ["cpu"]])
def test_unknown_backend(x, backend_name):
    with pytest.raises(ValueError, match="auto, numpy, cpu, cuda"):
        fd.dropout(x, 0.5, seed=1, backend=backend_name)
    with pytest.raises(ValueError, match="auto, numpy, cpu, cuda"):
        fd.dropout_backward(x, 0.5, seed=1, backend=backend_name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bad_input_on_the_fast_path(dtype):
    """Once a (variant, backend, p, dtype, ...) is known, fd.dropout and dropout_backward
    take a fast path (ops._DIRECT): every bad input still gets the general path's error
    and changes nothing."""
    x = np.random.default_rng(1).standard_normal(100).astype(dtype)
    for backend in ("auto", "cpu"):
        _, mask = fd.dropout(x, 0.5, seed=1, backend=backend, out=np.empty_like(x))
        fd.dropout(x, 0.5, seed=1, backend=backend)
        for m in (None, mask):
            fd.dropout_backward(x, 0.5, seed=1, mask=m, backend=backend)
            fd.dropout_backward(x, 0.5, seed=1, mask=m, backend=backend, out=np.empty_like(x))
        from fastdrop import ops  # the keys the calls below hit

        assert ("inverted", backend, 0.5, x.dtype, True) in ops._DIRECT
        for regen in (True, False):
            assert ("inverted", backend, 0.5, x.dtype, True, regen) in ops._DIRECT_BACKWARD
        kw = dict(backend=backend)
        for name, value, error in (("seed", -1, ValueError), ("seed", 2**64, ValueError),
                                   ("offset", -1, ValueError), ("offset", 2**64, ValueError)):
            args = {"seed": 1, **kw, name: value}
            with pytest.raises(error, match=name):
                fd.dropout(x, 0.5, **args)
            with pytest.raises(error, match=name):
                fd.dropout_backward(x, 0.5, **args)
        for p in (float("nan"), 1.5, -0.5):
            with pytest.raises(ValueError, match="p must be"):
                fd.dropout(x, p, seed=1, **kw)
            with pytest.raises(ValueError, match="p must be"):
                fd.dropout_backward(x, p, seed=1, **kw)
        for variant in ("dropconnect", ["inverted"]):
            with pytest.raises(ValueError, match="variant must be one of"):
                fd.dropout(x, 0.5, seed=1, variant=variant, **kw)
            with pytest.raises(ValueError, match="variant must be one of"):
                fd.dropout_backward(x, 0.5, seed=1, variant=variant, **kw)
        frozen = np.zeros_like(x)
        frozen.flags.writeable = False
        for out in (np.zeros(99, dtype), np.zeros(100, np.float16), np.zeros((10, 10), dtype)):
            with pytest.raises(ValueError, match="out must have shape"):
                fd.dropout(x, 0.5, seed=1, out=out, **kw)
            with pytest.raises(ValueError, match="out must have shape"):
                fd.dropout_backward(x, 0.5, seed=1, out=out, **kw)
        with pytest.raises(ValueError, match="out"):
            fd.dropout(x, 0.5, seed=1, out=frozen, **kw)
        with pytest.raises(ValueError, match="out"):
            fd.dropout_backward(x, 0.5, seed=1, out=frozen, **kw)
        np.testing.assert_array_equal(frozen, 0)
        buf = np.arange(200, dtype=dtype)
        keep = buf.copy()
        for a, b in ((buf[:100], buf[50:150]), (buf[50:150], buf[:100])):
            with pytest.raises(ValueError, match="overlaps"):
                fd.dropout(a, 0.5, seed=1, out=b, **kw)
            with pytest.raises(ValueError, match="overlaps"):
                fd.dropout_backward(a, 0.5, seed=1, out=b, **kw)
            with pytest.raises(ValueError, match="overlaps"):
                fd.dropout_backward(a, 0.5, mask=mask, out=b, **kw)
        np.testing.assert_array_equal(buf, keep)
        dx = np.full_like(x, 7)
        for bad in (mask[:-1], np.append(mask, 0), mask.astype(np.int8), mask.reshape(1, -1),
                    mask.tolist()):
            with pytest.raises(ValueError, match="mask"):
                fd.dropout_backward(x, 0.5, mask=bad, out=dx, **kw)
            with pytest.raises(ValueError, match="mask"):
                fd.dropout_backward(x, 0.5, mask=bad, seed=1, out=dx, **kw)
        np.testing.assert_array_equal(dx, 7)
        with pytest.raises(ValueError, match="neither"):
            fd.dropout_backward(x, 0.5, **kw)
        strided = np.repeat(mask, 2)[::2]  # the same bytes, not contiguous: general path
        np.testing.assert_array_equal(fd.dropout_backward(x, 0.5, mask=strided, **kw),
                                      fd.dropout_backward(x, 0.5, mask=mask, **kw))


@pytest.mark.parametrize("n", [-1, 2.5, "4"])
def test_keep_mask_bad_n(n):
    with pytest.raises((TypeError, ValueError), match=r"\bn\b"):
        fd.keep_mask(n, 0.5, seed=1)


def test_read_only_input_is_fine_and_untouched(backend):
    x = np.linspace(-1, 1, 50, dtype=np.float32)
    x.flags.writeable = False
    y, m = fd.dropout(x, 0.5, seed=3, backend=backend)
    assert y.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        fd.dropout(np.ones(50, np.float32), 0.5, seed=3, backend=backend, out=x)
