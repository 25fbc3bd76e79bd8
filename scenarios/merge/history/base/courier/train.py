"""The training loop: full batches, Adam, the logits loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TrainConfig:
    epochs: int = 300
    learning_rate: float = 0.02
    seed: int = 0


def train_model(model: nn.Module, inputs, labels, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place on ``inputs`` (rows of numbers) and 0/1 ``labels``; return each epoch's loss."""
    torch.manual_seed(config.seed)
    x = torch.tensor(inputs, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_function = nn.BCEWithLogitsLoss()
    model.train()
    history = []
    for _ in range(config.epochs):
        optimizer.zero_grad()
        loss = loss_function(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(float(loss.item()))
    return history
