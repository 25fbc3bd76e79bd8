"""Loading the sales export and splitting it for validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

ID_COLUMN = "row_id"
LABEL_COLUMN = "units_sold"


def load_sales(workspace: Path | str = ".") -> pd.DataFrame:
    """The sales export ``data/train.csv`` of a workspace, one row per store and day."""
    frame = pd.read_csv(Path(workspace) / "data" / "train.csv", parse_dates=["date"])
    return frame.sort_values(["store_id", "date"]).reset_index(drop=True)


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``valid_fraction`` of the rows for validation."""
    train, valid = train_test_split(frame, test_size=valid_fraction, random_state=seed)
    return train.sort_index(), valid.sort_index()
