"""From raw CRM columns to the model's inputs."""

from __future__ import annotations

import pandas as pd

NUMERIC_COLUMNS = [
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "num_support_tickets_90d",
    "avg_session_minutes",
    "days_since_last_login",
    "late_payments_12m",
    "num_devices",
    "promo_discount_pct",
    "retention_offer_made",
]
CATEGORICAL_COLUMNS = ["region", "contract_type", "payment_method", "internet_service", "plan_tier"]


class FeatureEncoder:
    """Impute and standardise the numeric columns, one-hot encode the categorical ones.

    ``fit`` learns the statistics from a frame; ``transform`` applies them to any frame with
    the same columns (extra columns, such as the id or the label, are ignored).
    """

    def fit(self, frame: pd.DataFrame) -> "FeatureEncoder":
        numeric = frame[NUMERIC_COLUMNS].astype(float)
        self.medians_ = numeric.median()
        numeric = numeric.fillna(self.medians_)
        self.means_ = numeric.mean()
        self.stds_ = numeric.std().replace(0.0, 1.0)
        self.categories_ = {column: sorted(frame[column].dropna().unique()) for column in CATEGORICAL_COLUMNS}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        numeric = frame[NUMERIC_COLUMNS].astype(float).fillna(self.medians_)
        parts = [(numeric - self.means_) / self.stds_]
        for column, categories in self.categories_.items():
            values = pd.Categorical(frame[column], categories=categories)
            parts.append(pd.get_dummies(values, prefix=column, dtype=float).set_axis(frame.index))
        return pd.concat(parts, axis=1)
