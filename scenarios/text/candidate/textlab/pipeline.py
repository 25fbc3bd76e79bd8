"""The whole pipeline, from the workspace's tickets to a ``predict`` function."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import ID_COLUMN, TEXT_COLUMN, Vocabulary, load_tickets, split_train_valid, to_label_tensor
from .evaluate import evaluate, predict_classes
from .model import build_model
from .train import TrainConfig, train_model


@dataclass
class Datasets:
    train: pd.DataFrame
    valid: pd.DataFrame
    X_train: list
    y_train: torch.Tensor
    X_valid: list
    y_valid: torch.Tensor
    vocabulary: Vocabulary


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_datasets(frame: pd.DataFrame, seed: int = 0, valid_fraction: float = 0.2) -> Datasets:
    """Fit the vocabulary, split the tickets, and turn both parts into model inputs."""
    vocabulary = Vocabulary().fit(frame[TEXT_COLUMN])
    train, valid = split_train_valid(frame, valid_fraction, seed)
    return Datasets(
        train=train,
        valid=valid,
        X_train=train[TEXT_COLUMN].tolist(),
        y_train=to_label_tensor(train),
        X_valid=valid[TEXT_COLUMN].tolist(),
        y_valid=to_label_tensor(valid),
        vocabulary=vocabulary,
    )


def fit_predictor(workspace: Path | str = ".", seed: int = 0):
    """Train on the workspace's tickets; return ``predict(features_df) -> class per row``.

    ``predict.validation`` holds the validation metrics, ``predict.model`` the trained model.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    datasets = prepare_datasets(load_tickets(workspace), seed)
    model = build_model(len(datasets.vocabulary))
    train_model(model, datasets.X_train, datasets.y_train, TrainConfig(seed=seed))
    validation = evaluate(datasets.y_valid.numpy(), predict_classes(model, datasets.X_valid))

    def predict(features: pd.DataFrame) -> np.ndarray:
        return predict_classes(model, features[TEXT_COLUMN].tolist())

    predict.model = model
    predict.validation = validation
    return predict


__all__ = ["Datasets", "ID_COLUMN", "fit_predictor", "prepare_datasets", "seed_everything"]
