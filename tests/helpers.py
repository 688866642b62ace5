"""Shared test helpers: the comparisons SPEC.md section 3 allows per variant."""

import numpy as np

import fastdrop as fd

MASKED = ("inverted", "standard", "spatial", "alpha")
EXACT = ("inverted", "standard", "spatial")


def bits(a) -> np.ndarray:
    """Raw bytes of an array: bit-for-bit comparison (NaN payloads, signed zeros)."""
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(-1)


def assert_same(variant, got, ref):
    """Equality as SPEC.md states it: exact for inverted/standard/spatial, 2 ulp for alpha,
    1e-5 relative for gaussian."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.shape == ref.shape and got.dtype == ref.dtype
    if variant in EXACT:
        np.testing.assert_array_equal(bits(got), bits(ref))
    elif variant == "alpha":
        ulp = np.spacing(np.abs(ref).astype(ref.dtype))
        finite = np.isfinite(ref)
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        assert np.all(np.abs(got[finite] - ref[finite]) <= 2 * ulp[finite])
    else:
        finite = np.isfinite(ref)
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_allclose(got[finite], ref[finite], rtol=1e-5, atol=1e-6)


def both(backend, x, p, **kw):
    """dropout on `backend` and on the numpy reference."""
    return fd.dropout(x, p, backend=backend, **kw), fd.dropout(x, p, backend="numpy", **kw)
