"""Mini-batches, the loss and the training loop."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn import metrics
from torch import nn


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    # Early stopping on validation average precision (when validation data is given).
    patience: int = 4
    seed: int = 0


def iterate_batches(features: pd.DataFrame, labels: pd.Series, batch_size: int, *, shuffle: bool, seed: int = 0):
    """Yield ``(features, labels)`` mini-batches covering every row once."""
    order = np.arange(len(features))
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        yield torch.as_tensor(features.iloc[rows].to_numpy(dtype=np.float32)), labels.iloc[rows]


def make_loss() -> nn.Module:
    """The training loss: binary cross-entropy for the churn label."""
    return nn.BCEWithLogitsLoss()


def train_model(
    model: nn.Module,
    features: pd.DataFrame,
    labels: pd.Series,
    config: TrainConfig = TrainConfig(),
    valid: tuple[pd.DataFrame, pd.Series] | None = None,
) -> list[float]:
    """Train ``model`` in place; return the mean training loss of each epoch.

    With ``valid`` (features, labels), keep the weights of the epoch with the best validation
    average precision and stop after ``config.patience`` epochs without improvement.
    """
    from .evaluate import predict_proba

    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    best_score, best_state, stale = -1.0, None, 0
    loss_function = make_loss()
    model.train()
    history = []
    for epoch in range(config.epochs):
        losses = []
        for batch_features, batch_labels in iterate_batches(features, labels, config.batch_size, shuffle=True, seed=config.seed + epoch):
            optimizer.zero_grad()
            outputs = model(batch_features)
            loss = loss_function(outputs, torch.as_tensor(batch_labels.to_numpy(dtype=np.float32)))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
        if valid is None:
            continue
        score = metrics.average_precision_score(valid[1].to_numpy(), predict_proba(model, valid[0]))
        model.train()
        if score > best_score:
            best_score, best_state, stale = score, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
