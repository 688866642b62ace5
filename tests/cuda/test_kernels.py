"""The CUDA kernels against the numpy reference (SPEC.md): masks bit for bit always; y and
dx bit for bit for inverted, standard and spatial, within 2 ulp for alpha and 1e-5 relative
for gaussian. float32 and float16, sizes that are not multiples of 8, several tiles per
block, NaN/Inf, p = 0 and 1, 64-bit seeds, offsets and counters."""

from __future__ import annotations

import numpy as np
import pytest
from numba import cuda  # imported after conftest.py chose the simulator or a GPU

import fastdrop as fd
from fastdrop import spec
from fastdrop.kernels.plan import make_plan
from tests.cuda.cuda_helpers import (
    OFFSET,
    SEED,
    SIMULATOR_FLOAT_WARNINGS,
    assert_matches,
    assert_same_bits,
    reference_backward,
    reference_forward,
    sample,
    to_device,
    to_host,
)

pytestmark = [pytest.mark.cuda, SIMULATOR_FLOAT_WARNINGS]

DTYPES = ("float32", "float16")
# "small": one partial tile, with NaN/Inf among the data; "tiles": more tiles than the
# simulator's two blocks, so blocks go round the grid-stride loop, and a partial last byte.
SHAPES = {
    "inverted": {"small": (61,), "tiles": (4099,)},
    "standard": {"small": (61,), "tiles": (4099,)},
    "alpha": {"small": (61,), "tiles": (4099,)},
    "gaussian": {"small": (61,), "tiles": (4099,)},
    # (N, C, L): 6 channels of 5; 20 channels of 211 (a grid stride is not a multiple of L).
    "spatial": {"small": (2, 3, 5), "tiles": (4, 5, 211)},
}


def element_keep(mask, shape, variant):
    """Keep per element from a packed mask (per channel for spatial)."""
    n = int(np.prod(shape))
    if variant == "spatial":
        channels = shape[0] * shape[1]
        bits = np.unpackbits(mask, count=channels, bitorder="little").astype(bool)
        return np.repeat(bits, n // channels)
    return np.unpackbits(mask, count=n, bitorder="little").astype(bool)


def dropped_value(variant, dtype, p):
    if variant == "alpha":
        return make_plan((1,), dtype, p, 0, 0, variant).alpha_drop
    return np.dtype(dtype).type(0.0)


# Several tiles in float32 only: the tile arithmetic does not depend on the dtype, and the
# simulator's time goes mostly to the large cases (float16 gaussian gets several tiles in
# test_one_block_walks_every_tile).
CASES = [(d, "small") for d in DTYPES] + [("float32", "tiles")]


@pytest.mark.parametrize("dtype, size", CASES)
@pytest.mark.parametrize("variant", spec.VARIANTS)
def test_forward_and_backward_match_the_reference(variant, dtype, size):
    shape = SHAPES[variant][size]
    specials = size == "small"
    x = sample(shape, dtype, seed=1, specials=specials)
    dy = sample(shape, dtype, seed=2, specials=specials)
    p = 0.3

    y_ref, mask_ref = reference_forward(x, p, variant)
    y, mask = fd.dropout(
        to_device(x), p, seed=SEED, offset=OFFSET, variant=variant, backend="cuda"
    )
    assert_matches(to_host(y), y_ref, variant)
    if mask_ref is None:
        assert mask is None
    else:
        assert mask.dtype == np.uint8 and mask.shape == mask_ref.shape
        np.testing.assert_array_equal(to_host(mask), mask_ref)

    dx_ref = reference_backward(dy, p, variant)
    dx = fd.dropout_backward(
        to_device(dy), p, seed=SEED, offset=OFFSET, variant=variant, backend="cuda"
    )
    assert_matches(to_host(dx), dx_ref, variant)
    if mask is not None:
        dx_stored = fd.dropout_backward(to_device(dy), p, mask=mask, variant=variant,
                                        backend="cuda")
        assert_matches(to_host(dx_stored), dx_ref, variant)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", spec.MASKED_VARIANTS)
def test_dropped_elements_are_selected_not_multiplied(variant, dtype):
    """NaN, Inf and the largest value, when dropped, give exactly the dropped value (+0.0,
    or alpha's a*A + b); forward and backward alike."""
    shape = SHAPES[variant]["small"]
    x = sample(shape, dtype, seed=3, specials=True)
    p = 0.5
    y, mask = fd.dropout(to_device(x), p, seed=SEED, variant=variant, backend="cuda")
    y, mask = to_host(y).reshape(-1), to_host(mask)
    keep = element_keep(mask, shape, variant)
    assert 0 < keep.sum() < keep.size
    assert_same_bits(y[~keep], np.full((~keep).sum(), dropped_value(variant, dtype, p)))
    dx = to_host(fd.dropout_backward(to_device(x), p, seed=SEED, variant=variant,
                                     backend="cuda")).reshape(-1)
    assert_same_bits(dx[~keep], np.zeros((~keep).sum(), dtype=dtype))


@pytest.mark.parametrize("variant", spec.VARIANTS)
@pytest.mark.parametrize("p", [0.0, 1.0])
def test_rates_zero_and_one(variant, p):
    if variant == "gaussian" and p == 1.0:
        with pytest.raises(ValueError, match="gaussian"):
            fd.dropout(to_device(np.ones(8, np.float32)), p, seed=1, variant=variant,
                       backend="cuda")
        return
    shape = SHAPES[variant]["small"]
    x = sample(shape, "float32", seed=4, specials=True)
    y_ref, mask_ref = reference_forward(x, p, variant)
    y, mask = fd.dropout(to_device(x), p, seed=SEED, offset=OFFSET, variant=variant,
                         backend="cuda")
    assert_matches(to_host(y), y_ref, variant)
    if mask_ref is not None:
        mask = to_host(mask)
        np.testing.assert_array_equal(mask, mask_ref)
        keep = element_keep(mask, shape, variant)
        assert keep.all() if p == 0.0 else not keep.any()
    dx = fd.dropout_backward(to_device(x), p, seed=SEED, offset=OFFSET, variant=variant,
                             backend="cuda")
    assert_matches(to_host(dx), reference_backward(x, p, variant), variant)


@pytest.mark.parametrize("variant", ["inverted", "alpha", "gaussian", "spatial"])
def test_one_block_walks_every_tile(variant, grid_of_one):
    """With one block per launch the grid-stride loop covers every tile by itself."""
    dtype = "float16" if variant == "gaussian" else "float32"
    shape = SHAPES[variant]["tiles"]
    x = sample(shape, dtype, seed=5)
    y_ref, mask_ref = reference_forward(x, 0.7, variant)
    y, mask = fd.dropout(to_device(x), 0.7, seed=SEED, offset=OFFSET, variant=variant,
                         backend="cuda")
    assert_matches(to_host(y), y_ref, variant)
    if mask_ref is not None:
        np.testing.assert_array_equal(to_host(mask), mask_ref)
        dx = fd.dropout_backward(to_device(x), 0.7, mask=mask, variant=variant,
                                 backend="cuda")
        assert_matches(to_host(dx), reference_backward(x, 0.7, variant), variant)


@pytest.mark.parametrize(
    "seed, offset", [(0, 0), (2**64 - 1, 0), (0, 2**64 - 1), (SEED, 1), (SEED, 2)]
)
def test_masks_follow_seed_and_offset(seed, offset):
    n = 203
    x = to_device(np.ones(n, np.float32))
    _, mask = fd.dropout(x, 0.5, seed=seed, offset=offset, backend="cuda")
    np.testing.assert_array_equal(to_host(mask), fd.keep_mask(n, 0.5, seed=seed, offset=offset))


@pytest.mark.parametrize("n", [1, 7, 8, 9])
def test_tiny_sizes(n):
    x = sample((n,), "float16", seed=n)
    y_ref, mask_ref = reference_forward(x, 0.4, "inverted")
    y, mask = fd.dropout(to_device(x), 0.4, seed=SEED, offset=OFFSET, backend="cuda")
    assert_same_bits(to_host(y), y_ref)
    np.testing.assert_array_equal(to_host(mask), mask_ref)


@pytest.mark.parametrize("shape", [(7, 9), (1, 1, 1), (3, 2, 4, 5)])
def test_spatial_shapes(shape):
    """One channel per element (N, C), a single element, and four dimensions."""
    x = sample(shape, "float16", seed=7)
    y_ref, mask_ref = reference_forward(x, 0.5, "spatial")
    y, mask = fd.dropout(to_device(x), 0.5, seed=SEED, offset=OFFSET, variant="spatial",
                         backend="cuda")
    assert_same_bits(to_host(y), y_ref)
    np.testing.assert_array_equal(to_host(mask), mask_ref)
    dx_ref = reference_backward(x, 0.5, "spatial")
    for kw in ({"mask": mask}, {"seed": SEED, "offset": OFFSET}):
        dx = fd.dropout_backward(to_device(x), 0.5, variant="spatial", backend="cuda", **kw)
        assert_same_bits(to_host(dx), dx_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", spec.VARIANTS)
def test_inference(variant, dtype):
    shape = SHAPES[variant]["small"]
    x = sample(shape, dtype, seed=6, specials=True)
    y_ref, _ = fd.dropout(x, 0.3, seed=SEED, variant=variant, training=False, backend="numpy")
    y, mask = fd.dropout(to_device(x), 0.3, seed=SEED, variant=variant, training=False,
                         backend="cuda")
    assert mask is None
    assert_same_bits(to_host(y), y_ref)


# --- the device functions themselves -------------------------------------------------------
def _philox_kernel(cdev):
    @cuda.jit
    def run(words, out):
        i = cuda.grid(1)
        if i < words.shape[0]:
            w = words[i]
            r0, r1, r2, r3 = cdev.philox(w[0], w[1], w[2], w[3], w[4], w[5])
            out[i, 0] = r0
            out[i, 1] = r1
            out[i, 2] = r2
            out[i, 3] = r3

    return run


def test_philox_known_answers(cdev):
    """SPEC.md section 1's known answers, through the device Philox."""
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
        ),
    ]
    words = np.array([c + k for c, k, _ in cases], dtype=np.uint32)
    out = to_device(np.zeros((len(cases), 4), np.uint32))
    _philox_kernel(cdev)[1, 32](to_device(words), out)
    np.testing.assert_array_equal(to_host(out), np.array([r for _, _, r in cases], np.uint32))


def test_counter_high_word(ck, cdev):
    """Mask bytes past 2^32 use the counter's high word, for every byte index below 2^64:
    c >= 2^63 is where signed arithmetic (an int64 index, or c * 8) would go wrong, and
    the last byte's tail bits are applied at a high index as well as a low one."""

    @cuda.jit
    def keep_bytes_at(cs, lasts, out, tail_bits, t, k0, k1, o0, o1):
        i = cuda.grid(1)
        if i < cs.shape[0]:
            out[i] = cdev.keep_byte(cs[i], lasts[i], tail_bits, t, k0, k1, o0, o1)

    never = 2**64 - 1
    cases = [(0, never), (5, 5), (2**32 - 1, never), (2**32, never), (2**32 + 5, 2**32 + 5),
             (2**40 + 7, never), (2**61 - 1, never), (2**63, never), (2**63 + 9, 2**63 + 9),
             (2**64 - 2, never), (2**64 - 1, 2**64 - 1)]
    cs = np.array([c for c, _ in cases], dtype=np.uint64)
    lasts = np.array([last for _, last in cases], dtype=np.uint64)
    tail = 0b0010111
    plan = make_plan((1,), "float32", 0.5, SEED, OFFSET, "inverted")
    out = to_device(np.zeros(cs.size, np.uint8))
    keep_bytes_at[1, 32](to_device(cs), to_device(lasts), out, np.uint32(tail),
                         *ck._words(plan))

    expected = []
    for c, last in cases:
        r = spec.philox4x32((c & 0xFFFFFFFF, c >> 32, plan.o0, plan.o1), (plan.k0, plan.k1))
        u = [(r[j // 2] >> (16 * (j % 2))) & 0xFFFF for j in range(8)]
        bits = sum(int(u[j] >= plan.t) << j for j in range(8))
        expected.append(bits & tail if c == last else bits)
    assert len(set(expected)) > 3  # the cases are told apart
    np.testing.assert_array_equal(to_host(out), np.array(expected, np.uint8))
