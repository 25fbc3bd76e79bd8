"""The model's inputs from the five request columns, and the statistics that standardize them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data import FEATURES, LABEL_COLUMN


def transform(rows: np.ndarray) -> np.ndarray:
    """Model inputs, before standardizing, from raw rows (N, 5) in the order of ``FEATURES``.

    The fare is a metered price (a base, per km, per minute) times the surge: the products of the
    surge with the distance and with the duration make it linear. The distance and the duration
    alone, the hour as a point on the clock and the passengers let the small network on top
    correct what the meter does not explain. Training (``model_inputs``) and serving
    (``service.PredictionService.quote``) both call this one function.
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    distance, duration, hour, passengers, surge = rows.T
    angle = 2 * np.pi * hour / 24
    return np.column_stack([surge, distance * surge, duration * surge, distance, duration,
                            np.sin(angle), np.cos(angle), passengers])


@dataclass
class Stats:
    """Means and standard deviations the model was trained with, saved next to it."""

    feature_mean: list[float]  # the raw request columns, for the range check
    feature_std: list[float]
    input_mean: list[float]  # the model inputs (after transform)
    input_std: list[float]
    fare_mean: float
    fare_std: float

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path | str) -> "Stats":
        return cls(**json.loads(Path(path).read_text()))


def fit_stats(frame: pd.DataFrame) -> Stats:
    """The statistics of the training rides."""
    raw = frame[list(FEATURES)].to_numpy(dtype=np.float64)
    inputs = transform(raw)
    fares = frame[LABEL_COLUMN].to_numpy(dtype=np.float64)
    return Stats(
        feature_mean=raw.mean(axis=0).tolist(), feature_std=raw.std(axis=0).tolist(),
        input_mean=inputs.mean(axis=0).tolist(), input_std=inputs.std(axis=0).tolist(),
        fare_mean=float(fares.mean()), fare_std=float(fares.std()),
    )


def standardize(inputs: np.ndarray, stats: Stats) -> np.ndarray:
    return (np.asarray(inputs, dtype=np.float64) - np.asarray(stats.input_mean)) / np.asarray(stats.input_std)


def model_inputs(frame: pd.DataFrame, stats: Stats) -> np.ndarray:
    """The standardized model inputs of a frame of rides (training, validation)."""
    return standardize(transform(frame[list(FEATURES)].to_numpy(dtype=np.float64)), stats).astype(np.float32)


def scaled_fares(frame: pd.DataFrame, stats: Stats) -> np.ndarray:
    """The fares as the model learns them: standardized."""
    return ((frame[LABEL_COLUMN].to_numpy(dtype=np.float64) - stats.fare_mean) / stats.fare_std).astype(np.float32)


def fares_from_outputs(outputs: np.ndarray, stats: Stats) -> np.ndarray:
    """Fares in the currency from the model's (standardized) outputs."""
    return np.asarray(outputs).reshape(-1) * stats.fare_std + stats.fare_mean
