"""Getting predictions and model sizes out of a replayed kernel as data, and checking them.

The prediction contract (scenarios/README.md): after the notebook ran, its global namespace
holds a callable ``contract.predict`` (default ``predict``) taking a DataFrame of features and
returning one prediction per row. The grader writes the holdout *features* (never labels) as
a CSV into the working copy, runs :data:`PREDICT_CODE` in the kernel, which calls ``predict``
and writes the predictions as JSON next to it; the grader reads that file (size-capped, no
pickles) and checks it with :func:`check_predictions`. The metric is computed here, in the
grader process, with ``scenarios/metrics.py``.

:data:`AUDIT_CODE` walks everything reachable from the notebook's globals (containers, object
attributes, closures, bound methods, partials; a bounded walk) for ``torch.nn.Module`` objects
and writes each top-level model's parameter counts as JSON. It runs in the candidate's
process, so a determined candidate could lie to it; the report says the counts are from
the replayed kernel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Largest predictions file the grader reads: generous for any holdout, small for a flood.
MAX_PREDICTIONS_FILE_BYTES = 64 * 1024 * 1024

PREDICT_CODE = r'''
def __mlinterview_predict(features_path, out_path, name):
    import json, numpy, pandas
    fn = globals().get(name)
    if fn is None:
        raise NameError(f"the notebook defines no '{name}' (the prediction contract needs {name}(features_df))")
    if not callable(fn):
        raise TypeError(f"'{name}' is a {type(fn).__name__}, not a function")
    features = pandas.read_csv(features_path)
    out = fn(features)
    ids = None
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    if isinstance(out, pandas.DataFrame):
        id_column = features.columns[0]
        if out.shape[1] == 2 and id_column in out.columns:
            ids = out[id_column].tolist()
            out = out.drop(columns=[id_column]).iloc[:, 0]
        elif out.shape[1] == 1:
            out = out.iloc[:, 0]
    if isinstance(out, pandas.Series) and not isinstance(out.index, pandas.RangeIndex):
        ids = out.index.tolist()
    array = numpy.asarray(out)
    if array.dtype.kind in "biuf":
        values = array.ravel().tolist()
    else:
        values = [str(v) for v in array.ravel().tolist()]
    with open(out_path, "w") as handle:
        json.dump({"dtype": array.dtype.str, "kind": array.dtype.kind, "shape": list(array.shape),
                   "values": values, "ids": [str(i) for i in ids] if ids is not None else None}, handle)

__mlinterview_predict({features!r}, {out!r}, {name!r})
del __mlinterview_predict
'''

AUDIT_CODE = r'''
def __mlinterview_audit(out_path):
    import functools, json, sys, types
    torch = sys.modules.get("torch")
    models = []
    if torch is not None:
        Module = torch.nn.Module
        seen, found = set(), {}
        queue = [(name, value, 0) for name, value in list(globals().items()) if not name.startswith("__mlinterview")]
        visited = 0
        while queue and visited < 200000:
            path, obj, depth = queue.pop(0)
            visited += 1
            if id(obj) in seen or isinstance(obj, (types.ModuleType, type, str, bytes, int, float)):
                continue
            seen.add(id(obj))
            if isinstance(obj, Module):
                found.setdefault(id(obj), (path, obj))
                continue
            if depth >= 5:
                continue
            children = []
            try:
                if isinstance(obj, dict):
                    children = [(f"{path}[{k!r}]", v) for k, v in list(obj.items())[:2000]]
                elif isinstance(obj, (list, tuple, set, frozenset)):
                    children = [(f"{path}[{i}]", v) for i, v in enumerate(list(obj)[:2000])]
                elif isinstance(obj, types.FunctionType):
                    names = obj.__code__.co_freevars
                    children = [(f"{path}.<closure {n}>", c.cell_contents) for n, c in zip(names, obj.__closure__ or ())
                                if c.cell_contents is not None]
                    children += [(f"{path}.<default>", d) for d in (obj.__defaults__ or ())]
                elif isinstance(obj, types.MethodType):
                    children = [(f"{path}.__self__", obj.__self__), (f"{path}.__func__", obj.__func__)]
                elif isinstance(obj, functools.partial):
                    children = [(f"{path}.func", obj.func)] + [(f"{path}.args[{i}]", a) for i, a in enumerate(obj.args)]
                    children += [(f"{path}.{k}", v) for k, v in obj.keywords.items()]
                elif hasattr(obj, "__dict__") and isinstance(vars(obj), dict):
                    children = [(f"{path}.{k}", v) for k, v in list(vars(obj).items())[:2000]]
            except Exception:
                children = []
            queue.extend((p, c, depth + 1) for p, c in children)
        modules = list(found.values())
        inner = set()
        for _, module in modules:
            for sub in module.modules():
                if sub is not module:
                    inner.add(id(sub))
        for path, module in modules:
            if id(module) in inner:
                continue
            params = list({id(p): p for p in module.parameters()}.values())
            models.append({"path": path, "class": type(module).__name__,
                           "trainable": int(sum(p.numel() for p in params if p.requires_grad)),
                           "total": int(sum(p.numel() for p in params))})
    with open(out_path, "w") as handle:
        json.dump({"torch_loaded": torch is not None, "models": models}, handle)

__mlinterview_audit({out!r})
del __mlinterview_audit
'''


def predict_code(features_path: Path, out_path: Path, name: str) -> str:
    return PREDICT_CODE.replace("{features!r}", repr(str(features_path))).replace("{out!r}", repr(str(out_path))).replace(
        "{name!r}", repr(name)
    )


def audit_code(out_path: Path) -> str:
    return AUDIT_CODE.replace("{out!r}", repr(str(out_path)))


def parse_kernel_json(raw: bytes) -> tuple[dict | None, str | None]:
    """The JSON object in the bytes of a kernel's result file, or a problem in words."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return None, f"the kernel's result file is not JSON ({error})"
    if not isinstance(data, dict):
        return None, "the kernel's result file is not a JSON object"
    return data, None


@dataclass
class PredictionCheck:
    """The verdict on one set of predictions."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    values: np.ndarray | None = None
    count: int = 0
    summary: dict[str, Any] = field(default_factory=dict)


def check_predictions(raw: dict, expected_ids: list, prediction_kind: str) -> PredictionCheck:
    """Check count, ids, dtype, NaN and range of predictions taken out of a kernel."""
    check = PredictionCheck(ok=False)
    values = raw.get("values")
    shape = raw.get("shape") or []
    if not isinstance(values, list):
        check.problems.append("predictions are missing from the kernel's result")
        return check
    check.count = len(values)
    n = len(expected_ids)
    if len(shape) > 1 and not (len(shape) == 2 and shape[1] == 1):
        check.problems.append(
            f"predict returned an array of shape {tuple(shape)}; the contract asks for one value per row (shape ({n},))"
        )
        return check
    if len(values) != n:
        check.problems.append(f"predict returned {len(values)} predictions for {n} holdout rows")
        return check
    if raw.get("kind") not in ("b", "i", "u", "f"):
        sample = ", ".join(repr(v) for v in values[:3])
        check.problems.append(f"predict returned non-numeric values (dtype {raw.get('dtype')}, e.g. {sample}); expected numbers")
        return check
    ids = raw.get("ids")
    array = np.asarray(values, dtype=float)
    if ids is not None:
        expected = [str(i) for i in expected_ids]
        if sorted(ids) != sorted(expected):
            check.problems.append("the ids of the predictions are not the holdout ids")
            return check
        if ids != expected:
            order = {identifier: position for position, identifier in enumerate(ids)}
            array = array[[order[i] for i in expected]]
            check.summary["reordered_by_id"] = True
    nan = int(np.isnan(array).sum())
    if nan:
        check.problems.append(f"{nan} of {n} predictions are NaN")
    infinite = int(np.isinf(array).sum())
    if infinite:
        check.problems.append(f"{infinite} of {n} predictions are infinite")
    finite = array[np.isfinite(array)]
    if prediction_kind == "probability" and finite.size and (finite.min() < 0 or finite.max() > 1):
        check.problems.append(f"probabilities outside [0, 1] (from {finite.min():.4g} to {finite.max():.4g})")
    if finite.size:
        check.summary.update(min=float(finite.min()), max=float(finite.max()), mean=float(finite.mean()))
    check.values = array
    check.ok = not check.problems
    return check


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
