import numpy as np
import pandas as pd


def _frame(seed, n, start):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(0.4 * x1 + 2.0 * x2)))
    return pd.DataFrame({"row_id": np.arange(start, start + n), "x1": x1, "x2": x2, "label": (rng.random(n) < p).astype(int)})


def make_candidate_data(seed):
    frame = _frame(seed, 400, 0)
    return {"train.csv": frame.iloc[:300].reset_index(drop=True), "valid.csv": frame.iloc[300:].reset_index(drop=True)}


def make_holdout(seed):
    frame = _frame(seed + 10_000, 300, 100_000)
    return frame.drop(columns=["label"]), frame["label"].to_numpy()
