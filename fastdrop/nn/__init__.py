"""Layers, losses and models with forward and backward side by side (numpy + Numba)."""

from .layers import (
    GRU,
    LSTM,
    SELU,
    Conv1d,
    Dropout,
    Flatten,
    Layer,
    Linear,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    VariationalDropout,
)
from .losses import SoftmaxCrossEntropy, expected_calibration_error, nll, softmax
from .models import MODELS, VARIANTS, Model, build_model, derive_seed

__all__ = [
    "GRU",
    "LSTM",
    "MODELS",
    "SELU",
    "VARIANTS",
    "Conv1d",
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
