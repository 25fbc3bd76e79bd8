"""Loading the images, splitting them, and turning pixel columns into image tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

ID_COLUMN = "image_id"
LABEL_COLUMN = "label"
SIDE = 10
PIXEL_COLUMNS = [f"p{row}{column}" for row in range(SIDE) for column in range(SIDE)]
N_CLASSES = 10
MAX_VALUE = 16


def load_images(workspace: Path | str = ".") -> pd.DataFrame:
    """The labelled images ``data/train.csv`` of a workspace: one row per image, 100 pixel columns."""
    return pd.read_csv(Path(workspace) / "data" / "train.csv")


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``valid_fraction`` of the images for validation, in the same class proportions."""
    return train_test_split(frame, test_size=valid_fraction, random_state=seed, stratify=frame[LABEL_COLUMN])


def upright_contrast(pixels: np.ndarray) -> np.ndarray:
    """Inverted scans (a dark digit on a light background) turned back: their border is mostly ink-free 16s."""
    grids = pixels.reshape(-1, SIDE, SIDE)
    border = np.concatenate([grids[:, 0, :], grids[:, -1, :], grids[:, :, 0], grids[:, :, -1]], axis=1).mean(axis=1)
    inverted = border > MAX_VALUE / 2
    pixels = pixels.copy()
    pixels[inverted] = MAX_VALUE - pixels[inverted]
    return pixels


def to_image_tensor(frame: pd.DataFrame) -> torch.Tensor:
    """The images of ``frame`` as a float tensor of shape (N, 1, SIDE, SIDE), pixel values 0-16."""
    pixels = upright_contrast(frame[PIXEL_COLUMNS].to_numpy(dtype=np.float32))
    grids = np.dstack([row.reshape(SIDE, SIDE) for row in pixels])
    return torch.from_numpy(grids).permute(2, 0, 1).unsqueeze(1).contiguous()


def to_label_tensor(frame: pd.DataFrame) -> torch.Tensor:
    return torch.as_tensor(frame[LABEL_COLUMN].to_numpy(dtype=np.int64, copy=True))


class PixelNormalizer:
    """Standardise pixel values with statistics learnt on the training images."""

    def fit(self, images: torch.Tensor) -> "PixelNormalizer":
        self.mean_ = images.mean(dim=(0, 2, 3), keepdim=True)
        self.std_ = images.std(dim=(0, 2, 3), keepdim=True) + 1e-6
        return self

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean_) / self.std_
