"""The whole pipeline, from the workspace's rides to saved artifacts and a ``predict`` function."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import FEATURES, clean_rides, load_rides, split_train_valid
from .evaluate import evaluate
from .features import Stats, fit_stats, model_inputs, scaled_fares
from .model import build_model, save_model
from .service import MAX_ROWS, MODEL_FILE, STATS_FILE, PredictionService
from .train import TrainConfig, train_model

ARTIFACTS = "artifacts"


@dataclass
class Datasets:
    train: pd.DataFrame
    valid: pd.DataFrame
    stats: Stats
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_datasets(frame: pd.DataFrame, seed: int = 0, valid_fraction: float = 0.2) -> Datasets:
    """Clean and split the rides, fit the statistics on the training part, and build the model inputs."""
    train, valid = split_train_valid(clean_rides(frame), valid_fraction, seed)
    stats = fit_stats(train)
    return Datasets(
        train=train, valid=valid, stats=stats,
        X_train=model_inputs(train, stats), y_train=scaled_fares(train, stats),
        X_valid=model_inputs(valid, stats), y_valid=scaled_fares(valid, stats),
    )


def save_artifacts(directory: Path | str, model, stats: Stats) -> Path:
    """Save what the service loads: the model and its statistics."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_model(model, directory / MODEL_FILE, len(stats.input_mean))
    stats.save(directory / STATS_FILE)
    return directory


def predict_with_service(service: PredictionService, features: pd.DataFrame) -> np.ndarray:
    """One fare per row of ``features`` (ride_id and the five columns), through the service's quotes."""
    rows = features[list(FEATURES)].to_numpy(dtype=np.float64).tolist()
    fares = []
    for start in range(0, len(rows), MAX_ROWS):
        fares.extend(service.quote(rows[start:start + MAX_ROWS]))
    return np.asarray(fares, dtype=np.float64)


def fit_predictor(workspace: Path | str = ".", seed: int = 0):
    """Train on the workspace's rides, save the artifacts the server loads in ``<workspace>/artifacts``,
    and return ``predict(features_df) -> fare per row`` answered by the service.

    ``predict.validation`` holds the validation metrics, ``predict.model``, ``predict.stats`` and
    ``predict.service`` what it serves.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    datasets = prepare_datasets(load_rides(workspace), seed)
    model = build_model(datasets.X_train.shape[1])
    train_model(model, datasets.X_train, datasets.y_train, TrainConfig(seed=seed))
    validation = evaluate(model, datasets.stats, datasets.valid)
    service = PredictionService(save_artifacts(Path(workspace) / ARTIFACTS, model, datasets.stats))

    def predict(features: pd.DataFrame) -> np.ndarray:
        return predict_with_service(service, features)

    predict.model, predict.stats, predict.service, predict.validation = model, datasets.stats, service, validation
    return predict


__all__ = ["ARTIFACTS", "Datasets", "fit_predictor", "predict_with_service", "prepare_datasets", "save_artifacts", "seed_everything"]
