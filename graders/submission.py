"""The submission format, and turning a submission into replay plans.

A submission is one folder, produced by the hub when an interview ends (or by hand):

```
<submission>/
  submission.json     {"schema": "mlinterview.submission/1", "scenario": "churn", "candidate": "ada",
                       "interview": "a1b2c3", "started": "2026-11-25T10:00:00Z", "ended": "2026-11-25T11:00:00Z",
                       "notebook": "interview.ipynb", "data_seed": 7}
  interview.ipynb     the candidate's final notebook (name from submission.json, else the scenario's)
  <scaffold>/         the candidate's scaffold package folder, as it was at the end (e.g. churnlab/)
  history.jsonl       the recorded history (mlinterview/history.py), when the session was recorded
```

Only ``scenario`` is required in ``submission.json`` (and ``--scenario`` on the command line can
stand in for it); ``data_seed`` defaults to the scenario's seed, ``notebook`` to the scenario's
notebook. Anything else in the folder is ignored. The grader never writes into a submission.
A take-home's ``submission.json`` also says ``"kind": "take_home"``, its active-time budget
(``time_budget_minutes``), ``deadline_hours`` and ``submitted_by_deadline`` (the deadline, not
the candidate, submitted it); the report sets the active time beside the budget and beside the
time the candidate said they spent (the ``done`` event's ``self_reported_minutes``).

The grader may run as root and the folder holds the candidate's files: it is read through
:mod:`mlinterview.safe_files` only. Links, FIFOs, device files and files with more than one name
(a hard link may lead outside) are never followed nor read; they are listed as left out
(``Submission.left_out``, with those the hub's freeze left out, ``submission.json``'s ``left_out``).

Two replay plans come out of a submission: :func:`top_to_bottom_plan` (code cells of the final
notebook in order) and :func:`history_order_plan` (the executions recorded since the last kernel
(re)start of the session's last kernel; without a history, the final notebook's cells in
``execution_count`` order, which the plan says).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .. import safe_files
from ..scenarios.materialize import IGNORED
from .. import history as history_format
from .replay import ReplayCell

SUBMISSION_SCHEMA = "mlinterview.submission/1"
SUBMISSION_FILE = "submission.json"
HISTORY_FILE = "history.jsonl"
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
MAX_META_BYTES = 4 * 1024 * 1024
MAX_HISTORY_BYTES = 512 * 1024 * 1024
RESTART_WORDS = ("started", "restarted", "died", "shutdown", "start", "restart")


class SubmissionError(Exception):
    """The submission cannot be graded at all (e.g. no scenario); the message says what to do."""


@dataclass
class Submission:
    folder: Path
    meta: dict[str, Any]
    notebook_name: str
    notebook: Any = None  # nbformat NotebookNode when readable
    notebook_problem: str | None = None
    notebook_notes: list[str] = field(default_factory=list)
    history_events: list[dict[str, Any]] | None = None
    history_problems: list[str] = field(default_factory=list)
    left_out: list[safe_files.LeftOut] = field(default_factory=list)

    @property
    def scenario(self) -> str | None:
        return self.meta.get("scenario")


def read_meta(folder: Path) -> dict[str, Any]:
    """``submission.json`` as a dict; an unreadable one is an empty dict with a ``_problem``."""
    try:
        raw = safe_files.read_bytes(folder, SUBMISSION_FILE, MAX_META_BYTES)
    except FileNotFoundError:
        return {"_problem": f"{SUBMISSION_FILE} is missing"}
    except (OSError, ValueError) as error:
        return {"_problem": f"{SUBMISSION_FILE} cannot be read ({_why(error)})"}
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return {"_problem": f"{SUBMISSION_FILE} is not valid JSON ({error})"}
    return meta if isinstance(meta, dict) else {"_problem": f"{SUBMISSION_FILE} is not a JSON object"}


def _why(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)


def load_submission(folder: Path, default_notebook: str) -> Submission:
    """Read what can be read; every problem is recorded on the Submission, nothing raises."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"{folder} is not a folder; a submission is a folder (see graders/README.md)")
    meta = read_meta(folder)
    name = meta.get("notebook") or default_notebook
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        meta["_problem"] = f"{SUBMISSION_FILE} names notebook {name!r}; it must be a file name in the folder"
        name = default_notebook
    submission = Submission(folder, meta, name)
    submission.left_out = left_out_of(folder, meta)
    submission.notebook, submission.notebook_problem, submission.notebook_notes = read_notebook(folder, name)
    try:
        raw_history = safe_files.read_bytes(folder, HISTORY_FILE, MAX_HISTORY_BYTES)
    except FileNotFoundError:
        raw_history = None
    except (OSError, ValueError) as error:
        raw_history = None
        submission.history_problems.append(f"{HISTORY_FILE} cannot be read ({_why(error)})")
    if raw_history is not None:
        try:
            submission.history_events = history_format.parse_events(raw_history, HISTORY_FILE, strict=False)
        except ValueError as error:
            submission.history_problems.append(str(error))
        if submission.history_events is not None:
            verdict = history_format.verify_events(submission.history_events)
            submission.history_problems += verdict.problems
    return submission


def left_out_of(folder: Path, meta: dict[str, Any]) -> list[safe_files.LeftOut]:
    """What the grader will not read in ``folder`` (links, FIFOs, devices, hard links), with what the
    freeze already left out of the workspace (``left_out`` in submission.json)."""
    _files, found = safe_files.survey(folder, ignore=IGNORED)
    entries = list(found)
    recorded = meta.get("left_out")
    for item in recorded if isinstance(recorded, list) else []:
        if isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("why"), str):
            entries.append(safe_files.LeftOut(item["path"][:300], item["why"][:300]))
    unique = {entry.path: entry for entry in entries}
    return [unique[path] for path in sorted(unique)]


def read_notebook(folder: Path, name: str):
    """(notebook, problem, notes): the notebook ``folder/name`` as nbformat v4, or why it cannot be replayed."""
    try:
        raw = safe_files.read_bytes(folder, name, MAX_NOTEBOOK_BYTES)
    except FileNotFoundError:
        return None, f"the notebook {name} is missing from the submission", []
    except ValueError:
        size = (Path(folder) / name).lstat().st_size
        return None, f"the notebook is {size / 1024**2:.0f} MiB, over the {MAX_NOTEBOOK_BYTES / 1024**2:.0f} MiB limit", []
    except OSError as error:
        return None, f"the notebook {name} cannot be read ({_why(error)}); only regular files of the submission are read", []
    notes = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("utf-8", errors="replace")
        notes.append(f"the notebook is not valid UTF-8 (byte {error.start}); undecodable bytes were replaced with U+FFFD")
    try:
        notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds for broken JSON
        return None, f"the notebook is not valid notebook JSON ({type(error).__name__}: {str(error)[:200]})", notes
    major = notebook.get("nbformat")
    if major != 4:
        try:
            notebook = nbformat.convert(notebook, 4)
            notes.append(f"the notebook is in nbformat v{major}; converted to v4 for the replay")
        except Exception as error:  # noqa: BLE001
            return None, f"the notebook is in nbformat v{major} and cannot be converted to v4 ({error})", notes
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        notes.append(f"the notebook does not fully validate against nbformat v4 ({str(error).splitlines()[0][:200]})")
    return notebook, None, notes


def code_cells(notebook) -> list[tuple[int, Any]]:
    return [(index, cell) for index, cell in enumerate(notebook.cells) if cell.get("cell_type") == "code"]


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def top_to_bottom_plan(notebook) -> list[ReplayCell]:
    """Code cells in order, with their tags (the replay honours skip-execution and raises-exception as nbclient does)."""
    return [
        ReplayCell(_source(cell), f"cell {index}", role="notebook", notebook_index=index, tags=_tags(cell))
        for index, cell in code_cells(notebook)
        if _source(cell).strip()
    ]


def _tags(cell) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def execution_count_plan(notebook) -> tuple[list[ReplayCell], str]:
    """Cells that ran in the session, in execution_count order (the fallback without a history)."""
    ran = [(cell.get("execution_count"), index, cell) for index, cell in code_cells(notebook)]
    counted = sorted((count, index, cell) for count, index, cell in ran if isinstance(count, int))
    skipped = len(ran) - len(counted)
    plan = [
        ReplayCell(_source(cell), f"cell {index} [{count}]", role="notebook", notebook_index=index)
        for count, index, cell in counted
        if _source(cell).strip()
    ]
    order = "execution_count order of the final notebook (no recorded history in the submission)"
    if skipped:
        order += f"; {skipped} cell(s) without an execution count were left out"
    return plan, order


def _is_kernel_start(event: dict[str, Any]) -> bool:
    detail = event.get("detail") or {}
    words = " ".join(str(detail.get(key, "")) for key in ("event", "state", "action", "status")).lower()
    return any(word in words.split() for word in RESTART_WORDS)


def history_order_plan(events: list[dict[str, Any]], notebook) -> tuple[list[ReplayCell], str]:
    """Executions of the session's last kernel since its last (re)start, in recorded order."""
    requests = [e for e in events if e.get("kind") == "execute_request" and isinstance(e.get("code"), str)]
    if not requests:
        plan, order = execution_count_plan(notebook) if notebook is not None else ([], "")
        return plan, "the history records no executions; fell back to " + order
    last_kernel = requests[-1].get("kernel_id")
    start = 0
    for position, event in enumerate(events):
        if event.get("kind") == "kernel_event" and event.get("kernel_id") in (last_kernel, None) and _is_kernel_start(event):
            start = position + 1
    replies = {e.get("msg_id"): e for e in events if e.get("kind") == "execute_reply"}
    index_of_cell = {}
    if notebook is not None:
        index_of_cell = {cell.get("id"): index for index, cell in code_cells(notebook) if cell.get("id")}
    plan, earlier, aborted = [], 0, 0
    for position, event in enumerate(events):
        if event.get("kind") != "execute_request":
            continue
        if position < start or event.get("kernel_id") != last_kernel:
            earlier += 1
            continue
        reply = replies.get(event.get("msg_id"), {})
        if reply.get("status") == "aborted":
            aborted += 1
            continue
        cell_index = index_of_cell.get(event.get("cell_id"))
        where = f"cell {cell_index}" if cell_index is not None else f"cell id {event.get('cell_id') or '?'}"
        plan.append(
            ReplayCell(
                event["code"],
                f"history #{event.get('seq')} ({where})",
                role=event.get("role") or "candidate",
                notebook_index=cell_index,
                recorded_status=reply.get("status") or "no reply",
            )
        )
    order = f"recorded execution order: {len(plan)} execution(s) of the session's last kernel since its last start"
    if earlier:
        order += f"; {earlier} earlier execution(s) belonged to an earlier kernel and did not shape the final state"
    if aborted:
        order += f"; {aborted} aborted request(s) never ran"
    return plan, order
