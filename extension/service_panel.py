"""The hiring panel's pages: co-interviewers, a scorecard per interviewer, the debrief, the decision.

Who is who on one interview: its *panel* is its owner (``Interview.interviewer``) and the
co-interviewers the owner (or an admin) invited from the hub's ``interviewers``; *hiring managers*
see the interviews of their hiring rounds and own the decision there (hub settings
``hiring_managers``: every round; ``hiring_rounds``: the managers of each round). Each panel member
writes a scorecard of their own (a band and evidence per rubric signal of the pack, an overall
recommendation and its confidence), saved as a draft, then submitted, after which it never
changes except for the vote, changed with a reason in the debrief (the history is kept).

Independence: before a panel member has submitted, nothing of anyone else's scorecard reaches
them, not on a page, not through the API; the grader's evidence is shown beside each signal as a
suggestion, never filled in. A hiring manager who is not on the panel (or an admin) reads every
submitted scorecard; drafts are their author's alone.

Pages and API (under the service's prefix, ``service_app.make_app`` routes them):

``interviews/<id>/scorecard``          GET the viewer's scorecard and the panel; POST save / submit
``interviews/<id>/panel``              POST invite a co-interviewer (the owner or an admin)
``interviews/<id>/vote``               POST change a submitted vote, with a reason
``interviews/<id>/debrief``            GET every submitted scorecard beside the report's evidence,
                                       disagreements highlighted, vote changes, the decision
``interviews/<id>/decision``           POST the hiring manager's hire / no_hire and note
``api/interviews/<id>/scorecards``     GET {"scorecards": [...], "decision": ..., ...} as the viewer may see them
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyterhub.utils import url_path_join
from tornado import web

from ..scenarios.schema import RUBRIC_SIGNALS
from .panel_store import BANDS, CONFIDENCES, DECISIONS, RECOMMENDATIONS, ScorecardRefused, disagreements
from .service_app import ServiceHandler


class PanelHandler(ServiceHandler):
    """What the panel's pages share: who the viewer is on this interview, and what they may read."""

    def on_panel(self, interview) -> bool:
        return interview.interviewer == self.user_name or self.panel.is_member(interview.id, self.user_name)

    def panel_of(self, interview) -> list[str]:
        return [interview.interviewer, *self.panel.members(interview.id)]

    def reads_all_submitted(self, interview) -> bool:
        """Whether the viewer may read everyone's submitted scorecards: a panel member once theirs is
        submitted; a hiring manager or an admin who is not on the panel (nothing of theirs to keep independent)."""
        if self.on_panel(interview):
            own = self.panel.scorecard(interview.id, self.user_name)
            return own is not None and own.submitted
        return self.manages(interview) or self.is_admin

    def pack_signals(self, interview) -> dict[str, Any]:
        """The pack's rubric signals {name: its description and band texts}, in the rubric's order."""
        from ..scenarios.pack import PackError, load_pack

        try:
            manifest = load_pack(interview.scenario, Path(self.settings["service_settings"]["scenarios_dir"])).manifest
        except PackError:
            return {name: None for name in RUBRIC_SIGNALS}
        return {name: manifest.rubric.signals[name] for name in manifest.signals}

    def answers(self, interview) -> list[dict[str, Any]]:
        """The candidate's written answers, from the authoritative record, each with the pack's note on
        what a strong answer covers (mlinterview/playback.py ``last_answers``)."""
        from ..playback import last_answers
        from ..scenarios.pack import PackError, load_pack

        try:
            questions = load_pack(interview.scenario, Path(self.settings["service_settings"]["scenarios_dir"])).manifest.questions
        except PackError:
            return []
        notes = {q.id: q.notes.strip() for q in questions}
        return [dict(answer, notes=notes[answer["question"]], key=f"answer:{answer['question']}")
                for answer in last_answers(self.store.history(interview.id), questions)]

    def grader_evidence(self, interview) -> dict[str, Any]:
        """The report's evidence per signal ({} until there is a report): a suggestion beside the scorecard."""
        path = self.lifecycle.report_dir(interview.id) / "report.json"
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("rubric", {}).get("signals", {}) or {}
        except (OSError, ValueError, AttributeError):
            return {}

    def visible_scorecards(self, interview) -> list:
        """The scorecards the viewer may read: their own (draft or not), and the submitted ones when allowed."""
        shown = list(self.panel.submitted_scorecards(interview.id)) if self.reads_all_submitted(interview) else []
        own = self.panel.scorecard(interview.id, self.user_name)
        if own is not None and all(card.author != own.author for card in shown):
            shown.insert(0, own)
        return shown

    def decision(self, interview):
        decisions = self.panel.decisions(interview.id)
        return decisions[-1] if decisions else None

    def back_to(self, interview, page: str) -> None:
        self.redirect(url_path_join(self.prefix, "interviews", interview.id, page))


class ScorecardHandler(PanelHandler):
    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        if not self.on_panel(interview):
            self.back_to(interview, "debrief")  # a hiring manager or an admin off the panel has no scorecard to write
            return
        members = self.panel_of(interview)
        self.render_page(
            "scorecard.html", interview=interview, card=self.panel.scorecard(interview.id, self.user_name),
            signals=self.pack_signals(interview), answers=self.answers(interview), suggestions=self.grader_evidence(interview), bands=BANDS,
            recommendations=RECOMMENDATIONS, confidences=CONFIDENCES, panel=members,
            may_invite=interview.interviewer == self.user_name or self.is_admin,
            invitable=[name for name in self.settings["service_settings"].get("interviewers", []) if name not in members],
            changes=self.panel.vote_changes(interview.id).get(self.user_name, []),
        )

    @web.authenticated
    def post(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        if not self.on_panel(interview):
            raise web.HTTPError(403, "only the interview's panel writes scorecards; ask its interviewer to invite you")
        action = self.get_body_argument("action", "save")
        if action not in ("save", "submit"):
            raise web.HTTPError(400, "action is 'save' (a draft) or 'submit' (final)")
        signals = self.pack_signals(interview)
        answered = [answer["key"] for answer in self.answers(interview) if answer["text"]]
        ratings = {signal: {"band": self.get_body_argument(f"band_{signal}", ""),
                            "evidence": self.get_body_argument(f"evidence_{signal}", "")} for signal in [*signals, *answered]}
        try:
            self.panel.save_scorecard(
                interview.id, self.user_name, signals, ratings, self.get_body_argument("recommendation", ""),
                self.get_body_argument("confidence", ""), self.get_body_argument("summary", ""), submit=action == "submit",
                optional=answered,
            )
        except ScorecardRefused as refused:
            raise web.HTTPError(409 if "submitted" in str(refused) else 400, str(refused))
        self.back_to(interview, "debrief" if action == "submit" else "scorecard")


class PanelInviteHandler(PanelHandler):
    @web.authenticated
    def post(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        if interview.interviewer != self.user_name and not self.is_admin:
            raise web.HTTPError(403, f"only {interview.interviewer}, who runs this interview, invites co-interviewers")
        user = self.get_body_argument("user", "").strip()
        if user not in self.settings["service_settings"].get("interviewers", []):
            raise web.HTTPError(400, f"'{user}' is not one of this hub's interviewers (hub settings: interviewers)")
        self.panel.add_member(interview.id, user, self.user_name)
        self.back_to(interview, "scorecard")


class VoteChangeHandler(PanelHandler):
    @web.authenticated
    def post(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        if not self.on_panel(interview):
            raise web.HTTPError(403, "only the interview's panel votes")
        try:
            self.panel.change_vote(interview.id, self.user_name, self.get_body_argument("recommendation", ""),
                                   self.get_body_argument("confidence", ""), self.get_body_argument("reason", ""))
        except ScorecardRefused as refused:
            raise web.HTTPError(400, str(refused))
        self.back_to(interview, "debrief")


class DebriefHandler(PanelHandler):
    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        if not self.reads_all_submitted(interview):
            raise web.HTTPError(403, "submit your own scorecard first: the debrief shows the others' only after that")
        cards = self.panel.submitted_scorecards(interview.id)
        signals = self.pack_signals(interview)
        submitted = {card.author for card in cards}
        self.render_page(
            "debrief.html", interview=interview, cards=cards, ratings={card.author: json.loads(card.ratings) for card in cards},
            signals=signals, answers=self.answers(interview), suggestions=self.grader_evidence(interview), disagreement=disagreements(cards, signals),
            changes=self.panel.vote_changes(interview.id), pending=[name for name in self.panel_of(interview) if name not in submitted],
            decisions=self.panel.decisions(interview.id), may_decide=self.manages(interview), decision_choices=DECISIONS,
            own=next((card for card in cards if card.author == self.user_name), None),
            recommendations=RECOMMENDATIONS, confidences=CONFIDENCES, has_report=self.lifecycle.report_ready(interview),
        )


class DecisionHandler(PanelHandler):
    @web.authenticated
    def post(self, interview_id):
        interview = self.store.get(interview_id)
        if interview is None:
            raise web.HTTPError(404, f"no interview {interview_id}")
        if not self.manages(interview):
            raise web.HTTPError(403, "only a hiring manager of the interview's hiring round records the decision "
                                     "(hub settings: hiring_managers, hiring_rounds)")
        try:
            self.panel.record_decision(interview.id, self.get_body_argument("decision", ""), self.get_body_argument("note", ""),
                                       self.user_name)
        except ScorecardRefused as refused:
            raise web.HTTPError(400, str(refused))
        self.back_to(interview, "debrief")


class ScorecardsAPIHandler(PanelHandler):
    """GET api/interviews/<id>/scorecards: what the viewer may read of the panel's feedback."""

    @web.authenticated
    def get(self, interview_id):
        interview = self.interview_or_refuse(interview_id)
        reads_all = self.reads_all_submitted(interview)
        changes = self.panel.vote_changes(interview.id)
        cards = self.visible_scorecards(interview)
        decision = self.decision(interview)
        self.finish({
            "scorecards": [{**card.to_json(), "vote_changes": [c.to_json() for c in changes.get(card.author, [])]} for card in cards],
            "decision": decision.to_json() if decision and reads_all else None,
            "panel": self.panel_of(interview),
            "hiring_round": interview.hiring_round or interview.scenario,
            # before the viewer's own is submitted, the others' are withheld (not even their number)
            "withheld": not reads_all,
            "disagreements": disagreements([c for c in cards if c.submitted], self.pack_signals(interview)) if reads_all else None,
        })


def panel_routes(prefix: str, interview_id: str) -> list[tuple[str, type]]:
    """The panel's routes, for ``service_app.make_app``."""
    def page(name: str) -> str:
        return url_path_join(prefix, "interviews", interview_id, name)

    return [
        (page("scorecard"), ScorecardHandler),
        (page("panel"), PanelInviteHandler),
        (page("vote"), VoteChangeHandler),
        (page("debrief"), DebriefHandler),
        (page("decision"), DecisionHandler),
        (url_path_join(prefix, "api", "interviews", interview_id, "scorecards"), ScorecardsAPIHandler),
    ]
