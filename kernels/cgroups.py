"""Per-candidate control groups: memory, processes and CPU share for a whole process tree.

``CandidateCgroup(name)`` is one candidate's group, ``mlinterview/<name>``, in cgroup v2 where
the machine mounts it at ``/sys/fs/cgroup`` with its controllers, else in the cgroup v1
``memory``, ``pids`` and ``cpu`` hierarchies. Every process a candidate's code can start lives
in it (the sandbox launcher joins it before it starts the kernel, and children stay), so the
limits hold for the tree as a whole, detached processes included, and ``kill_all()`` ends
every one of them. Only root can create groups: elsewhere ``available()`` is False and the
callers fall back to resource limits (and say so).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
PARENT = "mlinterview"


def cgroup_version(root: Path = CGROUP_ROOT) -> int | None:
    """2 for a unified hierarchy with the controllers we need, 1 for v1 controllers, None for neither."""
    controllers = root / "cgroup.controllers"
    if controllers.is_file():
        available = set(controllers.read_text().split())
        if {"memory", "pids"} <= available:
            return 2
    if all((root / controller / "cgroup.procs").is_file() for controller in ("memory", "pids")):
        return 1
    return None


class CandidateCgroup:
    """One candidate's cgroup (v2, or one per v1 controller)."""

    def __init__(self, name: str, root: Path = CGROUP_ROOT):
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a cgroup name: {name!r}")
        self.name = name
        self.root = Path(root)
        self.version = cgroup_version(self.root)

    @property
    def description(self) -> str:
        return {2: "cgroup v2", 1: "cgroup v1 (memory, pids, cpu)"}.get(self.version, "no cgroups")

    def paths(self) -> list[Path]:
        if self.version == 2:
            return [self.root / PARENT / self.name]
        if self.version == 1:
            return [self.root / controller / PARENT / self.name for controller in V1_CONTROLLERS if (self.root / controller).is_dir()]
        return []

    def available(self) -> bool:
        """Root, and a hierarchy we may write (a container's is often mounted read-only)."""
        if self.version is None or os.geteuid() != 0:
            return False
        writable = self.root if self.version == 2 else self.root / "memory"
        return os.access(writable, os.W_OK)

    def create(self, *, memory_bytes: int | None, max_processes: int | None, cpu_weight: int = 100) -> None:
        """Make the group and set its limits (idempotent)."""
        if self.version == 2:
            parent = self.root / PARENT
            parent.mkdir(exist_ok=True)
            wanted = "+memory +pids" + (" +cpu" if "cpu" in (self.root / "cgroup.controllers").read_text().split() else "")
            for folder in (self.root, parent):
                try:
                    (folder / "cgroup.subtree_control").write_text(wanted)
                except OSError:
                    pass  # already enabled, or enabled by the system's manager
        for path in self.paths():
            path.mkdir(parents=True, exist_ok=True)
        self._set("memory", memory_bytes, v1="memory.limit_in_bytes", v2="memory.max")
        if self.version == 2 and memory_bytes:
            self._set("memory", 0, v1=None, v2="memory.swap.max")
        self._set("pids", max_processes, v1="pids.max", v2="pids.max")
        # cpu: an equal share per candidate (v2 weight 1-10000, default 100; v1 shares, default 1024)
        self._set("cpu", cpu_weight, v1="cpu.shares", v2="cpu.weight", v1_value=lambda weight: max(2, weight * 1024 // 100))

    def _file(self, controller: str, v1: str | None, v2: str | None) -> Path | None:
        if self.version == 2 and v2:
            return self.root / PARENT / self.name / v2
        if self.version == 1 and v1:
            return self.root / controller / PARENT / self.name / v1
        return None

    def _set(self, controller, value, *, v1, v2, v1_value=None) -> None:
        if value is None:
            return
        path = self._file(controller, v1, v2)
        if path is None or not path.exists():
            return
        if self.version == 1 and v1_value is not None:
            value = v1_value(value)
        path.write_text(str(value))

    def join_paths(self) -> list[str]:
        """The folders a process writes its pid into (``cgroup.procs``) to join every controller."""
        return [str(path) for path in self.paths()]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.paths():
            try:
                found |= {int(line) for line in (path / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                continue
        return found

    def counters(self) -> dict[str, int]:
        """How often a limit was hit: ``oom_kill`` (memory) and ``pids_max`` (processes)."""
        counts = {"oom_kill": 0, "pids_max": 0}
        memory_events = self._file("memory", "memory.oom_control", "memory.events")
        pids_events = self._file("pids", "pids.events", "pids.events")
        for path, key, label in ((memory_events, "oom_kill", "oom_kill"), (pids_events, "max", "pids_max")):
            try:
                for line in path.read_text().splitlines():
                    field, _, value = line.partition(" ")
                    if field == key:
                        counts[label] = int(value)
            except (OSError, ValueError, AttributeError):
                continue
        return counts

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the group until it is empty; True when it is."""
        deadline = time.monotonic() + timeout
        while True:
            victims = self.pids()
            if not victims:
                return True
            if time.monotonic() > deadline:
                return False
            if self.version == 2 and (self.root / PARENT / self.name / "cgroup.kill").exists():
                try:
                    (self.root / PARENT / self.name / "cgroup.kill").write_text("1")
                except OSError:
                    pass
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        """Kill what is left, then remove the group's folders."""
        self.kill_all()
        for path in self.paths():
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
