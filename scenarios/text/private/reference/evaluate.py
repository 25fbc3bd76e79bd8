"""Predicted classes and validation metrics."""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics
from torch import nn

from .data import to_bags
from .train import batches


def predict_logits(model: nn.Module, encoded: list[list[int]], batch_size: int = 512) -> np.ndarray:
    """The class scores (logits) of each text's token ids, shape (N, classes)."""
    device = next(model.parameters()).device
    model.eval()
    scores = []
    with torch.no_grad():
        for batch, _ in batches(encoded, None, batch_size, shuffle=False):
            token_ids, offsets = to_bags(batch)
            scores.append(model(token_ids.to(device), offsets.to(device)).cpu())
    return torch.cat(scores).numpy()


def predict_classes(model: nn.Module, encoded: list[list[int]], batch_size: int = 512) -> np.ndarray:
    """The predicted class of each text's token ids, as a 1-D integer array."""
    return predict_logits(model, encoded, batch_size).argmax(axis=1)


def evaluate(labels, predicted) -> dict[str, float]:
    """Validation metrics of predicted classes against true labels."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "macro_f1": float(metrics.f1_score(labels, predicted, average="macro")),
    }
