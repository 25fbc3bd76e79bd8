"""The request logic of the fare API, without any HTTP: the server (``serve.py``) and the notebook call it.

``PredictionService(artifacts_dir).handle(method, path, content_type, body)`` takes a request as
the server received it (the body as bytes) and returns a ``Reply``: the HTTP status and the JSON
body to send. The contract the endpoint keeps is in ``BRIEF.md``.

The model, its statistics and the range check's bounds are read once, when the service starts:
a request only validates, transforms (the very ``features.transform`` training used), runs the
model and rounds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .data import FEATURES, N_FEATURES
from .features import Stats, fares_from_outputs, standardize, transform
from .model import load_model

MODEL_FILE, STATS_FILE = "model.pt", "stats.json"
PATH = "/predict"
MAX_ROWS = 100
SIGMAS = 3.0


class Reply(NamedTuple):
    status: int
    body: bytes  # JSON, UTF-8

    def json(self):
        return json.loads(self.body)


class RequestError(ValueError):
    """A request the contract refuses: its status, the error's name and a message for the caller."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error = status, error


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_instances(content_type: str | None, body: bytes) -> list[list[float]]:
    """The rows of a request body, or the RequestError the contract names."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise RequestError(415, "unsupported_media_type", f"send Content-Type: application/json, not {content_type or 'nothing'!r}")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestError(400, "invalid_json", f"the body is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise RequestError(400, "not_an_object", f"the body must be a JSON object, not {type(payload).__name__}")
    if "instances" not in payload:
        raise RequestError(400, "missing_instances", 'the body has no "instances" key')
    rows = payload["instances"]
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_ROWS:
        raise RequestError(400, "wrong_shape", f'"instances" must be a list of 1 to {MAX_ROWS} rows')
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != N_FEATURES or not all(_is_number(value) for value in row):
            raise RequestError(400, "wrong_shape", f"row {index} must be {N_FEATURES} finite numbers: {', '.join(FEATURES)}")
    return rows


class PredictionService:
    """Fare quotes from the model and statistics the notebook saved in ``artifacts_dir``."""

    def __init__(self, artifacts_dir: Path | str = "artifacts"):
        self.artifacts_dir = Path(artifacts_dir)
        self.load()

    def load(self) -> None:
        """Read the model, its statistics and the range check's bounds: once, at start-up."""
        self.model = load_model(self.artifacts_dir / MODEL_FILE)
        self.stats = Stats.load(self.artifacts_dir / STATS_FILE)
        self.mean = np.asarray(self.stats.feature_mean)
        self.spread = np.asarray(self.stats.feature_std)

    def check_range(self, rows: np.ndarray) -> None:
        """Refuse a row whose value is further than 3 standard deviations from the training mean."""
        far = np.abs(rows - self.mean) > SIGMAS * self.spread
        if far.any():
            row, column = map(int, np.argwhere(far)[0])
            low, high = self.mean[column] - SIGMAS * self.spread[column], self.mean[column] + SIGMAS * self.spread[column]
            raise RequestError(422, "out_of_range", f"row {row}: {FEATURES[column]} = {rows[row, column]:g} is outside "
                                                    f"{low:.4g}..{high:.4g}, 3 standard deviations around the training mean")

    def quote(self, instances) -> list[float]:
        """The fare of each row (distance_km, duration_min, hour, passengers, surge), to the cent, as JSON numbers."""
        inputs = standardize(transform(np.asarray(instances, dtype=np.float64)), self.stats)
        with torch.no_grad():
            outputs = self.model(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
        return [round(float(fare), 2) for fare in fares_from_outputs(outputs, self.stats)]

    def handle(self, method: str, path: str, content_type: str | None, body: bytes) -> Reply:
        """Answer one request: 200 with {"predictions": [...]}, or the contract's error."""
        try:
            if path.split("?")[0] != PATH:
                raise RequestError(404, "not_found", f"no such endpoint {path!r}: POST {PATH}")
            if method != "POST":
                raise RequestError(405, "method_not_allowed", f"{method} {PATH}: use POST")
            rows = parse_instances(content_type, body)
            self.check_range(np.asarray(rows, dtype=np.float64))
            status, answer = 200, {"predictions": self.quote(rows)}
        except RequestError as error:
            status, answer = error.status, {"error": error.error, "message": str(error)}
        except Exception as error:  # noqa: BLE001 - a bug of ours: say so, never a traceback to the caller
            status, answer = 500, {"error": "internal_error", "message": f"{type(error).__name__}"}
        return Reply(status, json.dumps(answer).encode("utf-8"))
