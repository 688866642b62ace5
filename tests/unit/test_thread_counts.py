"""Same bits for any thread count: NUMBA_NUM_THREADS=1 and 2, each in its own process."""

import hashlib
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import hashlib, numpy as np, numba, fastdrop as fd
h = hashlib.sha256()
rng = np.random.default_rng(0)
x = rng.standard_normal(300_001).astype(np.float32)
s = rng.standard_normal((8, 16, 33)).astype(np.float64)
for v in ("inverted", "standard", "alpha", "gaussian"):
    y, m = fd.dropout(x, 0.37, seed=99, offset=4, variant=v, backend="cpu")
    h.update(y.tobytes()); h.update(b"" if m is None else m.tobytes())
    h.update(fd.dropout_backward(x, 0.37, seed=99, offset=4, variant=v, backend="cpu").tobytes())
    if m is not None:
        h.update(fd.dropout_backward(x, 0.37, mask=m, variant=v, backend="cpu").tobytes())
y, m = fd.dropout(s, 0.5, seed=7, variant="spatial", backend="cpu")
h.update(y.tobytes()); h.update(m.tobytes())
print(numba.get_num_threads(), h.hexdigest())
"""


def _digest(threads: int) -> tuple[int, str]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300, check=True).stdout.split()
    return int(out[0]), out[1]


@pytest.mark.slow
def test_one_and_two_threads_give_the_same_bits():
    t1, d1 = _digest(1)
    t2, d2 = _digest(2)
    assert (t1, t2) == (1, 2)
    assert d1 == d2
    # and the same as the reference, in this process
    import numpy as np

    import fastdrop as fd

    x = np.random.default_rng(0).standard_normal(300_001).astype(np.float32)
    y_ref, m_ref = fd.dropout(x, 0.37, seed=99, offset=4, backend="numpy")
    y_cpu, m_cpu = fd.dropout(x, 0.37, seed=99, offset=4, backend="cpu")
    assert hashlib.sha256(y_ref.tobytes()).digest() == hashlib.sha256(y_cpu.tobytes()).digest()
    assert np.array_equal(m_ref, m_cpu)
