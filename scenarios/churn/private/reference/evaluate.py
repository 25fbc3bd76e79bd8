"""Predicted probabilities and validation metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn import metrics
from torch import nn


def predict_proba(model: nn.Module, features: pd.DataFrame) -> np.ndarray:
    """Probability of churn for each row of ``features``."""
    model.eval()
    with torch.no_grad():
        outputs = model(torch.as_tensor(features.to_numpy(dtype=np.float32)))
    return torch.sigmoid(outputs).numpy()


def evaluate(labels, probabilities, threshold: float = 0.5) -> dict[str, float]:
    """Validation metrics of predicted probabilities against true labels."""
    predicted = np.asarray(probabilities) >= threshold
    return {
        "average_precision": float(metrics.average_precision_score(np.asarray(labels), np.asarray(probabilities))),
        "accuracy": float(metrics.accuracy_score(np.asarray(labels), predicted)),
    }
