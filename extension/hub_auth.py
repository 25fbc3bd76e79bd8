"""Logging in: invite codes for candidates, the configured authenticator for interviewers.

``InviteCodeMixin`` goes in front of any JupyterHub ``Authenticator``: the class behind it keeps
logging interviewers in through its own login page, and the mixin adds ``/hub/invite/<code>``
where a candidate's one-time, expiring invite code logs them in as the interview's candidate
user (``cand-<id>``) and sends them to their prepared notebook. A used, expired or revoked code
gets a page that says so and what to do, never a stack trace; the candidate's own code, opened
again in the browser already logged in as them, re-opens their workspace while the interview is
live (from any other browser a used code stays used: the link is no reusable credential).

Once an interview is over (``ending`` and after), every hub page of its candidate (their server's
URLs, spawn, spawn-pending, home) and their invite link send the browser to the end page
``/hub/interview-over`` (``INTERVIEW_OVER_PATH``; anyone may see it, it names no one), an API
request to their server gets a 424 whose JSON names that page: no restart prompt, no login form.
``CandidateDisplayName`` gives the hub's templates (``hub_templates/``) the candidate's name.

``authenticator_class_for(name)`` builds the class the hub runs: ``shared-password`` (the demo:
interviewers share a password) or the import path of any Authenticator (e.g.
``oauthenticator.github.GitHubOAuthenticator``).
"""

from __future__ import annotations

import asyncio
import json
import re
from functools import cached_property

from jupyterhub.auth import Authenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.handlers.base import UserUrlHandler
from jupyterhub.handlers.pages import HomeHandler, SpawnHandler, SpawnPendingHandler
from jupyterhub.utils import get_accepted_mimetype, url_path_join
from tornado import web
from traitlets import Unicode, import_item

from .service_store import CANDIDATE_PREFIX, Interview, InterviewStore, Invite, InviteRefused, State, hash_code

INTERVIEW_OVER_PATH = "interview-over"  # under the hub's prefix: /hub/interview-over
LIVE_STATES = (State.invited.value, State.live.value)

INVITE_REFUSALS = {
    "unknown": ("Invite link not recognised", "This invite link is not valid. Check that you copied the whole link, or ask your interviewer for a new one."),
    "used": ("Invite link already used", "This invite link has already been used; each link logs in once. If you lost your session, ask your interviewer for a new link."),
    "expired": ("Invite link expired", "This invite link has expired. Ask your interviewer for a new one."),
    "revoked": ("Invite link revoked", "This invite link was withdrawn by the interviewer. Ask them for the current link."),
    "ended": ("Interview over", "This interview has ended, so its invite link no longer works. Thank you for taking part."),
    "window_closed": ("Take-home window closed", "The time to start this take-home has passed, so its link no longer works. "
                      "Ask your interviewer for a new link if you still want to take it."),
}


def start_window_closed(interview: Interview | None, reason: str) -> bool:
    """A take-home whose link was not used in time (it may since have been marked a no-show)."""
    return (interview is not None and interview.kind == "take_home"
            and (reason == "expired" or (interview.state == State.no_show.value and interview.started_at is None)))


def is_candidate(username: str) -> bool:
    return username.startswith(CANDIDATE_PREFIX)


def interview_of_invite(store: InterviewStore, code: str) -> Interview | None:
    """The interview an invite code belongs to, whatever the code's state (None: no such code). Reads only."""
    with store.session() as db:
        invite = db.get(Invite, hash_code(code))
        return db.get(Interview, invite.interview_id) if invite is not None else None


def is_over(interview: Interview | None) -> bool:
    return interview is not None and interview.state not in LIVE_STATES


class CandidateDisplayName:
    """``JupyterHub.template_vars`` value: the interview's ``candidate_name`` for a candidate user,
    None for everyone else (the hub's templates show a candidate no hub chrome, and their name
    instead of ``cand-…``)."""

    def __init__(self, store_url: str):
        self.store_url = store_url

    def __call__(self, user) -> str | None:
        if user is None or not is_candidate(user.name):
            return None
        interview = InterviewStore.shared(self.store_url).for_candidate(user.name)
        return (interview.candidate_name if interview is not None else "") or "Candidate"


class InterviewOverPage(BaseHandler):
    """GET /hub/interview-over: the interview is over, thank you. For anyone, logged in or not."""

    async def get(self):
        self.finish(await self.render_template("interview_over.html"))


class SendsEndedCandidatesToTheEndPage:
    """In front of a hub page handler: when the candidate the request is about (the user name in
    the path, else the logged-in user) has an interview that is over, the end page answers
    instead of a restart prompt, a spawn or a login form."""

    def candidate_of_request(self) -> str | None:
        name = self.path_args[0] if self.path_args else getattr(self.current_user, "name", None)
        return name if name and is_candidate(name) else None

    async def prepare(self):
        await super().prepare()
        name = self.candidate_of_request()
        if self._finished or name is None:
            return
        interview = await asyncio.to_thread(self.authenticator.store.for_candidate, name)
        if not is_over(interview):
            return
        end_page = url_path_join(self.hub.base_url, INTERVIEW_OVER_PATH)
        accepted = get_accepted_mimetype(self.request.headers.get("Accept", ""), choices=["application/json", "text/html"])
        if accepted == "application/json" or "api" in self.request.path.split("/"):
            # what JupyterLab polls: the status of a stopped server, and where the end page is
            self.set_status(424)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": "This interview is over. Thank you for taking part.", "interview_over_url": end_page}))
            return
        self.redirect(end_page, status=302 if self.request.method in ("GET", "HEAD") else 303)


class CandidateServerUrlHandler(SendsEndedCandidatesToTheEndPage, UserUrlHandler):
    """/hub/user/cand-…/…: where a candidate's tab lands once their server is gone."""


class CandidateSpawnHandler(SendsEndedCandidatesToTheEndPage, SpawnHandler):
    pass


class CandidateSpawnPendingHandler(SendsEndedCandidatesToTheEndPage, SpawnPendingHandler):
    pass


class CandidateHomeHandler(SendsEndedCandidatesToTheEndPage, HomeHandler):
    pass


CANDIDATE_NAME = f"({re.escape(CANDIDATE_PREFIX)}[^/]+)"
# ahead of the hub's own routes for the same URLs (an authenticator's handlers come first)
END_PAGE_HANDLERS = [
    (rf"/{INTERVIEW_OVER_PATH}", InterviewOverPage),
    (rf"/user/{CANDIDATE_NAME}(/.*)?", CandidateServerUrlHandler),
    (rf"/spawn/{CANDIDATE_NAME}", CandidateSpawnHandler),
    (r"/spawn", CandidateSpawnHandler),
    (rf"/spawn-pending/{CANDIDATE_NAME}", CandidateSpawnPendingHandler),
    (r"/home", CandidateHomeHandler),
]


class InviteLoginHandler(BaseHandler):
    """GET /hub/invite/<code>: log the candidate in with their one-time code."""

    async def get(self, code: str):
        try:
            user = await self.login_user({"invite": code})
        except InviteRefused as refusal:
            interview = await asyncio.to_thread(interview_of_invite, self.authenticator.store, code)
            reason = "window_closed" if start_window_closed(interview, refusal.reason) else refusal.reason
            if is_over(interview) and reason != "window_closed":
                self.redirect(url_path_join(self.hub.base_url, INTERVIEW_OVER_PATH))
                return
            current = self.current_user
            if refusal.reason == "used" and interview is not None and current is not None and current.name == interview.candidate_user:
                # their own link, in the browser they logged in with: back to their workspace
                self.redirect(url_path_join(self.hub.base_url, "spawn", current.escaped_name))
                return
            title, text = INVITE_REFUSALS[reason]
            # 403 (not 404) for an unknown code: the hub's 404 page would not show the explanation
            error = web.HTTPError(403 if reason == "unknown" else 410, reason=title)
            error.jupyterhub_message = text
            raise error from None
        if user is None:
            raise web.HTTPError(403, reason="Invite login refused")
        # the spawner opens the scenario's notebook as the server's default URL
        self.redirect(url_path_join(self.hub.base_url, "spawn", user.escaped_name))


class InviteCodeMixin(Authenticator):
    """Accept candidate invite codes in front of another authenticator (which logs interviewers in)."""

    store_url = Unicode(
        "",
        help="SQLAlchemy URL of the interview store, where invite codes are checked and consumed.",
    ).tag(config=True)

    @cached_property
    def store(self) -> InterviewStore:
        if not self.store_url:
            raise RuntimeError("InviteCodeMixin.store_url is not set; jupyterhub_config.py sets it from the hub settings")
        return InterviewStore.shared(self.store_url)

    def get_handlers(self, app):
        return [(r"/invite/([^/]+)", InviteLoginHandler), *END_PAGE_HANDLERS, *super().get_handlers(app)]

    async def authenticate(self, handler, data):
        if data and "invite" in data:
            interview = self.store.consume_invite(str(data["invite"]))
            self.log.info("Candidate %s logged in with the invite of interview %s", interview.candidate_user, interview.id)
            # name and display_name: what JupyterLab shows for them (its user menu, collaborators' cursors)
            return {"name": interview.candidate_user, "admin": False, "user_info": {
                "name": interview.candidate_name, "display_name": interview.candidate_name,
                "mlinterview": {"role": "candidate", "interview": interview.id},
            }}
        username = (data or {}).get("username", "")
        if is_candidate(str(username).lower()):
            self.log.warning("Refusing password login for candidate name %r: candidates log in with their invite link", username)
            return None
        return await super().authenticate(handler, data)

    def check_allowed(self, username, authentication=None):
        info = ((authentication or {}).get("user_info") or {}).get("mlinterview") or {}
        if info.get("role") == "candidate" and is_candidate(username):
            return True
        if is_candidate(username):
            return False
        return super().check_allowed(username, authentication)


class InterviewSharedPasswordAuthenticator(InviteCodeMixin, SharedPasswordAuthenticator):
    """The demo: invite codes for candidates, one shared password for interviewers."""


def authenticator_class_for(name: str) -> type[Authenticator]:
    """The hub's authenticator class: invite codes in front of ``name``'s authenticator."""
    if name == "shared-password":
        return InterviewSharedPasswordAuthenticator
    base = import_item(name)
    if not (isinstance(base, type) and issubclass(base, Authenticator)):
        raise ValueError(f"authenticator '{name}' is not a JupyterHub Authenticator class")
    return type(f"Invite{base.__name__}", (InviteCodeMixin, base), {"__module__": __name__})


def default_url_for_user(handler) -> str:
    """Where '/' sends someone: candidates to their server, everyone else to the interview service."""
    user = handler.current_user
    if user is not None and is_candidate(user.name):
        return url_path_join(handler.hub.base_url, "spawn", user.escaped_name)
    return url_path_join(handler.base_url, "services", "interview") + "/"
