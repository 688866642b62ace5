"""fastdrop inside PyTorch: dropout with 1-bit masks (or none) and the same mask on every
device and thread count, as a function, modules and a registered operator.

    import fastdrop.torch as fdt
    layer = fdt.Dropout(0.3, seed=0)            # drop-in for torch.nn.Dropout(0.3)
    y = fdt.dropout(x, 0.3, seed=0, offset=step)

Needs PyTorch (the `torch` extra); `import fastdrop` does not import this package.
"""

from .functional import dropout
from .modules import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, GaussianDropout
from .ops import dropout_backward_op, dropout_op

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "GaussianDropout",
    "dropout",
    "dropout_backward_op",
    "dropout_op",
]
