"""The device, mini-batches, the loss, the optimiser and the training loop."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import to_bags


@dataclass
class TrainConfig:
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 1e-2
    seed: int = 0


def pick_device() -> torch.device:
    """The CPU: bags of embeddings this small train faster there than they travel to a GPU."""
    return torch.device("cpu")


def batches(encoded: list[list[int]], labels: torch.Tensor | None, batch_size: int, *, shuffle: bool, seed: int = 0):
    """Yield ``(token id lists, labels)`` mini-batches covering every text once (labels None when not given)."""
    if shuffle:
        random.Random(seed).shuffle(encoded)  # a new order every call
    for start in range(0, len(encoded), batch_size):
        yield encoded[start:start + batch_size], (labels[start:start + batch_size] if labels is not None else None)


def train_model(model: nn.Module, encoded: list[list[int]], labels: torch.Tensor, config: TrainConfig = TrainConfig()) -> list[float]:
    """Train ``model`` in place on the token id lists ``encoded``; return each epoch's mean loss."""
    device = pick_device()
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_function = nn.CrossEntropyLoss()
    history = []
    for epoch in range(config.epochs):
        model.train()
        losses = []
        for batch, batch_labels in batches(encoded, labels, config.batch_size, shuffle=True, seed=config.seed + epoch):
            token_ids, offsets = to_bags(batch)
            loss = loss_function(model(token_ids.to(device), offsets.to(device)), batch_labels.to(device))
            loss.backward()
            optimizer.zero_grad()
            optimizer.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
    return history
