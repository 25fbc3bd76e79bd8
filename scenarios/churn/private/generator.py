"""Data of the churn scenario: a subscription company's CRM export, with the quirks a candidate should find.

The candidate's file (``train.csv``) holds monthly snapshots of customers from July to December
2023 as the CRM exported them: several rows per customer (re-imports and monthly snapshots),
active accounts first and closed ones last, ``-999`` wherever a value is unknown, and a column
(``retention_offer_made``) that the retention team fills in when a customer asks to cancel, so it
knows the label. The holdout is
the second quarter of 2024: newer customers, one row each, after a price increase and a shift
towards month-to-month contracts, scored before anyone has asked to cancel.

Everything is a pure function of the seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SENTINEL = -999
ID_COLUMN = "customer_id"
LABEL_COLUMN = "churned"
LEAKING_COLUMN = "retention_offer_made"
# Numeric columns where -999 stands for "unknown".
SENTINEL_COLUMNS = ("age", "total_charges", "avg_session_minutes", "days_since_last_login")
CANDIDATE_MONTHS = ("2023-07-01", "2023-08-01", "2023-09-01", "2023-10-01", "2023-11-01", "2023-12-01")
HOLDOUT_MONTHS = ("2024-04-01", "2024-05-01", "2024-06-01")
COLUMNS = (
    ID_COLUMN, "snapshot_date", "age", "region", "contract_type", "payment_method", "internet_service",
    "plan_tier", "tenure_months", "monthly_charges", "total_charges", "num_support_tickets_90d",
    "avg_session_minutes", "days_since_last_login", "late_payments_12m", "num_devices",
    "promo_discount_pct", LEAKING_COLUMN, LABEL_COLUMN,
)


def _choice(rng, options, probabilities, size):
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=size, p=probabilities)]


def _customers(rng: np.random.Generator, n: int, *, holdout: bool) -> pd.DataFrame:
    """Static attributes, activity and the churn label of ``n`` customers at their first snapshot."""
    contract = _choice(
        rng, ["month_to_month", "one_year", "two_year"], [0.62, 0.23, 0.15] if holdout else [0.52, 0.28, 0.20], n
    )
    internet = _choice(rng, ["fiber", "dsl", "none"], [0.50, 0.35, 0.15] if holdout else [0.44, 0.38, 0.18], n)
    plan = _choice(rng, ["basic", "standard", "premium"], [0.45, 0.35, 0.20], n)
    payment = _choice(
        rng, ["electronic_check", "credit_card", "bank_transfer", "mailed_check"], [0.34, 0.27, 0.24, 0.15], n
    )
    region = _choice(rng, ["north", "south", "east", "west", "central"], [0.22, 0.24, 0.18, 0.21, 0.15], n)
    region[rng.random(n) < 0.03] = None

    tenure = np.minimum(rng.gamma(1.1, 14.0, n).astype(int), 72)
    if holdout:
        tenure = np.minimum((tenure * 0.8).astype(int), 72)  # a younger customer base after the spring campaign
    plan_price = pd.Series(plan).map({"basic": 35.0, "standard": 60.0, "premium": 90.0}).to_numpy()
    internet_price = pd.Series(internet).map({"fiber": 25.0, "dsl": 12.0, "none": 0.0}).to_numpy()
    monthly = plan_price + internet_price + rng.normal(0, 6, n)
    if holdout:
        monthly = monthly * 1.08  # the 2024 price increase
    monthly = np.round(np.clip(monthly, 15, None), 2)
    total = np.round(monthly * tenure * rng.uniform(0.92, 1.02, n), 2)

    age = np.clip(rng.normal(44, 15, n), 18, 88).astype(int)
    devices = np.clip(rng.poisson(2.0, n) + 1, 1, 8)
    promo = _choice(rng, [0, 10, 20, 30], [0.6, 0.2, 0.12, 0.08], n).astype(int)
    late = rng.poisson(np.where(payment == "electronic_check", 0.9, 0.35))
    tickets = rng.poisson(np.where(internet == "fiber", 1.3, 0.7))
    never_logged_in = rng.random(n) < (0.12 if holdout else 0.08)
    days_login = np.minimum(rng.exponential(9.0, n), 120).astype(int)
    session = np.round(np.clip(rng.gamma(2.0, 11.0, n), 0.5, None), 1)

    logit = (
        -3.55
        + (0.35 if holdout else 0.0)
        + pd.Series(contract).map({"month_to_month": 1.3, "one_year": 0.0, "two_year": -1.3}).to_numpy()
        - 0.75 * np.log1p(tenure / 4.0)
        + 0.022 * (monthly - 70.0)
        + 0.30 * tickets
        + 0.25 * np.maximum(tickets - 2, 0) * (internet == "fiber")
        + 0.9 * never_logged_in
        + np.where(never_logged_in, 0.0, 0.035 * np.minimum(days_login, 45))
        - np.where(never_logged_in, 0.0, 0.025 * session)
        + 0.5 * (payment == "electronic_check")
        + 0.28 * late
        - 0.18 * (devices - 2)
        + 0.018 * promo * (tenure < 13)
        + 0.0004 * (age - 45) ** 2
        - 0.25 * (region == "central")
    )
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame({
        "age": age, "region": region, "contract_type": contract, "payment_method": payment,
        "internet_service": internet, "plan_tier": plan, "tenure_months": tenure, "monthly_charges": monthly,
        "total_charges": total, "num_support_tickets_90d": tickets, "avg_session_minutes": session,
        "days_since_last_login": days_login, "late_payments_12m": late, "num_devices": devices,
        "promo_discount_pct": promo, LABEL_COLUMN: churned,
    })
    frame.loc[never_logged_in, ["avg_session_minutes", "days_since_last_login"]] = SENTINEL
    frame.loc[rng.random(n) < 0.07, "age"] = SENTINEL  # not collected before the 2021 sign-up form
    frame.loc[tenure == 0, "total_charges"] = SENTINEL  # no invoice yet
    return frame


def _ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    numbers = rng.choice(np.arange(low, high), size=n, replace=False)
    return np.array([f"CUS-{number:07d}" for number in numbers], dtype=object)


def make_candidate_data(seed: int, *, n_customers: int = 9000) -> dict[str, pd.DataFrame]:
    """``train.csv``: ~20k snapshot rows of ``n_customers`` customers, July to December 2023."""
    rng = np.random.default_rng([seed, 1])
    customers = _customers(rng, n_customers, holdout=False)
    customers.insert(0, ID_COLUMN, _ids(rng, n_customers, 1_000_000, 5_000_000))
    copies = np.minimum(1 + rng.poisson(1.3, n_customers), 5)
    rows = customers.loc[customers.index.repeat(copies)].reset_index(drop=True)
    copy_number = np.concatenate([np.arange(k) for k in copies])
    first_month = np.concatenate([np.full(k, rng.integers(0, len(CANDIDATE_MONTHS) - k + 1)) for k in copies])
    month = first_month + copy_number
    rows.insert(1, "snapshot_date", np.asarray(CANDIDATE_MONTHS, dtype=object)[month])
    # Later snapshots of the same customer: a little older, activity re-measured.
    rows["tenure_months"] = rows["tenure_months"] + copy_number
    known = rows["total_charges"] != SENTINEL
    rows.loc[known, "total_charges"] = np.round(rows.loc[known, "total_charges"] + copy_number[known] * rows.loc[known, "monthly_charges"], 2)
    rows["num_support_tickets_90d"] = np.maximum(rows["num_support_tickets_90d"] + rng.integers(-1, 2, len(rows)) * (copy_number > 0), 0)
    active = rows["avg_session_minutes"] != SENTINEL
    rows.loc[active, "avg_session_minutes"] = np.round(
        np.clip(rows.loc[active, "avg_session_minutes"] * rng.uniform(0.85, 1.15, active.sum()), 0.5, None), 1
    )
    # The retention team calls whoever asks to cancel: filled in on the way out, it knows the label.
    churned = rows[LABEL_COLUMN].to_numpy() == 1
    rows[LEAKING_COLUMN] = np.where(churned, rng.random(len(rows)) < 0.9, rng.random(len(rows)) < 0.01).astype(int)
    # The export lists active accounts first, closed ones last.
    rows = rows.sort_values([LABEL_COLUMN, ID_COLUMN, "snapshot_date"], kind="stable").reset_index(drop=True)
    return {"train.csv": rows[list(COLUMNS)]}


def make_holdout(seed: int, *, n_customers: int = 6000) -> tuple[pd.DataFrame, np.ndarray]:
    """Holdout features (one row per customer, April to June 2024, no label) and the labels."""
    rng = np.random.default_rng([seed, 2])
    customers = _customers(rng, n_customers, holdout=True)
    customers.insert(0, ID_COLUMN, _ids(rng, n_customers, 5_000_000, 10_000_000))
    customers.insert(1, "snapshot_date", np.asarray(HOLDOUT_MONTHS, dtype=object)[rng.integers(0, len(HOLDOUT_MONTHS), n_customers)])
    customers[LEAKING_COLUMN] = 0  # scored before anyone asked to cancel
    labels = customers.pop(LABEL_COLUMN).to_numpy()
    return customers[[c for c in COLUMNS if c != LABEL_COLUMN]], labels
