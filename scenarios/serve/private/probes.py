"""Probes of the serve scenario: one per planted bug, each deciding from behaviour, not text.

Each probe imports the candidate's scaffold package (its parent folder is on ``sys.path``) and
calls the code the bug lives in. Those that need a trained service run the scaffold's own pipeline
(``fit_predictor``) once, on 1,200 rides of the pack's generator (loaded by path from beside this
file) in a scratch workspace, and share it: the artifacts, the service over them, the returned
``predict``. A probe that cannot get that far (the pipeline does not train yet) says "not fixed".
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

MAX_PARAMETERS = 200  # scenario.toml's constraints.max_parameters
GENERATOR_SEED = 11
PROBE_RIDES = 1200
FEATURES = ("distance_km", "duration_min", "hour", "passengers", "surge")
_TRAINED: dict[str, tuple] = {}


def _module(scaffold: Path, name: str):
    return importlib.import_module(f"{Path(scaffold).name}.{name}")


def _generator():
    spec = importlib.util.spec_from_file_location("_serve_generator", Path(__file__).with_name("generator.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rides() -> pd.DataFrame:
    return _generator().make_candidate_data(GENERATOR_SEED)["train.csv"].iloc[:PROBE_RIDES].reset_index(drop=True)


def _trained(scaffold: Path):
    """(workspace, predict, problem): the scaffold's pipeline trained once on the probe's rides."""
    key = str(Path(scaffold).resolve())
    if key not in _TRAINED:
        workspace = Path(tempfile.mkdtemp(prefix="serve-probe-"))
        (workspace / "data").mkdir()
        _rides().to_csv(workspace / "data" / "train.csv", index=False)
        try:
            predict = _module(scaffold, "pipeline").fit_predictor(workspace, 0)
            _TRAINED[key] = (workspace, predict, None)
        except Exception as error:  # noqa: BLE001 - an earlier bug keeps the probe from observing
            _TRAINED[key] = (workspace, None, f"{type(error).__name__}: {str(error)[:160]}")
    return _TRAINED[key]


def _service(scaffold: Path):
    """A fresh PredictionService over the trained artifacts, or (None, why not)."""
    workspace, predict, problem = _trained(scaffold)
    if problem:
        return None, f"the pipeline does not train yet ({problem}), so there is no service to ask"
    try:
        return _module(scaffold, "service").PredictionService(workspace / "artifacts"), ""
    except Exception as error:  # noqa: BLE001
        return None, f"the service does not start over the saved artifacts: {type(error).__name__}: {str(error)[:160]}"


def _ask(service, body, content_type="application/json", method="POST", path="/predict"):
    """(status, decoded JSON answer) of one request through handle(); raises what handle raises."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    reply = service.handle(method, path, content_type, body)
    status, answer = int(reply[0]), reply[1]
    if isinstance(answer, (bytes, bytearray, str)):
        answer = json.loads(answer)
    else:
        answer = json.loads(json.dumps(answer))  # what the server would write
    return status, answer


def _typical_rows(count: int) -> list[list[float]]:
    rides = _rides()
    z = ((rides[list(FEATURES)] - rides[list(FEATURES)].mean()) / rides[list(FEATURES)].std()).abs()
    calm = rides[(z < 1.0).all(axis=1)]
    return calm[list(FEATURES)].head(count).to_numpy(dtype=float).tolist()


# -- the probes ------------------------------------------------------------------------------------


def probe_model_over_budget(scaffold: Path) -> tuple[bool, str]:
    """The model the pipeline builds for the scaffold's own inputs must fit the parameter budget."""
    features, model_module = _module(scaffold, "features"), _module(scaffold, "model")
    n_inputs = int(np.asarray(features.transform(np.asarray(_typical_rows(2), dtype=float))).shape[1])
    count = int(model_module.count_parameters(model_module.build_model(n_inputs)))
    if count > MAX_PARAMETERS:
        return False, f"build_model({n_inputs}) has {count:,} parameters, over the {MAX_PARAMETERS:,} budget"
    return True, f"build_model({n_inputs}) has {count:,} parameters, within the {MAX_PARAMETERS:,} budget"


def probe_prediction_not_json_serializable(scaffold: Path) -> tuple[bool, str]:
    """A valid request through handle() must come back as JSON: a 200 with one number per row."""
    service, why = _service(scaffold)
    if service is None:
        return False, why
    rows = _typical_rows(3)
    try:
        status, answer = _ask(service, {"instances": rows})
    except Exception as error:  # noqa: BLE001 - the failure is the finding
        return False, f"handle() fails on a valid request of 3 rides: {type(error).__name__}: {str(error)[:160]}"
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(predictions, list) or len(predictions) != len(rows):
        return False, f"a valid request of 3 rides got {status} {str(answer)[:160]}"
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) for p in predictions):
        return False, f"the predictions are not JSON numbers: {predictions}"
    return True, f"a valid request of 3 rides gets 200 and JSON numbers ({predictions})"


def probe_training_serving_skew(scaffold: Path) -> tuple[bool, str]:
    """The fares predict() serves (the service's path) must equal the fares of the training path."""
    _, predict, problem = _trained(scaffold)
    if problem:
        return False, f"the pipeline does not train yet ({problem}): cannot compare serving with training"
    evaluate = _module(scaffold, "evaluate")
    rides = _rides().iloc[:200]
    rides = rides[rides["fare"] > 0].reset_index(drop=True)
    trained_path = np.asarray(evaluate.predict_fares(predict.model, predict.stats, rides), dtype=float).reshape(-1)
    served = np.asarray(predict(rides.drop(columns=["fare"])), dtype=float).reshape(-1)
    if served.shape != trained_path.shape:
        return False, f"predict() gave {served.shape[0]} fares for {trained_path.shape[0]} rides"
    gap = np.abs(served - trained_path)
    if not np.isfinite(gap).all() or gap.max() > 0.02:
        return False, (f"served fares differ from the training path's by {np.nanmean(gap):.2f} on average (up to "
                       f"{np.nanmax(gap):.2f}): the service builds other model inputs than training did")
    return True, f"served fares equal the training path's (largest gap {gap.max():.3f}, rounding to cents)"


def probe_cancelled_rides_in_training(scaffold: Path) -> tuple[bool, str]:
    """Rides with a fare of 0 (cancellations) must not reach training or validation."""
    pipeline = _module(scaffold, "pipeline")
    rides = _rides().iloc[:400].copy()
    rides = rides[rides["fare"] > 0].reset_index(drop=True)
    cancelled = np.arange(len(rides)) % 8 == 3
    rides.loc[cancelled, "fare"] = 0.0
    datasets = pipeline.prepare_datasets(rides, seed=0)
    left = int((datasets.train["fare"] <= 0).sum() + (datasets.valid["fare"] <= 0).sum())
    if len(datasets.train) == 0:
        raise RuntimeError("prepare_datasets left no training ride; cannot tell")
    if left:
        return False, f"{left} of {int(cancelled.sum())} cancelled rides (fare 0) are in the training and validation rides"
    return True, f"none of the {int(cancelled.sum())} cancelled rides (fare 0) is trained or validated on"


def probe_loss_broadcasts_targets(scaffold: Path) -> tuple[bool, str]:
    """Training must fit a target that depends on the inputs, not only its mean."""
    features, model_module, train = (_module(scaffold, name) for name in ("features", "model", "train"))
    n_inputs = int(np.asarray(features.transform(np.asarray(_typical_rows(2), dtype=float))).shape[1])
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(512, n_inputs)).astype(np.float32)
    weights = np.zeros(n_inputs)
    weights[: min(3, n_inputs)] = [0.8, 0.5, -0.4][: min(3, n_inputs)]
    targets = inputs @ weights
    targets = ((targets - targets.mean()) / targets.std()).astype(np.float32)
    torch.manual_seed(0)
    net = model_module.build_model(n_inputs)
    train.train_model(net, inputs, targets, train.TrainConfig(seed=0))
    net.eval()
    with torch.no_grad():
        fitted = net(torch.as_tensor(inputs)).numpy().reshape(-1)
    r2 = 1 - float(np.mean((fitted - targets) ** 2)) / float(np.var(targets))
    if r2 < 0.5:
        return False, f"after training, the model explains {r2:.0%} of a target that is linear in its inputs: it learnt the mean only"
    return True, f"after training, the model explains {r2:.0%} of a target that is linear in its inputs"


def probe_validation_mae_in_standard_units(scaffold: Path) -> tuple[bool, str]:
    """The pipeline's validation MAE must be the MAE of the validation fares, in the currency."""
    workspace, predict, problem = _trained(scaffold)
    if problem:
        return False, f"the pipeline does not train yet ({problem}): no validation figure to check"
    pipeline, evaluate, data = (_module(scaffold, name) for name in ("pipeline", "evaluate", "data"))
    reported = float((predict.validation or {})["mae"])
    valid = pipeline.prepare_datasets(data.load_rides(workspace), seed=0).valid
    fares = valid["fare"].to_numpy(dtype=float)
    by_training = float(np.mean(np.abs(np.asarray(evaluate.predict_fares(predict.model, predict.stats, valid)).reshape(-1) - fares)))
    by_service = float(np.mean(np.abs(np.asarray(predict(valid.drop(columns=["fare"])), dtype=float) - fares)))
    for truth in (by_training, by_service):
        if abs(reported - truth) <= 0.05 * truth + 0.01:
            return True, f"validation reports an MAE of {reported:.3f}, the MAE of the validation fares ({truth:.3f})"
    return False, (f"validation reports an MAE of {reported:.3f}, but the validation fares are off by {by_training:.3f} on "
                   f"average (about {by_training / max(reported, 1e-9):.1f} times more): not in the fare's units")


def probe_model_loaded_per_request(scaffold: Path) -> tuple[bool, str]:
    """Once the service has answered a first request, a request must read no file (model, statistics, data)."""
    service, why = _service(scaffold)
    if service is None:
        return False, why
    body = {"instances": _typical_rows(1)}
    try:
        _ask(service, body)  # a first request may load lazily
    except Exception:  # noqa: BLE001 - other bugs may fail the answer; the reads are what counts here
        pass
    reads = []
    originals = {"open": builtins.open, "io.open": io.open, "torch.load": torch.load, "pd.read_csv": pd.read_csv}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            reads.append(name if not args else f"{name}({str(args[0])[-40:]})")
            return function(*args, **kwargs)
        return wrapper

    builtins.open, io.open = counting("open", originals["open"]), counting("open", originals["io.open"])
    torch.load, pd.read_csv = counting("torch.load", originals["torch.load"]), counting("pd.read_csv", originals["pd.read_csv"])
    try:
        for _ in range(5):
            try:
                _ask(service, body)
            except Exception:  # noqa: BLE001
                pass
    finally:
        builtins.open, io.open, torch.load, pd.read_csv = originals["open"], originals["io.open"], originals["torch.load"], originals["pd.read_csv"]
    if reads:
        shown = ", ".join(sorted(set(reads)))[:200]
        return False, f"5 requests made {len(reads)} file reads ({shown}): the service loads per request"
    return True, "after the first request, 5 more requests read no file"


def probe_error_contract_unfinished(scaffold: Path) -> tuple[bool, str]:
    """handle() must answer requests outside the contract with the brief's statuses and error names."""
    service, why = _service(scaffold)
    if service is None:
        return False, why
    row = _typical_rows(1)[0]
    good = json.dumps({"instances": [row]}).encode()
    cases = [
        ("text/plain", good, "POST", "/predict", 415, "unsupported_media_type"),
        (None, good, "POST", "/predict", 415, "unsupported_media_type"),
        ("application/json", b'{"instances": [[1.0, 2', "POST", "/predict", 400, "invalid_json"),
        ("application/json", json.dumps([row]).encode(), "POST", "/predict", 400, "not_an_object"),
        ("application/json", json.dumps({"rows": [row]}).encode(), "POST", "/predict", 400, "missing_instances"),
        ("application/json", json.dumps({"instances": []}).encode(), "POST", "/predict", 400, "wrong_shape"),
        ("application/json", json.dumps({"instances": [row[:4]]}).encode(), "POST", "/predict", 400, "wrong_shape"),
        ("application/json", json.dumps({"instances": [row[:4] + [None]]}).encode(), "POST", "/predict", 400, "wrong_shape"),
        ("application/json", json.dumps({"instances": [row[:4] + [True]]}).encode(), "POST", "/predict", 400, "wrong_shape"),
        ("application/json", json.dumps({"instances": [row] * 101}).encode(), "POST", "/predict", 400, "wrong_shape"),
        ("application/json", good, "GET", "/predict", 405, "method_not_allowed"),
        ("application/json", good, "POST", "/quote", 404, "not_found"),
    ]
    wrong = []
    for content_type, body, method, path, status, error in cases:
        try:
            got, answer = _ask(service, body, content_type, method, path)
        except Exception as failure:  # noqa: BLE001
            wrong.append(f"{method} {path} {content_type}: raised {type(failure).__name__}")
            continue
        name = answer.get("error") if isinstance(answer, dict) else None
        if (got, name) != (status, error):
            wrong.append(f"{body[:30]!r} as {content_type}: {got} {name} instead of {status} {error}")
    try:
        got, _ = _ask(service, good, "application/json; charset=utf-8")
    except Exception as failure:  # noqa: BLE001
        got = f"raised {type(failure).__name__}"
    if got == 415 or not isinstance(got, int):
        wrong.append(f"application/json; charset=utf-8: {got} (parameters are allowed)")
    if wrong:
        return False, f"{len(wrong)} of {len(cases) + 1} requests outside the contract answered wrong: " + "; ".join(wrong[:3])[:300]
    return True, f"all {len(cases) + 1} requests outside the contract get the brief's status and error name"


def probe_anomaly_check_uses_variance(scaffold: Path) -> tuple[bool, str]:
    """A value 4 standard deviations from the training mean must get 422 and one at 2.5 a 200, for wide and narrow features."""
    service, why = _service(scaffold)
    if service is None:
        return False, why
    rides = _rides()
    mean, std = rides[list(FEATURES)].mean(), rides[list(FEATURES)].std()
    cases = [("distance_km", 4.0, 422), ("distance_km", 2.5, 200), ("duration_min", 4.0, 422),
             ("surge", 4.0, 422), ("surge", -4.0, 422), ("surge", 2.5, 200), ("passengers", 4.0, 422)]
    wrong = []
    for feature, sigmas, expected in cases:
        row = [float(mean[f]) for f in FEATURES]
        row[FEATURES.index(feature)] = float(mean[feature] + sigmas * std[feature])
        try:
            status, _ = _ask(service, {"instances": [row]})
        except Exception as failure:  # noqa: BLE001
            status = f"raised {type(failure).__name__}"
        if status != expected:
            wrong.append(f"{feature} at {sigmas:+g} sd ({row[FEATURES.index(feature)]:.3g}): {status} instead of {expected}")
    if wrong:
        return False, f"{len(wrong)} of {len(cases)} range checks wrong: " + "; ".join(wrong[:4])
    return True, f"all {len(cases)} range checks right: 4 sd refused with 422, 2.5 sd accepted, for wide and narrow features"
