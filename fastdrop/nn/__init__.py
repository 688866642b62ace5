"""Layers, losses and models with forward and backward side by side (numpy + Numba)."""

from .base import SELU, Flatten, Layer, ReLU, Reshape, Residual, Sequential
from .dense import Conv1d, Linear
from .dropout import Dropout, VariationalDropout
from .fused import DropSite
from .losses import SoftmaxCrossEntropy, expected_calibration_error, nll, softmax
from .models import MODELS, VARIANTS, Model, build_model, derive_seed
from .recurrent import GRU, LSTM

__all__ = [
    "GRU",
    "LSTM",
    "MODELS",
    "SELU",
    "VARIANTS",
    "Conv1d",
    "DropSite",
    "Dropout",
    "Flatten",
    "Layer",
    "Linear",
    "Model",
    "ReLU",
    "Reshape",
    "Residual",
    "Sequential",
    "SoftmaxCrossEntropy",
    "VariationalDropout",
    "build_model",
    "derive_seed",
    "expected_calibration_error",
    "nll",
    "softmax",
]
