"""The interviewer's cockpit beside the live view: the pack's guide, the scaffold's edits, hints given.

Three things the live page (``templates/live.html``, ``static/live.js``) needs besides the history:

- ``pack_guide``: what the interviewer reads while watching, from the pack's ``scenario.toml`` and
  ``private/INTERVIEWER.md``: the planted bugs with their notes, the hints in order, the follow-up
  questions, the twist and the rubric's signals. Served only in the interviewer's own page.
- ``scaffold_diffs``: every file of the shipped scaffold (``candidate/<scaffold>``) against the
  candidate's copy in their workspace, as a unified diff (``difflib``). The workspace is the
  candidate's: its files are read without following links (``mlinterview/safe_files.py``), at most
  ``MAX_FILE_BYTES`` each and ``MAX_FILES`` in all, and every diff is cut at ``MAX_DIFF_LINES``; the
  page shows the text with ``textContent``, never as markup.
- hints: ``give_hint`` records "Hint N given: ..." as a note pinned to the moment (the note's
  ``at_seq``), so the timeline, the report's interviewer notes (``graders/report.py``) and anyone
  reading the notes find them by the prefix ``HINT_PREFIX``; ``hints_given`` reads them back.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path, PurePosixPath

from ..safe_files import UnsafeFileError, read_plain, survey
from .service_watch import _markdown, sanitize_html

MAX_FILE_BYTES = 256 << 10
MAX_FILES = 60
MAX_DIFF_LINES = 400
SKIPPED = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
HINT_PREFIX = "Hint "
HINT_NOTE = re.compile(r"^Hint (\d+) given: ")


def _skip(_folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name in SKIPPED or name.endswith((".pyc", ".pyo"))}


# -- the pack's guide -----------------------------------------------------------------------------
def follow_up_questions(pack) -> str | None:
    """The "Follow-up questions" section(s) of the pack's INTERVIEWER.md, as sanitized HTML (None without one)."""
    path = pack.private_dir / "INTERVIEWER.md"
    try:
        text = path.read_text(encoding="utf-8")[:200_000]
    except OSError:
        return None
    sections, keep = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line[3:].strip().lower().startswith("follow-up")
            continue
        if keep:
            sections.append(line)
    body = "\n".join(sections).strip()
    return str(sanitize_html(_markdown(body))) if body else None


def pack_guide(pack) -> dict:
    manifest = pack.manifest
    twist = manifest.twist
    return {
        "bugs": [
            {"id": bug.id, "title": bug.title, "kind": bug.kind, "location": bug.location, "notes": bug.interviewer_notes.strip()}
            for bug in manifest.bugs
        ],
        "hints": [{"number": number, "after_minutes": hint.after_minutes, "text": hint.text.strip()}
                  for number, hint in enumerate(manifest.hints, start=1)],
        "twist": None if twist is None else {
            "title": twist.title, "description": twist.description.strip(), "kind": twist.kind, "max_parameters": twist.max_parameters,
        },
        "signals": {name: signal.description for name, signal in manifest.rubric.signals.items()},
        "follow_ups": follow_up_questions(pack),
        "questions": [{"id": q.id, "prompt": q.prompt, "signal": q.signal, "shown": q.shown, "after_minutes": q.after_minutes,
                       "notes": q.notes.strip()} for q in manifest.questions],
        "limits": {"max_parameters": manifest.constraints.max_parameters,
                   "train_time_budget_seconds": manifest.constraints.train_time_budget_seconds},
    }


# -- questions ------------------------------------------------------------------------------------
QUESTION_PREFIX = "Question pushed: "
QUESTION_NOTE = re.compile(r"^Question pushed: \[([a-z][a-z0-9_]*)\] ")


def questions_pushed(notes) -> dict[str, dict]:
    """The pack's questions pushed so far, by id: when (elapsed seconds) and by whom."""
    pushed: dict[str, dict] = {}
    for note in notes:
        match = QUESTION_NOTE.match(note.text or "")
        if match and match.group(1) not in pushed:
            pushed[match.group(1)] = {"at_seq": note.at_seq, "elapsed_s": note.elapsed_s, "author": note.author}
    return pushed


async def push_question_note(handler, interview) -> None:
    """POST interviews/<id>/question (question): show the pack's question to the candidate now, and pin a
    note "Question pushed: [id] prompt" at this moment."""
    import asyncio

    from tornado import web

    from ..scenarios.pack import PackError, load_pack
    from ..scenarios.questions import QuestionError, push_question

    if interview.state != "live":
        raise web.HTTPError(409, "a question can be pushed only while the interview is live")
    question_id = handler.get_body_argument("question", "")
    try:
        pack = load_pack(interview.scenario, Path(handler.settings["service_settings"]["scenarios_dir"]))
        pushed = await asyncio.to_thread(push_question, pack, handler.lifecycle.workspaces_dir / interview.candidate_user, question_id)
    except (PackError, QuestionError) as error:
        raise web.HTTPError(409, f"could not push the question: {error}") from None
    at_seq, _ = handler.store.history_head(interview.id)
    elapsed = handler.get_body_argument("elapsed_s", "")
    handler.store.add_note(interview.id, handler.user_name, f"{QUESTION_PREFIX}[{pushed['id']}] {pushed['prompt']}", at_seq,
                           float(elapsed) if elapsed.replace(".", "", 1).isdigit() else None)


# -- hints ----------------------------------------------------------------------------------------
def hint_note_text(number: int, count: int, text: str) -> str:
    return f"{HINT_PREFIX}{number} given: {text} ({number} of {count} in the pack)"


def hints_given(notes) -> dict[int, dict]:
    """The pack's hints given so far, by number: when (elapsed seconds, timeline seq) and by whom."""
    given: dict[int, dict] = {}
    for note in notes:
        match = HINT_NOTE.match(note.text or "")
        if match and int(match.group(1)) not in given:
            given[int(match.group(1))] = {"at_seq": note.at_seq, "elapsed_s": note.elapsed_s, "author": note.author}
    return given


# -- the scaffold's edits -------------------------------------------------------------------------
def _read_candidate(workspace: Path, relative: str) -> tuple[str | None, str | None]:
    """(text, problem): the candidate's file, never through a link, bounded."""
    try:
        raw, _status = read_plain(workspace, relative, MAX_FILE_BYTES)
    except FileNotFoundError:
        return None, None
    except UnsafeFileError as unsafe:
        return None, f"not a regular file ({unsafe.strerror}); a link the candidate left is never followed"
    except ValueError:
        return None, f"larger than {MAX_FILE_BYTES >> 10} KiB: not compared"
    except OSError as problem:
        return None, f"cannot be read ({problem.strerror or problem})"
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text: not compared"


def diff_against_shipped(path: str, before: str, after: str) -> tuple[list[str], int, int, bool]:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), f"shipped/{path}", f"candidate/{path}", lineterm="", n=2))
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    truncated = len(lines) > MAX_DIFF_LINES
    return [line[:500] for line in lines[:MAX_DIFF_LINES]], added, removed, truncated


def scaffold_diffs(pack, workspace: Path) -> dict:
    """Every scaffold file, shipped vs the candidate's: {files: [{path, state, diff, added, removed, ...}], stamp}."""
    scaffold = PurePosixPath(pack.manifest.candidate.scaffold).as_posix()
    shipped, _ = survey(pack.candidate_dir, scaffold, ignore=_skip)
    theirs, left_out = survey(workspace, scaffold, ignore=_skip)
    shipped_paths = {entry.path for entry in shipped}
    paths = sorted(shipped_paths | {entry.path for entry in theirs})
    files, problems = [], [f"{scaffold}/{item.path}: {item.why}; not followed" for item in left_out][:20]
    digest = hashlib.sha256()
    for path in paths[:MAX_FILES]:
        relative = f"{scaffold}/{path}"
        original = (pack.candidate_dir / relative).read_text(encoding="utf-8", errors="replace") if path in shipped_paths else ""
        text, problem = _read_candidate(workspace, relative)
        entry = {"path": relative, "diff": [], "added": 0, "removed": 0, "truncated": False}
        if problem:
            entry.update(state="unreadable", problem=problem)
        elif text is None:
            entry.update(state="deleted")
        else:
            entry["diff"], entry["added"], entry["removed"], entry["truncated"] = diff_against_shipped(relative, original, text)
            entry["state"] = "added" if path not in shipped_paths else "changed" if entry["diff"] else "unchanged"
        digest.update(repr((relative, entry["state"], entry.get("problem"), entry["diff"])).encode())
        files.append(entry)
    if len(paths) > MAX_FILES:
        problems.append(f"{len(paths) - MAX_FILES} more file(s) in {scaffold}/ not compared (at most {MAX_FILES})")
    digest.update(repr(problems).encode())
    return {"files": files, "problems": problems, "stamp": digest.hexdigest()[:16]}


def give_hint_note(handler, interview) -> None:
    """POST interviews/<id>/hint (number, at_seq, elapsed_s): the pack's hint N, recorded as a note at that moment."""
    from tornado import web

    from ..scenarios.pack import PackError, load_pack

    try:
        hints = load_pack(interview.scenario, Path(handler.settings["service_settings"]["scenarios_dir"])).manifest.hints
    except PackError:
        raise web.HTTPError(404, f"the scenario '{interview.scenario}' is not installed") from None
    number = handler.get_body_argument("number", "")
    if not number.isdigit() or not 1 <= int(number) <= len(hints):
        raise web.HTTPError(400, f"no hint {number[:20]!r} in the pack (it has {len(hints)})")
    at_seq = handler.get_body_argument("at_seq", "")
    if not at_seq.lstrip("-").isdigit():
        at_seq = str(handler.store.history_head(interview.id)[0])
    elapsed = handler.get_body_argument("elapsed_s", "")
    handler.store.add_note(
        interview.id, handler.user_name, hint_note_text(int(number), len(hints), hints[int(number) - 1].text.strip()),
        int(at_seq), float(elapsed) if elapsed.replace(".", "", 1).isdigit() else None,
    )
