"""fastdrop: fast dropout kernels, and an honest measure of what dropout costs and buys.

The contract is SPEC.md: one seed gives the same mask on every backend.
"""

from . import spec
from .ops import backends, dropout, dropout_backward, keep_mask

__version__ = "0.1.0"
__all__ = ["backends", "dropout", "dropout_backward", "keep_mask", "spec", "__version__"]
