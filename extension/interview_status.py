"""The candidate's side of the interview, as their own server serves it: the clock, the limits, "I'm done".

The candidate's JupyterLab extension (``extension/candidate-lab``) shows what this module says; it
decides nothing itself. Where each fact comes from:

* the clock (start, budget, time-out policy) from the environment the hub's spawner set
  (``MLINTERVIEW_STARTED_AT``, ``MLINTERVIEW_TIME_BUDGET_MINUTES``, ``MLINTERVIEW_TIME_OUT``): the
  interview's own values, which the candidate's code cannot change;
* the title, the brief's path, the current limits and a released twist from the workspace settings
  the interview service writes (``.mlinterview/workspace.json``, read without following links);
* the models and the last training run's CPU time from the candidate kernel's last status
  signal (``kernels/signals.py``): what the candidate's own code says, shown, never trusted.

At the deadline the server records an ``interview`` history event ``{event: time_up}``. With a
*soft* time-out that is all (the record shows what ran after it); with a *hard* one the
recording connection refuses every execution from then on (``history_connection.py``).

``GET  /mlinterview/interview``  the facts above, as JSON, with the server's clock (``now``)
``POST /mlinterview/done``       the candidate ends the interview: an ``interview`` event
                                 ``{event: done}`` in the history (with ``self_reported_minutes``
                                 when the body gives it); the interview service ends the
                                 interview when it stores it (only the server holds the
                                 credential that adds to the history, CONFINEMENT.md)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..kernels.workspace import STARTED_AT_ENV, interview_budget_minutes, parse_moment
from ..safe_files import read_bytes
from .history_connection import STATUS_SETTING
from .history_recorder import HistoryRecorder

TIME_OUT_ENV = "MLINTERVIEW_TIME_OUT"
KIND_ENV = "MLINTERVIEW_KIND"  # take_home, or unset for a live interview
ACTIVE_BUDGET_ENV = "MLINTERVIEW_ACTIVE_BUDGET_MINUTES"  # a take-home's active-time budget (soft)
SELF_REPORT_LIMIT_MINUTES = 14 * 24 * 60
END_URL_ENV = "MLINTERVIEW_END_URL"
WORKSPACE_ENV = "MLINTERVIEW_WORKSPACE"
WORKSPACE_SETTINGS = ".mlinterview/workspace.json"
ANSWER_LIMIT = 20_000  # characters of one answer
SETTINGS_LIMIT = 1 << 20
TIME_OUTS = ("soft", "hard")
log = logging.getLogger(__name__)
DONE_DELIVERY_SECONDS = 15.0
SAVE_OPEN_DOCUMENTS_SECONDS = 10.0  # the end waits this long, at most, for the open documents' saves


@dataclass
class InterviewClock:
    """The interview's time: when it started, how long it may take, what happens at the end."""

    started_at: float | None = None
    budget_seconds: float = 0.0
    time_out: str = "soft"
    kind: str = "live"
    active_budget_seconds: float | None = None  # a take-home's: the deadline is the hard end, this is guidance

    @classmethod
    def from_environment(cls) -> "InterviewClock":
        time_out = os.environ.get(TIME_OUT_ENV, "soft")
        kind = "take_home" if os.environ.get(KIND_ENV) == "take_home" else "live"
        try:
            active = float(os.environ[ACTIVE_BUDGET_ENV]) * 60 if kind == "take_home" else None
        except (KeyError, ValueError):
            active = None
        return cls(parse_moment(os.environ.get(STARTED_AT_ENV)), max(0.0, interview_budget_minutes({})) * 60,
                   time_out if time_out in TIME_OUTS else "soft", kind, active)

    @property
    def deadline(self) -> float | None:
        return self.started_at + self.budget_seconds if self.started_at is not None and self.budget_seconds else None

    def over(self, now: float | None = None) -> bool:
        deadline = self.deadline
        return deadline is not None and (time.time() if now is None else now) >= deadline

    def frozen(self, now: float | None = None) -> bool:
        """A hard time-out has passed: no more executions."""
        return self.time_out == "hard" and self.over(now)


@dataclass
class CandidateStatus:
    """What the server knows of the candidate's side; one per server (in the web app's settings)."""

    recorder: HistoryRecorder
    clock: InterviewClock = field(default_factory=InterviewClock.from_environment)
    workspace: str | None = field(default_factory=lambda: os.environ.get(WORKSPACE_ENV))
    kernel_status: dict[str, Any] = field(default_factory=dict)
    time_up_recorded: bool = False
    done_at: float | None = None
    _timer: Any = None

    def settings(self) -> dict[str, Any]:
        """The workspace's public settings; a link, a FIFO or garbage in their place reads as none."""
        if not self.workspace:
            return {}
        try:
            settings = json.loads(read_bytes(self.workspace, WORKSPACE_SETTINGS, SETTINGS_LIMIT))
        except (OSError, ValueError):
            return {}
        return settings if isinstance(settings, dict) else {}

    def facts(self) -> dict[str, Any]:
        settings = self.settings()
        constraints = settings.get("constraints") if isinstance(settings.get("constraints"), dict) else {}
        twist = settings.get("twist") if isinstance(settings.get("twist"), dict) else None
        clock = self.clock
        return {
            "title": str(settings.get("title") or settings.get("scenario") or "Interview"),
            "brief": str(settings["brief"]) if isinstance(settings.get("brief"), str) else None,
            "now": time.time(),
            "started_at": clock.started_at,
            "budget_seconds": clock.budget_seconds,
            "deadline": clock.deadline,
            "time_out": clock.time_out,
            "kind": clock.kind,
            "active_budget_seconds": clock.active_budget_seconds,
            "state": "done" if self.done_at else "frozen" if clock.frozen() else "overtime" if clock.over() else "live",
            "limits": {
                "max_parameters": _number(constraints.get("max_parameters")),
                "train_time_budget_seconds": _number(constraints.get("train_time_budget_seconds")),
            },
            "twist": None if twist is None else {
                "title": str(twist.get("title") or "twist"), "released_at": str(twist.get("released_at") or ""),
                "max_parameters": _number(twist.get("max_parameters")),
                "files": [str(name) for name in (twist.get("files") or []) if isinstance(name, str)][:20],
            },
            "questions": self.visible_questions(settings),
            "models": self.kernel_status.get("models", []),
            "training_seconds": self.kernel_status.get("training_seconds"),
            "can_finish": self.recorder.streamer is not None and self.recorder.streamer.enabled,
            "end_url": end_url(),
        }

    def visible_questions(self, settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The open questions the candidate sees now (from the start, after their minutes, after the
        twist, or once pushed), each with their last saved answer."""
        settings = self.settings() if settings is None else settings
        started = self.clock.started_at
        elapsed = time.time() - started if started else 0.0
        shown = []
        for entry in settings.get("questions") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("prompt"), str):
                continue
            when = entry.get("shown")
            minutes = _number(entry.get("after_minutes"))
            visible = (when == "start" or entry.get("pushed_at")
                       or (when == "after_minutes" and minutes is not None and elapsed >= minutes * 60)
                       or (when == "after_twist" and isinstance(settings.get("twist"), dict)))
            if visible:
                answer = self.recorder.answers.get(entry["id"])
                shown.append({"id": entry["id"][:64], "prompt": entry["prompt"][:2000],
                              "answer": answer["text"] if answer else "", "answered_at": answer["time"] if answer else None})
        return shown[:50]

    def answer(self, user: str | None, question: str, text: str) -> dict[str, Any]:
        """Record the candidate's answer to a question they can see (``answer`` in the history)."""
        if question not in {q["id"] for q in self.visible_questions()}:
            raise ValueError(f"there is no question {question[:64]!r} to answer now")
        if self.clock.frozen():
            raise PermissionError("the interview time is over: answers can no longer change")
        return self.recorder.answer(user, question, text)

    def kernel_said(self, payload: dict[str, Any]) -> None:
        self.kernel_status = payload

    # -- time -------------------------------------------------------------------------------

    def watch_the_clock(self) -> None:
        """Record ``time_up`` at the deadline (now, if it has passed)."""
        deadline = self.clock.deadline
        if deadline is None:
            return
        self._timer = asyncio.get_running_loop().call_later(max(0.0, deadline - time.time()), self.time_up)

    def time_up(self) -> None:
        if self.time_up_recorded:
            return
        self.time_up_recorded = True
        self.recorder.record({"kind": "interview", "detail": {
            "event": "time_up", "time_out": self.clock.time_out, "deadline": self.clock.deadline,
            "budget_minutes": self.clock.budget_seconds / 60,
        }})

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    # -- the end ----------------------------------------------------------------------------

    async def finish(self, user: str | None, self_reported_minutes: float | None = None) -> bool:
        """The candidate is done: record it (with the time they say they spent, when they said it)
        and wait until the interview service holds it."""
        self.done_at = self.done_at or time.time()
        detail: dict[str, Any] = {"event": "done"}
        if self_reported_minutes is not None:
            detail["self_reported_minutes"] = self_reported_minutes
        sealed = self.recorder.record({"kind": "interview", "user": user, "role": "candidate", "detail": detail})
        return await self.recorder.streamer.delivered(sealed["seq"], DONE_DELIVERY_SECONDS)


def self_reported_minutes(body: bytes) -> float | None:
    """The time the candidate says they spent, from "I'm done"'s optional JSON body
    ``{"self_reported_minutes": N}``: whole minutes, at most two weeks; None when not given.
    A 400 for anything else, so that nothing they typed is silently dropped."""
    if not body or not body.strip():
        return None
    try:
        value = json.loads(body).get("self_reported_minutes")
    except (ValueError, AttributeError):
        raise web.HTTPError(400, 'the body must be JSON: {"self_reported_minutes": N} (or empty)') from None
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= SELF_REPORT_LIMIT_MINUTES:
        raise web.HTTPError(400, f"the time you spent is a number of minutes between 0 and {SELF_REPORT_LIMIT_MINUTES:,}")
    return round(float(value))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def end_url() -> str:
    """Where the candidate goes after the end: ``$MLINTERVIEW_END_URL``, else the hub's end page
    (extension/hub_templates/interview_over.html), on the hub's own origin when candidates have
    origins of their own (JupyterHub sets ``JUPYTERHUB_HOST`` then)."""
    return os.environ.get(END_URL_ENV) or (
        os.environ.get("JUPYTERHUB_HOST", "") + os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/interview-over"
    )


class CandidateHandlerBase(ExtensionHandlerMixin, JupyterHandler):
    auth_resource = "mlinterview"

    @property
    def status(self) -> CandidateStatus:
        return self.settings[STATUS_SETTING]

    def the_candidate(self, refusal: str) -> str | None:
        """The requesting hub user, if they are this server's candidate; a 403 with ``refusal`` otherwise."""
        user = self.current_user.username if self.current_user is not None else None
        if self.status.recorder.role_of(user) != "candidate":
            raise web.HTTPError(403, refusal)
        return user


class InterviewStatusHandler(CandidateHandlerBase):
    """GET /mlinterview/interview: the clock, the limits, the models, the twist."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(self.status.facts())


async def save_open_documents(serverapp: Any, timeout: float = SAVE_OPEN_DOCUMENTS_SECONDS) -> int:
    """Write every document open in the real-time collaboration to disk now, as its own "save"
    message does (``DocumentRoom._save_to_disc``); the number of saves awaited.

    The collaboration saves a document a second after its last change, and a room that stops (the
    server stopping at the end) cancels a save still waiting: the end saves first. The browser does
    not save: its save checks the file on disk against its copy, and the collaboration's own
    autosave, landing in between, made it ask "File Changed… overwrite or revert?"."""
    saves = []
    for app in serverapp.extension_manager.extension_apps.get("jupyter_server_ydoc", ()):
        rooms = getattr(getattr(app, "ywebsocket_server", None), "rooms", None) or {}
        for room in list(rooms.values()):
            save = getattr(room, "_save_to_disc", None)  # document rooms only, not awareness rooms
            task = save() if callable(save) else None
            if task is not None:
                saves.append(task)
    if saves:
        _, pending = await asyncio.wait(saves, timeout=timeout)
        if pending:
            log.warning("mlinterview: %d open documents not saved within %.0f s of the end", len(pending), timeout)
    return len(saves)


class CandidateDoneHandler(CandidateHandlerBase):
    """POST /mlinterview/done: the candidate ends their interview (after the page's confirmation).
    Every open document is saved first, then the end is recorded and confirmed by the service."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        status = self.status
        user = self.the_candidate("only the candidate ends the interview from here; interviewers end it in the interview list")
        if not status.recorder.streamer or not status.recorder.streamer.enabled:
            raise web.HTTPError(409, "this server is not part of a hub interview: there is nothing to end")
        minutes = self_reported_minutes(self.request.body)
        await save_open_documents(self.serverapp)
        if not await status.finish(user, minutes):
            raise web.HTTPError(504, "the interview service has not confirmed the end yet: try again in a moment")
        self.finish({"done": True, "end_url": end_url()})


class AnswerHandler(CandidateHandlerBase):
    """POST /mlinterview/answer {question, text}: the candidate saves their answer to an open question."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        status = self.status
        user = self.the_candidate("only the candidate answers the interview's questions")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body must be JSON: {\"question\": ..., \"text\": ...}") from None
        question, text = body.get("question") if isinstance(body, dict) else None, body.get("text") if isinstance(body, dict) else None
        if not isinstance(question, str) or not isinstance(text, str):
            raise web.HTTPError(400, "question and text must be strings")
        if len(text) > ANSWER_LIMIT:
            raise web.HTTPError(413, f"an answer is at most {ANSWER_LIMIT:,} characters (this one has {len(text):,})")
        try:
            sealed = status.answer(user, question, text)
        except ValueError as error:
            raise web.HTTPError(404, str(error)) from None
        except PermissionError as error:
            raise web.HTTPError(409, str(error)) from None
        self.finish({"question": question, "saved_at": sealed["time"], "seq": sealed["seq"]})
