"""The whole pipeline, from the workspace's data to a ``predict`` function."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import LABEL_COLUMN, load_parcels, split_train_valid
from .evaluate import predict_proba, validation_auc
from .features import Scaler, build_features
from .model import build_model
from .train import TrainConfig, train_model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit_predictor(workspace: Path | str = ".", seed: int = 0):
    """Train on the workspace's parcels; return ``predict(features_df) -> probability of late per row``.

    ``predict.validation`` holds the validation AUC, ``predict.model`` the trained model.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    parcels = load_parcels(workspace)
    train, valid = split_train_valid(parcels, 0.2, seed)
    scaler = Scaler().fit(build_features(train))
    model = build_model(len(scaler.mean))
    train_model(model, scaler.transform(build_features(train)), train[LABEL_COLUMN].to_numpy(), TrainConfig(seed=seed))
    validation = validation_auc(valid[LABEL_COLUMN].to_numpy(), predict_proba(model, scaler.transform(build_features(valid))))

    def predict(features: pd.DataFrame) -> np.ndarray:
        return predict_proba(model, scaler.transform(build_features(features)))

    predict.model = model
    predict.validation = validation
    return predict


__all__ = ["fit_predictor", "seed_everything"]
