"""Data of the demand scenario: daily units sold per store, with the quirks a candidate should find.

The world (the stores, their size, growth, weekly and yearly rhythm, price elasticity) is fixed
by ``WORLD_SEED`` so that the candidate's data and the holdout describe the same chain; the seed
passed in only draws the day-to-day noise and where the quirks land.

- candidate period, ``train.csv``: 2022-01-01 to 2023-11-30, rows ordered by store then date;
- twist batch, ``december_2023.csv`` (released mid-interview): December 2023, after an 8 %
  price rise and with the western stores' weather feed switched to degrees Celsius;
- holdout: 2024-01-01 to 2024-03-31, after a one-month gap, with prices up and the trend on.

Quirks: trend and weekly/yearly seasonality; data-entry errors (an extra zero typed, units x10)
in about 0.5 % of the candidate's rows; ``temperature`` in degrees Fahrenheit for the three
stores of the western region (the rest report Celsius); ``receipts`` counted after the store
closes, so it is empty in the period to forecast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WORLD_SEED = 20240607
ID_COLUMN = "row_id"
LABEL_COLUMN = "units_sold"
AFTER_THE_FACT_COLUMN = "receipts"
CANDIDATE_PERIOD = ("2022-01-01", "2023-11-30")
TWIST_PERIOD = ("2023-12-01", "2023-12-31")
HOLDOUT_PERIOD = ("2024-01-01", "2024-03-31")
PRICE_RISE = 1.08  # from December 2023
STORES = 12
WEST_STORES = ("S10", "S11", "S12")  # the acquired chain: weather feed in Fahrenheit until December 2023
COLUMNS = (
    ID_COLUMN, "date", "store_id", "region", "store_type", "floor_area_m2", "is_holiday", "promo",
    "unit_price", "temperature", AFTER_THE_FACT_COLUMN, LABEL_COLUMN,
)
# Fixed public holidays (month, day) of the chain's country.
HOLIDAYS = ((1, 1), (5, 1), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))


def _world() -> pd.DataFrame:
    """The stores: fixed attributes and the parameters of their demand."""
    rng = np.random.default_rng(WORLD_SEED)
    ids = [f"S{i:02d}" for i in range(1, STORES + 1)]
    region = ["north"] * 5 + ["south"] * 4 + ["west"] * 3
    store_type = rng.choice(["mall", "high_street", "suburban"], STORES, p=[0.3, 0.4, 0.3])
    area = np.round(rng.uniform(250, 1400, STORES), -1)
    return pd.DataFrame({
        "store_id": ids,
        "region": region,
        "store_type": store_type,
        "floor_area_m2": area,
        "base_level": 25 + area * rng.uniform(0.06, 0.11, STORES),
        "growth_per_year": rng.uniform(0.04, 0.22, STORES),
        "weekend_boost": np.where(store_type == "mall", 0.45, np.where(store_type == "high_street", 0.15, 0.30))
        + rng.normal(0, 0.04, STORES),
        "yearly_amplitude": rng.uniform(0.10, 0.25, STORES),
        "temperature_effect": rng.uniform(0.02, 0.06, STORES),  # per degree Celsius above 15
        "base_price": np.round(rng.uniform(3.5, 6.0, STORES), 2),
        "elasticity": rng.uniform(0.8, 1.6, STORES),
    })


def _days(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D")


def _simulate(start: str, end: str, rng: np.random.Generator) -> pd.DataFrame:
    """True daily demand of every store over a period, with its drivers (no quirks yet)."""
    world = _world()
    days = _days(start, end)
    grid = world.merge(pd.DataFrame({"date": days}), how="cross")
    n = len(grid)
    date = grid["date"]
    years = (date - pd.Timestamp("2022-01-01")).dt.days.to_numpy() / 365.25
    day_of_year = date.dt.day_of_year.to_numpy()
    weekday = date.dt.day_of_week.to_numpy()
    holiday = np.array([(d.month, d.day) in HOLIDAYS for d in date], dtype=int)
    north = (grid["region"] == "north").to_numpy()
    climate = np.where(north, 10.0, np.where(grid["region"] == "south", 17.0, 14.0))
    temperature_c = climate - 9.0 * np.cos(2 * np.pi * (day_of_year - 20) / 365.25) + rng.normal(0, 3.0, n)
    # Promotions run in week-long blocks that differ per store.
    week = ((date - pd.Timestamp("2022-01-03")).dt.days // 7).to_numpy()
    promo_weeks = rng.random((STORES, week.max() + 2)) < 0.18
    store_index = grid["store_id"].str[1:].astype(int).to_numpy() - 1
    promo = promo_weeks[store_index, week + 1].astype(int)
    inflation = 1.0 + 0.035 * years + np.where(date >= pd.Timestamp(TWIST_PERIOD[0]), PRICE_RISE - 1.0, 0.0)
    price = grid["base_price"].to_numpy() * inflation * (1 - 0.2 * promo) * rng.uniform(0.97, 1.03, n)

    weekly = 1.0 + np.where(weekday >= 5, grid["weekend_boost"].to_numpy(), 0.0) - np.where(weekday == 0, 0.08, 0.0)
    yearly = 1.0 + grid["yearly_amplitude"].to_numpy() * np.sin(2 * np.pi * (day_of_year - 80) / 365.25)
    trend = 1.0 + grid["growth_per_year"].to_numpy() * years
    weather = np.clip(1.0 + grid["temperature_effect"].to_numpy() * (temperature_c - 15.0), 0.5, 1.8)
    relative_price = price / (grid["base_price"].to_numpy() * (1.0 + 0.035 * years))
    price_effect = relative_price ** (-grid["elasticity"].to_numpy())
    festive = 1.0 + 0.5 * ((date.dt.month == 12) & (date.dt.day >= 15) & (date.dt.day <= 24)).to_numpy()
    expected = (grid["base_level"].to_numpy() * trend * weekly * yearly * weather * price_effect * festive
                * np.where(holiday == 1, 0.35, 1.0))
    units = rng.poisson(expected * rng.lognormal(0.0, 0.08, n)).astype(float)
    receipts = np.round(units / rng.uniform(1.6, 2.2, n))

    frame = pd.DataFrame({
        "date": date.dt.strftime("%Y-%m-%d"),
        "store_id": grid["store_id"],
        "region": grid["region"],
        "store_type": grid["store_type"],
        "floor_area_m2": grid["floor_area_m2"],
        "is_holiday": holiday,
        "promo": promo,
        "unit_price": np.round(price, 2),
        "temperature": np.round(temperature_c, 1),
        AFTER_THE_FACT_COLUMN: receipts,
        LABEL_COLUMN: units,
    })
    return frame


def _fahrenheit_for_west(frame: pd.DataFrame) -> pd.DataFrame:
    west = frame["store_id"].isin(WEST_STORES)
    frame.loc[west, "temperature"] = np.round(frame.loc[west, "temperature"] * 9 / 5 + 32, 1)
    return frame


def _with_ids(frame: pd.DataFrame, rng: np.random.Generator, prefix: str) -> pd.DataFrame:
    ids = rng.choice(10**7, size=len(frame), replace=False)
    frame.insert(0, ID_COLUMN, [f"{prefix}{i:07d}" for i in ids])
    return frame[list(COLUMNS)]


def make_candidate_data(seed: int) -> dict[str, pd.DataFrame]:
    """The candidate's file: the stores' sales up to the end of November 2023, as the tills sent them."""
    rng = np.random.default_rng([seed, 1])
    frame = _fahrenheit_for_west(_simulate(*CANDIDATE_PERIOD, rng))
    typo = rng.random(len(frame)) < 0.005
    frame.loc[typo, LABEL_COLUMN] = frame.loc[typo, LABEL_COLUMN] * 10
    return {"train.csv": _with_ids(frame, rng, "r")}


def make_twist_data(seed: int) -> dict[str, pd.DataFrame]:
    """The mid-interview twist: December 2023 arrives, after a price rise and a weather-feed fix."""
    rng = np.random.default_rng([seed, 3])
    frame = _simulate(*TWIST_PERIOD, rng)  # all stores in Celsius from December on
    return {"december_2023.csv": _with_ids(frame, rng, "d")}


def make_holdout(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """First quarter of 2024: features as known the evening before (no receipts yet) and true units."""
    rng = np.random.default_rng([seed, 2])
    frame = _with_ids(_simulate(*HOLDOUT_PERIOD, rng), rng, "h")
    frame = frame.sample(frac=1.0, random_state=rng.integers(2**31)).reset_index(drop=True)
    labels = frame.pop(LABEL_COLUMN).to_numpy()
    frame[AFTER_THE_FACT_COLUMN] = np.nan
    return frame, labels
