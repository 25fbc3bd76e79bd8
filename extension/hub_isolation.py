"""Isolated mode: one system user per candidate, and private files only the hub's user reads.

Used when the hub runs as root (DESIGN.md, "Isolation modes"). A candidate's system user has
the candidate's hub name (``cand-<id>``), no password, no login shell, a home under the hub's
``homes/`` folder; it is created before the candidate's server first starts and removed when
the interview is cleaned up. Everything under the private store stays mode 0700, owned by root.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from .service_store import CANDIDATE_PREFIX

log = logging.getLogger(__name__)


class IsolationError(Exception):
    """A system-level step of isolated mode failed; the message says which and why."""


def _candidate_only(name: str) -> None:
    # never create or remove any account but a candidate's, whatever the caller passes
    if not name.startswith(CANDIDATE_PREFIX) or not name.replace("-", "").isalnum() or len(name) > 32:
        raise IsolationError(f"refusing to manage system user '{name}': only candidate users ({CANDIDATE_PREFIX}...) are managed")


def system_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_system_user(name: str, home: Path) -> pwd.struct_passwd:
    """Create the candidate's system user (and home) if missing; return its passwd entry."""
    _candidate_only(name)
    home = Path(home)
    if not system_user_exists(name):
        command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin", name]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 and not system_user_exists(name):
            raise IsolationError(f"could not create system user {name}: {result.stderr.strip() or result.returncode}")
    entry = pwd.getpwnam(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o700)
    return entry


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Give a candidate their workspace (not following symlinks)."""
    root = Path(root)
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def remove_system_user(name: str) -> bool:
    """Remove the candidate's system user and group (their server must be stopped first)."""
    _candidate_only(name)
    if not system_user_exists(name):
        return False
    result = subprocess.run(["userdel", name], capture_output=True, text=True)
    if result.returncode != 0 and system_user_exists(name):
        raise IsolationError(f"could not remove system user {name}: {result.stderr.strip()}")
    return True


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def protect_scenario_private_parts(scenarios_dir: Path, log=log) -> list[Path]:
    """Make every pack's ``private/`` folder readable by the hub's user only (mode 0700).

    The packs may live in a checkout that everyone can read; in isolated mode a candidate's
    system user must not read the reference solution, the probes or the holdout generator.
    """
    changed = []
    for private in sorted(Path(scenarios_dir).glob("*/private")):
        mode = stat.S_IMODE(private.stat().st_mode)
        if mode & 0o077:
            private.chmod(0o700)
            changed.append(private)
    if changed and log is not None:
        log.warning("isolated mode: made %s readable by the hub's user only", ", ".join(map(str, changed)))
    return changed
