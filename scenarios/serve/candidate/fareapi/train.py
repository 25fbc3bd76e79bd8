"""Mini-batches, the loss, the optimiser and the training loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-2
    seed: int = 0


def batches(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, *, shuffle: bool, seed: int = 0):
    """Yield ``(inputs, targets)`` mini-batches covering every row once."""
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(len(inputs))
    for start in range(0, len(inputs), batch_size):
        index = order[start:start + batch_size]
        yield inputs[index], targets[index]


def train_model(model: nn.Module, inputs, targets, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place on standardized inputs (N, k) and fares (N,); return each epoch's mean loss."""
    inputs = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
    targets = torch.as_tensor(np.asarray(targets, dtype=np.float32))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_function = nn.MSELoss()
    history = []
    for epoch in range(config.epochs):
        model.train()
        losses = []
        for batch_inputs, batch_targets in batches(inputs, targets, config.batch_size, shuffle=True, seed=config.seed + epoch):
            optimizer.zero_grad()
            loss = loss_function(model(batch_inputs), batch_targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
    model.eval()
    return history
