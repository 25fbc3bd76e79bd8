"""Loading the parcel export and splitting it for validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMN = "parcel_id"
LABEL_COLUMN = "late"


def load_parcels(workspace: Path | str = ".") -> pd.DataFrame:
    """The candidate's parcels: ``data/train.csv`` of the workspace, in the order of the export."""
    return pd.read_csv(Path(workspace) / "data" / "train.csv")


def split_train_valid(frame: pd.DataFrame, valid_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation parts: a random ``valid_fraction`` of the parcels is held out."""
    rng = np.random.default_rng(seed)
    valid = frame.iloc[rng.permutation(len(frame))[: int(len(frame) * valid_fraction)]]
    return frame, valid
