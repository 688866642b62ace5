"""Training from scratch on MNIST-1D: data, optimisers, regularisers, the loop, the CLI.

    from fastdrop.train import TrainConfig, train
    result = train(TrainConfig(model="cnn", dropout=0.3, variant="spatial", seed=1))
"""

from .config import TrainConfig
from .trainer import evaluate, mc_predict, train

__all__ = ["TrainConfig", "evaluate", "mc_predict", "train"]
