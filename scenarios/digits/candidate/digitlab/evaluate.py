"""Predicted classes and validation metrics."""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics
from torch import nn

from .augment import batches


def predict_classes(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The predicted digit of each standardised image, as a 1-D integer array."""
    device = next(model.parameters()).device
    model.eval()
    predicted = []
    with torch.no_grad():
        for batch_images, _ in batches(images, None, batch_size, shuffle=False):
            predicted.append(model(batch_images.to(device)).argmax(dim=1).cpu())
    return torch.cat(predicted).numpy()


def evaluate(labels, predicted) -> dict[str, float]:
    """Validation metrics of predicted classes against true labels."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "macro_f1": float(metrics.f1_score(labels, predicted, average="macro")),
    }
