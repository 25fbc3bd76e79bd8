"""The model's inputs: one row of numbers per parcel, and their scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd

HUBS = ("H1", "H2", "H3", "H4", "H5", "H6")
GRAM_HUBS = ("H5",)  # their scanners record the weight in grams (ticket OPS-412)
# numeric columns of the export used as they are
PASSTHROUGH = ("n_stops", "pickup_hour", "driver_experience_years", "delivery_hours")


def weight_in_kg(frame: pd.DataFrame) -> pd.Series:
    """Each parcel's weight in kilograms: the scanners of the GRAM_HUBS record grams."""
    weight = frame["weight_kg"].astype(float)
    return weight.where(~frame["hub"].isin(GRAM_HUBS), weight / 1000.0)


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    """One row of model inputs per parcel (the label, when present, is not one of them)."""
    out = pd.DataFrame(index=frame.index)
    out["distance_km"] = frame["distance_km"].astype(float)
    out["promised_hours"] = frame["promised_hours"].astype(float)
    out["weight_kg"] = weight_in_kg(frame)
    for column in PASSTHROUGH:
        out[column] = frame[column].astype(float)
    for hub in HUBS:
        out[f"hub_{hub}"] = (frame["hub"] == hub).astype(float)
    return out


class Scaler:
    """Standardise each input with the training rows' mean and standard deviation; a missing value
    becomes the training mean."""

    def fit(self, inputs: pd.DataFrame) -> "Scaler":
        self.mean = inputs.mean()
        self.std = inputs.std().replace(0.0, 1.0).fillna(1.0)
        return self

    def transform(self, inputs: pd.DataFrame) -> np.ndarray:
        scaled = (inputs[self.mean.index] - self.mean) / self.std
        return scaled.fillna(0.0).to_numpy(dtype=np.float32)
