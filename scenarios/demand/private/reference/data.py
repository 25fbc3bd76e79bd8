"""Loading the sales export, cleaning it, and splitting it for validation (reference solution)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMN = "row_id"
LABEL_COLUMN = "units_sold"
# A store whose median temperature is above this reports Fahrenheit (no Celsius climate averages 35).
FAHRENHEIT_MEDIAN_ABOVE = 35.0
# A day selling this many times its store's median of the surrounding weeks is a typed extra zero.
TYPO_FACTOR = 4.0


def load_sales(workspace: Path | str = ".") -> pd.DataFrame:
    """The sales export ``data/train.csv`` of a workspace, one row per store and day."""
    frame = pd.read_csv(Path(workspace) / "data" / "train.csv", parse_dates=["date"])
    return frame.sort_values(["store_id", "date"]).reset_index(drop=True)


def to_celsius(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert the temperature of stores that report Fahrenheit (the western region) to Celsius."""
    frame = frame.copy()
    medians = frame.groupby("store_id")["temperature"].transform("median")
    fahrenheit = medians > FAHRENHEIT_MEDIAN_ABOVE
    frame.loc[fahrenheit, "temperature"] = (frame.loc[fahrenheit, "temperature"] - 32) * 5 / 9
    return frame


def drop_typos(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop days whose units sold are a data-entry error (an extra zero), found against the store's local median."""
    local = frame.groupby("store_id")[LABEL_COLUMN].transform(lambda u: u.rolling(29, center=True, min_periods=5).median())
    return frame[~(frame[LABEL_COLUMN] > TYPO_FACTOR * local)].reset_index(drop=True)


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the last ``valid_fraction`` of the days (all stores) for validation."""
    if valid_fraction <= 0:
        return frame, frame.iloc[:0]
    dates = np.sort(frame["date"].unique())
    cutoff = dates[int(len(dates) * (1 - valid_fraction))]
    is_valid = frame["date"] >= cutoff
    return frame[~is_valid], frame[is_valid]
