"""Predicted probabilities and validation metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn import metrics
from torch import nn


def predict_proba(model: nn.Module, features: pd.DataFrame) -> np.ndarray:
    """Probability of churn for each row of ``features``."""
    outputs = model(features)
    return outputs.detach().numpy()


def evaluate(labels, probabilities, threshold: float = 0.5) -> dict[str, float]:
    """Validation metrics of predicted probabilities against true labels."""
    predicted = np.asarray(probabilities) >= threshold
    return {"accuracy": float(metrics.accuracy_score(np.asarray(labels), predicted))}
