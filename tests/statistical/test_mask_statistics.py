"""Statistics of the masks and noise, with fixed seeds and stated bounds.

Bounds: a rate is within 5 binomial standard deviations; a correlation coefficient of n
independent pairs is within 5 / sqrt(n). Each test's seed is fixed, so these are
deterministic checks that a broken generator (a constant, a shifted lane, a reused counter)
fails by a wide margin.
"""

import math

import numpy as np
import pytest

import fastdrop as fd

N = 1 << 20  # >= 10^6 elements
BACKENDS = ["numpy", "cpu"]


def keep_of(mask, n):
    return np.unpackbits(mask, bitorder="little", count=n).astype(np.float64)


def within_binomial(k, n, p_keep, sigmas=5.0):
    sd = math.sqrt(n * p_keep * (1 - p_keep))
    return abs(k - n * p_keep) <= sigmas * sd


def corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_within_5_sigma(backend, p):
    x = np.ones(N, np.float32)
    y, mask = fd.dropout(x, p, seed=1234, backend=backend)
    kept = int(np.count_nonzero(y))
    assert kept == int(keep_of(mask, N).sum())
    assert within_binomial(kept, N, 1 - fd.spec.p_hat(p))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_no_correlation_between_neighbours_seeds_offsets(p):
    bound = 5 / math.sqrt(N)
    k = keep_of(fd.keep_mask(N + 1, p, seed=77), N + 1)
    assert abs(corr(k[:-1], k[1:])) < bound  # element i vs i+1
    k8 = keep_of(fd.keep_mask(N + 8, p, seed=77), N + 8)
    assert abs(corr(k8[:-8], k8[8:])) < bound  # same lane of neighbouring Philox calls
    a = keep_of(fd.keep_mask(N, p, seed=77), N)
    b = keep_of(fd.keep_mask(N, p, seed=78), N)
    assert abs(corr(a, b)) < bound  # seed s vs s+1
    c = keep_of(fd.keep_mask(N, p, seed=77, offset=1), N)
    d = keep_of(fd.keep_mask(N, p, seed=77, offset=2), N)
    assert abs(corr(a, c)) < bound and abs(corr(c, d)) < bound  # offset k vs k+1


def test_lanes_have_equal_rates():
    # each of the 8 lanes (16-bit halves of the 4 words) keeps at the same rate
    k = keep_of(fd.keep_mask(N, 0.5, seed=5), N).reshape(-1, 8)
    for lane in range(8):
        assert within_binomial(k[:, lane].sum(), k.shape[0], 0.5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_spatial_drops_whole_channels_at_rate_p(backend, p):
    x = np.ones((512, 256, 8), np.float32)  # 131072 channels of 8 elements = 2^20 elements
    y, mask = fd.dropout(x, p, seed=3, variant="spatial", backend=backend)
    per_channel = y.reshape(512 * 256, 8)
    kept = (per_channel != 0).all(axis=1)
    dropped = (per_channel == 0).all(axis=1)
    assert np.all(kept | dropped)  # no channel is partly dropped
    assert np.array_equal(kept, keep_of(mask, 512 * 256).astype(bool))
    assert within_binomial(int(kept.sum()), kept.size, 1 - p)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_alpha_keeps_mean_0_and_variance_1(backend, p):
    x = np.random.default_rng(8).standard_normal(N)
    y, _ = fd.dropout(x, p, seed=8, variant="alpha", backend=backend)
    # sample mean of unit-variance data: sd 1/sqrt(N); sample variance: sd ~ sqrt(2/N)
    # for near-normal data, more for the two-point mixture alpha makes: bound 0.02.
    assert abs(y.mean()) < 5 / math.sqrt(N)
    assert abs(y.var() - 1.0) < 0.02


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_gaussian_noise_mean_1_variance_p_over_1_minus_p(backend, p):
    x = np.ones(N)
    y, mask = fd.dropout(x, p, seed=9, variant="gaussian", backend=backend)
    assert mask is None
    var = p / (1 - p)
    assert abs(y.mean() - 1.0) < 5 * math.sqrt(var / N)
    # variance of a normal's sample variance: 2 var^2 / (N - 1)
    assert abs(y.var() - var) < 5 * var * math.sqrt(2 / (N - 1))
    z = (y - 1) / math.sqrt(var)
    assert abs(corr(z[:-1], z[1:])) < 5 / math.sqrt(N)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variant", ["inverted", "standard", "spatial", "alpha", "gaussian"])
def test_p0_is_identity_and_p1_gives_zeros(backend, variant):
    x = np.random.default_rng(2).standard_normal((16, 8, 32)).astype(np.float32)
    y, m = fd.dropout(x, 0.0, seed=1, variant=variant, backend=backend)
    np.testing.assert_array_equal(y, x)
    dy = np.ones_like(x)
    dx = fd.dropout_backward(dy, 0.0, seed=1, variant=variant, backend=backend)
    np.testing.assert_array_equal(dx, dy)
    if variant == "gaussian":
        return  # p = 1 is rejected for gaussian (tested in test_bad_input)
    y, m = fd.dropout(x, 1.0, seed=1, variant=variant, backend=backend)
    assert not np.isnan(y).any() and np.all(y == 0)
    assert not m.any()
    for dx in (fd.dropout_backward(dy, 1.0, mask=m, variant=variant, backend=backend),
               fd.dropout_backward(dy, 1.0, seed=1, variant=variant, backend=backend)):
        assert not np.isnan(dx).any() and np.all(dx == 0)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_inverted_keeps_the_mean(p):
    x = np.full(N, 2.0)
    y, _ = fd.dropout(x, p, seed=10)
    sd = 2.0 * fd.spec.inverted_scale(p) * math.sqrt(p * (1 - p) / N)
    assert abs(y.mean() - 2.0) < 5 * sd
