"""Predicted probabilities and the validation figure."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def predict_proba(model, inputs) -> np.ndarray:
    """The probability that each row's parcel is late."""
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(torch.as_tensor(inputs, dtype=torch.float32))).numpy().astype(float)


def validation_auc(labels, probabilities) -> float:
    """ROC AUC of the validation parcels, as the brief measures it."""
    return float(roc_auc_score(labels, probabilities))
