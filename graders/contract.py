"""Getting predictions and model sizes out of a replayed kernel as data, and checking them.

The prediction contract (scenarios/README.md): after the notebook ran, its global namespace
holds a callable ``contract.predict`` (default ``predict``) taking a DataFrame of features and
returning one prediction per row. The grader writes the holdout *features* (never labels) as
a CSV into the working copy, runs :data:`PREDICT_CODE` in the kernel, which calls ``predict``
and writes the predictions as JSON next to it; the grader reads that file (size-capped, no
pickles) and checks it with :func:`check_predictions`. The metric is computed here, in the
grader process, with ``scenarios/metrics.py``.

:data:`AUDIT_CODE` runs ``kernels/capacity.py`` (its source, executed afresh, so nothing the
candidate's code did to imported modules changes it) in the replayed kernel: every trainable
tensor reachable from the notebook's globals and the candidate's modules (module parameters,
optimizer param groups, plain leaf tensors, closures), grouped per model with where the tensors
live, plus the state of the replay's own constraint guard (installed, its limit, the largest
set of weights it saw trained, tampering it saw). It runs in the candidate's process, so a
determined candidate could lie to it; the report says the counts are from the replayed kernel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import safe_files

from ..kernels import capacity

# Largest predictions file the grader reads: generous for any holdout, small for a flood.
MAX_PREDICTIONS_FILE_BYTES = 64 * 1024 * 1024
GRADER_IO = ".grader-io"  # the working copy's folder through which the grader and the replayed kernel swap files

PREDICT_CODE = r'''
def __mlinterview_predict(features_path, out_path, name, id_column):
    import json, numpy, pandas
    fn = globals().get(name)
    if fn is None:
        raise NameError(f"the notebook defines no '{name}' (the prediction contract needs {name}(features_df))")
    if not callable(fn):
        raise TypeError(f"'{name}' is a {type(fn).__name__}, not a function")
    features = pandas.read_csv(features_path)
    out = fn(features)
    ids = None
    id_column = id_column or features.columns[0]
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    if isinstance(out, pandas.DataFrame):
        if out.shape[1] == 2 and id_column in out.columns:
            # the id column says which row each prediction is for, whatever the frame's index
            ids = out[id_column].tolist()
            out = out.drop(columns=[id_column]).iloc[:, 0]
        elif out.shape[1] == 1:
            out = out.iloc[:, 0]
    if ids is None and isinstance(out, pandas.Series) and not out.index.equals(features.index):
        index = out.index
        if index.name == id_column:
            ids = index.tolist()
        elif index.isin(features.index).all() and index.is_unique:
            # labels of the features frame, in another order or a subset: pandas' own alignment
            ids = features[id_column].reindex(index).tolist()
        else:
            ids = index.tolist()
    array = numpy.asarray(out)
    if array.dtype.kind in "biuf":
        values = array.ravel().tolist()
    else:
        values = [str(v) for v in array.ravel().tolist()]
    with open(out_path, "w") as handle:
        json.dump({"dtype": array.dtype.str, "kind": array.dtype.kind, "shape": list(array.shape),
                   "values": values, "ids": [str(i) for i in ids] if ids is not None else None}, handle)

__mlinterview_predict({features!r}, {out!r}, {name!r}, {id_column!r})
del __mlinterview_predict
'''

AUDIT_CODE = r'''
def __mlinterview_audit(out_path, capacity_source):
    import json, os
    capacity = {"__name__": "mlinterview_capacity_audit"}
    exec(compile(capacity_source, "mlinterview/kernels/capacity.py", "exec"), capacity)
    result = capacity["inventory"](globals(), capacity["candidate_modules"](os.getcwd()))
    session = getattr(get_ipython(), "mlinterview", None) if "get_ipython" in globals() else None
    guard = getattr(session, "guard", None)
    if guard is not None:
        problems = guard.check_integrity()
        result["guard"] = {"installed": bool(guard.installed), "max_parameters": int(guard.max_parameters),
                           "largest_trained": int(guard.largest_trained), "tampering": list(guard.tamper_events),
                           "problems_at_audit": problems}
    else:
        result["guard"] = None
    with open(out_path, "w") as handle:
        json.dump(result, handle)

__mlinterview_audit({out!r}, {capacity!r})
del __mlinterview_audit
'''


def predict_code(features_path: Path, out_path: Path, name: str, id_column: str | None = None) -> str:
    """The grader's prediction step; ``id_column`` (default: the features' first column) identifies rows."""
    return (PREDICT_CODE.replace("{features!r}", repr(str(features_path))).replace("{out!r}", repr(str(out_path)))
            .replace("{name!r}", repr(name)).replace("{id_column!r}", repr(id_column)))


def audit_code(out_path: Path) -> str:
    capacity_source = Path(capacity.__file__).read_text(encoding="utf-8")
    return AUDIT_CODE.replace("{out!r}", repr(str(out_path))).replace("{capacity!r}", repr(capacity_source))


def parse_kernel_json(raw: bytes) -> tuple[dict | None, str | None]:
    """The JSON object in the bytes of a kernel's result file, or a problem in words."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return None, f"the kernel's result file is not JSON ({error})"
    if not isinstance(data, dict):
        return None, "the kernel's result file is not a JSON object"
    return data, None


def read_kernel_result(workdir: Path, name: str) -> tuple[dict | None, str | None]:
    """The JSON object the kernel wrote as ``.grader-io/<name>``: only a plain regular file is read."""
    try:
        data = safe_files.read_bytes(workdir, Path(GRADER_IO) / name, MAX_PREDICTIONS_FILE_BYTES)
    except FileNotFoundError:
        return None, "the kernel wrote no result file"
    except ValueError:
        return None, f"the kernel's result file is over the {MAX_PREDICTIONS_FILE_BYTES} byte limit"
    except OSError as error:
        return None, f"the kernel's result file is not a plain file ({error.strerror}); it was not read"
    return parse_kernel_json(data)


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
