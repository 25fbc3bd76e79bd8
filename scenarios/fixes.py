"""The edits that fix each planted bug (``private/fixes.toml``), applied to a copy of a scaffold.

Format: a list of ``[[fix]]`` tables, each ``bug`` (a bug id), ``file`` (relative to the
scaffold package), ``old`` (text that must occur exactly once) and ``new``. A bug may take
several edits. The calibration applies them to build "this fix alone" and "all fixes" variants.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .materialize import IGNORED
from .pack import PackError, ScenarioPack


@dataclass(frozen=True)
class Edit:
    bug: str
    file: str
    old: str
    new: str


def load_fixes(pack: ScenarioPack) -> dict[str, list[Edit]]:
    """Edits per bug id; every bug of the manifest must have at least one."""
    path = pack.private_dir / "fixes.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PackError(f"{path}: not valid TOML ({error})") from None
    edits: dict[str, list[Edit]] = {}
    for index, entry in enumerate(raw.get("fix", [])):
        missing = [key for key in ("bug", "file", "old", "new") if key not in entry]
        if missing:
            raise PackError(f"{path}: fix #{index + 1} lacks {', '.join(missing)}; each [[fix]] needs bug, file, old, new")
        pack.bug(entry["bug"])  # raises PackError for an unknown bug id
        edits.setdefault(entry["bug"], []).append(Edit(entry["bug"], entry["file"], entry["old"], entry["new"]))
    unfixed = [bug.id for bug in pack.manifest.bugs if bug.id not in edits]
    if unfixed:
        raise PackError(f"{path}: no [[fix]] for bug(s) {', '.join(unfixed)}; add one per planted bug")
    return edits


def apply_edits(scaffold: Path, edits: list[Edit]) -> None:
    """Apply edits in place; each ``old`` must occur exactly once in its file."""
    for edit in edits:
        path = scaffold / edit.file
        text = path.read_text(encoding="utf-8")
        count = text.count(edit.old)
        if count != 1:
            raise PackError(
                f"fix for '{edit.bug}': the text to replace occurs {count} times in {path} (must be exactly once); "
                "update private/fixes.toml to match the scaffold"
            )
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def scaffold_with_fixes(pack: ScenarioPack, bug_ids: list[str], target: Path) -> Path:
    """Copy the shipped scaffold to ``target`` and apply the fixes of ``bug_ids`` in order."""
    fixes = load_fixes(pack)
    shutil.copytree(pack.scaffold_dir, target, ignore=IGNORED)
    for bug_id in bug_ids:
        apply_edits(target, fixes[bug_id])
    return target
