"""Fares from the model, and validation metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from .features import Stats, fares_from_outputs, model_inputs, scaled_fares


def model_outputs(model: nn.Module, inputs: np.ndarray) -> np.ndarray:
    """The model's raw (standardized) outputs for standardized inputs, shape (N,)."""
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(inputs, dtype=np.float32))).numpy().reshape(-1)


def predict_fares(model: nn.Module, stats: Stats, frame: pd.DataFrame) -> np.ndarray:
    """The fare of each ride of ``frame``, in the currency, the way training sees the rides."""
    return fares_from_outputs(model_outputs(model, model_inputs(frame, stats)), stats)


def mean_absolute_error(truth, predicted) -> float:
    return float(np.mean(np.abs(np.asarray(truth, dtype=np.float64) - np.asarray(predicted, dtype=np.float64))))


def evaluate(model: nn.Module, stats: Stats, frame: pd.DataFrame) -> dict[str, float]:
    """Validation metrics of the model on the rides of ``frame``: the MAE of the fare."""
    outputs = model_outputs(model, model_inputs(frame, stats))
    return {"mae": mean_absolute_error(scaled_fares(frame, stats), outputs), "rides": float(len(frame))}
