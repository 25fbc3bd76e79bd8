"""Running a scenario pack's bug probes against a scaffold, in child processes (pack tooling).

The calibration runs it on the pack's own scaffold variants; the grader on a submission's scaffold.

A probe (``private/probes.py`` of a pack, see ``scenarios/README.md``) imports the scaffold and
runs its code: it is untrusted. ``ProbeRunner`` therefore runs the probes in a child Python
process (``python -I``, the scaffold's parent folder first on ``sys.path``, a scratch folder as
working directory, no holdout anywhere) started through the kernel sandbox (``sandboxed``: a
working folder of its own holding copies of the scaffold and of the probe code, read-only
everywhere else, no network, the pack's private part hidden, an environment from scratch, its own
uid as root, its whole process tree killed afterwards), reads the verdicts it writes as JSON lines, and turns
a probe that hangs past ``probe_timeout`` or a process that dies into an ``error`` verdict for
that probe, then carries on with the remaining probes in a fresh process. One call never hangs
and never raises because of the scaffold.

Classes:

- ``ProbeVerdict``  one bug's verdict: ``fixed``, ``not_fixed`` or ``error``, with the probe's sentence
- ``ProbeRunner``   runs the probes of a pack against one scaffold folder

The child side is this module run as ``python -I -m mlinterview.scenarios.probe_runner --child ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from traitlets import Bool, Float, Int, List, Unicode, default
from traitlets.config import LoggingConfigurable

FIXED, NOT_FIXED, ERROR = "fixed", "not_fixed", "error"
# How much of a dead probe process's output goes into its error verdict.
OUTPUT_TAIL_CHARS = 1500
_forkserver_lock = threading.Lock()


def forkserver_context(preload: list[str] | tuple[str, ...]):
    """The multiprocessing ``forkserver`` context, with ``preload`` imported in the server.

    Children forked from it start with the scientific stack already imported: a fresh process per
    run for a fraction of an interpreter start. The server starts on first use and is shared by the
    whole process, so every caller should pass the same list (only the first one counts).
    """
    with _forkserver_lock:
        # The server's environment is ours when it starts: one BLAS/OpenMP thread per child, since
        # thread pools created before a fork are not there after it, and children run side by side.
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")
        # The server starts as `python -c ...`, which puts the current folder first on sys.path: in a
        # checkout, its top folders (mlinterview/, scenarios/) would shadow the installed package.
        os.environ["PYTHONSAFEPATH"] = "1"
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        return context


@dataclass(frozen=True)
class ProbeVerdict:
    """What one probe decided about one planted bug."""

    bug: str
    status: Literal["fixed", "not_fixed", "error"]
    detail: str
    seconds: float = 0.0

    @property
    def fixed(self) -> bool:
        return self.status == FIXED

    def to_json(self) -> dict:
        return asdict(self)


class ProbeRunner(LoggingConfigurable):
    """Run the probes of a scenario pack against a scaffold package, each verdict from a child process."""

    probe_timeout = Float(
        60.0,
        help="Seconds one probe may take before it is stopped and gets an error verdict. Probes train "
        "tiny models on a few hundred rows; a scaffold that loops forever must not stall a grading batch.",
    ).tag(config=True)
    startup_timeout = Float(
        120.0,
        help="Seconds the child process may take to start and load the probes (importing torch on a busy machine).",
    ).tag(config=True)
    one_process_per_probe = Bool(
        False,
        help="Start a fresh process for every probe instead of one per scaffold (resumed after a crash). "
        "Slower (each process imports the scientific stack again) but no probe can see another's leftovers.",
    ).tag(config=True)
    python = Unicode(help="Python interpreter for the child processes (default: this one).").tag(config=True)
    preload_modules = List(
        Unicode(),
        help="When set, probe processes are forked from a forkserver that imported these modules once "
        "(e.g. numpy, pandas, torch) instead of starting a fresh `python -I`: much faster when many "
        "scaffolds are probed (the calibration), at the price of the parent's sys.path in the child.",
    ).tag(config=True)

    sandboxed = Bool(
        True,
        help="Run each probe process through the kernel sandbox (mlinterview.kernels.sandbox, or graders.sandbox "
        "before it moved): the probes import the candidate's scaffold, so they run in a working folder of their "
        "own, read-only everywhere else, without network, with the pack's private part and `hidden_paths` covered, "
        "an environment built from scratch (no holdout seed), under a uid of their own when the grader is root, "
        "and in a pids cgroup (where the grader may make one) that is emptied afterwards, detached processes "
        "included. Off only for the calibration's forkserver runs of the pack's own scaffold variants.",
    ).tag(config=True)
    hidden_paths = List(
        Unicode(), help="More paths the probe processes must not see (the submission's folder, the holdout-seed file...)."
    ).tag(config=True)
    memory_bytes = Int(2 * 1024**3, help="RLIMIT_DATA of a sandboxed probe process.").tag(config=True)

    @default("python")
    def _default_python(self) -> str:
        return candidate_python()

    def run(self, pack, scaffold: Path, bug_ids: list[str] | None = None) -> dict[str, ProbeVerdict]:
        """Verdict per bug id (all bugs of ``pack`` by default) for the scaffold package at ``scaffold``."""
        scaffold = Path(scaffold).absolute()
        wanted = [pack.bug(bug_id) for bug_id in bug_ids] if bug_ids else list(pack.manifest.bugs)
        if scaffold.is_symlink() or not (scaffold / "__init__.py").is_file():
            detail = f"{scaffold} is not a Python package (no __init__.py); nothing to probe"
            return {bug.id: ProbeVerdict(bug.id, ERROR, detail) for bug in wanted}
        verdicts: dict[str, ProbeVerdict] = {}
        pending = [(bug.id, bug.probe) for bug in wanted]
        while pending:
            batch = pending[:1] if self.one_process_per_probe else pending
            verdicts.update(self._run_child(pack, scaffold, batch))
            pending = [item for item in pending if item[0] not in verdicts]
        return {bug.id: verdicts[bug.id] for bug in wanted}

    def _run_child(self, pack, scaffold: Path, batch: list[tuple[str, str]]) -> dict[str, ProbeVerdict]:
        """Run ``batch`` in one child; return the verdicts it reached (at least one, so callers progress)."""
        verdicts: dict[str, ProbeVerdict] = {}
        sandboxed = self.sandboxed and not self.preload_modules
        with tempfile.TemporaryDirectory(prefix="mlinterview-probes-") as scratch:
            if sandboxed:
                # Everything the child needs lives in its working folder: a copy of the scaffold (regular
                # files only, never what a link points to) and of the pack's probe code. No private path
                # appears in its arguments, and the pack's private folder is hidden from it.
                os.chmod(scratch, 0o711)
                work = Path(scratch) / "work"
                work.mkdir()
                probes_path = work / ".probes" / "probes.py"
                copy_regular_files(pack.private_dir, probes_path.parent, suffix=".py", recursive=False)
                scaffold_arg = work / scaffold.name
                copy_regular_files(scaffold, scaffold_arg)
            else:
                work, probes_path, scaffold_arg = Path(scratch), pack.private_dir / "probes.py", scaffold
            results = work / "verdicts.jsonl"
            output = Path(scratch) / "output.txt"
            child_args = [
                "--child", "--probes", str(probes_path), "--scaffold", str(scaffold_arg), "--results", str(results),
                *[f"{bug}:{probe}" for bug, probe in batch],
            ]
            with open(output, "wb") as sink:
                if sandboxed:
                    process, cgroup = self._start_sandboxed(pack, child_args, work, sink)
                else:
                    process, cgroup = self._start(child_args, scratch, sink, output), None
                current, started, launched = None, None, time.monotonic()
                seen_lines, exited = 0, False
                try:
                    while True:
                        exited = process.poll() is not None
                        lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
                        for line in lines[seen_lines:]:
                            if not line.endswith("}"):
                                break  # a line still being written
                            seen_lines += 1
                            event = json.loads(line)
                            if event["event"] == "start":
                                current, started = event["bug"], time.monotonic()
                            else:
                                verdicts[event["bug"]] = ProbeVerdict(event["bug"], event["status"], event["detail"], event["seconds"])
                                current = None
                        if exited:
                            break
                        now = time.monotonic()
                        if current is not None and now - started > self.probe_timeout:
                            verdicts[current] = ProbeVerdict(
                                current, ERROR, f"the probe did not finish within {self.probe_timeout:g} s (the scaffold hangs or is far too slow); stopped", now - started
                            )
                            break
                        if current is None and not verdicts and now - launched > self.startup_timeout:
                            verdicts[batch[0][0]] = ProbeVerdict(
                                batch[0][0], ERROR, f"the probe process did not start within {self.startup_timeout:g} s; stopped", now - launched
                            )
                            break
                        time.sleep(0.05)
                finally:
                    # The whole tree goes, whether the child ended or not: what it detached too.
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                    process.wait()
                    if cgroup is not None:
                        cgroup.remove()
            missing = [bug for bug, _ in batch if bug not in verdicts]
            if exited and missing:  # it ended on its own (not stopped by us) before all verdicts were in
                tail = output.read_text(encoding="utf-8", errors="replace")[-OUTPUT_TAIL_CHARS:].strip() or "(no output)"
                detail = f"the probe process ended (exit status {process.returncode}) without a verdict: {tail}"
                if current is not None:
                    verdicts[current] = ProbeVerdict(current, ERROR, detail)  # it died in this probe
                elif not verdicts:
                    # It died before any probe began (loading probes.py, importing the stack): all fail alike.
                    verdicts.update({bug: ProbeVerdict(bug, ERROR, detail) for bug in missing})
                else:
                    verdicts[missing[0]] = ProbeVerdict(missing[0], ERROR, detail)
        for bug, verdict in verdicts.items():
            if verdict.status == ERROR:
                self.log.warning("probe for %s: %s", bug, verdict.detail)
        return verdicts

    def _start_sandboxed(self, pack, child_args: list[str], work: Path, sink):
        """The child through the sandbox launcher: confined, environment from scratch, own uid as root."""
        from ..graders.replay import PidsCgroup, _reachable_by_others  # the grader's own sandbox helpers

        launcher = sandbox_module()
        arguments = ["--workdir", str(work), "--no-network", "--memory-bytes", str(self.memory_bytes)]
        for path in [pack.private_dir, *self.hidden_paths]:
            arguments += ["--hide", str(path)]
        if launcher.endswith("kernels.sandbox"):
            arguments += ["--pid-namespace", "--private-tmp"]
        uid = None
        if os.geteuid() == 0 and _reachable_by_others(self.python):
            uid = 200_000 + (os.getpid() * 13 + time.monotonic_ns() // 1000) % 800_000
            for path in [work, *work.rglob("*")]:
                os.lchown(path, uid, uid)
            arguments += ["--uid", str(uid), "--gid", str(uid), "--nproc", "256"]
        cgroup = PidsCgroup.create(f"probes-{os.getpid()}-{time.monotonic_ns()}", 256) if os.geteuid() == 0 else None
        if cgroup is not None:
            arguments += ["--cgroup", str(cgroup.path)]
        environment = {
            "PATH": os.path.dirname(self.python) + os.pathsep + "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [sys.executable, "-m", launcher, *arguments, "--", self.python, "-I", "-m", "mlinterview.scenarios.probe_runner", *child_args]
        process = subprocess.Popen(
            command, cwd=work, env=environment, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return process, cgroup

    def _start(self, child_args: list[str], scratch: str, sink, output: Path):
        """Start the child: a fresh isolated interpreter, or a fork of the preloaded forkserver."""
        if self.preload_modules:
            context = forkserver_context(self.preload_modules)
            process = context.Process(target=_forked_child, args=(child_args, scratch, str(output)), daemon=True)
            process.start()
            return _ForkedChild(process)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        return subprocess.Popen(
            [self.python, "-I", "-m", "mlinterview.scenarios.probe_runner", *child_args],
            cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )


def candidate_python() -> str:
    """The interpreter other users can run (``kernels/runtime.py`` where it exists), else this one."""
    try:
        from ..kernels.runtime import candidate_python as runtime_python
    except ImportError:
        return sys.executable
    try:
        return str(runtime_python())
    except Exception:  # noqa: BLE001 - no runtime built here: this interpreter, said by the uid choice
        return sys.executable


def sandbox_module() -> str:
    """The sandbox launcher's module: ``kernels.sandbox`` once it lives there, else ``graders.sandbox``."""
    try:
        found = importlib.util.find_spec("mlinterview.kernels.sandbox")
    except (ImportError, ValueError):
        found = None
    return "mlinterview.kernels.sandbox" if found else "mlinterview.graders.sandbox"


def copy_regular_files(source: Path, target: Path, *, suffix: str = "", recursive: bool = True) -> None:
    """Copy the regular files under ``source`` into ``target``: links, FIFOs and devices are left out
    and never followed; each file is opened with O_NOFOLLOW; caches skipped."""
    import stat

    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o755)
    for root, folders, files in os.walk(source, followlinks=False):
        relative = Path(root).relative_to(source)
        folders[:] = [] if not recursive else [f for f in folders if f != "__pycache__" and not os.path.islink(os.path.join(root, f))]
        (target / relative).mkdir(parents=True, exist_ok=True)
        os.chmod(target / relative, 0o755)
        for name in files:
            if suffix and not name.endswith(suffix) or name.endswith(".pyc"):
                continue
            path = os.path.join(root, name)
            try:
                descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
            except OSError:
                continue  # a link (O_NOFOLLOW refuses it) or unreadable: left out
            with os.fdopen(descriptor, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    continue
                data = handle.read()
            destination = target / relative / name
            destination.write_bytes(data)
            os.chmod(destination, 0o644)


class _ForkedChild:
    """A forkserver child behind the few methods of ``subprocess.Popen`` that the runner uses."""

    def __init__(self, process):
        self._process = process
        self.pid = process.pid

    def poll(self):
        return self._process.exitcode

    def wait(self):
        self._process.join()
        return self._process.exitcode

    @property
    def returncode(self):
        return self._process.exitcode


def _forked_child(child_args: list[str], scratch: str, output: str) -> None:
    os.setsid()  # its own process group, so that a timeout kills whatever it started too
    os.chdir(scratch)
    sys.dont_write_bytecode = True  # leave no __pycache__ in the scaffold (it may be a pack's own folder)
    descriptor = os.open(output, os.O_WRONLY | os.O_APPEND)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    sys.exit(_child_main(child_args))


# -- child side ---------------------------------------------------------------------------------


def _write_event(results: Path, event: dict) -> None:
    with open(results, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(event) + "\n")


def _child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlinterview.scenarios.probe_runner", description="(internal) run probes in this process")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--probes", type=Path, required=True)
    parser.add_argument("--scaffold", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("probes_to_run", nargs="+", metavar="BUG:PROBE")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.scaffold.parent))
    spec = importlib.util.spec_from_file_location("_mlinterview_probes", args.probes)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for item in args.probes_to_run:
        bug, _, probe_name = item.partition(":")
        _write_event(args.results, {"event": "start", "bug": bug})
        started = time.monotonic()
        try:
            probe = getattr(module, probe_name, None)
            if probe is None:
                raise LookupError(f"{args.probes} has no function '{probe_name}'; add it or fix the bug's 'probe' field")
            result = probe(args.scaffold)
            if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], bool)):
                raise TypeError(f"probe '{probe_name}' returned {result!r}; a probe returns (fixed: bool, detail: str)")
            status, detail = (FIXED if result[0] else NOT_FIXED), str(result[1])
        except BaseException as error:  # the scaffold's own errors, sys.exit() included: a verdict, not a crash
            frames = traceback.extract_tb(error.__traceback__)
            where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
            status, detail = ERROR, f"{type(error).__name__}: {error}{where}"
        _write_event(args.results, {"event": "done", "bug": bug, "status": status, "detail": detail, "seconds": time.monotonic() - started})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
