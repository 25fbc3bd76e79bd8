"""The hidden request suite of the serve scenario (the grader loads it from the pack, never from a workspace).

``request_suite(holdout_features, candidate_data)`` returns the requests the grader sends to the
running app (``python -m fareapi.serve``), deterministic for its inputs. Standard library, numpy
and pandas only; nothing from the scaffold. Each request is a dict:

- ``name``: unique; ``kind``: ``valid``, ``malformed``, ``anomalous`` or ``concurrent``;
- ``method`` (``POST`` unless said), ``path``, ``headers``, ``body`` (a str);
- ``status``: the status the contract (BRIEF.md) asks for; ``error``: the error name it asks for,
  None for a 200;
- ``rows``: for a valid or concurrent request built from holdout rides, their ``ride_id`` (str) in
  the order of the instances, so the grader scores the served fares against the holdout labels
  (and checks one prediction per row, rounded to the cent). A valid request whose row is not a
  holdout ride (near the edge of the range) names it ``edge:<request name>``, an id no holdout ride
  has: the grader checks its status and the count of its predictions, and scores no fare. ``rows``
  is ``[]`` for every request that expects an error.

The range check's mean and standard deviation per feature come from the candidate's training
frame (``train.csv``) as given, cancelled rides included (their features are real): edge rows lie
at 2.5 standard deviations (accepted), anomalous ones at 4.5 to 6 (refused with 422), above and
below. The app's own statistics (its training split, without cancellations) differ from these by a
few hundredths of a standard deviation, far inside the margins. Every holdout ride lies within 2.6
standard deviations of the population mean (the generator clips them), so every valid row passes
an honest 3-standard-deviation check.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

FEATURES = ("distance_km", "duration_min", "hour", "passengers", "surge")
ID_COLUMN = "ride_id"
PATH = "/predict"
JSON = {"Content-Type": "application/json"}
VALID_SINGLES, CONCURRENT = 40, 24
MAX_ROWS = 100


def _row(frame: pd.DataFrame, index: int) -> list:
    """One ride's five features as JSON numbers (integers stay integers)."""
    values = []
    for feature in FEATURES:
        value = frame[feature].iloc[index]
        values.append(int(value) if feature in ("hour", "passengers") else float(value))
    return values


def _body(instances) -> str:
    return json.dumps({"instances": instances})


def _request(name, kind, body, status, error=None, rows=(), headers=None, method="POST", path=PATH) -> dict:
    return {"name": name, "kind": kind, "method": method, "path": path, "headers": dict(JSON if headers is None else headers),
            "body": body, "status": status, "error": error, "rows": [str(r) for r in rows]}


def request_suite(holdout_features: pd.DataFrame, candidate_data: dict[str, pd.DataFrame]) -> list[dict]:
    holdout = holdout_features.sort_values(ID_COLUMN, kind="mergesort").reset_index(drop=True)
    if len(holdout) < VALID_SINGLES + CONCURRENT + MAX_ROWS:
        raise ValueError(f"the suite needs at least {VALID_SINGLES + CONCURRENT + MAX_ROWS} holdout rides, got {len(holdout)}")
    training = candidate_data["train.csv"]
    mean = {f: float(training[f].mean()) for f in FEATURES}
    std = {f: float(training[f].std()) for f in FEATURES}
    ids = holdout[ID_COLUMN].astype(str).tolist()
    suite = []

    # valid: single rides (the p95 latency and the served fares), then several rides at once
    for i in range(VALID_SINGLES):
        suite.append(_request(f"valid_single_{i:02d}", "valid", _body([_row(holdout, i)]), 200, rows=[ids[i]]))
    start = VALID_SINGLES + CONCURRENT
    for size in (2, 7, 25, MAX_ROWS):
        chunk = list(range(start, start + size))
        suite.append(_request(f"valid_batch_{size}", "valid", _body([_row(holdout, i) for i in chunk]), 200, rows=[ids[i] for i in chunk]))
        start += size
    suite.append(_request("valid_charset_parameter", "valid", _body([_row(holdout, 0)]), 200, rows=[ids[0]],
                          headers={"Content-Type": "application/json; charset=utf-8"}))
    suite.append(_request("valid_floats_for_integers", "valid",
                          _body([[float(v) for v in _row(holdout, 1)]]), 200, rows=[ids[1]]))
    z = ((holdout[list(FEATURES)] - pd.Series(mean)) / pd.Series(std)).abs()
    calm = int(np.flatnonzero((z < 0.5).all(axis=1).to_numpy())[0])
    base = _row(holdout, calm)  # a ride within half a standard deviation of every mean: each case changes one thing
    for feature in ("distance_km", "duration_min", "passengers", "surge"):
        row = list(base)
        row[FEATURES.index(feature)] = round(mean[feature] + 2.5 * std[feature], 3)
        name = f"valid_edge_{feature}_plus_2.5sd"
        suite.append(_request(name, "valid", _body([row]), 200, rows=[f"edge:{name}"]))
    for feature in ("hour", "surge"):
        row = list(base)
        row[FEATURES.index(feature)] = 0 if feature == "hour" else 1.0  # midnight (about -2 sd), no surge (about -1 sd)
        suite.append(_request(f"valid_low_{feature}", "valid", _body([row]), 200, rows=[f"edge:valid_low_{feature}"]))

    # malformed: the contract's 415, 400, 404 and 405
    good = _body([base])
    suite += [
        _request("no_content_type", "malformed", good, 415, "unsupported_media_type", headers={}),
        _request("text_plain", "malformed", good, 415, "unsupported_media_type", headers={"Content-Type": "text/plain"}),
        _request("form_encoded", "malformed", "instances=1,2,3,4,5", 415, "unsupported_media_type",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}),
        _request("broken_json", "malformed", good[:-3], 400, "invalid_json"),
        _request("empty_body", "malformed", "", 400, "invalid_json"),
        _request("single_quotes", "malformed", good.replace('"', "'"), 400, "invalid_json"),
        _request("json_list", "malformed", json.dumps([base]), 400, "not_an_object"),
        _request("json_string", "malformed", json.dumps("distance 5 km"), 400, "not_an_object"),
        _request("json_number", "malformed", "12.5", 400, "not_an_object"),
        _request("missing_instances", "malformed", json.dumps({"rows": [base]}), 400, "missing_instances"),
        _request("instance_singular", "malformed", json.dumps({"instance": [base]}), 400, "missing_instances"),
        _request("instances_a_string", "malformed", json.dumps({"instances": "5.0,12,8,1,1.2"}), 400, "wrong_shape"),
        _request("instances_an_object", "malformed", json.dumps({"instances": {"distance_km": base[0]}}), 400, "wrong_shape"),
        _request("instances_flat_row", "malformed", json.dumps({"instances": base}), 400, "wrong_shape"),
        _request("instances_null", "malformed", json.dumps({"instances": None}), 400, "wrong_shape"),
        _request("instances_empty", "malformed", _body([]), 400, "wrong_shape"),
        _request("row_of_four", "malformed", _body([base[:4]]), 400, "wrong_shape"),
        _request("row_of_six", "malformed", _body([base + [1]]), 400, "wrong_shape"),
        _request("empty_row", "malformed", _body([[]]), 400, "wrong_shape"),
        _request("string_value", "malformed", _body([[str(base[0])] + base[1:]]), 400, "wrong_shape"),
        _request("null_value", "malformed", _body([base[:4] + [None]]), 400, "wrong_shape"),
        _request("bool_value", "malformed", _body([base[:3] + [True] + base[4:]]), 400, "wrong_shape"),
        _request("nan_value", "malformed", _body([[float("nan")] + base[1:]]), 400, "wrong_shape"),
        _request("infinite_value", "malformed", _body([base[:1] + [float("inf")] + base[2:]]), 400, "wrong_shape"),
        _request("second_row_bad", "malformed", _body([base, base[:4]]), 400, "wrong_shape"),
        _request("too_many_rows", "malformed", _body([base] * (MAX_ROWS + 1)), 400, "wrong_shape"),
        _request("get_predict", "malformed", "", 405, "method_not_allowed", headers={}, method="GET"),
        _request("other_path", "malformed", good, 404, "not_found", path="/quote"),
    ]

    # anomalous: one feature far outside the training range, above and below
    for feature, sigmas in (("distance_km", 4.5), ("distance_km", -4.5), ("duration_min", 5.0), ("duration_min", -4.5),
                            ("hour", 4.5), ("hour", -4.5), ("passengers", 5.0), ("passengers", -4.0),
                            ("surge", 4.5), ("surge", -4.5), ("surge", 6.0)):
        row = list(base)
        row[FEATURES.index(feature)] = round(mean[feature] + sigmas * std[feature], 3)
        sign = "plus" if sigmas > 0 else "minus"
        suite.append(_request(f"anomalous_{feature}_{sign}_{abs(sigmas):g}sd", "anomalous", _body([row]), 422, "out_of_range"))
    far = list(base)
    far[FEATURES.index("surge")] = round(mean["surge"] + 5 * std["surge"], 3)
    suite.append(_request("anomalous_third_of_five_rows", "anomalous",
                          _body([_row(holdout, 3), _row(holdout, 4), far, _row(holdout, 5), _row(holdout, 6)]), 422, "out_of_range"))

    # concurrent: single holdout rides, sent `concurrency` at a time by the grader
    for i in range(VALID_SINGLES, VALID_SINGLES + CONCURRENT):
        suite.append(_request(f"concurrent_{i - VALID_SINGLES:02d}", "concurrent", _body([_row(holdout, i)]), 200, rows=[ids[i]]))

    names = [r["name"] for r in suite]
    assert len(set(names)) == len(names), "request names must be unique"
    return suite
