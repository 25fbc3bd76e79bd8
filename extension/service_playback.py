"""The playback page's model: the whole interview from the authoritative record, for a reviewer.

``playback_model`` turns the service's stored history and notes into what ``static/playback.js``
scrubs through (``mlinterview/playback.py`` reconstructs the session; see there for what the
record holds): the notebook's frames, each file's versions with its diff against the shipped
scaffold at that version, the executions with their outputs as shown, the timeline with its marks
(errors, constraint events, notes, saves) and the flags, plus whether the record verifies (the hash
chain) and whether the playback is complete. Everything in it is the candidate's own text: the page
shows it with ``textContent``, never as markup.
"""

from __future__ import annotations

from typing import Any

from ..history import verify_events
from ..playback import build
from ..safe_files import UnsafeFileError, read_plain
from .service_cockpit import diff_against_shipped

MAX_SHIPPED_BYTES = 256 << 10


def _shipped_text(pack, path: str) -> str:
    """The pack's own copy of a workspace file ('' for a file the candidate added)."""
    if pack is None:
        return ""
    try:
        data, _ = read_plain(pack.candidate_dir, path, max_bytes=MAX_SHIPPED_BYTES)
    except (OSError, ValueError, UnsafeFileError):
        return ""
    return data.decode("utf-8", errors="replace")


def playback_model(events: list[dict[str, Any]], notes: list[dict[str, Any]], pack=None,
                   names: dict[str, str] | None = None) -> dict[str, Any]:
    play = build(events, notes, names)
    strings = play.strings
    for path, versions in play.files.items():
        shipped = _shipped_text(pack, path)
        for version in versions:
            if version["text"] is not None:
                lines, added, removed, truncated = diff_against_shipped(path, shipped, strings.items[version["text"]])
                version.update(diff=strings.ref("\n".join(lines)), added=added, removed=removed, diff_truncated=truncated)
    model = play.to_json()  # after the diffs: their texts are in the strings too
    verdict = verify_events(events)
    model["integrity"] = {"verified": verdict.ok, "events": len(events), "problems": list(verdict.problems)[:20],
                          "complete": not play.gaps}
    return model
