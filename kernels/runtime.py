"""The candidate runtime: the Python environment candidates' servers and kernels run from.

In isolated mode a candidate's kernel runs as the candidate's own system user and their server
as a service user of the interview (CONFINEMENT.md), so both need an interpreter and packages
that users other than root can execute. The hub's own environment often cannot serve: pyenv
installs Python inside root's home, which other users cannot traverse. ``make setup`` run as
root therefore builds a second environment, the candidate runtime, from the system's Python at
a shared prefix (``/opt/mlinterview/runtime`` by default) with a regular, non-editable install
of mlinterview; the hub refuses to start isolated when it cannot find a reachable one, and says
how to build it.

``candidate_runtime()`` finds it: ``$MLINTERVIEW_CANDIDATE_RUNTIME``, else the default prefix
when it holds a Python, else this interpreter's own environment (fine for trusted mode and for
a hub installed in a system-wide virtualenv).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_RUNTIME = Path("/opt/mlinterview/runtime")
RUNTIME_ENV = "MLINTERVIEW_CANDIDATE_RUNTIME"


class RuntimeUnreachable(Exception):
    """Candidates' users cannot run the candidate runtime; the message says how to fix it."""


def candidate_runtime(environ=None) -> Path:
    """The prefix of the environment candidates' servers and kernels run from."""
    environ = os.environ if environ is None else environ
    if environ.get(RUNTIME_ENV):
        return Path(environ[RUNTIME_ENV])
    if (DEFAULT_RUNTIME / "bin" / "python").exists():
        return DEFAULT_RUNTIME
    return Path(sys.prefix)


def candidate_python(runtime: Path | None = None) -> str:
    """The interpreter of the candidate runtime (a path every user can execute, once checked)."""
    runtime = candidate_runtime() if runtime is None else Path(runtime)
    if runtime == Path(sys.prefix):
        return sys.executable
    return str(runtime / "bin" / "python")


def folders_closed_to_others(path: Path) -> list[Path]:
    """The existing folders on the way to ``path`` that other users cannot traverse (no o+x)."""
    path = Path(path).resolve()
    return [parent for parent in reversed([path, *path.parents]) if parent.is_dir() and not parent.stat().st_mode & 0o001]


def check_runtime_reachable(runtime: Path) -> None:
    """Raise RuntimeUnreachable unless other users can run the runtime's Python and read its packages."""
    python = Path(candidate_python(runtime))
    if not python.exists():
        raise RuntimeUnreachable(f"the candidate runtime {runtime} has no bin/python; build it with `make runtime` (as root)")
    for what, path in (("its Python interpreter", python.resolve()), ("its packages", Path(runtime))):
        closed = folders_closed_to_others(path)
        if closed:
            raise RuntimeUnreachable(
                f"candidates' system users cannot reach {what} ({path}): {', '.join(map(str, closed))} is not searchable "
                f"by other users; build the candidate runtime at a shared prefix with `make runtime` (as root; it uses "
                f"/usr/bin/python3 and installs into {DEFAULT_RUNTIME}), or set ${RUNTIME_ENV} to one"
            )
