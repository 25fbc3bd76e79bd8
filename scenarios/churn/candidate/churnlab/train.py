"""Mini-batches, the loss and the training loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 256
    learning_rate: float = 3e-3
    seed: int = 0


def iterate_batches(features: pd.DataFrame, labels: pd.Series, batch_size: int, *, shuffle: bool, seed: int = 0):
    """Yield ``(features, labels)`` mini-batches covering every row once."""
    order = np.arange(len(features))
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        yield features.iloc[rows], labels.iloc[rows]


def make_loss() -> nn.Module:
    """The training loss: binary cross-entropy for the churn label."""
    return nn.BCEWithLogitsLoss()


def train_model(model: nn.Module, features: pd.DataFrame, labels: pd.Series, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place; return the mean training loss of each epoch."""
    torch.manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_function = make_loss()
    model.train()
    history = []
    for epoch in range(config.epochs):
        losses = []
        for batch_features, batch_labels in iterate_batches(features, labels, config.batch_size, shuffle=False, seed=config.seed + epoch):
            outputs = model(batch_features)
            loss = loss_function(outputs, torch.as_tensor(batch_labels.to_numpy()))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
    return history
