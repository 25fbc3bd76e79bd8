"""The whole pipeline, from the workspace's images to a ``predict`` function (reference solution).

Fixed: statistics over the right axes, images permuted (not viewed) into place, logits into
CrossEntropyLoss, no augmentation outside training, the schedule stepped per epoch. Improved:
inverted scans turned back (``data.upright_contrast``), a 1,418-parameter CNN with global max
pooling (``model.DigitNet``), rotation augmentation, class weights for the rare digits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .data import ID_COLUMN, PixelNormalizer, load_images, split_train_valid, to_image_tensor, to_label_tensor
from .evaluate import evaluate, predict_classes
from .model import build_model
from .train import TrainConfig, train_model


@dataclass
class Datasets:
    train: pd.DataFrame
    valid: pd.DataFrame
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_valid: torch.Tensor
    y_valid: torch.Tensor
    normalizer: PixelNormalizer


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_datasets(frame: pd.DataFrame, seed: int = 0, valid_fraction: float = 0.2) -> Datasets:
    """Split the images and turn both parts into standardised image tensors."""
    train, valid = split_train_valid(frame, valid_fraction, seed)
    train_images = to_image_tensor(train)
    normalizer = PixelNormalizer().fit(train_images)
    return Datasets(
        train=train,
        valid=valid,
        X_train=normalizer.transform(train_images),
        y_train=to_label_tensor(train),
        X_valid=normalizer.transform(to_image_tensor(valid)),
        y_valid=to_label_tensor(valid),
        normalizer=normalizer,
    )


def fit_predictor(workspace: Path | str = ".", seed: int = 0):
    """Train on the workspace's images; return ``predict(features_df) -> digit per row``.

    ``predict.validation`` holds the validation metrics, ``predict.model`` the trained model.
    """
    torch.set_num_threads(1)
    seed_everything(seed)
    datasets = prepare_datasets(load_images(workspace), seed)
    model = build_model()
    train_model(model, datasets.X_train, datasets.y_train, TrainConfig(seed=seed))
    validation = evaluate(datasets.y_valid.numpy(), predict_classes(model, datasets.X_valid))

    def predict(features: pd.DataFrame) -> np.ndarray:
        return predict_classes(model, datasets.normalizer.transform(to_image_tensor(features)))

    predict.model = model
    predict.validation = validation
    return predict


__all__ = ["Datasets", "ID_COLUMN", "fit_predictor", "prepare_datasets", "seed_everything"]
