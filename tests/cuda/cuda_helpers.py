"""Helpers of the CUDA tests: moving arrays, the numpy oracle, and SPEC.md's comparisons."""

from __future__ import annotations

import numpy as np
import pytest

import fastdrop as fd

# On the simulator, kernels run as numpy scalar code, which warns on overflow to inf and on
# inf * 0: that is the IEEE arithmetic the tests ask for (a GPU is silent about it).
SIMULATOR_FLOAT_WARNINGS = pytest.mark.filterwarnings(
    "ignore:(overflow|invalid value) encountered:RuntimeWarning"
)

# 64-bit seed and offset in every comparison: both Philox key words and both offset words
# take part (the counter's high word is tested directly in test_kernels.py).
SEED = 0xDEADBEEF_12345678
OFFSET = (1 << 40) + 3

_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def to_device(a):
    from numba import cuda

    return cuda.to_device(np.array(a, order="C"))  # (ascontiguousarray makes 0-d 1-d)


def to_host(a):
    return None if a is None else a.copy_to_host()


def sample(shape, dtype, seed=0, specials=False):
    """Standard normal data; with specials, NaN, +-Inf, +-0, a subnormal and the largest
    finite value spread over the array (every 7th element), so some are kept, some dropped."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if specials and x.size:
        info = np.finfo(dtype)
        values = np.array(
            [np.nan, np.inf, -np.inf, 0.0, -0.0, info.smallest_subnormal, info.max, -info.max],
            dtype=dtype,
        )
        flat = x.reshape(-1)
        where = np.arange(0, flat.size, 7)
        flat[where] = values[np.arange(where.size) % values.size]
    return x


def reference_forward(x, p, variant, seed=SEED, offset=OFFSET):
    return fd.dropout(x, p, seed=seed, offset=offset, variant=variant, backend="numpy")


def reference_backward(dy, p, variant, seed=SEED, offset=OFFSET):
    return fd.dropout_backward(
        dy, p, seed=seed, offset=offset, variant=variant, backend="numpy"
    )


def assert_same_bits(actual, expected):
    """Bit for bit, except that any NaN matches any NaN (a GPU multiply returns the
    canonical NaN where numpy keeps the payload)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    np.testing.assert_array_equal(nan_a, nan_e, err_msg="NaN positions differ")
    uint = _UINT[actual.dtype.itemsize]
    bad = np.flatnonzero((actual.view(uint) != expected.view(uint)) & ~nan_e)
    assert bad.size == 0, (
        f"{bad.size} elements differ, first at {bad[:5]}: "
        f"{actual.reshape(-1)[bad[:5]]} vs {expected.reshape(-1)[bad[:5]]}"
    )


def ulp_distance(a, b):
    """Units in the last place between same-dtype floats (finite or inf; not NaN)."""
    intt = _INT[a.dtype.itemsize]
    ia, ib = a.view(intt).astype(np.int64), b.view(intt).astype(np.int64)
    top = np.int64(np.iinfo(intt).min)
    # Map sign-magnitude bit patterns onto a line where adjacent floats are adjacent ints.
    ia = np.where(ia < 0, top - ia, ia)
    ib = np.where(ib < 0, top - ib, ib)
    return np.abs(ia - ib)


def assert_within_ulps(actual, expected, ulps):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    np.testing.assert_array_equal(nan_a, nan_e, err_msg="NaN positions differ")
    dist = ulp_distance(actual[~nan_e], expected[~nan_e])
    assert dist.size == 0 or dist.max() <= ulps, f"{dist.max()} ulps apart (bound {ulps})"


def assert_relative(actual, expected, rtol):
    """|actual - expected| <= rtol * |expected| elementwise; NaN matches NaN, inf matches inf."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
        rtol=rtol, atol=0, equal_nan=True,
    )


def assert_matches(actual, expected, variant):
    """SPEC.md section 3's agreement: bit for bit for inverted, standard and spatial;
    2 ulp for alpha; 1e-5 relative for gaussian."""
    if variant == "gaussian":
        assert_relative(actual, expected, 1e-5)
    elif variant == "alpha":
        assert_within_ulps(actual, expected, 2)
    else:
        assert_same_bits(actual, expected)
