import numpy as np
import pandas as pd

from . import features


def fit(frame, steps=200, rate=0.5):
    x = features.matrix(frame)
    y = frame["label"].to_numpy(dtype=float)
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        w -= rate * x.T @ (p - y) / len(y)
    return lambda f: 1 / (1 + np.exp(-features.matrix(f) @ w))


def fit_predictor(workspace, seed):
    return fit(pd.read_csv(f"{workspace}/data/train.csv"))
