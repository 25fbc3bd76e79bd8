"""Loading the CRM export and splitting it for validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMN = "customer_id"
LABEL_COLUMN = "churned"


def load_data(workspace: Path | str = ".") -> pd.DataFrame:
    """The CRM export ``data/train.csv`` of a workspace, as the CRM wrote it."""
    return pd.read_csv(Path(workspace) / "data" / "train.csv")


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out ``valid_fraction`` of the rows for validation."""
    rng = np.random.default_rng(seed)
    customers = frame[ID_COLUMN].unique()
    valid_customers = customers[rng.random(len(customers)) < valid_fraction]
    is_valid = frame[ID_COLUMN].isin(valid_customers).to_numpy()
    return frame[~is_valid], frame[is_valid]
