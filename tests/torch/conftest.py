"""fastdrop.torch tests: skipped as a whole where PyTorch is not installed."""

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'fastdrop[torch]')")
