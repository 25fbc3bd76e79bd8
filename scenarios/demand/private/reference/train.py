"""Tensors, the loss and the training loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 5e-3
    seed: int = 0
    loss: str = "absolute"  # the brief scores MAE: an L1 loss fits the median, robust to the typos left


def to_tensor(values) -> torch.Tensor:
    """A DataFrame, Series or array as a torch tensor."""
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


def squared_error(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a batch."""
    return ((predictions.reshape(targets.shape) - targets) ** 2).mean()


def absolute_error(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of a batch."""
    return (predictions.reshape(targets.shape) - targets).abs().mean()


LOSSES = {"squared": squared_error, "absolute": absolute_error}


def train_model(model: nn.Module, features, targets, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place on ``features`` (rows) and ``targets``; return each epoch's mean loss."""
    generator = torch.Generator().manual_seed(config.seed)
    inputs, outputs = to_tensor(features), to_tensor(targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs)
    loss_function = LOSSES[config.loss]
    model.train()
    history = []
    for _ in range(config.epochs):
        order = torch.randperm(len(inputs), generator=generator)
        losses = []
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            optimizer.zero_grad()
            loss = loss_function(model(inputs[rows]), outputs[rows])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        history.append(float(np.mean(losses)))
    return history
