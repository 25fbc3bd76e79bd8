"""Logging in: invite codes for candidates, the configured authenticator for interviewers.

``InviteCodeMixin`` goes in front of any JupyterHub ``Authenticator``: the class behind it keeps
logging interviewers in through its own login page, and the mixin adds ``/hub/invite/<code>``
where a candidate's one-time, expiring invite code logs them in as the interview's candidate
user (``cand-<id>``) and sends them to their prepared notebook. A used, expired or revoked code
gets a page that says so and what to do, never a stack trace.

``authenticator_class_for(name)`` builds the class the hub runs: ``shared-password`` (the demo:
interviewers share a password) or the import path of any Authenticator (e.g.
``oauthenticator.github.GitHubOAuthenticator``).
"""

from __future__ import annotations

from functools import cached_property

from jupyterhub.auth import Authenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from tornado import web
from traitlets import Unicode, import_item

from .service_store import CANDIDATE_PREFIX, InterviewStore, InviteRefused

INVITE_REFUSALS = {
    "unknown": ("Invite link not recognised", "This invite link is not valid. Check that you copied the whole link, or ask your interviewer for a new one."),
    "used": ("Invite link already used", "This invite link has already been used; each link logs in once. If you lost your session, ask your interviewer for a new link."),
    "expired": ("Invite link expired", "This invite link has expired. Ask your interviewer for a new one."),
    "revoked": ("Invite link revoked", "This invite link was withdrawn by the interviewer. Ask them for the current link."),
    "ended": ("Interview over", "This interview has ended, so its invite link no longer works. Thank you for taking part."),
}


def is_candidate(username: str) -> bool:
    return username.startswith(CANDIDATE_PREFIX)


class InviteLoginHandler(BaseHandler):
    """GET /hub/invite/<code>: log the candidate in with their one-time code."""

    async def get(self, code: str):
        try:
            user = await self.login_user({"invite": code})
        except InviteRefused as refusal:
            title, text = INVITE_REFUSALS[refusal.reason]
            # 403 (not 404) for an unknown code: the hub's 404 page would not show the explanation
            error = web.HTTPError(403 if refusal.reason == "unknown" else 410, reason=title)
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
        return [(r"/invite/([^/]+)", InviteLoginHandler)] + list(super().get_handlers(app))

    async def authenticate(self, handler, data):
        if data and "invite" in data:
            interview = self.store.consume_invite(str(data["invite"]))
            self.log.info("Candidate %s logged in with the invite of interview %s", interview.candidate_user, interview.id)
            return {"name": interview.candidate_user, "admin": False, "user_info": {"mlinterview": {"role": "candidate", "interview": interview.id}}}
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
