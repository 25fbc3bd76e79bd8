"""From raw sales columns to the model's inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC_COLUMNS = ["log_price", "temperature", "floor_area_m2"]
FLAG_COLUMNS = ["promo", "is_holiday"]
CATEGORICAL_COLUMNS = ["store_id", "store_type", "region"]
RECENT_DEMAND = "recent_demand"


def add_recent_demand(frame: pd.DataFrame, window: int = 7) -> pd.DataFrame:
    """Add ``recent_demand``: each store's average units sold over the ``window`` days before the day."""
    frame = frame.sort_values(["store_id", "date"]).copy()
    frame[RECENT_DEMAND] = frame.groupby("store_id")["units_sold"].transform(
        lambda units: units.shift(1).rolling(window, min_periods=1).mean()
    )
    return frame


def with_log_price(frame: pd.DataFrame) -> pd.DataFrame:
    """Price enters demand multiplicatively: its logarithm is the right scale for a log-demand model."""
    return frame.assign(log_price=np.log(frame["unit_price"].astype(float)))


def calendar_features(dates: pd.Series) -> pd.DataFrame:
    """Day of week (one-hot), time of year (sine/cosine) and years since 2022 (the trend)."""
    dates = pd.to_datetime(dates)
    day_of_year = dates.dt.day_of_year.to_numpy()
    parts = {f"weekday_{d}": (dates.dt.day_of_week == d).astype(float).to_numpy() for d in range(7)}
    parts["year_sin"] = np.sin(2 * np.pi * day_of_year / 365.25)
    parts["year_cos"] = np.cos(2 * np.pi * day_of_year / 365.25)
    parts["years"] = ((dates - pd.Timestamp("2022-01-01")).dt.days / 365.25).to_numpy()
    return pd.DataFrame(parts, index=dates.index)


class FeatureBuilder:
    """Standardise numeric columns, one-hot encode categories, add calendar and recent demand.

    ``fit`` learns the statistics (and each store's latest recent demand, used for days whose
    sales are not known yet) from a frame; ``transform`` applies them to any frame with the same
    columns. Frames without ``units_sold`` (days to forecast) get the latest recent demand.
    """

    def fit(self, frame: pd.DataFrame) -> "FeatureBuilder":
        frame = with_log_price(frame)
        numeric = frame[NUMERIC_COLUMNS].astype(float)
        self.means_ = numeric.mean()
        self.stds_ = numeric.std().replace(0.0, 1.0)
        self.categories_ = {column: sorted(frame[column].dropna().unique()) for column in CATEGORICAL_COLUMNS}
        if RECENT_DEMAND in frame:
            latest = frame.sort_values("date").groupby("store_id")[RECENT_DEMAND].last()
            self.latest_demand_ = latest
            self.demand_mean_ = float(frame[RECENT_DEMAND].mean())
            self.demand_std_ = float(frame[RECENT_DEMAND].std()) or 1.0
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = with_log_price(frame)
        numeric = frame[NUMERIC_COLUMNS].astype(float).fillna(self.means_)
        parts = [(numeric - self.means_) / self.stds_, frame[FLAG_COLUMNS].astype(float)]
        for column, categories in self.categories_.items():
            values = pd.Categorical(frame[column], categories=categories)
            parts.append(pd.get_dummies(values, prefix=column, dtype=float).set_axis(frame.index))
        parts.append(calendar_features(frame["date"]))
        if hasattr(self, "latest_demand_"):
            if RECENT_DEMAND in frame:
                recent = frame[RECENT_DEMAND]
            else:
                recent = frame["store_id"].map(self.latest_demand_)
            recent = recent.fillna(self.demand_mean_)
            parts.append(((recent - self.demand_mean_) / self.demand_std_).rename(RECENT_DEMAND).to_frame())
        return pd.concat(parts, axis=1)
