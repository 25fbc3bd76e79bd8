"""Probes of the demand scenario: one per planted bug, each deciding from behaviour, not text.

Each probe imports the candidate's scaffold package (its parent folder is on ``sys.path``), runs
the function the bug lives in on a small synthetic sales frame, and returns ``(fixed, what it
saw)``. A probe that cannot find or run the function says "not fixed" and why; it never trusts
the scaffold further than calling it.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "units_sold"


def _module(scaffold: Path, name: str):
    return importlib.import_module(f"{Path(scaffold).name}.{name}")


def synthetic_sales(stores: int = 2, days: int = 120, seed: int = 0) -> pd.DataFrame:
    """A small sales frame with the columns of ``train.csv`` and a learnable weekly pattern."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-01", periods=days, freq="D")
    rows = []
    for store in range(stores):
        level = 60 + 40 * store
        weekend = dates.day_of_week >= 5
        units = rng.poisson(level * np.where(weekend, 1.5, 1.0)).astype(float)
        rows.append(pd.DataFrame({
            "row_id": [f"p{store}{i:05d}" for i in range(days)],
            "date": dates,
            "store_id": f"S{store + 1:02d}",
            "region": "north",
            "store_type": "mall" if store % 2 else "suburban",
            "floor_area_m2": 500.0 + 300 * store,
            "is_holiday": 0,
            "promo": (rng.random(days) < 0.2).astype(int),
            "unit_price": np.round(rng.uniform(4, 5, days), 2),
            "temperature": np.round(rng.normal(12, 5, days), 1),
            "receipts": np.round(units / 2),
            LABEL: units,
        }))
    return pd.concat(rows, ignore_index=True)


def _train(scaffold: Path, features: np.ndarray, targets: np.ndarray, epochs: int):
    model_module, train_module = _module(scaffold, "model"), _module(scaffold, "train")
    model = model_module.build_model(features.shape[1])
    config_class = getattr(train_module, "TrainConfig", None)
    if config_class is not None:
        train_module.train_model(model, features, targets, config_class(epochs=epochs))
    else:
        train_module.train_model(model, features, targets)
    return model


def probe_float64_inputs(scaffold: Path) -> tuple[bool, str]:
    """Training on float64 numpy arrays (what pandas gives) must run."""
    rng = np.random.default_rng(0)
    try:
        _train(scaffold, rng.normal(size=(32, 5)), rng.normal(size=32), epochs=1)
    except Exception as error:  # noqa: BLE001 - any failure means the bug is still there
        return False, f"train_model on float64 arrays fails: {type(error).__name__}: {str(error)[:160]}"
    return True, "train_model trains on float64 arrays"


def probe_random_split_on_time(scaffold: Path) -> tuple[bool, str]:
    """Every validation day must come after every training day."""
    frame = synthetic_sales()
    train, valid = _module(scaffold, "data").split_train_valid(frame, 0.2, 0)
    if len(train) == 0 or len(valid) == 0:
        return False, f"split_train_valid gave {len(train)} training and {len(valid)} validation rows"
    last_train, first_valid = pd.to_datetime(train["date"]).max(), pd.to_datetime(valid["date"]).min()
    if last_train < first_valid:
        return True, f"validation starts {first_valid.date()}, after the last training day {last_train.date()}"
    return False, f"validation has days from {first_valid.date()} while training runs to {last_train.date()}: not split by time"


def probe_rolling_feature_looks_ahead(scaffold: Path) -> tuple[bool, str]:
    """Changing the sales from a day on must not change the recent-demand feature of that day or before."""
    features = _module(scaffold, "features")
    add = getattr(features, "add_recent_demand", None)
    if add is None:
        return True, "no add_recent_demand any more: no rolling feature of the target"
    frame = synthetic_sales()
    cutoff = frame["date"].sort_values().unique()[60]
    changed = frame.copy()
    changed.loc[changed["date"] >= cutoff, LABEL] += 1000.0
    before, after = add(frame), add(changed)
    column = getattr(features, "RECENT_DEMAND", "recent_demand")
    keys = ["store_id", "date"]
    merged = before[keys + [column]].merge(after[keys + [column]], on=keys, suffixes=("_before", "_after"))
    past = merged[merged["date"] <= cutoff]
    moved = ~np.isclose(past[f"{column}_before"].fillna(-1), past[f"{column}_after"].fillna(-1))
    if moved.any():
        day = past.loc[moved, "date"].min()
        return False, f"{column} of {pd.Timestamp(day).date()} changes when sales from {pd.Timestamp(cutoff).date()} on change: it looks ahead"
    return True, f"{column} of a day depends only on the days before it"


def probe_after_the_fact_feature(scaffold: Path) -> tuple[bool, str]:
    """The model inputs must not depend on receipts (known only after closing)."""
    features = _module(scaffold, "features")
    frame = synthetic_sales()
    if hasattr(features, "add_recent_demand"):
        frame = features.add_recent_demand(frame)
    builder = features.FeatureBuilder().fit(frame)
    shuffled = frame.copy()
    shuffled["receipts"] = np.random.default_rng(1).permutation(shuffled["receipts"].to_numpy()) * 3.0
    same = np.allclose(np.asarray(builder.transform(frame), dtype=float), np.asarray(builder.transform(shuffled), dtype=float), equal_nan=True)
    if same:
        return True, "the model inputs ignore receipts"
    return False, "the model inputs change with receipts, which is only known after the store closes"


def probe_target_never_unscaled(scaffold: Path) -> tuple[bool, str]:
    """predict() of the pipeline must answer in units sold, not standardised units."""
    frame = synthetic_sales(days=200)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "data").mkdir()
        frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(Path(folder) / "data" / "train.csv", index=False)
        try:
            predict = _module(scaffold, "pipeline").fit_predictor(folder, 0)
            later = synthetic_sales(days=200, seed=1).drop(columns=[LABEL])
            later["date"] = later["date"] + pd.Timedelta(days=200)
            forecast = np.asarray(predict(later), dtype=float).reshape(-1)
        except Exception as error:  # noqa: BLE001 - a pipeline that cannot forecast has not fixed it
            return False, f"the pipeline cannot forecast, so its units cannot be checked: {type(error).__name__}: {str(error)[:140]}"
    typical, median = float(frame[LABEL].median()), float(np.median(forecast))
    if 0.4 * typical <= median <= 2.5 * typical:
        return True, f"forecasts have a median of {median:.1f} units for stores selling a median of {typical:.0f}"
    return False, f"forecasts have a median of {median:.2f} for stores selling a median of {typical:.0f} units: not in units sold"


def probe_prediction_shape_broadcast(scaffold: Path) -> tuple[bool, str]:
    """train_model must learn a simple linear target, which a broadcasting loss cannot."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(96, 4)).astype(np.float32)
    targets = (2.0 * features[:, 0] - features[:, 1]).astype(np.float32)
    import torch

    torch.manual_seed(0)
    model = _train(scaffold, features, targets, epochs=80)
    model.eval()
    with torch.no_grad():
        predictions = model(torch.as_tensor(features)).reshape(-1).numpy()
    spread = float(np.std(predictions))
    correlation = float(np.corrcoef(predictions, targets)[0, 1]) if spread > 1e-6 else 0.0
    if correlation > 0.8:
        return True, f"the trained model follows the target (correlation {correlation:.2f})"
    return False, f"the trained model ignores its inputs (correlation {correlation:.2f}): the loss is broadcasting predictions against targets"


def probe_validation_metric_not_mae(scaffold: Path) -> tuple[bool, str]:
    """validation_error must be the mean absolute error the brief asks for."""
    value = float(_module(scaffold, "evaluate").validation_error(np.array([0.0, 0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0, 5.0])))
    if np.isclose(value, 2.0):
        return True, "validation_error is the MAE"
    return False, f"validation_error gives {value:.3f} where the MAE is 2.000 (RMSE would be 2.646)"
