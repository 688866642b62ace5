"""Philox4x32-10: the three known answers of SPEC.md section 1, on every implementation."""

import numpy as np
import pytest
from numba import njit

from fastdrop import spec
from fastdrop.kernels import reference
from fastdrop.kernels._numba_ext import U64, philox_lazy

KNOWN = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@njit
def _numba_philox(c, k):
    return philox_lazy(U64(c[0]), U64(c[1]), U64(c[2]), U64(c[3]), U64(k[0]), U64(k[1]))


@pytest.mark.parametrize("counter,key,expected", KNOWN)
def test_scalar_statement(counter, key, expected):
    assert spec.philox4x32(counter, key) == expected


@pytest.mark.parametrize("counter,key,expected", KNOWN)
def test_numpy_reference(counter, key, expected):
    out = reference.philox(*(np.array([c]) for c in counter), *key)
    assert tuple(int(w[0]) for w in out) == expected


@pytest.mark.parametrize("counter,key,expected", KNOWN)
def test_numba_lanes(counter, key, expected):
    out = _numba_philox(np.array(counter, np.uint64), np.array(key, np.uint64))
    assert tuple(int(w) for w in out) == expected


def test_reference_matches_scalar_on_many_counters():
    rng = np.random.default_rng(5)
    words = rng.integers(0, 2**32, size=(4, 200), dtype=np.uint64)
    key = (0x12345678, 0x9ABCDEF0)
    out = reference.philox(*words, *key)
    for i in range(200):
        expect = spec.philox4x32(tuple(int(w[i]) for w in words), key)
        assert tuple(int(o[i]) for o in out) == expect


def test_threshold_and_scale_are_exact():
    assert spec.threshold(0.0) == 0 and spec.threshold(1.0) == 65536
    assert spec.threshold(0.5) == 32768
    # p applied at 1/65536 resolution; E[y] = x holds exactly with s = 65536/(65536-t)
    p = 0.3
    t = spec.threshold(p)
    assert spec.p_hat(p) == t / 65536
    assert spec.inverted_scale(p) * (1 - spec.p_hat(p)) == pytest.approx(1.0, abs=1e-15)
