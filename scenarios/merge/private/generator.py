"""Data of the merge scenario: parcels of a courier, and whether each was delivered late.

The world (the hubs, their delays, what makes a parcel slow) is fixed here; the seed draws the
parcels. A parcel is late when its delivery took longer than the hours promised to the customer.
What makes it slow: the distance over the speed of a van (so the speed a promise needs,
distance over promised hours, is what decides most), the stops on the route, the weight (heavy
parcels are carried, not posted), the rush hours, the hub and the driver's experience.

- candidate data, ``train.csv``: parcels picked up from 1 September to 31 October 2026;
- holdout: parcels of November 2026, with more express promises (the autumn campaign).

Quirks: the scanners of hub H5 record the weight in grams (``GRAM_HUBS``; the fix branch of the
scaffold's history converts them); ``delivery_hours`` is filled in when the parcel is delivered,
so it is known after the fact only and empty in the holdout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ID_COLUMN = "parcel_id"
LABEL_COLUMN = "late"
AFTER_THE_FACT_COLUMN = "delivery_hours"
HUBS = ("H1", "H2", "H3", "H4", "H5", "H6")
HUB_SHARE = (0.2, 0.16, 0.15, 0.13, 0.24, 0.12)
HUB_DELAY_HOURS = {"H1": 0.0, "H2": 0.1, "H3": -0.1, "H4": 0.2, "H5": 0.05, "H6": 0.3}  # log factors
GRAM_HUBS = ("H5",)
PROMISES = (1, 2, 4, 8, 24)
CANDIDATE_PROMISE_SHARE = 1.0
HOLDOUT_PROMISE_SHARE = 1.1  # the autumn campaign: tighter promises
CANDIDATE_ROWS = 2400
HOLDOUT_ROWS = 3000
COLUMNS = (
    ID_COLUMN, "pickup_date", "hub", "distance_km", "promised_hours", "weight_kg", "n_stops", "pickup_hour",
    "driver_experience_years", AFTER_THE_FACT_COLUMN, LABEL_COLUMN,
)


def _parcels(rng: np.random.Generator, n: int, promise_share, first_day: str, days: int, prefix: str) -> pd.DataFrame:
    hub = rng.choice(HUBS, n, p=HUB_SHARE)
    distance = np.round(np.clip(np.exp(rng.normal(3.0, 0.9, n)), 1.0, 250.0), 1)
    weight = np.round(np.clip(rng.gamma(2.0, 3.5, n), 0.2, 35.0), 2)
    stops = rng.poisson(5, n) + 1
    hour = rng.integers(7, 20, n)
    experience = np.round(rng.uniform(0, 15, n), 1)
    rush = np.where(((hour >= 8) & (hour <= 9)) | ((hour >= 16) & (hour <= 18)), 1.25, 1.0)
    # every cause is a factor: a delay scales with the length of the trip
    expected = (
        (distance / 30.0 + 0.3) * (1 + 0.05 * stops) * (1 + 0.08 * weight) * np.exp(np.vectorize(HUB_DELAY_HOURS.get)(hub))
        * rush * (1 - 0.015 * experience)
    )
    actual = np.round(expected * np.exp(rng.normal(0.0, 0.18, n)), 2)
    # the promise comes from the booking tool's plan, which knows the distance only roughly
    plan = (distance / 30.0 + 0.3) * 1.8 * np.exp(rng.normal(0.0, 0.3, n)) / promise_share
    promised = np.select([plan <= 1, plan <= 2, plan <= 4, plan <= 8], [1, 2, 4, 8], 24)
    recorded_weight = np.where(np.isin(hub, GRAM_HUBS), np.round(weight * 1000.0), weight)
    dates = pd.Timestamp(first_day) + pd.to_timedelta(np.sort(rng.integers(0, days, n)), unit="D")
    frame = pd.DataFrame({
        ID_COLUMN: [f"{prefix}{i:06d}" for i in range(n)],
        "pickup_date": dates.strftime("%Y-%m-%d"),
        "hub": hub,
        "distance_km": distance,
        "promised_hours": promised,
        "weight_kg": recorded_weight,
        "n_stops": stops,
        "pickup_hour": hour,
        "driver_experience_years": experience,
        AFTER_THE_FACT_COLUMN: actual,
        LABEL_COLUMN: (actual > promised).astype(int),
    })
    return frame[list(COLUMNS)]


def make_candidate_data(seed: int) -> dict[str, pd.DataFrame]:
    """The candidate's parcels (September and October 2026), with the label and the after-the-fact column."""
    rng = np.random.default_rng([seed, 1])
    return {"train.csv": _parcels(rng, CANDIDATE_ROWS, CANDIDATE_PROMISE_SHARE, "2026-09-01", 61, "P")}


def make_holdout(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """November's parcels: features (``delivery_hours`` empty, not delivered yet) and labels."""
    rng = np.random.default_rng([seed, 2])
    frame = _parcels(rng, HOLDOUT_ROWS, HOLDOUT_PROMISE_SHARE, "2026-11-01", 30, "N")
    labels = frame[LABEL_COLUMN].to_numpy()
    features = frame.drop(columns=[LABEL_COLUMN])
    features[AFTER_THE_FACT_COLUMN] = np.nan
    return features, labels
