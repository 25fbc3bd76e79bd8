"""Running a scenario pack's bug probes against a scaffold, in child processes.

A probe (``private/probes.py`` of a pack, see ``scenarios/README.md``) imports the scaffold and
runs its code: it is untrusted. ``ProbeRunner`` therefore runs the probes in a child Python
process (``python -I``, the scaffold's parent folder first on ``sys.path``, a scratch folder as
working directory, no holdout anywhere), reads the verdicts it writes as JSON lines, and turns
a probe that hangs past ``probe_timeout`` or a process that dies into an ``error`` verdict for
that probe, then carries on with the remaining probes in a fresh process. One call never hangs
and never raises because of the scaffold.

Classes:

- ``ProbeVerdict``  one bug's verdict: ``fixed``, ``not_fixed`` or ``error``, with the probe's sentence
- ``ProbeRunner``   runs the probes of a pack against one scaffold folder

The child side is this module run as ``python -I -m mlinterview.graders.probes --child ...``.
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

from traitlets import Bool, Float, List, Unicode, default
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

    @default("python")
    def _default_python(self) -> str:
        return sys.executable

    def run(self, pack, scaffold: Path, bug_ids: list[str] | None = None) -> dict[str, ProbeVerdict]:
        """Verdict per bug id (all bugs of ``pack`` by default) for the scaffold package at ``scaffold``."""
        scaffold = Path(scaffold).resolve()
        probes_path = pack.private_dir / "probes.py"
        wanted = [pack.bug(bug_id) for bug_id in bug_ids] if bug_ids else list(pack.manifest.bugs)
        if not (scaffold / "__init__.py").is_file():
            detail = f"{scaffold} is not a Python package (no __init__.py); nothing to probe"
            return {bug.id: ProbeVerdict(bug.id, ERROR, detail) for bug in wanted}
        verdicts: dict[str, ProbeVerdict] = {}
        pending = [(bug.id, bug.probe) for bug in wanted]
        while pending:
            batch = pending[:1] if self.one_process_per_probe else pending
            verdicts.update(self._run_child(probes_path, scaffold, batch))
            pending = [item for item in pending if item[0] not in verdicts]
        return {bug.id: verdicts[bug.id] for bug in wanted}

    def _run_child(self, probes_path: Path, scaffold: Path, batch: list[tuple[str, str]]) -> dict[str, ProbeVerdict]:
        """Run ``batch`` in one child; return the verdicts it reached (at least one, so callers progress)."""
        verdicts: dict[str, ProbeVerdict] = {}
        with tempfile.TemporaryDirectory(prefix="mlinterview-probes-") as scratch:
            results = Path(scratch) / "verdicts.jsonl"
            output = Path(scratch) / "output.txt"
            child_args = [
                "--child", "--probes", str(probes_path), "--scaffold", str(scaffold), "--results", str(results),
                *[f"{bug}:{probe}" for bug, probe in batch],
            ]
            with open(output, "wb") as sink:
                process = self._start(child_args, scratch, sink, output)
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
                    if process.poll() is None:
                        try:
                            os.killpg(process.pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    process.wait()
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

    def _start(self, child_args: list[str], scratch: str, sink, output: Path):
        """Start the child: a fresh isolated interpreter, or a fork of the preloaded forkserver."""
        if self.preload_modules:
            context = forkserver_context(self.preload_modules)
            process = context.Process(target=_forked_child, args=(child_args, scratch, str(output)), daemon=True)
            process.start()
            return _ForkedChild(process)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        return subprocess.Popen(
            [self.python, "-I", "-m", "mlinterview.graders.probes", *child_args],
            cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )


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
    parser = argparse.ArgumentParser(prog="mlinterview.graders.probes", description="(internal) run probes in this process")
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
