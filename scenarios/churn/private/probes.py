"""Probes of the churn scenario: one function per planted bug, deciding from the scaffold files.

Each probe imports the scaffold package (its parent folder is on ``sys.path``, see
``scenarios/probe_runner.py``) and tests its behaviour on small synthetic data: the CRM generator's data
for a few hundred customers, or hand-made frames. A probe returns ``(fixed, detail)``; an
exception means "cannot tell" and becomes an error verdict. The probes call the scaffold's
public functions (``data.load_data``, ``pipeline.prepare_datasets``, ``features.FeatureEncoder``,
``model.build_model``, ``train.make_loss``, ``train.train_model``, ``evaluate.predict_proba``,
``evaluate.evaluate``); the brief asks candidates to keep those names.
"""

from __future__ import annotations

import importlib
import importlib.util
import tempfile
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import torch
from sklearn import metrics
from torch import nn


@lru_cache(maxsize=None)
def _generator() -> ModuleType:
    path = Path(__file__).with_name("generator.py")
    spec = importlib.util.spec_from_file_location("_churn_probe_generator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module(scaffold: Path, name: str) -> ModuleType:
    return importlib.import_module(f"{Path(scaffold).name}.{name}")


def _crm_sample(n_customers: int = 500, seed: int = 11) -> pd.DataFrame:
    """A small CRM export with every quirk of the real one (duplicates, -999, the leak, sorting)."""
    return _generator().make_candidate_data(seed, n_customers=n_customers)["train.csv"]


def _prepared(scaffold: Path, frame: pd.DataFrame):
    """What the scaffold makes of ``frame`` written as a workspace's CSV: load_data, then prepare_datasets."""
    with tempfile.TemporaryDirectory() as workspace:
        (Path(workspace) / "data").mkdir()
        frame.to_csv(Path(workspace) / "data" / "train.csv", index=False)
        loaded = _module(scaffold, "data").load_data(workspace)
    return _module(scaffold, "pipeline").prepare_datasets(loaded, seed=0)


def _numeric_problem(n_rows: int = 384, n_features: int = 6, sorted_labels: bool = False):
    """Features (first column: the row position in [0, 1)) and 0/1 labels, ~25% positive."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    values[:, 0] = np.arange(n_rows) / n_rows
    labels = (rng.random(n_rows) < 0.25).astype(int)
    if sorted_labels:
        labels = np.sort(labels)
    features = pd.DataFrame(values, columns=[f"x{i}" for i in range(n_features)])
    return features, pd.Series(labels, name="churned")


def _train(scaffold: Path, model: nn.Module, features: pd.DataFrame, labels: pd.Series, *, epochs: int = 1, batch_size: int = 64):
    train = _module(scaffold, "train")
    config_class = getattr(train, "TrainConfig", None)
    if config_class is None:
        return train.train_model(model, features, labels)
    return train.train_model(model, features, labels, config_class(epochs=epochs, batch_size=batch_size))


def _pandas_reached_torch(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, TypeError) and any(word in text for word in ("DataFrame", "Series", "must be Tensor"))


def _frames_equal(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    return left.shape == right.shape and np.allclose(left, right, equal_nan=True)


# -- breaking ----------------------------------------------------------------------------------


def probe_dataframe_into_module(scaffold: Path) -> tuple[bool, str]:
    features, labels = _numeric_problem()
    model = _module(scaffold, "model").build_model(features.shape[1])
    try:
        _module(scaffold, "evaluate").predict_proba(model, features)
    except Exception as error:
        if _pandas_reached_torch(error):
            return False, f"predict_proba hands a pandas object to the model: {type(error).__name__}: {error}"
        raise
    try:
        _train(scaffold, model, features, labels)
    except Exception as error:
        if _pandas_reached_torch(error):
            return False, f"train_model hands a pandas object to the model: {type(error).__name__}: {error}"
        return True, f"the model receives tensors (training then stops on something else: {type(error).__name__})"
    return True, "predict_proba and train_model give the model tensors"


def probe_integer_labels_for_bce(scaffold: Path) -> tuple[bool, str]:
    features, labels = _numeric_problem()
    model = _module(scaffold, "model").build_model(features.shape[1])
    try:
        _train(scaffold, model, features, labels)
    except Exception as error:
        if _pandas_reached_torch(error):
            return False, f"training stops before the loss, on a pandas object reaching the model ({error})"
        if isinstance(error, RuntimeError) and ("Long" in str(error) or "cast" in str(error) or "dtype" in str(error)):
            return False, f"the loss gets integer labels: {error}"
        raise
    return True, "one epoch on integer 0/1 labels trains without error"


# -- data handling ---------------------------------------------------------------------------


def probe_preprocessing_fit_before_split(scaffold: Path) -> tuple[bool, str]:
    datasets = _prepared(scaffold, _crm_sample())
    refit = type(datasets.encoder)().fit(datasets.train)
    if _frames_equal(refit.transform(datasets.valid), datasets.X_valid):
        return True, "the encoder's statistics come from the training rows alone"
    return False, "refitting the encoder on the training rows changes the validation features: it also saw validation rows"


def probe_leaking_feature_kept(scaffold: Path) -> tuple[bool, str]:
    leak = _generator().LEAKING_COLUMN
    frame = _crm_sample()
    flipped = frame.copy()
    flipped[leak] = 1 - flipped[leak]
    original, changed = _prepared(scaffold, frame), _prepared(scaffold, flipped)
    if _frames_equal(original.X_train, changed.X_train) and _frames_equal(original.X_valid, changed.X_valid):
        return True, f"the model inputs do not depend on {leak}"
    return False, f"the model inputs change with {leak}, which is filled in when a customer asks to cancel"


def probe_sentinel_as_number(scaffold: Path) -> tuple[bool, str]:
    generator = _generator()
    frame = _crm_sample()
    as_missing = frame.copy()
    columns = list(generator.SENTINEL_COLUMNS)
    as_missing[columns] = as_missing[columns].astype(float).replace(float(generator.SENTINEL), np.nan)
    coded, missing = _prepared(scaffold, frame), _prepared(scaffold, as_missing)
    if _frames_equal(coded.X_train, missing.X_train) and _frames_equal(coded.X_valid, missing.X_valid):
        return True, f"{generator.SENTINEL} is treated exactly like a missing value"
    return False, f"{generator.SENTINEL} gives other model inputs than a missing value: it is used as a number"


# -- model selection / optimization -------------------------------------------------------------


def probe_sigmoid_before_logits_loss(scaffold: Path) -> tuple[bool, str]:
    features, _ = _numeric_problem()
    model = _module(scaffold, "model").build_model(features.shape[1])
    model.eval()
    wide = torch.as_tensor(np.random.default_rng(5).normal(scale=20.0, size=features.shape).astype(np.float32))
    with torch.no_grad():
        outputs = model(wide)
    bounded = bool(((outputs >= 0) & (outputs <= 1)).all())
    loss = _module(scaffold, "train").make_loss()
    if isinstance(loss, nn.BCEWithLogitsLoss) and bounded:
        return False, "the model already ends in a sigmoid and BCEWithLogitsLoss applies another one"
    if isinstance(loss, nn.BCELoss) and not bounded:
        return False, "BCELoss expects probabilities but the model outputs unbounded values"
    probabilities = np.asarray(_module(scaffold, "evaluate").predict_proba(model, features), dtype=float)
    if probabilities.min() < 0 or probabilities.max() > 1:
        return False, "predict_proba returns values outside [0, 1]: raw logits, not probabilities"
    return True, f"{type(loss).__name__} matches the model's output, and predict_proba returns probabilities"


def probe_gradients_never_zeroed(scaffold: Path) -> tuple[bool, str]:
    """After each optimizer step the gradients are overwritten with NaN: only a fresh gradient
    (zeroed or set to None before the next backward) is free of NaN at the next step."""
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    steps, stale = [0], [0]

    def before_step(optimizer, args, kwargs):
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if steps[0] > 0 and any(torch.isnan(p.grad).any() for p in params):
            stale[0] += 1
        steps[0] += 1

    def after_step(optimizer, args, kwargs):
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.fill_(float("nan"))

    features, labels = _numeric_problem()
    model = _module(scaffold, "model").build_model(features.shape[1])
    handles = [register_optimizer_step_pre_hook(before_step), register_optimizer_step_post_hook(after_step)]
    try:
        _train(scaffold, model, features, labels)
    except Exception as error:
        if steps[0] < 2:
            return False, f"train_model fails before two optimizer steps ({type(error).__name__}: {error}); the loop does not train yet"
    finally:
        for handle in handles:
            handle.remove()
    if steps[0] < 2:
        raise RuntimeError(f"train_model made {steps[0]} optimizer step(s) on 6 batches; cannot tell")
    if stale[0]:
        return False, f"{stale[0]} of {steps[0] - 1} steps used gradients accumulated over earlier batches"
    return True, f"each of {steps[0]} steps used fresh gradients"


def probe_eval_mode_never_set(scaffold: Path) -> tuple[bool, str]:
    features, labels = _numeric_problem()
    model = _module(scaffold, "model").build_model(features.shape[1])
    if not any(isinstance(m, (nn.Dropout, nn.modules.batchnorm._BatchNorm)) for m in model.modules()):
        return True, "the model has no dropout or batch-norm layer, so train and eval mode agree"
    modes: list[bool] = []
    handle = model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    try:
        model.train()
        _module(scaffold, "evaluate").predict_proba(model, features)
    except Exception as error:
        if not modes:
            raise
        del error
    finally:
        handle.remove()
    if modes and not any(modes):
        return True, "predict_proba runs the model in eval mode"
    try:
        _train(scaffold, model, features, labels)
    except Exception:
        model.train()
    if not model.training:
        return True, "train_model leaves the model in eval mode"
    return False, "predictions run the model in training mode: dropout stays on"


def probe_unshuffled_sorted_batches(scaffold: Path) -> tuple[bool, str]:
    prepared = _prepared(scaffold, _crm_sample())
    labels = np.asarray(prepared.y_train)
    if np.any(np.diff(labels) < 0):
        return True, "the training rows reach train_model in mixed order"
    features, labels = _numeric_problem(sorted_labels=True)
    model = _module(scaffold, "model").build_model(features.shape[1])
    first_batches: list[np.ndarray] = []

    def record(module, args):
        if module.training and not first_batches and args and torch.is_tensor(args[0]):
            first_batches.append(args[0][:, 0].detach().numpy().copy())

    handle = model.register_forward_pre_hook(record)
    try:
        _train(scaffold, model, features, labels)
    except Exception as error:
        if not first_batches:
            return False, f"train_model fails before its first tensor batch ({type(error).__name__}: {error}); nothing is shuffled yet"
    finally:
        handle.remove()
    if not first_batches:
        raise RuntimeError("train_model never called the model on a tensor batch; cannot tell")
    batch = first_batches[0]
    if np.allclose(batch, features["x0"].to_numpy()[: len(batch)]):
        return False, "the first mini-batch is the first rows in file order: the CRM export is sorted by the label"
    return True, "mini-batches draw rows in shuffled order"


# -- evaluation ------------------------------------------------------------------------------


def probe_accuracy_on_imbalanced_data(scaffold: Path) -> tuple[bool, str]:
    rng = np.random.default_rng(8)
    labels = (rng.random(2000) < 0.06).astype(int)
    scores = np.clip(0.06 + 0.25 * labels + rng.normal(0, 0.15, labels.size), 0, 1)
    reported = _module(scaffold, "evaluate").evaluate(labels, scores)
    ranking = {
        "average precision": metrics.average_precision_score(labels, scores),
        "ROC AUC": metrics.roc_auc_score(labels, scores),
    }
    precision, recall, _ = metrics.precision_recall_curve(labels, scores)
    ranking["PR AUC"] = metrics.auc(recall, precision)
    for key, value in dict(reported).items():
        for name, expected in ranking.items():
            if isinstance(value, (int, float)) and abs(float(value) - expected) < 0.01:
                return True, f"evaluate reports '{key}', the {name}: a threshold-free metric that sees the imbalance"
    return False, f"evaluate reports only {', '.join(map(str, reported))}: on 6% positives, predicting 'no churn' scores 0.94 accuracy"


def probe_random_split_ignores_customers(scaffold: Path) -> tuple[bool, str]:
    prepared = _prepared(scaffold, _crm_sample())
    id_column = _generator().ID_COLUMN
    shared = set(prepared.train[id_column]) & set(prepared.valid[id_column])
    if len(prepared.valid) == 0 or len(prepared.train) == 0:
        return False, "the split leaves one side empty"
    if shared:
        return False, f"{len(shared)} customers have rows on both sides of the split: validation sees customers it trained on"
    return True, "no customer has rows on both sides of the split"
