"""Test session setup.

The CUDA tests run on numba-cuda's simulator unless FASTDROP_REAL_GPU=1 (make test-gpu).
numba reads NUMBA_ENABLE_CUDASIM when it is first imported, so it is set here, before any
test module imports fastdrop (and with it numba).
"""

import os

if not os.environ.get("FASTDROP_REAL_GPU"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
