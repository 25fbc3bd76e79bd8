"""Checks of the parcel export before training: a unit mix-up shows as a hub whose parcels weigh a ton."""

from __future__ import annotations

import pandas as pd

from .features import weight_in_kg

MAX_MEDIAN_KG = 50.0


def check_weights(frame: pd.DataFrame) -> dict[str, float]:
    """The median weight in kilograms per hub; raise when a hub's median is past MAX_MEDIAN_KG."""
    medians = weight_in_kg(frame).groupby(frame["hub"]).median()
    heavy = medians[medians > MAX_MEDIAN_KG]
    if len(heavy):
        raise ValueError(f"median weights past {MAX_MEDIAN_KG} kg at {', '.join(heavy.index)}: a unit mix-up?")
    return {hub: float(kg) for hub, kg in medians.items()}
