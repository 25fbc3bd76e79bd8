"""From raw CRM columns to the model's inputs.

Reference solution: ``-999`` is "unknown" (imputed, with an indicator column where it occurs,
since never having logged in says a lot about churn); ``retention_offer_made`` is dropped (the
retention team fills it in when a customer asks to cancel, so it is not known at prediction
time); heavy-tailed counts and amounts are log-transformed before standardising.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SENTINEL = -999.0

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
]
# Heavy right tails: log1p before standardising.
LOG_COLUMNS = ["tenure_months", "total_charges", "num_support_tickets_90d", "avg_session_minutes", "days_since_last_login", "late_payments_12m"]
CATEGORICAL_COLUMNS = ["region", "contract_type", "payment_method", "internet_service", "plan_tier"]


class FeatureEncoder:
    """Impute (with missing indicators), log-transform, standardise the numeric columns, one-hot encode the categorical ones.

    ``fit`` learns the statistics from a frame; ``transform`` applies them to any frame with
    the same columns (extra columns, such as the id or the label, are ignored).
    """

    @staticmethod
    def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
        numeric = frame[NUMERIC_COLUMNS].astype(float).replace(SENTINEL, np.nan)
        numeric[LOG_COLUMNS] = np.log1p(numeric[LOG_COLUMNS].clip(lower=0))
        return numeric

    def fit(self, frame: pd.DataFrame) -> "FeatureEncoder":
        numeric = self._numeric(frame)
        self.missing_columns_ = [column for column in NUMERIC_COLUMNS if numeric[column].isna().any()]
        self.medians_ = numeric.median()
        numeric = numeric.fillna(self.medians_)
        self.means_ = numeric.mean()
        self.stds_ = numeric.std().replace(0.0, 1.0)
        self.categories_ = {column: sorted(frame[column].dropna().unique()) for column in CATEGORICAL_COLUMNS}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        numeric = self._numeric(frame)
        missing = numeric[self.missing_columns_].isna().astype(float).add_suffix("_missing")
        numeric = numeric.fillna(self.medians_)
        parts = [(numeric - self.means_) / self.stds_, missing]
        for column, categories in self.categories_.items():
            values = pd.Categorical(frame[column], categories=categories)
            parts.append(pd.get_dummies(values, prefix=column, dtype=float).set_axis(frame.index))
        return pd.concat(parts, axis=1)
