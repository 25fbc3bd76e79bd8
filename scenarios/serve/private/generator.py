"""Data of the serve scenario: ride fares quoted before the ride. Nothing is downloaded.

Each ride has a route length (log-normal, 0.5-40 km), an estimated duration (the distance at the
hour's traffic speed, with noise), the hour it was requested, the passengers (1-6) and the surge
multiplier in force (1.0-2.5, high at the morning and evening rush). The fare is

    fare = (BASE + PER_KM * distance_km + PER_MIN * duration_min) * surge + noise

in the currency, to the cent: the surge multiplies the metered fare, so a model that adds up the
raw columns misses the product. Passengers do not change the fare.

- candidate data (``train.csv``, public seed): 30,000 rides; about 6 % of them were cancelled by
  the rider (more often at a high surge) and are recorded with their real features and a fare of 0;
- holdout (the installation's secret seed): 2,000 rides of a later period, no cancellations, from
  the same ranges, every feature inside fixed bounds (2.6 standard deviations of the population
  around its mean), so that every holdout row passes any honest 3-standard-deviation range check
  fitted on any seed's candidate data: the request suite sends holdout rows as valid requests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ID_COLUMN = "ride_id"
LABEL_COLUMN = "fare"
FEATURES = ("distance_km", "duration_min", "hour", "passengers", "surge")
CANDIDATE_RIDES, HOLDOUT_RIDES = 30000, 2000
CANCELLED_FRACTION = 0.06
BASE, PER_KM, PER_MIN = 2.50, 1.20, 0.30
NOISE = 0.8
HOLDOUT_SIGMAS = 2.6
PASSENGER_SHARES = (0.52, 0.26, 0.11, 0.06, 0.035, 0.015)


def _rush(hour: np.ndarray) -> np.ndarray:
    """How much of a rush hour it is, 0-1: peaks at 8 and at 18."""
    return np.maximum(np.exp(-0.5 * ((hour - 8) / 1.3) ** 2), np.exp(-0.5 * ((hour - 18) / 1.6) ** 2))


def _features(rng: np.random.Generator, count: int) -> pd.DataFrame:
    hour_weights = 0.4 + _rush(np.arange(24)) + 0.25 * (np.arange(24) >= 20)
    hour = rng.choice(24, size=count, p=hour_weights / hour_weights.sum())
    rush = _rush(hour)
    distance = np.clip(rng.lognormal(np.log(5.0), 0.6, size=count), 0.5, 40.0)
    speed = (27.0 - 11.0 * rush) * rng.lognormal(0.0, 0.15, size=count)  # km/h
    duration = np.clip(distance / speed * 60.0 + rng.normal(2.0, 0.8, size=count), 1.0, None)
    passengers = rng.choice(np.arange(1, 7), size=count, p=PASSENGER_SHARES)
    surge = np.clip(1.0 + np.abs(rng.normal(0.0, 0.12 + 0.45 * rush, size=count)), 1.0, 2.5)
    return pd.DataFrame({
        "distance_km": np.round(distance, 2),
        "duration_min": np.round(duration, 1),
        "hour": hour.astype(np.int64),
        "passengers": passengers.astype(np.int64),
        "surge": np.round(surge, 2),
    })


def fare_of(frame: pd.DataFrame, rng: np.random.Generator | None = None) -> np.ndarray:
    """The fare of each ride (with noise when ``rng`` is given), to the cent."""
    metered = BASE + PER_KM * frame["distance_km"].to_numpy(float) + PER_MIN * frame["duration_min"].to_numpy(float)
    fare = metered * frame["surge"].to_numpy(float)
    if rng is not None:
        fare = fare + rng.normal(0.0, NOISE, size=len(frame))
    return np.round(np.maximum(fare, 2.0), 2)


def holdout_bounds() -> dict[str, tuple[float, float]]:
    """Fixed bounds of the holdout's features: the population's mean +- 2.6 standard deviations."""
    population = _features(np.random.default_rng(20240601), 200_000)
    bounds = {}
    for column in FEATURES:
        mean, std = float(population[column].mean()), float(population[column].std())
        bounds[column] = (mean - HOLDOUT_SIGMAS * std, mean + HOLDOUT_SIGMAS * std)
    return bounds


def _ids(prefix: str, count: int, rng: np.random.Generator) -> list[str]:
    numbers = rng.choice(900_000, size=count, replace=False) + 100_000
    return [f"{prefix}{n}" for n in numbers]


def make_candidate_data(seed: int) -> dict[str, pd.DataFrame]:
    """The candidate's rides: 30,000 rows, about 6 % cancelled (fare 0, real features), more of them at a high surge."""
    rng = np.random.default_rng([seed, 1])
    frame = _features(rng, CANDIDATE_RIDES)
    fare = fare_of(frame, rng)
    # riders cancel more often when the surge is high: the cancellations pile up where the fares are largest
    weight = frame["surge"].to_numpy(float) ** 3
    cancelled = rng.random(len(frame)) < CANCELLED_FRACTION * weight / weight.mean()
    fare[cancelled] = 0.0
    frame.insert(0, ID_COLUMN, _ids("r", len(frame), rng))
    frame[LABEL_COLUMN] = fare
    return {"train.csv": frame}


def make_holdout(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Holdout features (ride_id + the five features) and fares: a later period, no cancellations."""
    rng = np.random.default_rng([seed, 2])
    frame = _features(rng, HOLDOUT_RIDES)
    for column, (low, high) in holdout_bounds().items():
        low = max(low, float(frame[column].min()))
        if column in ("hour", "passengers"):
            frame[column] = frame[column].clip(int(np.ceil(low)), int(np.floor(high)))
        else:
            frame[column] = frame[column].clip(round(low + 0.01, 2), round(high - 0.01, 2))
    fare = fare_of(frame, rng)
    frame.insert(0, ID_COLUMN, _ids("h", len(frame), rng))
    return frame, fare
