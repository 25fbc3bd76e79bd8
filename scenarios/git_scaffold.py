"""A pack's scaffold as a git repository with branches, built deterministically at materialize time.

A pack whose manifest has a ``[git]`` table (``history = "history/history.toml"``, relative to the
pack folder) ships the history of its scaffold as plain files: one snapshot folder per commit
(the whole tracked tree, e.g. ``history/base/<scaffold>/...``) and a TOML file of steps, in order:

``[[step]]`` with ``commit = "<snapshot folder>"``
    commit that snapshot on ``branch`` (created from ``start``, a branch, when it does not exist
    yet): the tracked tree is replaced by the snapshot (so a file missing from it is deleted, a
    rename is a file moved), with ``message``, ``author`` ("Name <email>") and ``date`` (ISO 8601).
    With ``overlay = true`` the snapshot holds only the files the commit adds or changes, laid over
    the branch's tree, and ``delete`` lists the tracked files it removes (a rename: the new file in
    the snapshot, the old one in ``delete``).
``[[step]]`` with ``merge = "<branch>"``
    merge that branch into ``branch`` (``fast_forward = true`` allows a fast-forward; otherwise a
    merge commit with ``message``, ``author``, ``date``). ``conflict = true`` marks the merge that
    stops with conflicts: it must be the last step, and the workspace is left in the middle of it.

and top-level ``initial_branch`` (default ``main``), ``checkout`` (the branch the workspace is on at
the end, default the initial branch), ``exclude`` (lines of ``.git/info/exclude``: the workspace's
untracked files, e.g. the notebook and the data) and ``[config]`` (extra ``.git/config`` entries,
``"section.key" = "value"``; a ``user.name``/``user.email`` there lets the candidate commit in a
sandbox without a home).

The repository is built with the ``git`` command line in a private temporary folder (never in
the candidate's workspace: nothing there runs or is read by git as the hub), with no system or
global configuration, fixed identities and dates, so the same pack gives the same commit ids on
every machine. Only its ``.git`` folder is copied into the workspace (through
:mod:`mlinterview.safe_files`); the working tree is the pack's ``candidate/`` part, which must be
what git leaves after the last step (``working_tree`` builds it to compare). The index is written
without stat data (times, inode, device, owner zeroed), so the same pack gives the same bytes;
git re-reads a file whose stat data does not match, so ``git status`` is right from the start.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .. import safe_files

GIT_TIMEOUT_SECONDS = 60
# what git reads besides the command line, pinned: no system or global config, no templates, no pager
_GIT_CONFIG = (
    "core.autocrlf=false", "core.fileMode=true", "core.untrackedCache=false", "core.fsmonitor=false",
    "core.precomposeUnicode=false", "core.quotePath=false", "index.version=2", "index.skipHash=false",
    "index.threads=1", "gc.auto=0", "commit.gpgSign=false", "merge.renames=true", "diff.renames=true",
    "merge.conflictStyle=diff3", "advice.detachedHead=false", "init.defaultBranch=main",
)


class GitScaffoldError(Exception):
    """The pack's history cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class Step:
    branch: str
    commit: str | None = None
    start: str | None = None
    merge: str | None = None
    overlay: bool = False
    delete: tuple[str, ...] = ()
    fast_forward: bool = False
    conflict: bool = False
    message: str = ""
    author: str = ""
    date: str = ""


@dataclass(frozen=True)
class History:
    folder: Path
    initial_branch: str
    checkout: str
    exclude: tuple[str, ...]
    config: dict
    steps: tuple[Step, ...]

    @property
    def ends_in_conflict(self) -> bool:
        return bool(self.steps) and self.steps[-1].conflict


def git_available() -> str | None:
    """The git executable on PATH, or None."""
    return shutil.which("git")


def load_history(pack) -> History:
    """The pack's history file, checked; raise GitScaffoldError naming the problem."""
    path = pack.folder / pack.manifest.git.history
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GitScaffoldError(f"{path}: missing; [git] history names it") from None
    except tomllib.TOMLDecodeError as error:
        raise GitScaffoldError(f"{path}: not valid TOML ({error})") from None
    known = {"branch", "commit", "start", "merge", "overlay", "delete", "fast_forward", "conflict", "message", "author", "date"}
    steps = []
    for index, entry in enumerate(raw.get("step", []), start=1):
        unknown = set(entry) - known
        if unknown:
            raise GitScaffoldError(f"{path}: step {index} has unknown key(s) {', '.join(sorted(unknown))}")
        step = Step(**{**entry, "delete": tuple(entry.get("delete", ()))})
        if (step.overlay or step.delete) and step.commit is None:
            raise GitScaffoldError(f"{path}: step {index}: overlay and delete go with a commit")
        if step.delete and not step.overlay:
            raise GitScaffoldError(f"{path}: step {index}: delete goes with overlay = true (a whole snapshot deletes what it lacks)")
        if (step.commit is None) == (step.merge is None):
            raise GitScaffoldError(f"{path}: step {index} needs exactly one of 'commit' (a snapshot folder) or 'merge' (a branch)")
        if step.commit is not None and not (path.parent / step.commit).is_dir():
            raise GitScaffoldError(f"{path}: step {index} commits {path.parent / step.commit}, which is not a folder")
        if step.conflict and index != len(raw.get("step", [])):
            raise GitScaffoldError(f"{path}: step {index} stops with a conflict, so it must be the last step")
        if not (step.author and step.date) or (step.commit is not None and not step.message):
            raise GitScaffoldError(f"{path}: step {index} needs author and date (and a commit, its message)")
        steps.append(step)
    if not steps or steps[0].commit is None:
        raise GitScaffoldError(f"{path}: the first step must commit a snapshot")
    initial = raw.get("initial_branch", "main")
    return History(
        folder=path.parent, initial_branch=initial, checkout=raw.get("checkout", initial),
        exclude=tuple(raw.get("exclude", [])), config=dict(raw.get("config", {})), steps=tuple(steps),
    )


def _identity(text: str) -> tuple[str, str]:
    name, _, email = text.partition("<")
    if not email.endswith(">") or not name.strip():
        raise GitScaffoldError(f"author {text!r} must look like 'Name <email>'")
    return name.strip(), email[:-1].strip()


class _Git:
    def __init__(self, repo: Path, home: Path):
        self.repo = repo
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
            "GIT_PAGER": "cat", "GIT_EDITOR": "true", "GIT_MERGE_AUTOEDIT": "no",
        }
        self.executable = git_available()
        if self.executable is None:
            raise GitScaffoldError("this pack ships its scaffold as a git repository, and git is not installed: "
                                   "install it (make setup does, or apt-get install git)")

    def __call__(self, *args: str, identity: Step | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.env)
        if identity is not None:
            name, email = _identity(identity.author)
            env.update(GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
                       GIT_AUTHOR_DATE=identity.date, GIT_COMMITTER_DATE=identity.date)
        command = [self.executable, "-C", str(self.repo)]
        for setting in _GIT_CONFIG:
            command += ["-c", setting]
        result = subprocess.run(command + list(args), env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS)
        if check and result.returncode != 0:
            raise GitScaffoldError(f"git {' '.join(args)} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-800:]}")
        return result


def _lay_tree(repo: Path, snapshot: Path, step: Step) -> None:
    """The working tree of ``step``: the snapshot alone, or laid over the tree (``overlay``)."""
    if not step.overlay:
        for entry in repo.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for relative in step.delete:
        target = repo / relative
        if ".." in Path(relative).parts or not target.is_file():
            raise GitScaffoldError(f"step on {step.branch} deletes {relative}, which is not a tracked file there")
        target.unlink()
    shutil.copytree(snapshot, repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _write_config(repo: Path, history: History) -> None:
    """The repository's own config, written whole (git init's depends on the machine's git)."""
    lines = ["[core]", "\trepositoryformatversion = 0", "\tfilemode = true", "\tbare = false", "\tlogallrefupdates = true",
             "[gc]", "\tauto = 0", "[merge]", "\tconflictStyle = diff3"]
    sections: dict[str, list[str]] = {}
    for key, value in sorted(history.config.items()):
        section, _, name = key.rpartition(".")
        if not section or not name:
            raise GitScaffoldError(f"history config key {key!r} must look like 'section.key'")
        sections.setdefault(section, []).append(f"\t{name} = {value}")
    for section, entries in sections.items():
        lines += [f"[{section}]", *entries]
    (repo / ".git" / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")


def normalize_index(path: Path) -> None:
    """Zero the stat data of every entry of a version 2 or 3 index and rewrite its checksum."""
    data = bytearray(path.read_bytes())
    if data[:4] != b"DIRC":
        raise GitScaffoldError(f"{path}: not a git index")
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        raise GitScaffoldError(f"{path}: index version {version}; only 2 and 3 are normalized")
    offset = 12
    for _ in range(count):
        entry = offset
        data[entry:entry + 24] = bytes(24)  # ctime, mtime (seconds, nanoseconds), dev, ino
        data[entry + 28:entry + 36] = bytes(8)  # uid, gid (mode at +24 and size at +36 stay)
        flags = struct.unpack(">H", data[entry + 60:entry + 62])[0]
        name_start = entry + 62 + (2 if version >= 3 and flags & 0x4000 else 0)
        name_end = data.index(0, name_start)
        length = name_end - entry
        offset = entry + ((length + 8) // 8) * 8  # 1 to 8 NULs pad the entry to a multiple of 8
    data[-20:] = hashlib.sha1(bytes(data[:-20])).digest()
    path.write_bytes(bytes(data))


def build_repository(pack, target: Path) -> Path:
    """Build the pack's repository in ``target`` (a new folder of the caller's): its working tree and
    ``.git`` after the last step. Returns ``target``."""
    history = load_history(pack)
    target = Path(target)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="mlinterview-git-") as scratch:
        templates = Path(scratch) / "templates"
        templates.mkdir()
        git = _Git(target, Path(scratch))
        git("init", "--quiet", f"--template={templates}", f"--initial-branch={history.initial_branch}")
        _write_config(target, history)
        info = target / ".git" / "info"
        info.mkdir(exist_ok=True)
        (info / "exclude").write_text("".join(f"{line}\n" for line in history.exclude), encoding="utf-8")
        branches: set[str] = set()
        current = history.initial_branch
        for step in history.steps:
            # every command of a step, a checkout's reflog entry included, has the step's identity and date
            if step.branch != current:
                if step.branch in branches:
                    git("checkout", "--quiet", step.branch, identity=step)
                else:
                    if step.start not in branches:
                        raise GitScaffoldError(f"branch {step.branch} starts from {step.start!r}, which has no commit yet")
                    git("checkout", "--quiet", "-b", step.branch, step.start, identity=step)
                current = step.branch
            if step.commit is not None:
                _lay_tree(target, history.folder / step.commit, step)
                git("add", "--all", ".")
                git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", step.message, identity=step)
                branches.add(step.branch)
                continue
            if step.merge not in branches:
                raise GitScaffoldError(f"step merges {step.merge!r}, which has no commit")
            options = ["--ff-only"] if step.fast_forward else ["--no-ff", "-m", step.message or f"Merge branch '{step.merge}'"]
            if step.conflict:
                options = ["--no-ff", "--no-commit"]
            result = git("merge", "--quiet", "--no-verify", *options, step.merge, identity=step, check=False)
            if step.conflict:
                if result.returncode == 0 or not (target / ".git" / "MERGE_HEAD").is_file():
                    raise GitScaffoldError(f"the merge of {step.merge} into {step.branch} was to stop with a conflict, and did not")
            elif result.returncode != 0:
                raise GitScaffoldError(f"the merge of {step.merge} into {step.branch} failed: {(result.stderr or result.stdout).strip()[-800:]}")
        if history.checkout != current:
            if history.ends_in_conflict:
                raise GitScaffoldError("a history that ends in a conflict stays on the merge's branch (checkout)")
            git("checkout", "--quiet", history.checkout, identity=history.steps[-1])
    normalize_index(target / ".git" / "index")
    return target


def install_repository(pack, workspace: Path, owner: tuple[int, int] | None = None) -> None:
    """Put the pack's ``.git`` into ``workspace`` (whose working tree ``materialize`` copied)."""
    with tempfile.TemporaryDirectory(prefix="mlinterview-repo-") as scratch:
        repo = build_repository(pack, Path(scratch) / "repo")
        left_out = safe_files.copy_tree(repo / ".git", Path(workspace) / ".git", owner=owner)
        if left_out:
            raise GitScaffoldError(f"the repository could not be copied whole: {', '.join(map(str, left_out))}")


def commit_ids(repo: Path) -> dict[str, str]:
    """Branch name to commit id (and ``MERGE_HEAD`` when a merge is under way) of a built repository."""
    git = _Git(Path(repo), Path(repo))
    refs = git("for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads").stdout.split("\n")
    ids = dict(line.split(" ", 1) for line in refs if line)
    merge_head = Path(repo) / ".git" / "MERGE_HEAD"
    if merge_head.is_file():
        ids["MERGE_HEAD"] = merge_head.read_text().strip()
    return ids
