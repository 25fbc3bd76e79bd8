"""The interview service: a hub-managed service with the interviewer's pages and the history inbox.

Run by the hub (``c.JupyterHub.services``, see ``hub_settings.hub_config``) as
``python -m mlinterview.extension.service_app``, under ``/services/interview/``. Users are
authenticated through the hub with ``HubOAuth``; only holders of
``access:services!service=interview`` (the ``interviewer`` role, and admins) get in, and an
interviewer sees the interviews they run or sit on the panel of (admins and hiring managers see
all; a hiring manager reads them, acting only through the decision). Candidates get a 403 everywhere.

Pages (``extension/templates/``):

``/``                         interviews, with their state, and the form to create one
``/interviews/<id>``           live view: elapsed time, the candidate's notebook read-only (rendered
                              and sanitized here, ``service_watch.py``), executions as they
                              happen, constraint events, notes pinned to the timeline, End
                              interview, grading progress, report
``/interviews/<id>/join``      the explicit, confirmed way into the candidate's JupyterLab (a hub
                              share), recorded in the timeline
``/interviews/<id>/report``    the grader's report.html
``/interviews/<id>/scorecard``, ``/debrief``  the hiring panel: co-interviewers, a scorecard per
                              interviewer, the debrief and the hiring manager's decision
                              (``service_panel.py``; ``api/interviews/<id>/scorecards``)
``/compare?scenario=<id>``     a scenario's candidates side by side, sortable, with the overall
                              score; ``/compare.csv?scenario=<id>`` the same as CSV (``service_compare.py``)

JSON API (token or cookie): ``api/interviews`` (GET list; POST create with a hub token only),
``api/interviews/<id>`` (GET), ``api/interviews/<id>/events?after=N`` (GET),
``api/interviews/<id>/notebook?stamp=S`` (GET, the rendered notebook when it changed), and the
history inbox ``api/history`` where the candidate's server streams sealed events: authenticated by
the *server's* hub token, checked for chain continuity, stored as the authoritative copy.

The pages defend themselves against whatever runs in a candidate's notebook: every response
carries a content security policy that admits only the service's own scripts and no framing
(``frame-ancestors 'none'``), ``Cross-Origin-Opener-Policy: same-origin`` (a window the candidate's
page opens gets no handle on it) and ``Cache-Control: no-store``; a state-changing request made
with the interviewer's cookies must carry the xsrf token (bound to their hub session) and come
from a page of this origin, as a top-level form submission; an invite code appears only in the
page that answers the interviewer's own form (or in the answer to a hub-token API call).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback

from .history_store import HISTORY_SECRET_HEADER
from .hub_settings import SERVICE_SETTINGS_ENV
from .service_hub_client import HubAPIError, HubClient
from .service_cockpit import give_hint_note, hints_given, pack_guide, push_question_note, questions_pushed, scaffold_diffs
from .panel_store import PanelStore
from .service_lifecycle import InterviewLifecycle
from .service_store import KINDS, HistoryConflict, InterviewStore, State, utcnow
from .service_playback import playback_model
from .service_watch import read_notebook, render_notebook

log = logging.getLogger("mlinterview.service")
TEMPLATES = Path(__file__).parent / "templates"
# resolved: an editable install links each file, and tornado serves no link that leaves the folder
STATIC = Path(__file__).resolve().parent / "static"
MAX_EVENTS_PER_POST = 1000
TAKE_HOME_DEFAULT_MINUTES = 180  # a take-home's active-time budget when none is given: about three hours of work
READY_GRADER_AFTER_S = 10  # after a server's first history post: its spawn and kernel start are past
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
# the grader's self-contained report: its own inline styles, no script at all, in a sandbox (an opaque origin)
REPORT_CONTENT_SECURITY_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class DefendedResponses(web.RequestHandler):
    """Every response of the service (pages, API, static files, errors) carries the security headers."""

    def set_default_headers(self):
        super().set_default_headers()
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)


class ServiceStaticHandler(DefendedResponses, web.StaticFileHandler):
    """The service's own scripts and styles: the only ones its pages run."""

    def set_extra_headers(self, path):
        self.set_header("Cache-Control", "no-cache")


class ServiceOAuthCallbackHandler(DefendedResponses, HubOAuthCallbackHandler):
    pass


class ServiceHandler(HubOAuthenticated, DefendedResponses):
    """Base of the interviewer's pages: hub login, the store, templates, who may see what."""

    @property
    def store(self) -> InterviewStore:
        return self.settings["store"]

    def prepare(self):
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not self.request.headers.get("Authorization"):
            self.refuse_unless_own_page()

    def refuse_unless_own_page(self) -> None:
        """A cookie-authenticated change must be a top-level form submission from this origin.

        Browsers set Origin and Sec-Fetch-* themselves (a script cannot forge them): a form on
        another site (a candidate's server on its own origin), a fetch() from any script, a
        submission into a frame are refused before anything happens. The xsrf token is checked
        on top of this (tornado, with the hub's session-bound token).
        """
        headers = self.request.headers
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site != "same-origin":
            raise web.HTTPError(403, f"cross-site request refused ({site}): use the interview service's own pages")
        origin = headers.get("Origin")
        if origin is not None and origin != "null" and urlsplit(origin).netloc != self.request.host:
            raise web.HTTPError(403, f"cross-site request refused (from {origin}): use the interview service's own pages")
        if origin == "null":
            raise web.HTTPError(403, "request from an opaque origin refused: use the interview service's own pages")
        mode, dest = headers.get("Sec-Fetch-Mode"), headers.get("Sec-Fetch-Dest")
        if (mode is not None and mode != "navigate") or (dest is not None and dest != "document"):
            raise web.HTTPError(403, "actions are taken only with the service's own forms, in a page of their own")

    @property
    def token_authenticated(self) -> bool:
        return bool(getattr(self, "_token_authenticated", False))

    def check_xsrf_cookie(self):
        if self.request.headers.get("Authorization"):
            # resolve the user first: a valid token in the header marks the request token-authenticated,
            # which needs no xsrf check (no cookie was used, so there is nothing to forge)
            _ = self.current_user
        return super().check_xsrf_cookie()

    @property
    def lifecycle(self) -> InterviewLifecycle:
        return self.settings["lifecycle"]

    @property
    def prefix(self) -> str:
        return self.settings["service_prefix"]

    @property
    def user_name(self) -> str:
        return self.current_user["name"]

    @property
    def is_admin(self) -> bool:
        return bool(self.current_user.get("admin"))

    def interview_model(self, interview) -> dict:
        """An interview as the pages' scripts read it: its fields, whether a report exists, any history alarm."""
        model = interview.to_json()
        model["has_report"] = self.lifecycle.report_ready(interview)
        model["history_alarm"] = history_alarm(self.store, interview.id)
        return model

    @property
    def panel(self) -> PanelStore:
        return self.settings["panel"]

    @property
    def managed_rounds(self) -> set[str] | None:
        """The hiring rounds this user decides on: None for every round (``hiring_managers``), else
        those ``hiring_rounds`` gives them (none: not a hiring manager)."""
        service_settings = self.settings["service_settings"]
        if self.user_name in service_settings.get("hiring_managers", ()):
            return None
        return {name for name, users in (service_settings.get("hiring_rounds") or {}).items() if self.user_name in users}

    @property
    def is_hiring_manager(self) -> bool:
        return self.managed_rounds != set()

    def manages(self, interview) -> bool:
        """Whether this user is a hiring manager of the interview's round."""
        rounds = self.managed_rounds
        return rounds is None or (interview.hiring_round or interview.scenario) in rounds

    def listed_interviews(self) -> list:
        """The interviews this user sees: all for an admin or a hiring manager of every round; else those
        they run or sit on the panel of, and those of the rounds they manage."""
        rounds = self.managed_rounds
        return self.store.list(None) if self.is_admin or rounds is None else self.store.list(self.user_name, rounds)

    def interview_or_refuse(self, interview_id: str):
        """The interview, if this user runs it, sits on its panel or is an admin (a hiring manager of its
        round: to read its pages, not to act on it); 404 / 403 otherwise."""
        interview = self.store.get(interview_id)
        if interview is None:
            raise web.HTTPError(404, f"no interview {interview_id}")
        if not (self.is_admin or interview.interviewer == self.user_name or self.panel.is_member(interview.id, self.user_name)
                or (self.manages(interview) and self.request.method in ("GET", "HEAD"))):
            raise web.HTTPError(403, f"interview {interview_id} is run by another interviewer")
        return interview

    @property
    def xsrf_text(self) -> str:
        return self.xsrf_token.decode("ascii") if isinstance(self.xsrf_token, bytes) else self.xsrf_token

    def render_page(self, template: str, **namespace) -> None:
        page = self.settings["jinja"].get_template(template)
        self.finish(
            page.render(
                prefix=self.prefix,
                hub_prefix=self.settings["hub_prefix"],
                user=self.current_user,
                xsrf_token=self.xsrf_text,
                static_url=self.static_url,
                **namespace,
            )
        )

    def write_error(self, status_code, **kwargs):
        exception = kwargs.get("exc_info", (None, None))[1]
        message = getattr(exception, "log_message", None) or self._reason
        if self.request.path.startswith(url_path_join(self.prefix, "api")):
            self.finish({"error": message, "status": status_code})
            return
        self.set_header("Content-Type", "text/html")
        page = self.settings["jinja"].get_template("error.html")
        self.finish(
            page.render(
                prefix=self.prefix, hub_prefix=self.settings["hub_prefix"], status_code=status_code, message=message, user=None,
                static_url=self.static_url,
            )
        )

    def invite_url(self, code: str) -> str:
        invite = url_path_join(self.settings["hub_prefix"], "invite", code)
        # under subdomain_host the hub prefix is already a full URL (this service has an origin of its own)
        return invite if "://" in invite else f"{self.request.protocol}://{self.request.host}{invite}"

    def create_interview(self, scenario: str, kernel: str, candidate_name: str, time_budget: str | int | None,
                         time_out: str | None = None, hiring_round: str | None = None, kind: str | None = None,
                         start_window_days: str | float | None = None, deadline_hours: str | int | None = None):
        """Validate the form and create the interview; returns (interview, invite code).

        A take-home (``kind="take_home"``): the invite is valid for ``start_window_days``; the time
        budget is active time (soft: the report shows an overrun); ``deadline_hours`` after the
        start, the service submits the work (the settings' defaults when not given)."""
        from ..scenarios.pack import PackError, load_pack

        candidate_name = (candidate_name or "").strip()
        if not candidate_name:
            raise web.HTTPError(400, "give the candidate's name")
        if kernel not in ("cpu", "gpu"):
            raise web.HTTPError(400, "kernel must be cpu or gpu")
        if kernel == "gpu" and not self.settings["service_settings"].get("gpu_available"):
            raise web.HTTPError(400, "this hub has no GPU pool; create the interview on CPU (or set 'gpus' in the hub settings)")
        try:
            pack = load_pack(scenario, Path(self.settings["service_settings"]["scenarios_dir"]))
        except PackError as error:
            raise web.HTTPError(400, str(error).splitlines()[0])
        kind = kind or "live"
        if kind not in KINDS:
            raise web.HTTPError(400, "kind must be 'live' (an interviewer watches) or 'take_home' (a window to start, a deadline to submit)")
        service_settings = self.settings["service_settings"]
        try:
            minutes = int(time_budget) if time_budget not in (None, "") else (
                TAKE_HOME_DEFAULT_MINUTES if kind == "take_home" else pack.manifest.time_budget_minutes)
        except (TypeError, ValueError):
            raise web.HTTPError(400, "time budget must be a whole number of minutes") from None
        if not 1 <= minutes <= 24 * 60:
            raise web.HTTPError(400, "time budget must be between 1 and 1440 minutes")
        time_out = time_out or "soft"
        if time_out not in ("soft", "hard"):
            raise web.HTTPError(400, "time_out must be 'soft' (warn and mark the overtime) or 'hard' (stop running cells)")
        if len(candidate_name) > 200:
            raise web.HTTPError(400, "the candidate's name is at most 200 characters")
        invite_ttl, deadline = timedelta(hours=service_settings["invite_ttl_hours"]), None
        if kind == "take_home":
            try:
                window = float(start_window_days) if start_window_days not in (None, "") else float(service_settings["take_home_start_window_days"])
                deadline = int(deadline_hours) if deadline_hours not in (None, "") else int(service_settings["take_home_deadline_hours"])
            except (TypeError, ValueError):
                raise web.HTTPError(400, "the start window is a number of days, the deadline a whole number of hours") from None
            if not 1 / 24 <= window <= 30:
                raise web.HTTPError(400, "the start window must be between 1 hour and 30 days")
            if not 1 <= deadline <= 14 * 24:
                raise web.HTTPError(400, "the deadline must be between 1 and 336 hours after the start")
            if minutes > deadline * 60:
                raise web.HTTPError(400, f"the active-time budget ({minutes} min) does not fit before the deadline ({deadline} h)")
            time_out, invite_ttl = "soft", timedelta(days=window)  # the budget is soft; the deadline is the hard end
        return self.store.create_interview(
            scenario=pack.id,
            kernel=kernel,
            candidate_name=candidate_name,
            interviewer=self.user_name,
            time_budget_minutes=minutes,
            time_out=time_out,
            hiring_round=hiring_round or "",  # the store names it after the scenario when none is given
            invite_ttl=invite_ttl,
            kind=kind,
            deadline_hours=deadline,
        )


def scenario_choices(scenarios_dir: str) -> list[dict]:
    from ..scenarios.pack import PackError, list_packs, load_pack

    choices = []
    for scenario_id in list_packs(Path(scenarios_dir)):
        try:
            manifest = load_pack(scenario_id, Path(scenarios_dir)).manifest
        except PackError:
            continue
        choices.append(
            {"id": manifest.id, "title": manifest.title, "minutes": manifest.time_budget_minutes, "kernel": manifest.kernel.default, "gpu_capable": manifest.kernel.gpu_capable}
        )
    return choices


def history_alarm(store: InterviewStore, interview_id: str) -> str | None:
    """What to say when a server sent history that conflicts with the stored chain (None when none did)."""
    divergences = store.divergences(interview_id)
    if not divergences:
        return None
    count = sum(len(batch["events"]) for batch in divergences)
    return (f"the history diverges: {count} event(s) sent by the candidate's server conflict with the stored chain "
            f"(first: {divergences[0]['reason']}); they are kept apart and shown in the report")


class HomeHandler(ServiceHandler):
    @web.authenticated
    def get(self):
        interviews = self.listed_interviews()
        self.render_page(
            "index.html",
            interviews=interviews,
            scenarios=scenario_choices(self.settings["service_settings"]["scenarios_dir"]),
            gpu_available=self.settings["service_settings"].get("gpu_available"),
            take_home={"minutes": TAKE_HOME_DEFAULT_MINUTES,
                       "start_window_days": self.settings["service_settings"].get("take_home_start_window_days", 7),
                       "deadline_hours": self.settings["service_settings"].get("take_home_deadline_hours", 48)},
        )


class CreateInterviewHandler(ServiceHandler):
    @web.authenticated
    def post(self):
        interview, code = self.create_interview(
            self.get_body_argument("scenario", ""),
            self.get_body_argument("kernel", "cpu"),
            self.get_body_argument("candidate_name", ""),
            self.get_body_argument("time_budget_minutes", ""),
            self.get_body_argument("time_out", "soft"),
            self.get_body_argument("hiring_round", ""),
            self.get_body_argument("kind", "live"),
            self.get_body_argument("start_window_days", ""),
            self.get_body_argument("deadline_hours", ""),
        )
        self.render_page("invite.html", interview=interview, invite_url=self.invite_url(code))


class LiveViewHandler(ServiceHandler):
    @web.authenticated
    def get(self, interview_id):
        from ..scenarios.pack import PackError, load_pack

        interview = self.interview_or_refuse(interview_id)
        try:
            guide = pack_guide(load_pack(interview.scenario, Path(self.settings["service_settings"]["scenarios_dir"])))
        except PackError:
            guide = None
        twist = guide and guide["twist"]
        record = self.lifecycle.twist_record(interview.id)
        released = json.loads(record.read_text()) if record.is_file() else None
        api = url_path_join(self.prefix, "api", "interviews", interview.id)
        live_config = {
            "events_url": url_path_join(api, "events"),
            "notebook_url": url_path_join(api, "notebook"),
            "files_url": url_path_join(api, "files"),
            "limits": dict(guide["limits"], **({"max_parameters": released["max_parameters"]} if released and "max_parameters" in released else {}))
                      if guide else {},
            "xsrf_token": self.xsrf_text,
            # a take-home's clock runs to its deadline (its budget is active time, which the report measures)
            "budget_seconds": (interview.deadline_hours * 3600 if interview.kind == "take_home" and interview.deadline_hours
                               else interview.time_budget_minutes * 60),
            "display_names": {interview.candidate_user: interview.candidate_name},
            "started_at": interview.started_at.isoformat() + "Z" if interview.started_at else None,
            "ended_at": interview.ended_at.isoformat() + "Z" if interview.ended_at else None,
            "state": interview.state,
        }
        self.render_page(
            "live.html", interview=interview, twist=twist, live_config=live_config,
            has_report=self.lifecycle.report_ready(interview), guide=guide, released=released,
            hints_given=hints_given(self.store.notes(interview.id)), questions_pushed=questions_pushed(self.store.notes(interview.id)),
            notice=NOTICES.get(self.get_argument("notice", "")),
        )


class JoinHandler(ServiceHandler):
    """GET: what joining means, and a confirm button; POST (confirmed): share, record, link to JupyterLab."""

    @property
    def separate_origin(self) -> bool:
        return bool(self.settings["service_settings"].get("subdomain_host"))

    def live_interview(self, interview_id: str):
        interview = self.interview_or_refuse(interview_id)
        if interview.state != State.live.value:
            raise web.HTTPError(409, "the candidate's notebook can be joined only while the interview is live")
        return interview

    @web.authenticated
    def get(self, interview_id):
        interview = self.live_interview(interview_id)
        self.render_page("join.html", interview=interview, joined_url=None, separate_origin=self.separate_origin)

    @web.authenticated
    async def post(self, interview_id):
        interview = self.live_interview(interview_id)
        if self.get_body_argument("confirm", "") != "yes":
            raise web.HTTPError(400, "joining the candidate's notebook needs the confirmation on the join page")
        try:
            await self.lifecycle.share_with(interview, self.user_name)
            server_url = await self.settings["hub"].server_url(interview.candidate_user)
        except HubAPIError as error:
            raise web.HTTPError(409, f"could not share the candidate's server (is it running?): {error}")
        at_seq, _ = self.store.history_head(interview.id)
        elapsed = (utcnow() - interview.started_at).total_seconds() if interview.started_at else None
        self.store.add_note(
            interview.id, self.user_name,
            f"{self.user_name} joined the candidate's live notebook (what they type or run there is recorded as theirs)",
            at_seq, elapsed,
        )
        notebook = self.lifecycle.notebook_of(interview.scenario)
        lab = url_path_join(server_url or url_path_join(self.settings["base_url"], "user", interview.candidate_user), "lab")
        joined_url = url_path_join(lab, "tree", notebook) if notebook else lab
        self.render_page("join.html", interview=interview, joined_url=joined_url, separate_origin=self.separate_origin)


NOTICES = {  # what a redirect back to the live view says (?notice=...): fixed texts only
    "twist-released": "The twist is released: the candidate's workspace has it now.",
    "twist-already-released": "The twist was already released (see its state in the guide); nothing was changed.",
}


class InterviewActionHandler(ServiceHandler):
    """POST /interviews/<id>/<action>: end, note, twist, hint, question, invite, revoke, regrade, cancel."""

    @web.authenticated
    async def post(self, interview_id, action):
        interview = self.interview_or_refuse(interview_id)
        live_view = url_path_join(self.prefix, "interviews", interview.id)
        if action == "end":
            self.lifecycle.start_end(interview.id, self.user_name)
            self.redirect(live_view)
        elif action == "note":
            text = self.get_body_argument("text", "").strip()
            if not text:
                raise web.HTTPError(400, "a note needs some text")
            at_seq = self.get_body_argument("at_seq", "")
            elapsed = self.get_body_argument("elapsed_s", "")
            self.store.add_note(
                interview.id, self.user_name, text[:5000],
                int(at_seq) if at_seq.lstrip("-").isdigit() else None,
                float(elapsed) if elapsed.replace(".", "", 1).isdigit() else None,
            )
            self.redirect(live_view + "#notes")
        elif action == "twist":
            if self.lifecycle.twist_record(interview.id).is_file():  # a second click: say so on the page
                self.redirect(live_view + "?notice=twist-already-released#guide")
                return
            try:
                await self.release_twist(interview)
            except web.HTTPError as refused:
                if "already released" not in (refused.log_message or ""):
                    raise
                self.redirect(live_view + "?notice=twist-already-released#guide")
                return
            self.redirect(live_view + "?notice=twist-released#guide")
        elif action == "hint":
            give_hint_note(self, interview)
            self.redirect(live_view + "#guide")
        elif action == "question":
            await push_question_note(self, interview)
            self.redirect(live_view + "#questions")
        elif action == "invite":
            if interview.state not in (State.invited.value, State.live.value):
                raise web.HTTPError(409, "this interview has ended; create a new one")
            ttl = (timedelta(hours=interview.start_window_hours) if interview.kind == "take_home" and interview.start_window_hours
                   else timedelta(hours=self.settings["service_settings"]["invite_ttl_hours"]))
            code = self.store.reissue_invite(interview.id, ttl)
            self.render_page("invite.html", interview=interview, invite_url=self.invite_url(code))
        elif action == "revoke":
            self.store.revoke_invites(interview.id)
            self.redirect(live_view)
        elif action == "regrade":
            self.lifecycle.regrade(interview.id)
            self.redirect(live_view)
        elif action == "cancel":
            if not self.lifecycle.cancel(interview.id, self.user_name):
                raise web.HTTPError(409, f"only an interview the candidate has not started can be cancelled (this one is {interview.state}); end it instead")
            self.redirect(live_view)
        else:
            raise web.HTTPError(404, f"no action {action}")


    async def release_twist(self, interview) -> None:
        """Release the scenario's twist into the live workspace and pin a note at this moment."""
        from ..scenarios.pack import PackError, load_pack
        from ..scenarios.twist import TwistError, release_twist

        if interview.state != State.live.value:
            raise web.HTTPError(409, "the twist can be released only while the interview is live")
        try:
            pack = load_pack(interview.scenario, Path(self.settings["service_settings"]["scenarios_dir"]))
            released = await asyncio.to_thread(release_twist, pack, self.lifecycle.workspaces_dir / interview.candidate_user)
        except (PackError, TwistError) as error:
            raise web.HTTPError(409, f"could not release the twist: {error}")
        record = self.lifecycle.twist_record(interview.id)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(released, indent=2) + "\n", encoding="utf-8")
        what = (f"parameter budget now {released['max_parameters']:,}" if "max_parameters" in released
                else "new data " + ", ".join(released["files"]))
        at_seq, _ = self.store.history_head(interview.id)
        elapsed = (utcnow() - interview.started_at).total_seconds() if interview.started_at else None
        self.store.add_note(interview.id, self.user_name, f"Twist released: {released['title']} ({what})", at_seq, elapsed)


class ReportHandler(ServiceHandler):
    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        report = self.lifecycle.report_html(interview.id)
        if report is None:
            raise web.HTTPError(404, f"interview {interview.id} has no report yet ({interview.state}: {interview.grade_progress})")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", REPORT_CONTENT_SECURITY_POLICY)
        self.finish(report.read_bytes())


class PlaybackHandler(ServiceHandler):
    """GET interviews/<id>/playback: the whole interview on one timeline, to scrub (static/playback.js)."""

    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        config = {"playback_url": url_path_join(self.prefix, "api", "interviews", interview.id, "playback"),
                  "xsrf_token": self.xsrf_text}
        self.render_page("playback.html", interview=interview, playback_config=config,
                         has_report=self.lifecycle.report_ready(interview))


class PlaybackAPIHandler(ServiceHandler):
    """GET api/interviews/<id>/playback: the playback's model (extension/service_playback.py), built
    from the authoritative record as it is now (verified on each request, never from a cache)."""

    @web.authenticated
    def get(self, interview_id):
        from ..scenarios.pack import PackError, load_pack

        interview = self.interview_or_refuse(interview_id)
        try:
            pack = load_pack(interview.scenario, Path(self.settings["service_settings"]["scenarios_dir"]))
        except PackError:
            pack = None
        model = playback_model(self.store.history(interview.id), [note.to_json() for note in self.store.notes(interview.id)], pack,
                               {interview.candidate_user: interview.candidate_name})
        model["interview"] = {"id": interview.id, "candidate": interview.candidate_name, "state": interview.state,
                              "started_at": interview.started_at.isoformat() + "Z" if interview.started_at else None,
                              "ended_at": interview.ended_at.isoformat() + "Z" if interview.ended_at else None}
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(model, separators=(",", ":")).encode())


# -- JSON API ------------------------------------------------------------------------------------
class InterviewsAPIHandler(ServiceHandler):
    @web.authenticated
    def get(self):
        interviews = self.listed_interviews()
        self.finish({"interviews": [interview.to_json() for interview in interviews]})

    @web.authenticated
    def post(self):
        if not self.token_authenticated:
            # the invite code is never handed to a script running in someone's browser
            raise web.HTTPError(403, "create interviews with the form on the interview service's page, or from automation with a hub token (Authorization: token ...)")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body must be JSON") from None
        interview, code = self.create_interview(
            body.get("scenario", ""), body.get("kernel", "cpu"), body.get("candidate_name", ""), body.get("time_budget_minutes"),
            body.get("time_out"), body.get("hiring_round"), body.get("kind"), body.get("start_window_days"), body.get("deadline_hours"),
        )
        self.set_status(201)
        self.finish({"interview": interview.to_json(), "invite_url": self.invite_url(code)})


class InterviewAPIHandler(ServiceHandler):
    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        self.finish(self.interview_model(interview))


class EventsAPIHandler(ServiceHandler):
    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        after = int(self.get_argument("after", "-1"))
        events = self.store.history(interview.id, after=after, limit=2000)
        model = self.interview_model(interview)
        self.finish(
            {
                "interview": model,
                "events": events,
                "last_seq": events[-1]["seq"] if events else after,
                "notes": [note.to_json() for note in self.store.notes(interview.id)],
            }
        )


class NotebookAPIHandler(ServiceHandler):
    """GET api/interviews/<id>/notebook?stamp=S: the candidate's notebook, rendered inert, when it changed since S."""

    @web.authenticated
    async def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        notebook = self.lifecycle.notebook_of(interview.scenario)
        if not notebook:
            raise web.HTTPError(404, f"the scenario '{interview.scenario}' of interview {interview.id} is not installed")
        workspace = self.lifecycle.workspaces_dir / interview.candidate_user
        if not workspace.is_dir():  # after the end: the frozen submission
            workspace = self.lifecycle.submission_dir(interview.id)
        snapshot = await asyncio.to_thread(read_notebook, workspace, notebook)
        if snapshot.notebook is None or snapshot.stamp == self.get_argument("stamp", ""):
            self.finish({"changed": False, "stamp": snapshot.stamp, "problem": snapshot.problem})
            return
        html = await asyncio.to_thread(render_notebook, snapshot.notebook)
        self.finish({"changed": True, "stamp": snapshot.stamp, "html": str(html), "saved_at": snapshot.saved_at, "problem": None})


class FilesAPIHandler(ServiceHandler):
    """GET api/interviews/<id>/files?stamp=S: each scaffold file's diff against the shipped one, when it changed since S."""

    @web.authenticated
    async def get(self, interview_id):
        from ..scenarios.pack import PackError, load_pack

        interview = self.interview_or_refuse(interview_id)
        try:
            pack = load_pack(interview.scenario, Path(self.settings["service_settings"]["scenarios_dir"]))
        except PackError:
            raise web.HTTPError(404, f"the scenario '{interview.scenario}' of interview {interview.id} is not installed") from None
        workspace = self.lifecycle.workspaces_dir / interview.candidate_user
        if not workspace.is_dir():  # after the end: the frozen submission
            workspace = self.lifecycle.submission_dir(interview.id)
        diffs = await asyncio.to_thread(scaffold_diffs, pack, workspace)
        if diffs["stamp"] == self.get_argument("stamp", ""):
            self.finish({"changed": False, "stamp": diffs["stamp"]})
            return
        self.finish(dict(diffs, changed=True))


class HistoryInboxHandler(DefendedResponses):
    """POST/GET api/history: the candidate server's extension streams sealed events here.

    Authenticated with the single-user server's hub token (``Authorization: token ...``); the
    token's owner must be the candidate of an interview that is live (or ending, to take the
    last events while the server shuts down). Events must continue the stored chain.
    """

    def check_xsrf_cookie(self):
        # token-authenticated machine API: no cookies, so no cross-site request to forge
        return

    def write_error(self, status_code, **kwargs):
        exception = kwargs.get("exc_info", (None, None))[1]
        self.finish({"error": getattr(exception, "log_message", None) or self._reason, "status": status_code})

    async def candidate_interview(self):
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token.strip():
            raise web.HTTPError(401, "send the server's hub token: Authorization: token $JUPYTERHUB_API_TOKEN")
        model = await self.settings["hub_auth"].user_for_token(token.strip(), sync=False)
        if not model or model.get("kind", "user") != "user":
            raise web.HTTPError(403, "the token is not a hub user's token")
        interview = self.settings["store"].for_candidate(model["name"])
        if interview is None or interview.state not in (State.live.value, State.ending.value):
            raise web.HTTPError(403, f"{model['name']} is not the candidate of a live interview")
        # the hub token alone is not enough: a candidate can make tokens of their own; only the
        # server the spawner started holds the interview's history secret (CONFINEMENT.md)
        if not history_secret_matches(Path(self.settings["service_settings"]["private_dir"]) / "history_secrets" / interview.id,
                                      self.request.headers.get(HISTORY_SECRET_HEADER, "")):
            raise web.HTTPError(403, "only the interview's own server may add to its history")
        return interview

    async def get(self):
        interview = await self.candidate_interview()
        seq, last_hash = self.settings["store"].history_head(interview.id)
        self.finish({"stored_seq": seq, "last_hash": last_hash})

    async def post(self):
        interview = await self.candidate_interview()
        # a candidate is at work: have a grader ready for their End, once their server's start is past
        self.settings["lifecycle"].keep_a_grader_ready(after=READY_GRADER_AFTER_S)
        try:
            events = json.loads(self.request.body or b"{}").get("events")
        except (ValueError, AttributeError):
            raise web.HTTPError(400, 'the body must be JSON: {"events": [sealed events...]}') from None
        if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
            raise web.HTTPError(400, 'the body must be JSON: {"events": [sealed events...]}')
        if len(events) > MAX_EVENTS_PER_POST:
            raise web.HTTPError(413, f"at most {MAX_EVENTS_PER_POST} events per request")
        store = self.settings["store"]
        try:
            stored = await asyncio.to_thread(store.append_history, interview.id, events)
        except HistoryConflict as conflict:
            # never silently accepted, never lost: kept apart as a divergence, and an alarm
            kept = await asyncio.to_thread(store.record_divergence, interview.id, str(conflict), events)
            log.error("interview %s: HISTORY DIVERGES from the stored chain (%s); %s", interview.id, conflict,
                      "kept as a divergence" if kept else "divergence store full, not kept")
            self.set_status(409)
            self.finish({"error": str(conflict), "stored_seq": conflict.stored_seq, "last_hash": conflict.last_hash,
                         "kept_as_divergent": len(events) if kept else 0})
            return
        if any(candidate_said_done(event) for event in events):
            # "I'm done" in the candidate's JupyterLab: their server recorded it; now in the chain, it ends the interview
            if self.settings["lifecycle"].start_end(interview.id, f"{interview.candidate_name} (candidate)"):
                log.info("interview %s: the candidate ended it", interview.id)
        self.finish({"stored_seq": stored})


def candidate_said_done(event: dict) -> bool:
    """The event the candidate's server records when they click "I'm done" (extension/interview_status.py)."""
    return event.get("kind") == "interview" and event.get("role") == "candidate" and (event.get("detail") or {}).get("event") == "done"


def history_secret_matches(path: Path, offered: str) -> bool:
    try:
        expected = path.read_text().strip()
    except OSError:
        return False
    return bool(expected) and hmac.compare_digest(expected.encode(), offered.encode())


class NotFoundHandler(ServiceHandler):
    """Anything else under the service's prefix: a 404 with the same headers as every page."""

    def prepare(self):
        raise web.HTTPError(404, f"no page {self.request.path} in the interview service")


def load_service_settings() -> dict:
    raw = os.environ.get(SERVICE_SETTINGS_ENV)
    if not raw:
        raise SystemExit(f"${SERVICE_SETTINGS_ENV} is not set: the interview service is started by the hub (see jupyterhub_config.py)")
    return json.loads(raw)


def persistent_secret(path: Path) -> bytes:
    """A secret kept in the private store, so service cookies outlive a service restart."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def make_app(settings: dict) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/interview/")
    hub_auth = HubOAuth(api_token=os.environ["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    store = InterviewStore(settings["store_url"])
    hub = HubClient()
    lifecycle = InterviewLifecycle(store, hub, settings)
    from .service_panel import panel_routes  # it builds on this module's ServiceHandler
    # the hub's pages: on this origin, or (subdomain_host) on the hub's own
    hub_prefix = settings.get("subdomain_host", "").rstrip("/") + os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/"
    jinja = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    from .service_compare import CompareCSVHandler, CompareHandler  # it builds on ServiceHandler, above
    interview_id = r"([a-f0-9]{12})"
    routes = [
        (prefix, HomeHandler),
        (url_path_join(prefix, "oauth_callback"), ServiceOAuthCallbackHandler),
        (url_path_join(prefix, "interviews"), CreateInterviewHandler),
        (url_path_join(prefix, "interviews", interview_id), LiveViewHandler),
        (url_path_join(prefix, "interviews", interview_id, "report"), ReportHandler),
        (url_path_join(prefix, "interviews", interview_id, "playback"), PlaybackHandler),
        (url_path_join(prefix, "interviews", interview_id, "join"), JoinHandler),
        (url_path_join(prefix, "interviews", interview_id, r"(end|note|twist|hint|question|invite|revoke|regrade|cancel)"), InterviewActionHandler),
        (url_path_join(prefix, "compare"), CompareHandler),
        (url_path_join(prefix, r"compare\.csv"), CompareCSVHandler),
        (url_path_join(prefix, "api", "interviews"), InterviewsAPIHandler),
        (url_path_join(prefix, "api", "interviews", interview_id), InterviewAPIHandler),
        (url_path_join(prefix, "api", "interviews", interview_id, "events"), EventsAPIHandler),
        (url_path_join(prefix, "api", "interviews", interview_id, "notebook"), NotebookAPIHandler),
        (url_path_join(prefix, "api", "interviews", interview_id, "files"), FilesAPIHandler),
        (url_path_join(prefix, "api", "interviews", interview_id, "playback"), PlaybackAPIHandler),
        (url_path_join(prefix, "api", "history"), HistoryInboxHandler),
        *panel_routes(prefix, interview_id),
    ]
    return web.Application(
        routes,
        hub_auth=hub_auth,
        store=store,
        panel=PanelStore(store),
        hub=hub,
        lifecycle=lifecycle,
        jinja=jinja,
        service_prefix=prefix,
        hub_prefix=hub_prefix,
        base_url=os.environ.get("JUPYTERHUB_BASE_URL", "/"),
        service_settings=settings,
        cookie_secret=persistent_secret(Path(settings["private_dir"]) / "service_cookie_secret"),
        xsrf_cookies=True,
        login_url=hub_auth.login_url,
        static_path=str(STATIC),
        static_url_prefix=url_path_join(prefix, "static") + "/",
        static_handler_class=ServiceStaticHandler,
        default_handler_class=NotFoundHandler,
    )


def main() -> None:
    settings = load_service_settings()
    logging.basicConfig(level=settings.get("log_level", "INFO"), format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    app = make_app(settings)
    server = HTTPServer(app, xheaders=True)
    # loopback on one machine; on Kubernetes the proxy and candidate pods reach it (hub_kubernetes.py)
    bind_ip = settings.get("bind_ip", "127.0.0.1")
    server.listen(int(settings["port"]), bind_ip)

    async def resume():
        resumed = await app.settings["lifecycle"].resume()
        if resumed:
            log.info("resumed interrupted work on interview(s) %s", ", ".join(resumed))

    IOLoop.current().add_callback(resume)
    # take-homes end on their own: at the deadline, or when their start window closed unused
    PeriodicCallback(app.settings["lifecycle"].sweep_take_homes, settings.get("take_home_sweep_seconds", 30) * 1000).start()
    log.info("interview service listening on %s:%s", bind_ip, settings["port"])
    try:
        IOLoop.current().start()
    except KeyboardInterrupt:  # the hub stops its services with SIGINT first
        log.info("interview service stopped")


if __name__ == "__main__":
    main()
