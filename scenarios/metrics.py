"""Holdout metrics by name, computed with scikit-learn in the grading process."""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm


def _rmse(y_true, y_pred) -> float:
    return math.sqrt(skm.mean_squared_error(y_true, y_pred))


def _f1(y_true, y_score) -> float:
    return skm.f1_score(y_true, np.asarray(y_score) >= 0.5)


def _accuracy(y_true, y_pred) -> float:
    y_pred = np.asarray(y_pred)
    if y_pred.dtype.kind == "f" and set(np.unique(y_true)) <= {0, 1}:
        y_pred = y_pred >= 0.5
    return skm.accuracy_score(y_true, y_pred)


def _macro_f1(y_true, y_pred) -> float:
    """F1 averaged over classes with equal weight: a rare class counts as much as a common one."""
    return skm.f1_score(y_true, y_pred, average="macro")


METRICS = {
    "average_precision": skm.average_precision_score,
    "roc_auc": skm.roc_auc_score,
    "f1": _f1,
    "accuracy": _accuracy,
    "macro_f1": _macro_f1,
    "log_loss": skm.log_loss,
    "mae": skm.mean_absolute_error,
    "rmse": _rmse,
    "r2": skm.r2_score,
}


def score(metric: str, y_true, y_pred) -> float:
    """The value of ``metric`` for predictions ``y_pred`` against labels ``y_true``."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; known: {', '.join(sorted(METRICS))}")
    return float(METRICS[metric](np.asarray(y_true), np.asarray(y_pred)))
