"""How the candidate kernel tells the server extension about constraint events and its status.

The kernel publishes a ``display_data`` message whose bundle holds only
``CONSTRAINT_MIME`` (a JSON object: event, model, count, limit, message). The server
extension (``mlinterview.extension.history_connection``) recognises it on the IOPub channel,
writes a ``constraint`` history event attributed to the running cell, and does not forward it to
the browser (there is nothing to render: the candidate sees the exception or the warning itself).

After a cell that changed them, the kernel also publishes its status the same way
(``STATUS_MIME``: the notebook's models with their trainable parameter counts and the CPU
time of the cell's training run). The server keeps the latest one for the
candidate's status bar (``extension/interview_status.py``) and does not forward it either. It
is what the candidate's own kernel says: shown, never trusted (the grader audits the capacity).

This module imports nothing heavy: the server side uses it too.
"""

from __future__ import annotations

from typing import Any

CONSTRAINT_MIME = "application/vnd.mlinterview.constraint+json"
CONSTRAINT_EVENTS = ("violation", "near_limit", "time_budget", "tamper")


def constraint_bundle(event: str, *, model: str | None, count: int | None, limit: float | None, message: str) -> dict[str, Any]:
    """The display bundle for one constraint event (``event`` is one of CONSTRAINT_EVENTS)."""
    if event not in CONSTRAINT_EVENTS:
        raise ValueError(f"unknown constraint event {event!r}; expected one of {CONSTRAINT_EVENTS}")
    return {CONSTRAINT_MIME: {"event": event, "model": model, "count": count, "limit": limit, "message": message}}


def constraint_signal(data: dict[str, Any]) -> dict[str, Any] | None:
    """The constraint payload of a display bundle when it is a pure constraint signal, else None."""
    if len(data) != 1 or CONSTRAINT_MIME not in data:
        return None
    payload = data[CONSTRAINT_MIME]
    if not isinstance(payload, dict) or payload.get("event") not in CONSTRAINT_EVENTS:
        return None
    return payload


STATUS_MIME = "application/vnd.mlinterview.status+json"
STATUS_MODELS_LIMIT = 5


def status_bundle(*, models: list[tuple[str, int]], training_seconds: float | None) -> dict[str, Any]:
    """The display bundle of the kernel's status after a cell (the limits are the server's to say)."""
    return {STATUS_MIME: {
        "models": [[str(name), int(count)] for name, count in models[:STATUS_MODELS_LIMIT]],
        "training_seconds": None if training_seconds is None else round(float(training_seconds), 3),
    }}


def status_signal(data: dict[str, Any]) -> dict[str, Any] | None:
    """The kernel status of a display bundle when it is a pure status signal (checked and bounded), else None."""
    if len(data) != 1 or STATUS_MIME not in data:
        return None
    payload = data[STATUS_MIME]
    if not isinstance(payload, dict):
        return None
    models = []
    for entry in (payload.get("models") or [])[:STATUS_MODELS_LIMIT]:
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], int):
            models.append([str(entry[0])[:80], entry[1]])
    training = payload.get("training_seconds")
    return {"models": models, "training_seconds": training if isinstance(training, (int, float)) else None}
