"""The end of an interview: stop, freeze, grade; each step safe to run again after a restart.

``InterviewLifecycle.end(id)`` revokes the interviewer's share, stops the candidate's server,
freezes the workspace and the authoritative history into a submission bundle in the private
store, cleans the candidate up (hub user, and in isolated mode the system user and live
workspace) and starts the grader in the background. ``resume()`` runs at service start and
finishes whatever a restart interrupted: an interview left in ``ending`` is ended again, one
left in ``ended`` without a report is graded again. ``sweep_take_homes()`` runs every
``take_home_sweep_seconds``: a take-home past its deadline is ended (submitted) the same way, one
whose start window closed unused becomes a no-show.

Submission bundle (``<private>/submissions/<interview id>/``), what ``mlinterview grade`` reads:

``<notebook>.ipynb``, ``<scaffold>/``, ``data/``, ``.mlinterview/``  the candidate's workspace as it was:
                      its regular files only, copied without following anything (symlinks, FIFOs,
                      devices, hard links and files past the size budget are listed in ``left_out``)
``history.jsonl``     the authoritative history (hash-chained, ``mlinterview/history.py``)
``submission.json``   ``mlinterview.submission/1`` (graders/submission.py): scenario, notebook, data
                      seed, started/ended; plus interview id, candidate, interviewer, kernel, notes,
                      ``left_out`` [{path, why}]
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time
from datetime import datetime
from pathlib import Path

from .. import safe_files
from ..history import dumps_line
from .service_hub_client import HubAPIError, HubClient
from .service_store import InterviewStore, State, utcnow

log = logging.getLogger("mlinterview.service")
# Not part of a submission: runtime files and caches, however the candidate made them.
# More than this in a workspace is left out of the bundle (listed): a sparse or runaway file must not fill the store.
FREEZE_MAX_BYTES = 8 * 1024**3
# Written by the freeze itself: a workspace file of the same name is not the candidate's to supply.
BUNDLE_OWN_FILES = frozenset({"history.jsonl", "history-divergent.json", "submission.json"})
NO_SHOW_PROGRESS = "not graded: the candidate never started"
TAKE_HOME_DEADLINE = "the take-home's deadline"  # ended_by, when the deadline submitted the work
TAKE_HOME_WINDOW_CLOSED = "the take-home's start window closing"
WORKSPACE_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".cache", ".local", ".ipython", ".jupyter")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


class InterviewLifecycle:
    """Ends interviews and grades their submissions; one per service process."""

    def __init__(self, store: InterviewStore, hub: HubClient, settings: dict):
        self.store = store
        self.hub = hub
        self.settings = settings
        self.private_dir = Path(settings["private_dir"])
        self.workspaces_dir = Path(settings["workspaces_dir"])
        self.homes_dir = Path(settings["homes_dir"])
        self.tasks: dict[str, asyncio.Task] = {}
        self._ready_grader: asyncio.Future | None = None  # a grader process with its imports done, waiting for a job
        self._ready_grader_timer: asyncio.TimerHandle | None = None

    # -- paths -----------------------------------------------------------------------------------
    def submission_dir(self, interview_id: str) -> Path:
        return self.private_dir / "submissions" / interview_id

    def report_dir(self, interview_id: str) -> Path:
        return self.private_dir / "reports" / interview_id

    def twist_record(self, interview_id: str) -> Path:
        """The service's own record of a released twist (the workspace's copy is the candidate's to edit)."""
        return self.private_dir / "twists" / f"{interview_id}.json"

    def report_html(self, interview_id: str) -> Path | None:
        path = self.report_dir(interview_id) / "report.html"
        return path if path.is_file() else None

    def report_ready(self, interview) -> bool:
        """Whether the pages offer the report: the grader has finished and its report is there. The
        grader writes report.html before it exits; until the state is ``graded`` it may still fail."""
        return interview.state == State.graded and self.report_html(interview.id) is not None

    def notebook_of(self, scenario: str) -> str | None:
        from ..scenarios.pack import PackError, load_pack

        try:
            return load_pack(scenario, Path(self.settings["scenarios_dir"])).manifest.candidate.notebook
        except PackError:
            return None

    # -- sharing ---------------------------------------------------------------------------------
    async def share_with(self, interview, interviewer: str) -> None:
        """Give ``interviewer`` access to the candidate's server for this interview."""
        await self.hub.share_server(interview.candidate_user, interviewer)
        shared = set(json.loads(interview.shared_with or "[]")) | {interviewer}
        self.store.update(interview.id, shared_with=json.dumps(sorted(shared)))

    # -- ending ----------------------------------------------------------------------------------
    def start_end(self, interview_id: str, ended_by: str) -> bool:
        """Begin ending (idempotent); the work runs in the background. False if already past live.

        Ended while still ``invited`` (the candidate never used the link, so never started): a
        ``no_show`` at once, with nothing to freeze or grade."""
        if self.store.set_state(interview_id, State.no_show, only_from=(State.invited,), ended_at=utcnow(), ended_by=ended_by,
                                grade_progress=NO_SHOW_PROGRESS):
            self.store.revoke_invites(interview_id)
            log.info("interview %s: ended before the candidate started: a no-show, not graded", interview_id)
            return True
        moved = self.store.set_state(
            interview_id, State.ending, only_from=(State.live,), ended_at=utcnow(), ended_by=ended_by,
            grade_progress="stopping the candidate's server",
        )
        if moved:
            self.store.revoke_invites(interview_id)
            if self.store.history_head(interview_id)[0] >= 0:
                self.keep_a_grader_ready()  # its imports overlap the stop and the freeze
            self._spawn(interview_id, self.finish_end(interview_id))
        return moved

    def cancel(self, interview_id: str, cancelled_by: str) -> bool:
        """Call off an interview that is still ``invited``: its invite is revoked; False once the candidate is in."""
        moved = self.store.set_state(interview_id, State.cancelled, only_from=(State.invited,), ended_at=utcnow(),
                                     ended_by=cancelled_by, grade_progress=f"cancelled by {cancelled_by} before the candidate started")
        if moved:
            self.store.revoke_invites(interview_id)
        return moved

    def _spawn(self, interview_id: str, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks[interview_id] = task
        task.add_done_callback(lambda done: self._task_done(interview_id, done))

    def _task_done(self, interview_id: str, task: asyncio.Task) -> None:
        if self.tasks.get(interview_id) is task:
            del self.tasks[interview_id]
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("interview %s: %s", interview_id, error, exc_info=error)
            self.store.update(interview_id, grade_progress=f"error: {error}")

    async def finish_end(self, interview_id: str) -> None:
        interview = self.store.get(interview_id)
        try:
            await self.hub.revoke_shares(interview.candidate_user)
        except HubAPIError as error:  # no server (never spawned): nothing was shared
            log.info("interview %s: no shares to revoke (%s)", interview_id, error)
        await self.hub.stop_server(interview.candidate_user)
        if self.store.history_head(interview_id)[0] < 0:
            # logged in, but no server of theirs ever recorded anything: they never started
            await self.cleanup_candidate(interview)
            self.store.set_state(interview_id, State.no_show, only_from=(State.ending,), grade_progress=NO_SHOW_PROGRESS)
            log.info("interview %s: no history recorded: a no-show, not graded", interview_id)
            return
        log.info("interview %s: the candidate's server is stopped; freezing", interview_id)
        self.store.update(interview_id, grade_progress="freezing the workspace and the history")
        await asyncio.to_thread(self.freeze, interview_id)
        await self.cleanup_candidate(interview)
        log.info("interview %s: frozen, and the candidate's users removed", interview_id)
        self.store.set_state(interview_id, State.ended, only_from=(State.ending,), grade_progress="grading: starting")
        await self.grade(interview_id)

    def freeze(self, interview_id: str) -> Path:
        """Write the submission bundle from the live workspace and the authoritative history."""
        interview = self.store.get(interview_id)
        bundle = self.submission_dir(interview_id)
        staging = bundle.with_name(bundle.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        workspace = self.workspaces_dir / interview.candidate_user
        left_out: list[safe_files.LeftOut] = []
        if workspace.is_dir() and not workspace.is_symlink():
            # The candidate's files, never what they point to: links, FIFOs, devices and hard links
            # stay out (listed in submission.json); what is copied belongs to the hub's user alone.
            left_out = safe_files.copy_tree(
                workspace, staging, ignore=WORKSPACE_IGNORED, skip_top=BUNDLE_OWN_FILES, file_mode=0o600, folder_mode=0o700,
                max_bytes=FREEZE_MAX_BYTES,
            )
        elif bundle.is_dir():
            return bundle  # frozen before a restart, workspace already cleaned up
        else:
            staging.mkdir(parents=True)
        with open(staging / "history.jsonl", "w", encoding="utf-8") as handle:
            for event in self.store.history(interview_id):
                handle.write(dumps_line(event))
        divergences = self.store.divergences(interview_id)
        if divergences:
            # what a server sent that conflicted with the chain: the grader raises the alarm in the report
            (staging / "history-divergent.json").write_text(json.dumps(divergences, indent=1) + "\n", encoding="utf-8")
        notes = [note.to_json() for note in self.store.notes(interview_id)]
        twist_record = self.twist_record(interview_id)
        submission = {
            "schema": "mlinterview.submission/1",
            "interview": interview.id,
            "scenario": interview.scenario,
            "candidate": interview.candidate_name,
            "candidate_user": interview.candidate_user,
            "interviewer": interview.interviewer,
            "kernel": interview.kernel,
            "data_seed": interview.data_seed,
            "time_budget_minutes": interview.time_budget_minutes,
            "kind": interview.kind or "live",
            "deadline_hours": interview.deadline_hours,
            "submitted_by_deadline": interview.ended_by == TAKE_HOME_DEADLINE,
            "started": _iso(interview.started_at),
            "ended": _iso(interview.ended_at),
            "notebook": self.notebook_of(interview.scenario),
            "ended_by": interview.ended_by,
            "notes": notes,
            "twist": json.loads(twist_record.read_text()) if twist_record.is_file() else None,
            "left_out": [entry.to_json() for entry in left_out],
        }
        (staging / "submission.json").write_text(json.dumps(submission, indent=2) + "\n", encoding="utf-8")
        os.chmod(staging, 0o700)
        shutil.rmtree(bundle, ignore_errors=True)
        staging.rename(bundle)
        return bundle

    async def cleanup_candidate(self, interview) -> None:
        """Remove the candidate's hub user (their tokens die with it) and, isolated, the interview's
        system users (every process of theirs is stopped first), folders and socket folder."""
        await self.hub.delete_user(interview.candidate_user)
        if self.settings.get("isolated"):
            from .hub_isolation import IsolationError, remove_candidate, remove_tree

            try:
                await asyncio.to_thread(
                    remove_candidate, interview.candidate_user, homes_dir=self.homes_dir,
                    socket_dir=Path(self.settings["sockets_dir"]) / interview.candidate_user,
                )
            except IsolationError as error:
                # the submission is frozen: grade it anyway, and say what is left to clean
                log.error("interview %s: %s; remove the users by hand (userdel)", interview.id, error)
            await asyncio.to_thread(remove_tree, self.workspaces_dir / interview.candidate_user)

    # -- grading ---------------------------------------------------------------------------------
    def grade_args(self, interview) -> list[str]:
        """The ``mlinterview grade`` arguments of this interview's job (after the grade command)."""
        return [
            str(self.submission_dir(interview.id)),
            "--scenario", interview.scenario,
            "--scenarios-dir", self.settings["scenarios_dir"],
            "--out", str(self.report_dir(interview.id)),
        ]

    def grader_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MLINTERVIEW_HOLDOUT_SEED_FILE"] = str(self.private_dir / "holdout_seed")
        env.pop("JUPYTERHUB_API_TOKEN", None)  # the grader runs candidate code; it gets no hub credentials
        return env

    def keep_a_grader_ready(self, after: float = 0.0) -> None:
        """Have a grader waiting with its imports done (``grade_ready_command``: ``mlinterview
        grade-on-request``), so that a report does not wait the seconds those take. Started at a
        low CPU priority (``after`` seconds from now), it takes the priority back when given a job."""
        command = self.settings.get("grade_ready_command")
        if not command or self._ready_grader is not None or (self._ready_grader_timer is not None and after):
            return
        if after:
            self._ready_grader_timer = asyncio.get_running_loop().call_later(after, self.keep_a_grader_ready)
            return
        if self._ready_grader_timer is not None:
            self._ready_grader_timer.cancel()
            self._ready_grader_timer = None
        self._ready_grader = asyncio.ensure_future(asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=self.grader_env(), cwd=str(self.private_dir), preexec_fn=die_with_parent_at_low_priority,
        ))

    async def _start_grader(self, interview, out: Path):
        """The grader process for this interview: the ready one given the job, else a fresh one."""
        ready, self._ready_grader = self._ready_grader, None
        if ready is not None:
            try:
                process = await ready
                process.stdin.write(json.dumps({"args": self.grade_args(interview), "cwd": str(out)}).encode() + b"\n")
                await process.stdin.drain()
                process.stdin.close()
                return process
            except (OSError, ConnectionError) as error:  # it died waiting: start one as before
                log.warning("interview %s: the ready grader was gone (%s); starting one", interview.id, error)
        return await asyncio.create_subprocess_exec(
            *self.settings["grade_command"], *self.grade_args(interview), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=self.grader_env(), cwd=str(out), preexec_fn=die_with_parent,
        )

    async def grade(self, interview_id: str) -> bool:
        """Run the grader on the bundle, streaming its progress into the store; True on a report."""
        interview = self.store.get(interview_id)
        out = self.report_dir(interview_id)
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o700)
        log.info("interview %s: grading: %s", interview_id, " ".join(self.grade_args(interview)))
        started = time.monotonic()
        with open(out / "grader.log", "wb") as grader_log:
            process = await self._start_grader(interview, out)
            async for raw in process.stdout:
                grader_log.write(raw)
                grader_log.flush()
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    log.info("interview %s: grader: %s", interview_id, line[:300])
                    self.store.update(interview_id, grade_progress=f"grading: {line[:300]}")
            code = await process.wait()
        if code == 0 and self.report_html(interview_id):
            summary = summarize_report(out / "report.json")
            self.store.set_state(interview_id, State.graded, grade_progress="report ready", grade_summary=json.dumps(summary))
            log.info("interview %s: graded in %.1f s", interview_id, time.monotonic() - started)
            return True
        log.error("interview %s: the grader exited with status %s without a report; see %s", interview_id, code, out / "grader.log")
        self.store.set_state(
            interview_id, State.grading_failed,
            grade_progress=f"the grader exited with status {code} without a report; see {out / 'grader.log'}",
        )
        return False

    def regrade(self, interview_id: str) -> bool:
        """Grade again (after a failure, or a new grader): True when started."""
        moved = self.store.set_state(interview_id, State.ended, only_from=(State.graded, State.grading_failed), grade_progress="grading: starting")
        if moved:
            self._spawn(interview_id, self.grade(interview_id))
        return moved

    def sweep_take_homes(self) -> list[str]:
        """End the take-homes whose time is over: one past its deadline is submitted (ended and
        graded like any other), one whose start window closed unused is a no-show. Returns their ids."""
        overdue, closed = self.store.take_homes_due()
        ended = []
        for interview_id in overdue:
            if self.start_end(interview_id, TAKE_HOME_DEADLINE):
                log.info("interview %s: the take-home's deadline passed: submitted", interview_id)
                ended.append(interview_id)
        for interview_id in closed:
            if self.start_end(interview_id, TAKE_HOME_WINDOW_CLOSED):
                ended.append(interview_id)
        return ended

    async def resume(self) -> list[str]:
        """Finish what a restart interrupted; returns the interview ids picked up again."""
        resumed = []
        for interview in self.store.in_states(State.ending):
            self._spawn(interview.id, self.finish_end(interview.id))
            resumed.append(interview.id)
        for interview in self.store.in_states(State.ended):
            self._spawn(interview.id, self.grade(interview.id))
            resumed.append(interview.id)
        return resumed


def die_with_parent() -> None:
    """In the grader's child process: die when the service dies (Linux), so that the restarted
    service's regrade never races an orphaned grader writing the same report."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: an orphaned grader finishes on its own


def die_with_parent_at_low_priority() -> None:
    """In a grader started ahead of its job: as :func:`die_with_parent`, and its imports yield the
    CPU to the candidates' servers (it takes the default priority back when the job comes)."""
    die_with_parent()
    if os.geteuid() == 0:  # only root can take the priority back
        os.nice(10)


SUMMARY_VERSION = 2  # 2: the rubric's signal bands, the constraint verdicts and the metric's direction too


def summarize_report(report_json: Path) -> dict:
    """What the interview list and the comparison show, from the grader's report.json (best
    effort), kept in ``Interview.grade_summary`` so that no page reads a report per interview."""
    try:
        report = json.loads(Path(report_json).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    summary = {"version": SUMMARY_VERSION}
    for key in ("holdout", "metric", "verdict", "band"):
        if key in report:
            summary[key] = report[key]
    bugs = report.get("bugs")
    if isinstance(bugs, list):
        summary["bugs_fixed"] = sum(1 for bug in bugs if isinstance(bug, dict) and bug.get("fixed"))
        summary["bugs_total"] = len(bugs)
    metric = (report.get("scenario") or {}).get("metric") or {}
    if isinstance(metric, dict) and metric.get("direction") in ("higher", "lower"):
        summary["direction"] = metric["direction"]
    signals = (report.get("rubric") or {}).get("signals") or {}
    summary["signals"] = {
        name: {key: signal.get(key) for key in ("band", "fixed", "total")} for name, signal in signals.items() if isinstance(signal, dict)
    }
    constraints = report.get("constraints") or {}
    summary["constraints"] = {
        key: (constraints.get(key) or {}).get("verdict") for key in ("parameters", "training_time") if isinstance(constraints.get(key), dict)
    }
    if constraints.get("tampering"):
        summary["constraints"]["tampering"] = len(constraints["tampering"])
    return summary
