"""Predictions and the validation error."""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics
from torch import nn

from .train import to_tensor


def predict_values(model: nn.Module, features) -> np.ndarray:
    """The model's forecast for each row of ``features``, as a 1-D array."""
    model.eval()
    with torch.no_grad():
        return model(to_tensor(features)).squeeze(-1).numpy()


def validation_error(targets, predictions) -> float:
    """The error of ``predictions`` against ``targets``, as the brief measures it."""
    return float(np.sqrt(metrics.mean_squared_error(np.asarray(targets), np.asarray(predictions))))
