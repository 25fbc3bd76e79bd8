"""The request logic of the fare API, without any HTTP: the server (``serve.py``) and the notebook call it.

``PredictionService(artifacts_dir).handle(method, path, content_type, body)`` takes a request as
the server received it (the body as bytes) and returns a ``Reply``: the HTTP status and the JSON
body to send. The contract the endpoint must keep is in ``BRIEF.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from .data import FEATURES
from .features import Stats, fares_from_outputs, standardize
from .model import load_model

MODEL_FILE, STATS_FILE = "model.pt", "stats.json"
MAX_ROWS = 100
SIGMAS = 3.0


class Reply(NamedTuple):
    status: int
    body: bytes  # JSON, UTF-8

    def json(self):
        return json.loads(self.body)


class OutOfRange(ValueError):
    pass


class PredictionService:
    """Fare quotes from the model and statistics the notebook saved in ``artifacts_dir``."""

    def __init__(self, artifacts_dir: Path | str = "artifacts"):
        self.artifacts_dir = Path(artifacts_dir)

    def load(self) -> None:
        """Read the model, its statistics and the range check's bounds (the training rides' columns)."""
        self.model = load_model(self.artifacts_dir / MODEL_FILE)
        self.stats = Stats.load(self.artifacts_dir / STATS_FILE)
        rides = pd.read_csv(self.artifacts_dir.parent / "data" / "train.csv")
        self.mean = rides[list(FEATURES)].mean().to_numpy()
        self.spread = rides[list(FEATURES)].var().to_numpy()

    def check_range(self, rows: np.ndarray) -> None:
        """Refuse a row whose value is further than 3 standard deviations from the training mean."""
        far = np.abs(rows - self.mean) > SIGMAS * self.spread
        if far.any():
            row, column = map(int, np.argwhere(far)[0])
            raise OutOfRange(f"row {row}: {FEATURES[column]} = {rows[row, column]:g} is outside the range of the training data")

    def quote(self, instances) -> list:
        """The fare of each row (distance_km, duration_min, hour, passengers, surge), to the cent."""
        self.load()  # always the model the notebook saved last
        inputs = standardize(np.asarray(instances, dtype=np.float64), self.stats)
        with torch.no_grad():
            outputs = self.model(torch.as_tensor(inputs, dtype=torch.float32)).numpy()
        fares = fares_from_outputs(outputs, self.stats).astype(np.float32)
        return [round(fare, 2) for fare in fares]

    def handle(self, method: str, path: str, content_type: str | None, body: bytes) -> Reply:
        """Answer one request: 200 with {"predictions": [...]}, or an error."""
        self.load()
        try:
            payload = json.loads(body)
            rows = np.asarray(payload["instances"], dtype=np.float64)
            self.check_range(rows)
            status, answer = 200, {"predictions": self.quote(payload["instances"])}
        except OutOfRange as error:
            status, answer = 422, {"error": "out_of_range", "message": str(error)}
        except Exception as error:  # TODO: the contract's error names (BRIEF.md)
            status, answer = 500, {"error": "internal_error", "message": str(error)}
        return Reply(status, json.dumps(answer).encode("utf-8"))
