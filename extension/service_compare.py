"""Candidates of one scenario side by side: the interviewer's comparison page, its CSV, the overall score.

``GET /services/interview/compare?scenario=<id>[&sort=<column>&order=asc|desc]`` shows every
interview of the scenario this user may see (their own, those whose panel they sit on and, for
a hiring manager, those of their hiring rounds; an admin sees all): state, holdout metric, the rubric's band per signal, bugs fixed, the constraint
verdicts, the overall score, and the panel's recommendations and decision.
``GET /services/interview/compare.csv?scenario=<id>`` is the same table as CSV. Everything
comes from ``Interview.grade_summary`` (``service_lifecycle.summarize_report``), one query for
the interviews and one per panel table: no report.json is read per request (an interview graded
before the summary held the bands is summarised once from its report and stored).

The overall score (``overall_score``), on the 200-600 scale of skills evaluations (200 the
weakest, 600 the strongest), is shown beside the bands, never instead of them::

    score = round(200 + 400 * (0.5 * metric_position + 0.5 * rubric_position))

``rubric_position``  the mean, over the rubric signals that have planted bugs (a signal without
                     any has no band and does not count), of the signal's band as a position:
                     very_weak 0, weak 1/3, strong 2/3, very_strong 1 (a band alone: 200, 333,
                     467, 600).
``metric_position``  where the holdout metric lies between the pack's calibrated baseline (0)
                     and its reference solution (1), clipped to [0, 1]; (value - baseline) /
                     (reference - baseline) is right for metrics where lower is better too. A pack
                     without calibration: the holdout band as a position, as above. No holdout
                     value, or a broken constraint (parameters or training time over, the guard
                     tampered with): 0, a score made outside the rules earns nothing over the baseline.

Without any banded signal the score is the metric's alone (200 + 400 * metric_position). It is
null for an interview that has no report: invited, live, ending, ended, no_show, cancelled,
grading_failed.

Scorecards (``panel_store.py``): a viewer sees the others' recommendations only once their own
scorecard for that interview is submitted (an admin, or a hiring manager of its round, off the
panel sees them); until then the
cell says how many are in. The decision is the newest one recorded.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from tornado import web

from ..scenarios.schema import ALL_SIGNALS as SIGNALS, RUBRIC_SIGNALS  # the rubric's, production last
from .service_app import ServiceHandler
from .service_store import Interview, State

BAND_POSITIONS = {"very_weak": 0.0, "weak": 1 / 3, "strong": 2 / 3, "very_strong": 1.0}
METRIC_WEIGHT = 0.5  # the other half is the rubric's signals
SCORE_LOW, SCORE_HIGH = 200, 600
RECOMMENDATION_ORDER = ("strong_no_hire", "no_hire", "hire", "strong_hire")
STATE_ORDER = [state.value for state in State]
STATE_LABELS = {"no_show": "no-show", "grading_failed": "grading failed"}
CONSTRAINT_ORDER = ("ok", "unknown", "over")
# a spreadsheet runs a cell that starts like a formula: the CSV's text cells never do
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# -- the overall score ---------------------------------------------------------------------------
def band_position(band: str | None) -> float | None:
    return BAND_POSITIONS.get(band) if band else None


def constraints_broken(summary: dict[str, Any]) -> bool:
    constraints = summary.get("constraints") or {}
    return any(constraints.get(key) == "over" for key in ("parameters", "training_time")) or bool(constraints.get("tampering"))


def metric_position(summary: dict[str, Any]) -> float:
    """The holdout metric between the calibrated baseline (0) and reference (1), or its band's position."""
    holdout = summary.get("holdout") or {}
    value = holdout.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or constraints_broken(summary):
        return 0.0
    baseline, reference = holdout.get("baseline"), holdout.get("reference")
    if isinstance(baseline, (int, float)) and isinstance(reference, (int, float)) and reference != baseline:
        return min(1.0, max(0.0, (value - baseline) / (reference - baseline)))
    return band_position(holdout.get("band")) or 0.0


def rubric_position(summary: dict[str, Any]) -> float | None:
    """The mean band position of the signals that have a band (None: no signal has one)."""
    positions = [band_position((signal or {}).get("band")) for signal in (summary.get("signals") or {}).values()]
    positions = [position for position in positions if position is not None]
    return sum(positions) / len(positions) if positions else None


def overall_score(state: str, summary: dict[str, Any]) -> int | None:
    """The 200-600 overall score of a graded interview (the module docstring's formula); None without a report."""
    if state != State.graded.value or not summary.get("holdout"):
        return None
    metric = metric_position(summary)
    rubric = rubric_position(summary)
    position = metric if rubric is None else METRIC_WEIGHT * metric + (1 - METRIC_WEIGHT) * rubric
    return round(SCORE_LOW + (SCORE_HIGH - SCORE_LOW) * position)


# -- the rows ------------------------------------------------------------------------------------
@dataclass
class Row:
    """One interview in the comparison, with what its cells show."""

    interview: Interview
    summary: dict[str, Any]
    score: int | None
    panel: dict[str, Any]

    @property
    def holdout(self) -> dict[str, Any]:
        return self.summary.get("holdout") or {}

    def band(self, signal: str) -> str | None:
        return ((self.summary.get("signals") or {}).get(signal) or {}).get("band")

    def constraint(self, key: str) -> str | None:
        return (self.summary.get("constraints") or {}).get(key)


def summary_of(lifecycle, interview: Interview) -> dict[str, Any]:
    """The interview's grade summary; one graded before the summary held the bands is summarised
    again from its report, once, and stored."""
    from .service_lifecycle import SUMMARY_VERSION, summarize_report

    summary = json.loads(interview.grade_summary or "{}")
    if interview.state == State.graded.value and summary.get("version", 1) < SUMMARY_VERSION:
        report = lifecycle.report_dir(interview.id) / "report.json"
        if report.is_file():
            summary = summarize_report(report) or summary
            lifecycle.store.update(interview.id, grade_summary=json.dumps(summary))
    return summary


def panel_cells(store, interviews: list[Interview], viewer: str, reads_all: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """Per interview: the recommendations this viewer may see, how many are in, the newest decision.
    ``reads_all``: the interviews whose submitted votes the viewer reads without one of their own
    (an admin's, a hiring manager's of its round, when they are not on its panel).
    Empty when the store has no panel tables (``panel_store.py``)."""
    reads_all = set(reads_all)
    try:
        from .panel_store import HiringDecision, PanelMember, Scorecard
    except ImportError:
        return {}
    from sqlalchemy import select

    ids = [interview.id for interview in interviews]
    cells: dict[str, dict[str, Any]] = {i: {"recommendations": [], "submitted": 0, "hidden": False, "decision": None} for i in ids}
    if not ids:
        return cells
    with store.session() as db:
        cards = list(db.scalars(select(Scorecard).where(Scorecard.interview_id.in_(ids), Scorecard.submitted_at.is_not(None))
                                .order_by(Scorecard.submitted_at, Scorecard.id)))
        on_panel = set(db.scalars(select(PanelMember.interview_id).where(PanelMember.interview_id.in_(ids), PanelMember.user == viewer)))
        for decision in db.scalars(select(HiringDecision).where(HiringDecision.interview_id.in_(ids)).order_by(HiringDecision.decided_at, HiringDecision.id)):
            cells[decision.interview_id]["decision"] = decision.decision  # the newest counts
    owners = {interview.id: interview.interviewer for interview in interviews}
    submitted_by_viewer = {card.interview_id for card in cards if card.author == viewer}
    for card in cards:
        cells[card.interview_id]["submitted"] += 1
    for interview_id, cell in cells.items():
        sits_on_it = owners[interview_id] == viewer or interview_id in on_panel
        # never the others' votes before one's own is in (an admin or a hiring manager off the panel casts none)
        cell["hidden"] = interview_id not in submitted_by_viewer and (sits_on_it or interview_id not in reads_all)
    for card in cards:
        if not cells[card.interview_id]["hidden"]:
            cells[card.interview_id]["recommendations"].append({"author": card.author, "recommendation": card.recommendation})
    return cells


def comparison_rows(lifecycle, interviews: list[Interview], viewer: str, reads_all: Iterable[str] = ()) -> list[Row]:
    panel = panel_cells(lifecycle.store, interviews, viewer, reads_all)
    rows = []
    for interview in interviews:
        summary = summary_of(lifecycle, interview)
        rows.append(Row(interview, summary, overall_score(interview.state, summary), panel.get(interview.id, {})))
    return rows


def scorecards_text(row: Row) -> str | None:
    """The recommendations cell in words; None when there are no panel tables."""
    panel = row.panel
    if not panel:
        return None
    if panel["hidden"]:
        return f"{panel['submitted']} submitted (submit yours to see them)" if panel["submitted"] else None
    return "; ".join(f"{vote['author']}: {(vote['recommendation'] or '').replace('_', ' ')}" for vote in panel["recommendations"]) or None


def _recommendation_mean(row: Row) -> float | None:
    votes = [RECOMMENDATION_ORDER.index(vote["recommendation"]) for vote in (row.panel or {}).get("recommendations", [])
             if vote["recommendation"] in RECOMMENDATION_ORDER]
    return sum(votes) / len(votes) if votes else None


def _index_or_none(order, value) -> int | None:
    return order.index(value) if value in order else None


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort_value: Callable[[Row], Any]  # None sorts last, whichever the order
    text: Callable[[Row], Any]  # the CSV's cell (and the page's, unless the template says more)


def _holdout_text(row: Row):
    value = row.holdout.get("value")
    return value if isinstance(value, (int, float)) else None


def _bugs_text(row: Row):
    return f"{row.summary['bugs_fixed']}/{row.summary['bugs_total']}" if row.summary.get("bugs_total") is not None else None


COLUMNS = [
    Column("candidate", "Candidate", lambda r: r.interview.candidate_name.casefold(), lambda r: r.interview.candidate_name),
    Column("state", "State", lambda r: STATE_ORDER.index(r.interview.state) if r.interview.state in STATE_ORDER else None,
           lambda r: STATE_LABELS.get(r.interview.state, r.interview.state)),
    Column("score", "Overall (200-600)", lambda r: r.score, lambda r: r.score),
    Column("holdout", "Holdout metric", _holdout_text, _holdout_text),
    Column("metric_band", "Metric band", lambda r: _index_or_none(tuple(BAND_POSITIONS), r.holdout.get("band")), lambda r: r.holdout.get("band")),
    *[
        Column(signal, signal.replace("_", " ").capitalize(), lambda r, s=signal: _index_or_none(tuple(BAND_POSITIONS), r.band(s)),
               lambda r, s=signal: r.band(s))
        for signal in SIGNALS
    ],
    Column("bugs", "Bugs fixed", lambda r: (r.summary.get("bugs_fixed"), r.summary.get("bugs_total")) if r.summary.get("bugs_total") is not None else None,
           _bugs_text),
    Column("parameters", "Parameters", lambda r: _index_or_none(CONSTRAINT_ORDER, r.constraint("parameters")), lambda r: r.constraint("parameters")),
    Column("training_time", "Training time", lambda r: _index_or_none(CONSTRAINT_ORDER, r.constraint("training_time")),
           lambda r: r.constraint("training_time")),
    Column("scorecards", "Scorecards", _recommendation_mean, scorecards_text),
    Column("decision", "Decision", lambda r: (r.panel or {}).get("decision"), lambda r: (r.panel or {}).get("decision")),
    Column("interviewer", "Interviewer", lambda r: r.interview.interviewer.casefold(), lambda r: r.interview.interviewer),
    Column("ended", "Ended (UTC)", lambda r: r.interview.ended_at, lambda r: r.interview.ended_at.strftime("%Y-%m-%d %H:%M") if r.interview.ended_at else None),
]
COLUMN_KEYS = {column.key: column for column in COLUMNS}


def shown_columns(rows: list[Row]) -> tuple[list[Column], tuple[str, ...]]:
    """The table's columns and signals for these rows: production only where a report rates it (a serving pack)."""
    signals = tuple(s for s in SIGNALS if s in RUBRIC_SIGNALS or any(row.band(s) for row in rows))
    return [column for column in COLUMNS if column.key not in SIGNALS or column.key in signals], signals


def sort_rows(rows: list[Row], key: str, descending: bool) -> list[Row]:
    """Rows by one column; empty cells last in either order, ties by candidate name."""
    column = COLUMN_KEYS[key]
    by_name = sorted(rows, key=lambda r: r.interview.candidate_name.casefold())
    present = [r for r in by_name if column.sort_value(r) is not None]
    empty = [r for r in by_name if column.sort_value(r) is None]
    return sorted(present, key=column.sort_value, reverse=descending) + empty


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def comparison_csv(rows: list[Row], metric: str | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # quotes what needs it: commas, quotes, line breaks in names
    columns, _signals = shown_columns(rows)
    writer.writerow(["interview", *(f"{column.label} ({metric})" if column.key == "holdout" and metric else column.label for column in columns)])
    for row in rows:
        writer.writerow([row.interview.id, *(csv_cell(column.text(row)) for column in columns)])
    return out.getvalue()


# -- the handlers --------------------------------------------------------------------------------
class ComparisonRequest(ServiceHandler):
    """What the page and the CSV share: the scenario, the rows this user may see, the order."""

    def sorted_rows(self, scenario: str) -> tuple[list[Row], str, bool]:
        key = self.get_argument("sort", "score")
        if key not in COLUMN_KEYS:
            raise web.HTTPError(400, f"sort by one of: {', '.join(COLUMN_KEYS)}")
        order = self.get_argument("order", "desc" if key == "score" else "asc")
        if order not in ("asc", "desc"):
            raise web.HTTPError(400, "order is asc or desc")
        interviews = [i for i in self.listed_interviews() if i.scenario == scenario]
        reads_all = [i.id for i in interviews if self.is_admin or self.manages(i)]
        rows = comparison_rows(self.lifecycle, interviews, self.user_name, reads_all)
        return sort_rows(rows, key, order == "desc"), key, order == "desc"


def metric_of(rows: list[Row]) -> str | None:
    return next((row.holdout.get("metric") for row in rows if row.holdout.get("metric")), None)


class CompareHandler(ComparisonRequest):
    @web.authenticated
    def get(self):
        scenario = self.get_argument("scenario", "")
        visible = self.listed_interviews()
        counts: dict[str, int] = {}
        for interview in visible:
            counts[interview.scenario] = counts.get(interview.scenario, 0) + 1
        if not scenario:
            self.render_page("compare.html", scenario=None, scenario_counts=sorted(counts.items()), rows=[], columns=COLUMNS)
            return
        rows, key, descending = self.sorted_rows(scenario)
        columns, signals = shown_columns(rows)
        self.render_page(
            "compare.html", scenario=scenario, scenario_counts=sorted(counts.items()), rows=rows, columns=columns,
            sort=key, descending=descending, metric=metric_of(rows), signals=signals, state_labels=STATE_LABELS,
            scorecards_text=scorecards_text, has_panel=any(row.panel for row in rows),
        )


class CompareCSVHandler(ComparisonRequest):
    @web.authenticated
    def get(self):
        scenario = self.get_argument("scenario", "")
        if not scenario:
            raise web.HTTPError(400, "say which scenario: compare.csv?scenario=<id>")
        rows, _, _ = self.sorted_rows(scenario)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="compare-{scenario if scenario.replace("-", "").isalnum() else "scenario"}.csv"')
        self.finish(comparison_csv(rows, metric_of(rows)))
