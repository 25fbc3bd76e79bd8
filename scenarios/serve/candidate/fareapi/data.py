"""Loading the rides, cleaning them and splitting them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

ID_COLUMN = "ride_id"
LABEL_COLUMN = "fare"
# The columns of a request's row, in this order: {"instances": [[distance_km, duration_min, hour, passengers, surge]]}
FEATURES = ("distance_km", "duration_min", "hour", "passengers", "surge")
N_FEATURES = len(FEATURES)


def load_rides(workspace: Path | str = ".") -> pd.DataFrame:
    """The rides of ``data/train.csv`` in a workspace: one row per ride, with its fare."""
    return pd.read_csv(Path(workspace) / "data" / "train.csv")


def clean_rides(frame: pd.DataFrame) -> pd.DataFrame:
    """The rides fit to learn a fare from: every feature and the fare recorded."""
    return frame.dropna(subset=[*FEATURES, LABEL_COLUMN]).reset_index(drop=True)


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``valid_fraction`` of the rides for validation."""
    train, valid = train_test_split(frame, test_size=valid_fraction, random_state=seed)
    return train.reset_index(drop=True), valid.reset_index(drop=True)
