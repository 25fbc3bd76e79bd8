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


def to_tensor(values) -> torch.Tensor:
    """A DataFrame, Series or array as a torch tensor."""
    return torch.from_numpy(np.asarray(values))


def squared_error(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a batch."""
    return ((predictions - targets) ** 2).mean()


def train_model(model: nn.Module, features, targets, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place on ``features`` (rows) and ``targets``; return each epoch's mean loss."""
    generator = torch.Generator().manual_seed(config.seed)
    inputs, outputs = to_tensor(features), to_tensor(targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    model.train()
    history = []
    for _ in range(config.epochs):
        order = torch.randperm(len(inputs), generator=generator)
        losses = []
        for start in range(0, len(order), config.batch_size):
            rows = order[start:start + config.batch_size]
            optimizer.zero_grad()
            loss = squared_error(model(inputs[rows]), outputs[rows])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
    return history
