"""The whole pipeline, from the workspace's data to a ``predict`` function."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import ID_COLUMN, LABEL_COLUMN, load_data, split_train_valid
from .evaluate import evaluate, predict_proba
from .features import FeatureEncoder
from .model import build_model
from .train import TrainConfig, train_model


@dataclass
class Datasets:
    train: pd.DataFrame
    valid: pd.DataFrame
    X_train: pd.DataFrame
    y_train: pd.Series
    X_valid: pd.DataFrame
    y_valid: pd.Series
    encoder: FeatureEncoder


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_datasets(frame: pd.DataFrame, seed: int = 0, valid_fraction: float = 0.2) -> Datasets:
    """Split the CRM export and encode both parts for the model."""
    encoder = FeatureEncoder().fit(frame)
    train, valid = split_train_valid(frame, valid_fraction, seed)
    return Datasets(
        train=train,
        valid=valid,
        X_train=encoder.transform(train),
        y_train=train[LABEL_COLUMN],
        X_valid=encoder.transform(valid),
        y_valid=valid[LABEL_COLUMN],
        encoder=encoder,
    )


def fit_predictor(workspace: Path | str = ".", seed: int = 0):
    """Train on the workspace's data; return ``predict(features_df) -> churn probabilities``.

    ``predict.validation`` holds the validation metrics, ``predict.model`` the trained model.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    datasets = prepare_datasets(load_data(workspace), seed)
    model = build_model(datasets.X_train.shape[1])
    train_model(model, datasets.X_train, datasets.y_train, TrainConfig(seed=seed))
    validation = evaluate(datasets.y_valid, predict_proba(model, datasets.X_valid))

    def predict(features: pd.DataFrame) -> np.ndarray:
        return predict_proba(model, datasets.encoder.transform(features))

    predict.model = model
    predict.validation = validation
    return predict


__all__ = ["Datasets", "ID_COLUMN", "fit_predictor", "prepare_datasets", "seed_everything"]
