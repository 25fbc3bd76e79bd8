"""``mlinterview history ...``: check a history file's chain, print its timeline."""

from __future__ import annotations

import json
from pathlib import Path

from ..cli import CommandError
from ..history import read_events, verify_history

ROLE_MARK = {"candidate": "C", "interviewer": "I", "system": "-"}


def cmd_verify(args) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CommandError(f"{path} does not exist; pass a history file (.jsonl) written by the server extension")
    result = verify_history(path)
    if result.ok:
        print(f"{path}: OK, {result.events} events, chain intact")
        return 0
    print(f"{path}: {len(result.problems)} problem(s) in {result.events} events:")
    for problem in result.problems:
        print(f"  {problem}")
    return 1


def first_line(text: str | None, width: int = 60) -> str:
    lines = (text or "").strip().splitlines() or [""]
    line = lines[0] + (" ..." if len(lines) > 1 else "")
    return line if len(line) <= width else line[: width - 3] + "..."


def describe(event: dict) -> str:
    """One readable line for one event."""
    kind, detail = event.get("kind"), event.get("detail") or {}
    if kind == "execute_request":
        where = f"{event.get('notebook') or '?'}#{event.get('cell_id') or '?'}"
        return f"run    {where}: {first_line(event.get('code'))}"
    if kind == "execute_reply":
        outcome = event.get("status", "?")
        if event.get("error"):
            outcome += f" {event['error']['ename']}: {first_line(event['error']['evalue'], 50)}"
        outputs = event.get("outputs") or {}
        size = f", {outputs.get('bytes', 0):,} B out{' (cut)' if outputs.get('truncated') else ''}" if outputs.get("bytes") else ""
        return f"reply  [{event.get('execution_count')}] {outcome} in {event.get('duration_ms', 0):.0f} ms{size}"
    if kind == "execute_lost":
        return f"LOST   {event.get('msg_id')}: {detail.get('reason', '')}"
    if kind == "kernel_event":
        return f"kernel {detail.get('event')} {event.get('kernel_id', '')[:8]}"
    if kind == "constraint":
        return f"LIMIT  {detail.get('event')}: {detail.get('message', '')}"
    if kind == "session_start":
        return f"server started (pid {detail.get('pid')}{', resumed' if detail.get('resumed') else ''})"
    if kind == "note":
        return f"note   {detail.get('text', '')}"
    return json.dumps(event, sort_keys=True)


def cmd_show(args) -> int:
    path = Path(args.file)
    try:
        events = read_events(path, strict=False)
    except (OSError, ValueError) as error:
        raise CommandError(str(error)) from None
    for event in events:
        who = f"{ROLE_MARK.get(event.get('role'), '?')} {event.get('user') or '':<12}"
        print(f"{event.get('seq', '?'):>5} {event.get('time', '')[:23]} {who} {describe(event)}")
    result = verify_history(path)
    if not result.ok:
        print(f"\nWARNING: the chain has {len(result.problems)} problem(s); run 'mlinterview history verify {path}'")
    return 0


def add_subcommands(subparsers) -> None:
    history = subparsers.add_parser("history", help="verify and show recorded cell histories")
    history.set_defaults(subparser=history)
    sub = history.add_subparsers(dest="history_command", metavar="ACTION")
    verify = sub.add_parser("verify", help="check the hash chain: prints gaps, edits and reorderings; exit 1 on any")
    verify.add_argument("file", metavar="FILE")
    verify.set_defaults(handler=cmd_verify)
    show = sub.add_parser("show", help="print a readable timeline (C = candidate, I = interviewer)")
    show.add_argument("file", metavar="FILE")
    show.set_defaults(handler=cmd_show)
