"""How the candidate kernel tells the server extension about constraint events.

The kernel publishes a ``display_data`` message whose bundle holds only
``CONSTRAINT_MIME`` (a JSON object: event, model, count, limit, message). The server
extension (``mlinterview.extension.connection``) recognises it on the IOPub channel, writes a
``constraint`` history event attributed to the running cell, and does not forward it to the
browser (there is nothing to render: the candidate sees the exception or the warning itself).

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
