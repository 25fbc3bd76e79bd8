"""The grading report: its schema (``mlinterview.report/1``), how it is built, JSON and HTML.

``report.json`` is one object; every consumer should check ``schema``. Fields:

``schema``           ``"mlinterview.report/1"``
``generated``        ISO 8601 time (UTC) of grading; ``grading_seconds``: how long it took
``scenario``         ``id``, ``version``, ``title``, ``metric`` {name, direction}, ``max_parameters``,
                     ``train_time_budget_seconds``
``submission``       ``folder``, ``candidate``, ``interview``, ``started``, ``ended``, ``notebook``,
                     ``data_seed``, ``problems`` (what could not be read), ``notes`` (conversions,
                     "left out: <path>, a symlink to ..."), ``left_out`` [{path, why}]: links, FIFOs,
                     devices and hard links the freeze or the grader never followed
``verdict``          ``status`` (``graded``: everything ran; ``graded_with_problems``: a replay
                     stopped, predictions were rejected, a constraint was broken or the history is
                     not intact; ``not_gradable``: no replay could produce predictions), ``headline``
                     (one sentence), ``problems`` (each a sentence), ``rank_key`` (sortable list,
                     higher ranks first: [has a holdout score, constraints kept, reproducible,
                     score signed so that higher is better, bugs fixed])
``holdout``          ``metric``, ``value`` (of the final notebook, top to bottom; null when there is
                     none), ``band``, ``baseline``, ``reference`` (from the pack's calibration, null
                     when not calibrated), ``problems``
``replays``          ``top_to_bottom`` and ``history_order``: ``order`` (in words), ``kernel_name``,
                     ``kernel_start_s``, ``cells_s``, ``cells`` [{label, status ok/error/limit/not_run,
                     role, duration_s, ename, evalue, output_bytes, recorded_status}], ``stopped``
                     {limit, cell, detail} or null, ``first_error``, ``sandbox`` (what held),
                     ``scores`` {holdout, validation: {ok, metric, problems, count, summary; validation
                     also ``data``: the candidate's file it was measured on, their validation file or,
                     in a pack without one, their labelled data}}, ``notes``
``reproducibility``  ``hidden_state`` (true/false; null when a comparison was impossible),
                     ``differences`` (sentences: what makes it hidden state), ``observations``
                     (sentences: fix-and-rerun, differences within the spread; not flagged),
                     ``tolerance`` (the difference allowed), ``spread`` (the calibration's);
                     see :mod:`mlinterview.graders.reproducibility`
``bugs``             [{id, title, kind, signal, location, fixed, status (fixed / not_fixed /
                     undetermined / error), probe_message (the deciding sentence), decided_by
                     (notebook run / scaffold as the notebook left it / scaffold files / missing
                     evidence / conflict), evidence [{source, check, status, detail}], probe_only
                     (the pack's reason, for a habit bug the holdout cannot show), interviewer_notes}]
``rubric``           ``metric_band``, ``metric_evidence`` (sentence), ``signals`` {signal: {band,
                     fixed, total, bugs, undetermined, evidence [{bug, status, decided_by, detail}],
                     observed (what decided the band, in words), description, band_meaning (the
                     rubric's text for the band: what the band means, not something observed),
                     band_text (the same, kept for older readers)}}; a signal's band comes from the
                     share of its planted bugs fixed (none: very_weak, some: weak, most: strong, all:
                     very_strong), but ``production``'s (with ``from``: ``request_suite``) from ``serving``
``serving``          null, or for a pack with ``[serving]`` (:mod:`mlinterview.graders.serving`): ``tested``,
                     ``answered``, ``problem``, ``start`` (argv, listening, exit_code, start_s), ``kinds``
                     {valid, malformed, anomalous, concurrent: {right, total}}, ``wrong`` (how many), ``failures``
                     (the first 40) [{request, kind, expected, got, answer (the start of its body)}], ``latency_budget_ms``, ``p95_ms`` (single-row requests, the first left
                     out), ``p95_concurrent_ms``, ``within_budget``, ``served_metric`` (the pack's metric on the
                     served predictions of ``served_rows`` holdout rows), ``differs_from_notebook`` (mean absolute
                     gap between served and notebook predictions), ``band``, ``observed``, ``log_tail`` (the app's
                     output); the ``production`` signal's band is this ``band``
``constraints``      ``parameters`` {limit, models [{path, class, trainable, total, module_parameters,
                     other_tensors, places [{path, count, kind}], optimizers}], loose, guard, largest,
                     verdict ok/over/unknown, replay}, ``training_time`` {budget_s (CPU), longest_cell_s,
                     longest_cell_cpu_s, cell, verdict ok/over/unknown}, ``tampering`` (sentences),
                     ``recorded`` (constraint events of the history); see
                     :mod:`mlinterview.graders.constraint_audit`
``integrity``        ``history`` (verified true/false/null, events, problems), ``flags`` (sentences:
                     writes outside the working copy, reaching for the holdout or private files),
                     ``playback`` {complete, saves, gaps, flags}: whether every save of the notebook and
                     the files is in the record whole, and the session's facts for a reviewer (pasted
                     code, idle stretches, other files opened; :mod:`mlinterview.playback`)
``timeline``         [{t (s since start), kind, role, status, label}] from the history
``answers``          [{question, prompt, signal, text, time, characters, saves, over_budget}]: the candidate's
                     last saved answer to each of the pack's open questions (empty text: unanswered)
``time``             ``time_up_at`` (when the budget ran out, or null), ``time_out`` (soft/hard),
                     ``active_minutes`` and ``breaks`` (measured from the record: gaps of ``break_minutes``
                     or more between the candidate's runs, edits and answers are breaks),
                     ``overtime_executions`` (cells run after it), ``refused_after_time_up``,
                     ``done_by_candidate_at`` (the candidate's "I'm done", or null)
``confinement``      ``complete`` (bool), ``gaps``: what the sandbox could not do for a replay (no
                     namespaces, the grader's own user, ...), shown at the top of the HTML report
``scaffold``         ``present``, ``files`` [{file, status modified/added/deleted, diff}]

``report.html`` shows the same, self-contained (inline CSS and SVG, no network).

This module decides what the report says; :mod:`mlinterview.graders.render` writes it down
(``write_report``, ``render_html``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..playback import active_minutes, completeness as playback_completeness, last_answers
from ..scenarios.pack import ScenarioPack
from ..scenarios.schema import BAND_NAMES, PRODUCTION_SIGNAL
from .constraint_audit import constraint_verdicts, parameter_limit
from .replay import SHARED_TMP_NOTE
from .reproducibility import calibration_spread, compare_replays
from .render import render_html, write_report  # noqa: F401  (the writing side, importable from here as before)

REPORT_SCHEMA = "mlinterview.report/1"
BAND_ORDER = {name: rank for rank, name in enumerate(BAND_NAMES)}
SUSPICIOUS_CODE = (
    ("MLINTERVIEW_HOLDOUT_SEED", "reads the holdout-seed variable"),
    ("holdout-seed", "names the holdout-seed file"),
    ("make_holdout", "calls the holdout generator"),
    ("/private", "reaches into a private folder"),
    (".grader-io", "touches the grader's exchange folder"),
    ("guard.uninstall", "switches the kernel's constraint guard off"),
)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _scenario_part(pack: ScenarioPack) -> dict[str, Any]:
    manifest = pack.manifest
    return {
        "id": manifest.id,
        "version": manifest.version,
        "title": manifest.title,
        "metric": manifest.metric.model_dump(),
        "max_parameters": manifest.constraints.max_parameters,
        "train_time_budget_seconds": manifest.constraints.train_time_budget_seconds,
    }


def failed_report(folder: Path, pack: ScenarioPack, problem: str, details: str | None = None) -> dict[str, Any]:
    """The report of a submission that could not be graded at all."""
    return {
        "schema": REPORT_SCHEMA,
        "generated": _now(),
        "scenario": _scenario_part(pack),
        "submission": {"folder": str(folder), "problems": [problem], "notes": []},
        "verdict": {"status": "not_gradable", "headline": problem, "problems": [problem], "rank_key": [0, 0, 0, 0.0, 0]},
        "holdout": {"metric": pack.manifest.metric.name, "value": None, "band": None, **calibration_figures(pack), "problems": [problem]},
        "replays": {},
        "reproducibility": {"hidden_state": None, "differences": [], "tolerance": None},
        "bugs": [],
        "rubric": {"metric_band": None, "signals": {}},
        "constraints": {},
        "integrity": {"history": {"verified": None, "events": 0, "problems": []}, "flags": [],
                      "playback": {"complete": False, "saves": 0, "gaps": ["no history"], "flags": []}},
        "timeline": [],
        "scaffold": {"present": None, "files": []},
        "internal_error": details,
    }


def calibration_figures(pack: ScenarioPack) -> dict[str, float | None]:
    """Baseline and reference holdout metric from ``private/calibration.json`` (null when absent)."""
    path = pack.private_dir / "calibration.json"
    figures: dict[str, float | None] = {"baseline": None, "reference": None}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return figures
    for key in figures:
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):
            value = value.get("mean", value.get("metric", value.get("value")))
        if isinstance(value, (int, float)):
            figures[key] = float(value)
    return figures


def _signal_band(fixed: int, total: int) -> str:
    if fixed == 0:
        return "very_weak"
    if fixed == total:
        return "very_strong"
    return "strong" if fixed / total >= 0.5 else "weak"


def _signal_evidence(manifest, signal: str, bugs: list[dict[str, Any]]) -> dict[str, Any]:
    """One rubric signal: its band, what decided it (each bug's verdict and its source), and what the
    band means in the rubric, kept apart from what was observed."""
    own = [b for b in bugs if b["signal"] == signal]
    rubric_signal = manifest.rubric.signals[signal]
    fixed = sum(b["fixed"] for b in own)
    undetermined = [b["id"] for b in own if b["status"] == "undetermined"]
    band = _signal_band(fixed, len(own)) if own else None
    evidence = [
        {"bug": b["id"], "status": b["status"], "decided_by": b["decided_by"], "detail": b["probe_message"]} for b in own
    ]
    if own:
        observed = f"{fixed} of {len(own)} planted bug(s) of this signal fixed, decided by the grader's probes and checks of the replay"
        if undetermined:
            observed += f"; {len(undetermined)} undetermined ({', '.join(undetermined)}), counted as not fixed"
        observed += ". Nothing else of this signal was observed: the band comes from the planted bugs alone."
    else:
        observed = "no planted bug in this signal: nothing was observed"
    meaning = getattr(rubric_signal, band).strip() if band else None
    return {
        "band": band, "fixed": fixed, "total": len(own), "bugs": [b["id"] for b in own], "undetermined": undetermined,
        "evidence": evidence, "observed": observed,
        "description": rubric_signal.description.strip(),
        "band_meaning": meaning,
        "band_text": meaning or "no planted bug in this signal",
    }


def _production_evidence(manifest, from_bugs: dict[str, Any], serving: dict[str, Any]) -> dict[str, Any]:
    """The production signal of a pack with [serving]: its band from the grader's request suite (what the
    app answered, how fast), the planted bugs' verdicts kept beside it as evidence."""
    band = serving["band"]
    observed = f"{serving['observed'][0].upper()}{serving['observed'][1:]}; the band comes from these answers"
    if from_bugs["total"]:
        observed += f". Beside it, {from_bugs['fixed']} of {from_bugs['total']} planted bug(s) of this signal fixed (the bugs' verdicts)"
    meaning = getattr(manifest.rubric.signals[PRODUCTION_SIGNAL], band).strip()
    return {**from_bugs, "band": band, "from": "request_suite", "observed": observed + ".", "band_meaning": meaning, "band_text": meaning}


def _timeline(events: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not events:
        return []
    times = []
    for event in events:
        try:
            times.append(dt.datetime.fromisoformat(str(event.get("time")).replace("Z", "+00:00")))
        except ValueError:
            times.append(None)
    start = min((t for t in times if t is not None), default=None)
    replies = {e.get("msg_id"): e for e in events if e.get("kind") == "execute_reply"}
    entries = []
    for event, when in zip(events, times):
        kind = event.get("kind")
        if kind not in ("execute_request", "kernel_event", "constraint", "note", "execute_lost", "interview"):
            continue
        entry = {
            "t": round((when - start).total_seconds(), 1) if when and start else None,
            "kind": kind,
            "role": event.get("role"),
            "user": event.get("user"),
        }
        if kind == "execute_request":
            reply = replies.get(event.get("msg_id"), {})
            entry["status"] = reply.get("status", "no reply")
            entry["label"] = (event.get("code") or "").strip().splitlines()[0][:80] if (event.get("code") or "").strip() else ""
            if reply.get("error"):
                entry["label"] += f"  -> {reply['error'].get('ename')}"
        else:
            detail = event.get("detail") or {}
            entry["label"] = str(detail.get("event") or detail.get("text") or detail.get("message") or kind)[:120]
        entries.append(entry)
    return entries


def session_time(events: list[dict[str, Any]] | None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """How the interview's time went, from the record: when the budget ran out (and whether the
    time-out was soft or hard), what ran after it, whether the candidate said they were done, and
    their active time. A take-home (``kind`` in ``submission.json``) adds the time the candidate
    says they spent beside it, and the active time over its soft budget."""
    events, meta = events or [], meta or {}
    time_up = next((e for e in events if e.get("kind") == "interview" and (e.get("detail") or {}).get("event") == "time_up"), None)
    done = next((e for e in events if e.get("kind") == "interview" and (e.get("detail") or {}).get("event") == "done"), None)
    after = events[events.index(time_up) + 1:] if time_up is not None else []
    active = active_minutes(events)
    kind = "take_home" if meta.get("kind") == "take_home" else "live"
    reported = (done.get("detail") or {}).get("self_reported_minutes") if done else None
    budget = meta.get("time_budget_minutes") if isinstance(meta.get("time_budget_minutes"), (int, float)) else None
    return {
        "time_up_at": time_up.get("time") if time_up else None,
        "time_out": (time_up.get("detail") or {}).get("time_out") if time_up else None,
        "overtime_executions": sum(1 for e in after if e.get("kind") == "execute_request"),
        "refused_after_time_up": sum(1 for e in after if e.get("kind") == "refused"),
        "done_by_candidate_at": done.get("time") if done else None,
        **active,
        "kind": kind,
        "self_reported_minutes": reported if isinstance(reported, (int, float)) and not isinstance(reported, bool) else None,
        "active_budget_minutes": budget if kind == "take_home" else None,
        "over_active_budget_minutes": (round(active["active_minutes"] - budget, 1)
                                       if kind == "take_home" and budget and active["active_minutes"] > budget else None),
        "submitted_by_deadline": kind == "take_home" and meta.get("submitted_by_deadline") is True,
    }


def confinement_of(replays) -> dict[str, Any]:
    """What the sandbox could not do for the kernels that ran: ``complete`` and ``gaps`` in words
    (shown at the top of the report: a gap means the candidate's code had more reach than designed)."""
    gaps = []
    for name, result in replays.items():
        if result is None or result.same_as is not None or result.kernel_start_s is None:
            continue
        sandbox, label = result.sandbox or {}, f"{name.replace('_', ' ')} replay"
        if not sandbox.get("filesystem_confined"):
            gaps.append(f"{label}: the filesystem was NOT confined (the kernel could read what the grader reads)")
        if not sandbox.get("pid_namespace"):
            gaps.append(f"{label}: no pid namespace (the kernel could see other processes, and a detached one may outlive it)")
        if str(sandbox.get("user", "")).startswith("same as grader"):
            gaps.append(f"{label}: the kernel ran as the grader's own user; " + "; ".join(
                note for note in result.notes if note.startswith("the kernel runs as the grader's user")
            ))
        if sandbox.get("capabilities") != "none":
            gaps.append(f"{label}: capabilities were NOT dropped")
        gaps += [f"{label}: {note}" for note in result.notes if note.startswith(SHARED_TMP_NOTE)]
    return {"complete": not gaps, "gaps": gaps}


PLANTED_KINDS = ("a symlink", "a hard link", "a FIFO", "a device file", "a socket")


def _flags(submission, replays, hidden=(), manifest=None, scaffold=None) -> list[str]:
    flags = []
    sources = []
    if submission.notebook is not None:
        sources += [str(cell.get("source", "")) for cell in submission.notebook.cells]
    sources += [e.get("code") or "" for e in (submission.history_events or []) if e.get("kind") == "execute_request"]
    sources += [entry.get("diff") or "" for entry in (scaffold or {}).get("files", [])]  # what they wrote in the scaffold
    pack_specific = [(item.text, item.meaning) for item in (manifest.suspicious_code if manifest is not None else [])]
    for needle, what in (*SUSPICIOUS_CODE, *pack_specific):
        if any(needle in source for source in sources):
            flags.append(f"the candidate's code {what} ('{needle}')")
    planted = [str(entry) for entry in getattr(submission, "left_out", ()) if entry.why.startswith(PLANTED_KINDS)]
    if planted:
        flags.append("the submission held links or special files, left out and never followed: " + "; ".join(planted[:20]))
    for name, result in replays.items():
        if result is None:
            continue
        for cell in result.cells:
            text = f"{cell.ename}: {cell.evalue}"
            if "Read-only file system" in text or "Permission denied" in text:
                flags.append(f"{name.replace('_', ' ')}, {cell.label}: tried to write outside its working copy and was refused ({cell.evalue})")
            elif any(path in text for path in hidden):
                flags.append(f"{name.replace('_', ' ')}, {cell.label}: reached for a path the grader hides from the kernel ({cell.evalue})")
    return flags


def _metric_better(direction: str, a: float, b: float) -> bool:
    return a > b if direction == "higher" else a < b


def build_report(*, pack, submission, replays, scores, probes, scaffold, kernel_name, tolerance, limits, notes=(), hidden=(),
                 serving=None) -> dict[str, Any]:
    manifest = pack.manifest
    metric_name, direction = manifest.metric.name, manifest.metric.direction
    problems: list[str] = []
    sub_problems = []
    if submission.meta.get("_problem"):
        sub_problems.append(submission.meta["_problem"])
    if submission.notebook_problem:
        sub_problems.append(submission.notebook_problem)
    if not scaffold["present"]:
        sub_problems.append(f"the scaffold folder {manifest.candidate.scaffold}/ is missing from the submission")
    deleted = [f["file"] for f in scaffold["files"] if f["status"] == "deleted"]
    if deleted and scaffold["present"]:
        sub_problems.append(f"scaffold file(s) deleted by the candidate: {', '.join(deleted)}")
    problems += sub_problems

    replay_json: dict[str, Any] = {}
    for name, result in replays.items():
        if result is None:
            continue
        data = result.to_json()
        data["scores"] = {k: v for k, v in scores.get(name, {}).items() if k != "audit"}
        replay_json[name] = data
        label = name.replace("_", " ")
        if result.stopped:
            where = f" at {result.stopped.cell}" if result.stopped.cell else ""
            problems.append(f"{label} replay stopped{where}: limit '{result.stopped.limit}' - {result.stopped.detail}")
        elif name == "top_to_bottom" and result.first_error:
            problems.append(f"the final notebook does not run top to bottom: {result.first_error}")
        for split in ("holdout",):
            entry = scores.get(name, {}).get(split)
            if entry and not entry.get("ok") and not result.stopped:
                problems += [f"{label} replay, {split} predictions: {p}" for p in entry.get("problems", [])]

    official = scores.get("top_to_bottom", {}).get("holdout", {})
    value = official.get("metric")
    calibration = calibration_figures(pack)
    band = manifest.band_for_metric(value) if value is not None else None
    holdout = {"metric": metric_name, "value": value, "band": band, **calibration, "problems": official.get("problems", [])}
    if value is None and "history_order" in scores and scores["history_order"].get("holdout", {}).get("metric") is not None:
        holdout["history_order_value"] = scores["history_order"]["holdout"]["metric"]

    reproducibility = compare_replays(replays, scores, tolerance, calibration_spread(pack.private_dir))
    reproducibility["differences"] += list(notes) if reproducibility["hidden_state"] is None else []
    if reproducibility["hidden_state"]:
        problems.append("hidden state: " + "; ".join(reproducibility["differences"]))

    bugs = []
    for bug in manifest.bugs:
        verdict = probes.get(bug.id, {"fixed": False, "message": "no probe verdict"})
        status = verdict.get("status") or ("fixed" if verdict.get("fixed") else "not_fixed")
        bugs.append({
            "id": bug.id, "title": bug.title, "kind": bug.kind, "signal": bug.signal, "location": bug.location,
            "fixed": status == "fixed", "status": status, "probe_message": verdict.get("message", ""),
            "decided_by": verdict.get("decided_by", "scaffold files"), "evidence": verdict.get("evidence", []),
            "probe_only": bug.probe_only.strip() if bug.probe_only else None,
            "interviewer_notes": bug.interviewer_notes.strip(),
        })
    signals = {signal: _signal_evidence(manifest, signal, bugs) for signal in manifest.signals}
    if serving is not None:
        signals[PRODUCTION_SIGNAL] = _production_evidence(manifest, signals[PRODUCTION_SIGNAL], serving)
        if serving["problem"]:
            problems.append(f"the prediction service: {serving['problem']}")

    constraints = constraint_verdicts(manifest, replays, scores, submission)
    for key in ("parameters", "training_time"):
        if constraints[key]["verdict"] == "over":
            problems.append(constraints[key]["sentence"])
    problems += [f"the constraint guard was tampered with: {what}" for what in constraints["tampering"]]

    history = {"verified": None, "events": 0, "problems": []}
    if submission.history_events is not None or submission.history_problems:
        history = {
            "verified": not submission.history_problems,
            "events": len(submission.history_events or []),
            "problems": submission.history_problems,
        }
        if submission.history_problems:
            problems.append("the recorded history is not intact: " + "; ".join(submission.history_problems[:3]))
    flags = _flags(submission, replays, hidden, manifest, scaffold)
    flags += [f"tampering with the constraint guard: {what}" for what in constraints["tampering"]]

    gradable = value is not None
    status = "not_gradable" if not gradable else ("graded_with_problems" if problems else "graded")
    fixed_count = sum(b["fixed"] for b in bugs)
    undetermined_count = sum(b["status"] == "undetermined" for b in bugs)
    if gradable:
        headline = (
            f"{metric_name} {value:.4f} on the holdout ({(band or '').replace('_', ' ')}); "
            f"{fixed_count} of {len(bugs)} planted bugs fixed{f' ({undetermined_count} undetermined)' if undetermined_count else ''}; "
            f"constraints {'kept' if constraints['parameters']['verdict'] != 'over' and constraints['training_time']['verdict'] != 'over' else 'BROKEN'}; "
            f"{'hidden state between replays' if reproducibility['hidden_state'] else 'reproducible' if reproducibility['hidden_state'] is False else 'reproducibility not established'}"
        )
    else:
        headline = "no holdout score: " + (problems[0] if problems else "the replay produced no predictions")
    constraints_kept = constraints["parameters"]["verdict"] != "over" and constraints["training_time"]["verdict"] != "over"
    signed = (value if direction == "higher" else -value) if gradable else 0.0
    # Best first: a holdout score, constraints kept, reproducible, then the score; bugs fixed break ties
    # (and order the submissions without a score).
    rank_key = [int(gradable), int(constraints_kept), int(gradable and not reproducibility["hidden_state"]), signed, fixed_count]

    return {
        "schema": REPORT_SCHEMA,
        "generated": _now(),
        "scenario": {**_scenario_part(pack), "max_parameters": parameter_limit(manifest, submission.meta)},
        "submission": {
            "folder": str(submission.folder),
            **{k: submission.meta.get(k) for k in ("candidate", "interview", "interviewer")},
            "started": submission.meta.get("started") or submission.meta.get("started_at"),
            "ended": submission.meta.get("ended") or submission.meta.get("ended_at"),
            "interviewer_notes": [
                note if isinstance(note, dict) else {"text": str(note)} for note in submission.meta.get("notes") or []
            ],
            "notebook": submission.notebook_name,
            "data_seed": submission.meta.get("data_seed", manifest.constraints.seed),
            "problems": sub_problems,
            "notes": submission.notebook_notes + [f"left out: {entry}" for entry in submission.left_out],
            "left_out": [entry.to_json() for entry in submission.left_out],
        },
        "verdict": {"status": status, "headline": headline, "problems": problems, "rank_key": rank_key},
        "holdout": holdout,
        "replays": replay_json,
        "confinement": confinement_of(replays),
        "reproducibility": reproducibility,
        "bugs": bugs,
        "rubric": {
            "metric_band": band, "signals": signals,
            "metric_evidence": (
                f"holdout {metric_name} {value:.4f} of the final notebook run top to bottom, against the pack's thresholds "
                f"(weak {manifest.rubric.metric_bands.weak:g}, strong {manifest.rubric.metric_bands.strong:g}, "
                f"very strong {manifest.rubric.metric_bands.very_strong:g})" if gradable else "no holdout score"
            ),
        },
        "constraints": constraints,
        "serving": serving,
        "integrity": {"history": history, "flags": flags, "playback": playback_completeness(submission.history_events or [])},
        "timeline": _timeline(submission.history_events),
        "answers": last_answers(submission.history_events or [], manifest.questions),
        "time": session_time(submission.history_events, submission.meta),
        "scaffold": scaffold,
        "kernel": kernel_name,
        "limits": {name: getattr(limits, name) for name in limits.trait_names() if limits.trait_metadata(name, "config")},
    }


