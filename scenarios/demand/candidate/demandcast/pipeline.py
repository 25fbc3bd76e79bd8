"""The whole pipeline, from the workspace's data to a ``predict`` function."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import ID_COLUMN, LABEL_COLUMN, load_sales, split_train_valid
from .evaluate import predict_values, validation_error
from .features import FeatureBuilder, add_recent_demand
from .model import build_model
from .train import TrainConfig, train_model


@dataclass
class Datasets:
    train: pd.DataFrame
    valid: pd.DataFrame
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_valid: pd.DataFrame
    y_valid: np.ndarray
    builder: FeatureBuilder
    target_mean: float
    target_std: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_datasets(frame: pd.DataFrame, seed: int = 0, valid_fraction: float = 0.2) -> Datasets:
    """Add recent demand, split, build features and scale the target for training."""
    frame = add_recent_demand(frame)
    train, valid = split_train_valid(frame, valid_fraction, seed)
    builder = FeatureBuilder().fit(train)
    target_mean, target_std = float(train[LABEL_COLUMN].mean()), float(train[LABEL_COLUMN].std())
    return Datasets(
        train=train,
        valid=valid,
        X_train=builder.transform(train),
        y_train=((train[LABEL_COLUMN] - target_mean) / target_std).to_numpy(),
        X_valid=builder.transform(valid),
        y_valid=((valid[LABEL_COLUMN] - target_mean) / target_std).to_numpy(),
        builder=builder,
        target_mean=target_mean,
        target_std=target_std,
    )


def fit_predictor(workspace: Path | str = ".", seed: int = 0):
    """Train on the workspace's data; return ``predict(features_df) -> units sold per row``.

    ``predict.validation`` holds the validation error, ``predict.model`` the trained model.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    datasets = prepare_datasets(load_sales(workspace), seed)
    model = build_model(datasets.X_train.shape[1])
    train_model(model, datasets.X_train, datasets.y_train, TrainConfig(seed=seed))
    validation = validation_error(datasets.y_valid, predict_values(model, datasets.X_valid))

    def predict(features: pd.DataFrame) -> np.ndarray:
        return predict_values(model, datasets.builder.transform(features.drop(columns=[LABEL_COLUMN], errors="ignore")))

    predict.model = model
    predict.validation = validation
    return predict


__all__ = ["Datasets", "ID_COLUMN", "fit_predictor", "prepare_datasets", "seed_everything"]
