"""Grading one submission: two replays, holdout scoring, bug probes, constraint audit, report.

``grade_submission(submission_dir, pack, out_dir, holdout_seed, progress=callback)`` is what the
hub service and the command line call; it returns the report (a dict, schema in
:mod:`mlinterview.graders.report`) and writes ``report.json``, ``report.html`` and the two
replayed notebooks into ``out_dir``. It never raises for anything inside the submission: a
broken submission gets a report that says what broke. :class:`Grader` holds the settings.

The holdout seed is the installation's secret. :func:`resolve_holdout_seed` takes, in order:
the value given (``--holdout-seed``), ``$MLINTERVIEW_HOLDOUT_SEED``, the file named by
``$MLINTERVIEW_HOLDOUT_SEED_FILE``, then ``/etc/mlinterview/holdout-seed``. A seed that is not
an integer is hashed to one. The seed file is hidden from the replayed kernels, and the
environment of a kernel is built from scratch, so neither reaches the candidate's code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import nbformat
from traitlets import Float, Instance, List, Unicode, default
from traitlets.config import LoggingConfigurable

from .. import safe_files
from ..scenarios.materialize import IGNORED, csv_bytes, materialize
from ..scenarios.metrics import score
from ..scenarios.pack import ScenarioPack
from ..scenarios.twist import release_twist
from . import behaviour
from . import report as report_module
from . import serving as serving_module
from .constraint_audit import released_twist
from .contract import GRADER_IO, audit_code, check_predictions, predict_code, read_kernel_result
from .replay import ReplayLimits, ReplayResult, execute_grader_code, resolve_kernel_name, run, run_replay
from .submission import (
    HISTORY_FILE,
    SUBMISSION_FILE,
    Submission,
    execution_count_plan,
    history_order_plan,
    load_submission,
    top_to_bottom_plan,
)

HOLDOUT_SEED_ENV = "MLINTERVIEW_HOLDOUT_SEED"
HOLDOUT_SEED_FILE_ENV = "MLINTERVIEW_HOLDOUT_SEED_FILE"
DEFAULT_HOLDOUT_SEED_FILE = Path("/etc/mlinterview/holdout-seed")
MAX_EXTRA_FILES_BYTES = 256 * 1024 * 1024

Progress = Callable[[str], None]


class HoldoutSeedError(Exception):
    """No holdout seed is configured; the message says where one is looked for."""


def seed_from_text(text: str) -> int:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def holdout_seed_file() -> Path:
    return Path(os.environ.get(HOLDOUT_SEED_FILE_ENV) or DEFAULT_HOLDOUT_SEED_FILE)


def resolve_holdout_seed(given: str | int | None = None) -> int:
    """The holdout seed: given value, then $MLINTERVIEW_HOLDOUT_SEED, then the seed file."""
    if given is not None and str(given).strip():
        return seed_from_text(str(given))
    if os.environ.get(HOLDOUT_SEED_ENV, "").strip():
        return seed_from_text(os.environ[HOLDOUT_SEED_ENV])
    path = holdout_seed_file()
    try:
        return seed_from_text(path.read_text())
    except FileNotFoundError:
        pass
    except OSError as error:
        raise HoldoutSeedError(f"cannot read the holdout seed file {path}: {error}") from None
    raise HoldoutSeedError(
        f"no holdout seed: pass --holdout-seed, set ${HOLDOUT_SEED_ENV}, or write the installation's secret seed "
        f"into {path} (or the file named by ${HOLDOUT_SEED_FILE_ENV})"
    )


class Grader(LoggingConfigurable):
    """Settings of grading; one instance may grade many submissions."""

    limits = Instance(ReplayLimits, help="Limits of each replay.")
    predict_timeout = Float(300.0, help="Seconds predict() may take on the holdout features.").tag(config=True)
    hidden_state_tolerance = Float(
        0.005, help="Largest difference in a metric between the two replays that is not called hidden state."
    ).tag(config=True)
    scratch_dir = Unicode(
        "", help="Where working copies are made (default: the system's temporary folder). Removed after grading."
    ).tag(config=True)
    kernel_name = Unicode(
        "", help="Kernelspec for the replays (default: the scenario's mlinterview-cpu/-gpu, else python3)."
    ).tag(config=True)
    hidden_paths = List(
        Unicode(), help="More paths the replayed kernels must not see (e.g. the hub's private store)."
    ).tag(config=True)

    @default("limits")
    def _default_limits(self) -> ReplayLimits:
        return ReplayLimits(parent=self)

    def grade(
        self,
        submission_dir: Path,
        pack: ScenarioPack,
        out_dir: Path,
        holdout_seed: int,
        *,
        progress: Progress | None = None,
        probe_runner: Callable | None = None,
    ) -> dict[str, Any]:
        """Grade one submission and write its report; never raises for the submission's faults."""
        progress = progress or (lambda _stage: None)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        try:
            report = self._grade(Path(submission_dir), pack, out_dir, holdout_seed, progress, probe_runner)
        except Exception as error:  # noqa: BLE001 - one broken submission must not stop a batch
            self.log.exception("grading %s failed", submission_dir)
            report = report_module.failed_report(
                Path(submission_dir), pack, f"the grader failed: {type(error).__name__}: {error}", traceback.format_exc()
            )
        report["grading_seconds"] = round(time.time() - started, 2)
        progress("writing report")
        try:
            report_module.write_report(report, out_dir)
        except Exception as error:  # noqa: BLE001 - a report must exist whatever happened
            self.log.exception("writing the report of %s failed", submission_dir)
            report = report_module.failed_report(
                Path(submission_dir), pack, f"the report could not be written: {type(error).__name__}: {error}", traceback.format_exc()
            )
            report_module.write_report(report, out_dir)
        progress("done")
        return report

    # -- the steps ---------------------------------------------------------------------------
    def _grade(self, folder, pack, out_dir, holdout_seed, progress, probe_runner) -> dict[str, Any]:
        manifest = pack.manifest
        progress("reading submission")
        submission = load_submission(folder, manifest.candidate.notebook)
        if submission.scenario and submission.scenario != pack.id:
            return report_module.failed_report(
                folder, pack, f"the submission is for scenario '{submission.scenario}', not '{pack.id}'; grade it with --scenario {submission.scenario}"
            )
        data_seed = submission.meta.get("data_seed", manifest.constraints.seed)
        if not isinstance(data_seed, int):
            data_seed = manifest.constraints.seed
        progress("generating holdout")
        holdout_features, holdout_labels = pack.generator.make_holdout(holdout_seed)
        id_column, label_column = manifest.contract.id_column, manifest.contract.label_column
        holdout_features = holdout_features.drop(columns=[label_column], errors="ignore")
        candidate_data = pack.generator.make_candidate_data(data_seed)
        validation = _validation_split(candidate_data, label_column)

        scaffold = scaffold_changes(pack, folder)
        kernel_name, kernel_note = resolve_kernel_name(self.kernel_name or f"mlinterview-{manifest.kernel.default}")
        hide = [folder.resolve(), pack.private_dir, out_dir.resolve(), holdout_seed_file(), *map(Path, self.hidden_paths)]
        # Siblings of the submission and of its report are other candidates' work (a batch, the
        # hub's store): hide the parent folders too, unless the replay itself needs what is inside.
        # The folder of the seed file is the installation's private store (the hub keeps it there).
        parents = (folder.resolve().parent, out_dir.resolve().parent, holdout_seed_file().resolve().parent)
        hide += [p for p in parents if self._may_hide(p)]
        # The probes run in their own sandboxed processes: let them work while the replays do.
        probe_pool = ThreadPoolExecutor(max_workers=1)
        probes_future = probe_pool.submit(run_probes, pack, folder, probe_runner, [str(path) for path in hide])
        context: dict[str, Any] = dict(
            pack=pack, submission=submission, data_seed=data_seed, holdout_features=holdout_features,
            holdout_labels=holdout_labels, validation=validation, kernel_name=kernel_name, kernel_note=kernel_note,
            hide=[str(path) for path in hide], behaviour_sample=behaviour_sample(candidate_data, manifest),
            feature_columns=[str(c) for c in holdout_features.columns], validation_by_replay={},
        )
        if manifest.serving is not None:
            context["serving_suite"] = serving_module.load_suite(pack, holdout_features, candidate_data)
        replays: dict[str, ReplayResult | None] = {"top_to_bottom": None, "history_order": None}
        context["replays"] = replays
        scores: dict[str, dict[str, Any]] = {}
        if submission.notebook is not None or submission.history_events:
            scratch = Path(tempfile.mkdtemp(prefix="mlinterview-grade-", dir=self.scratch_dir or None))
            os.chmod(scratch, 0o711)
            try:
                top_plan = []
                if submission.notebook is not None:
                    progress("replay 1/2: final notebook, top to bottom")
                    top_plan = top_to_bottom_plan(submission.notebook)
                    replays["top_to_bottom"] = self._replay("top_to_bottom", "final notebook, top to bottom", top_plan, True, scratch, context)
                progress("replay 2/2: recorded execution order")
                if submission.history_events:
                    plan, order = history_order_plan(submission.history_events, submission.notebook)
                else:
                    plan, order = execution_count_plan(submission.notebook)
                if not plan:
                    context["history_order_skipped"] = f"no execution order to replay: {order}"
                elif replays["top_to_bottom"] is not None and same_code(plan, top_plan):
                    # The same code in the same order in a fresh kernel is the same experiment:
                    # the first replay stands for both (and the grading takes half the time).
                    replays["history_order"] = replays["top_to_bottom"].as_same_order("history_order", order, plan)
                else:
                    replays["history_order"] = self._replay("history_order", order, plan, False, scratch, context)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            for name, result in replays.items():
                if result is not None and result.same_as is not None:
                    scores[name] = scores[result.same_as]
                elif result is not None:
                    scores[name] = self._score(result, context)
                    if result.notebook is not None and result.same_as is None:
                        nbformat.write(result.notebook, out_dir / f"replay-{name.replace('_', '-')}.ipynb")

        served = self._judge_service(context, replays, holdout_labels) if manifest.serving is not None else None
        progress("waiting for the bug probes")
        probes = judge_bugs(pack, replays, probes_future.result())
        probe_pool.shutdown()
        return report_module.build_report(
            pack=pack,
            submission=submission,
            replays=replays,
            scores=scores,
            probes=probes,
            scaffold=scaffold,
            kernel_name=kernel_name,
            tolerance=self.hidden_state_tolerance,
            limits=self.limits,
            notes=[context["history_order_skipped"]] if "history_order_skipped" in context else [],
            hidden=context["hide"],
            serving=served,
        )

    def _judge_service(self, context, replays, holdout_labels) -> dict[str, Any]:
        """The serving section: the suite's answers from the replay that started the app, judged here."""
        manifest = context["pack"].manifest
        source = next((r for r in replays.values() if r is not None and "serving" in r.grader_steps), None)
        ids = [str(i) for i in context["holdout_features"][manifest.contract.id_column].tolist()]
        labels_by_id = dict(zip(ids, holdout_labels))
        notebook_by_id = None
        step = (source.grader_steps.get("holdout") or {}) if source is not None else {}
        if step.get("ok"):
            check = check_predictions(step["raw"], ids, manifest.contract.prediction_kind)
            if check.ok:
                notebook_by_id = dict(zip(ids, check.values.tolist()))
        return serving_module.judge(manifest.serving, context["serving_suite"], source.grader_steps["serving"] if source else None,
                                    manifest.metric.name, labels_by_id, notebook_by_id)

    def _may_hide(self, path: Path) -> bool:
        """False when ``path`` holds what a replay needs: the interpreter, the working copies, the packages."""
        needed = [Path(sys.prefix), Path(sys.executable).resolve().parent, Path(self.scratch_dir or tempfile.gettempdir())]
        needed += [Path(p) for p in sys.path if p]
        path = path.resolve()
        return path != Path(path.anchor) and not any(
            candidate.resolve() == path or path in candidate.resolve().parents for candidate in needed
        )

    def _replay(self, name, order, plan, stop_on_error, scratch: Path, context) -> ReplayResult:
        root = scratch / name
        workdir, private = root / "work", root / "grader"
        private.mkdir(parents=True, mode=0o700)
        prepare_working_copy(context["pack"], context["submission"], context["data_seed"], workdir)
        contract = context["pack"].manifest.contract
        io_dir = workdir / GRADER_IO

        def predict_on(frame, stem):
            async def step(client, _workdir):
                features_name, out_name = f"{stem}_features.csv", f"{stem}_predictions.json"
                # The kernel owns the working copy: write and read through descriptors, following nothing.
                safe_files.write_bytes(workdir, Path(GRADER_IO) / features_name, csv_bytes(frame), mode=0o644)
                code = predict_code(io_dir / features_name, io_dir / out_name, contract.predict, contract.id_column)
                outcome = await execute_grader_code(client, code, self.predict_timeout)
                if not outcome["ok"]:
                    return outcome
                raw, problem = read_kernel_result(workdir, out_name)
                return {"ok": raw is not None, "raw": raw, "problem": problem}
            return step

        async def audit(client, _workdir):
            outcome = await execute_grader_code(client, audit_code(io_dir / "audit.json"), 120)
            if not outcome["ok"]:
                return outcome
            raw, problem = read_kernel_result(workdir, "audit.json")
            return {"ok": raw is not None, "raw": raw, "problem": problem}

        async def observe(client, _workdir):
            return await execute_grader_code(client, behaviour.observer_code(manifest.bugs, manifest.candidate.scaffold), 60)

        async def facts(client, _workdir):
            sample_path, out_path = io_dir / "behaviour_sample.csv", io_dir / "facts.json"
            safe_files.write_bytes(_workdir, Path(GRADER_IO) / sample_path.name, csv_bytes(context["behaviour_sample"]), mode=0o644)
            groups, times = behaviour.group_and_time_columns(manifest.bugs)
            spec = {
                "predict": contract.predict, "sample": str(sample_path), "out": str(out_path), "id_column": contract.id_column,
                "label_column": contract.label_column, "group_columns": groups, "time_columns": times,
                "perturbations": behaviour.perturbations(manifest.bugs), "validation_out": str(io_dir / "validation_split.csv"),
                "locations": sorted({key for bug in manifest.bugs for key in behaviour.bug_locations(bug, manifest.candidate.scaffold)}),
            }
            outcome = await execute_grader_code(client, behaviour.facts_code(spec), 300)
            if not outcome["ok"]:
                return outcome
            raw, problem = read_kernel_result(_workdir, out_path.name)
            return {"ok": raw is not None, "raw": raw, "problem": problem}

        async def validation(client, _workdir):
            target = notebook_validation_split(io_dir / "validation_split.csv", context, result_facts(steps_done))
            context["validation_by_replay"][name] = target
            if target is None:
                return {"ok": False, "problem": "no validation rows to predict"}
            return await predict_on(target[0], "validation")(client, _workdir)

        async def notebook_probes(client, _workdir):
            # Only the bugs the notebook's run did not decide, and once per submission: the
            # top-to-bottom replay's verdicts stand when it has them.
            top = context["replays"].get("top_to_bottom")
            if name != "top_to_bottom" and top is not None and (top.grader_steps.get("notebook_probes") or {}).get("ok"):
                return {"ok": False, "problem": "not needed: the top-to-bottom replay's probes stand"}
            facts_seen = result_facts(steps_done)
            wanted = [bug for bug in manifest.bugs
                      if not any(behaviour.judge(check, facts_seen)[0] in (behaviour.FIXED, behaviour.NOT_FIXED) for check in bug.behaviour)]
            if not wanted:
                return {"ok": True, "raw": {}}
            folder = io_dir / "probes"
            folder.mkdir(mode=0o755, exist_ok=True)
            for source in sorted(context["pack"].private_dir.glob("*.py")):
                if source.is_file() and not source.is_symlink():
                    shutil.copyfile(source, folder / source.name)
                    os.chmod(folder / source.name, 0o644)
            out_path = io_dir / "notebook_probes.json"
            spec = {
                "probes": str(folder / "probes.py"), "scaffold": manifest.candidate.scaffold, "out": str(out_path), "timeout": 60,
                "probes_to_run": [[bug.id, bug.probe] for bug in wanted],
            }
            try:
                outcome = await execute_grader_code(client, behaviour.notebook_probes_code(spec), 60 * len(wanted) + 60)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if not outcome["ok"]:
                return outcome
            raw, problem = read_kernel_result(_workdir, out_path.name)
            return {"ok": raw is not None, "raw": raw, "problem": problem}

        async def serving(client, _workdir):
            return await serving_module.test_service(client, workdir, io_dir, manifest.serving, context["serving_suite"])

        manifest = context["pack"].manifest
        steps_done: dict[str, Any] = {}

        def recorded(step_name, step):
            async def run_and_keep(client, workdir_):
                steps_done[step_name] = outcome = await step(client, workdir_)
                return outcome
            return run_and_keep

        async def main():
            steps = {"holdout": predict_on(context["holdout_features"], "holdout"), "facts": recorded("facts", facts)}
            steps["validation"] = validation
            steps["audit"] = audit
            steps["notebook_probes"] = notebook_probes
            if manifest.serving is not None and (name == "top_to_bottom" or context["submission"].notebook is None):
                steps["serving"] = serving
            return await run_replay(
                name, order, plan, workdir, private, self.limits, context["kernel_name"], stop_on_error=stop_on_error,
                hide=context["hide"], after_cells=steps, kernel_note=context["kernel_note"], before_cells={"observer": observe},
            )

        return run(main())

    def _score(self, result: ReplayResult, context) -> dict[str, Any]:
        pack = context["pack"]
        manifest = pack.manifest
        scored: dict[str, Any] = {}
        targets = {"holdout": (context["holdout_features"], context["holdout_labels"])}
        validation = context["validation_by_replay"].get(result.same_as or result.name)
        if validation is not None:
            targets["validation"] = validation[:2]
        for split, (features, labels) in targets.items():
            step = result.grader_steps.get(split)
            if step is None:
                scored[split] = {"ok": False, "problems": ["no predictions: the replay did not get as far as the contract"]}
                continue
            if not step.get("ok"):
                scored[split] = {"ok": False, "problems": [f"predict failed: {step.get('problem')}"]}
                continue
            check = check_predictions(step["raw"], features[manifest.contract.id_column].tolist(), manifest.contract.prediction_kind)
            entry = {"ok": check.ok, "problems": check.problems, "count": check.count, "summary": check.summary}
            if check.ok:
                try:
                    entry["metric"] = score(manifest.metric.name, labels, check.values)
                except ValueError as error:
                    entry.update(ok=False, problems=[f"the metric cannot be computed on these predictions: {error}"])
            scored[split] = entry
        if "validation" in scored:
            scored["validation"]["data"] = validation[2]  # which rows: the notebook's split, or the candidate's file
        audit = result.grader_steps.get("audit") or {}
        scored["audit"] = audit.get("raw") if audit.get("ok") else {"problem": audit.get("problem", "the audit did not run")}
        return scored


def behaviour_sample(candidate_data: dict, manifest, rows: int = 1000):
    """Features of a sample of the candidate's own labelled rows, for asking the notebook's predict."""
    label = manifest.contract.label_column
    for _name, frame in sorted(candidate_data.items()):
        if label in frame.columns:
            sample = frame.sample(n=min(rows, len(frame)), random_state=0) if len(frame) > rows else frame
            return sample.drop(columns=[label]).reset_index(drop=True)
    return next(iter(candidate_data.values())).head(rows)


def result_facts(steps: dict[str, Any]) -> dict | None:
    facts = steps.get("facts") or {}
    return facts.get("raw") if facts.get("ok") else None


def notebook_validation_split(path: Path, context: dict, facts: dict | None):
    """(features, labels, description) of the validation rows the notebook defined, else of the
    candidate's file, with words saying which rows they are.

    Rows whose index and id match the candidate's file are taken from the file itself (all its
    columns, as the holdout presents them); a frame whose rows cannot be traced is used as the
    notebook holds it, and the description says so.
    """
    fallback = context["validation"]
    label, id_column = context["pack"].manifest.contract.label_column, context["pack"].manifest.contract.id_column
    frame_facts = (facts or {}).get("validation_frame") or {}
    if fallback is not None:
        file_name = fallback[2]
        described = (fallback[0], fallback[1], (
            f"{file_name}, all {len(fallback[1]):,} rows: the candidate's validation file" if "valid" in file_name.lower() else
            f"{file_name}, all {len(fallback[1]):,} rows, including those the notebook trained on (its own validation split was not found)"
        ))
    else:
        described = None
    if not frame_facts.get("written"):
        return described
    import pandas as pd

    try:
        if path.stat().st_size > 256 * 1024 * 1024:
            return described
        frame = pd.read_csv(path, index_col="__row__")
    except (OSError, ValueError):
        return described
    if label not in frame.columns or len(frame) == 0:
        return described
    where = frame_facts.get("path", "the notebook's validation frame")
    source = None
    for _name, data in sorted(context["pack"].generator.make_candidate_data(context["data_seed"]).items()):
        if label in data.columns and id_column in frame.columns and id_column in data.columns:
            try:
                rows = data.loc[frame.index]
            except (KeyError, TypeError):
                continue
            if (rows[id_column].astype(str).to_numpy() == frame[id_column].astype(str).to_numpy()).all():
                source = (rows.drop(columns=[label]).reset_index(drop=True), rows[label].to_numpy(),
                          f"the notebook's validation split ({where}): {len(rows):,} rows of {_name}")
                break
    if source is not None:
        return source
    columns = [c for c in context["feature_columns"] if c in frame.columns]
    return (frame[columns].reset_index(drop=True), frame[label].to_numpy(),
            f"the notebook's validation split ({where}, {len(frame):,} rows), as the notebook's frame holds them "
            f"(its rows could not be traced back to the candidate's file)")


def judge_bugs(pack: ScenarioPack, replays: dict, scaffold_probes: dict[str, Any]) -> dict[str, Any]:
    """Each bug's verdict from the notebook's run, the probe on the scaffold as the notebook left it,
    and the probe on the scaffold files (``graders/behaviour.py`` says how they combine)."""
    source, note = None, None
    for name in ("top_to_bottom", "history_order"):
        result = replays.get(name)
        if result is not None and (result.grader_steps.get("facts") or {}).get("ok"):
            source = result
            break
    if source is None:
        ran = [r for r in replays.values() if r is not None]
        note = ("the replay stopped before the grader could look: " + (ran[0].stopped.detail if ran and ran[0].stopped else "no replay")) if ran else "no replay ran"
    facts = (source.grader_steps["facts"]["raw"]) if source is not None else None
    notebook_step = (source.grader_steps.get("notebook_probes") or {}) if source is not None else {}
    notebook_verdicts = notebook_step.get("raw") if notebook_step.get("ok") else None
    verdicts = {}
    for bug in pack.manifest.bugs:
        scaffold = scaffold_probes.get(bug.id)
        scaffold = {"status": scaffold.get("status", "fixed" if scaffold.get("fixed") else "not_fixed"), "detail": scaffold.get("message", "")} if scaffold else None
        behaviour_verdicts = [(check, behaviour.judge(check, facts)) for check in bug.behaviour]
        in_notebook = (notebook_verdicts or {}).get(bug.id)
        unused = behaviour.usage_note(bug, pack.manifest.candidate.scaffold, facts)
        verdicts[bug.id] = behaviour.combine(bug, behaviour_verdicts, in_notebook, scaffold, note if notebook_verdicts is None else None, unused)
    return verdicts


def same_code(plan, other) -> bool:
    """Whether two replay plans run the same code in the same order."""
    return [step.source.strip() for step in plan] == [step.source.strip() for step in other]


def _validation_split(candidate_data: dict, label_column: str):
    """(features, labels) of the candidate's validation file; without one, of the candidate's
    labelled data (a pack may leave the split to the candidate). Compared between the two replays."""
    labelled = [(name, frame) for name, frame in sorted(candidate_data.items()) if label_column in frame.columns]
    for name, frame in sorted(labelled, key=lambda item: "valid" not in item[0].lower()):
        return frame.drop(columns=[label_column]), frame[label_column].to_numpy(), name
    return None


def prepare_working_copy(pack: ScenarioPack, submission: Submission, data_seed: int, workdir: Path) -> list[safe_files.LeftOut]:
    """The scenario's workspace for the candidate's data seed, with the candidate's files on top.

    Only plain regular files of the submission are copied (nothing is followed); returns what was
    left out (links, FIFOs, devices, hard links, files past the size budget)."""
    materialize(pack, workdir, data_seed)
    if released_twist(pack.manifest, submission.meta) is not None:
        # the session ended under the twist: the replay's kernel starts with it (its guard enforces the
        # twist's limit, the new data is there), as the audit and the report count with it
        release_twist(pack, workdir)
    shutil.rmtree(workdir / pack.manifest.candidate.scaffold, ignore_errors=True)  # the candidate's deletions stand
    skip = {SUBMISSION_FILE, HISTORY_FILE, pack.manifest.candidate.data_dir, ".mlinterview", GRADER_IO}
    left_out = safe_files.copy_tree(submission.folder, workdir, ignore=IGNORED, skip_top=skip, max_bytes=MAX_EXTRA_FILES_BYTES)
    (workdir / GRADER_IO).mkdir(exist_ok=True)
    return left_out


def scaffold_changes(pack: ScenarioPack, folder: Path) -> dict[str, Any]:
    """Per-file diff of the submission's scaffold against the shipped one (plain regular files only:
    a link's target is never read, so never shown)."""
    import difflib

    scaffold = pack.manifest.candidate.scaffold

    def files(root: Path, relative: str = "") -> dict[str, str]:
        entries, _left_out = safe_files.survey(root, relative, ignore=IGNORED)
        return {entry.path: entry.path for entry in entries}

    shipped, submitted = files(pack.scaffold_dir), files(folder, scaffold)
    changes = []
    for name in sorted(set(shipped) | set(submitted)):
        old = _text(pack.scaffold_dir, name) if name in shipped else None
        new = _text(folder, f"{scaffold}/{name}") if name in submitted else None
        if name not in submitted:
            status = "deleted"
        elif name not in shipped:
            status = "added"
        elif old == new:
            continue
        else:
            status = "modified"
        diff = "".join(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True), f"shipped/{name}", f"submitted/{name}"
            )
        )
        changes.append({"file": name, "status": status, "diff": diff[:200_000]})
    return {"present": (folder / scaffold).is_dir() and not (folder / scaffold).is_symlink(), "files": changes}


def _text(root: Path, relative: str) -> str | None:
    try:
        data = safe_files.read_bytes(root, relative)[:1_000_000]
    except (OSError, ValueError):
        return None  # replaced by something else since the survey: nothing of it is shown
    return data.decode("utf-8", errors="replace")


def run_probes(pack: ScenarioPack, folder: Path, probe_runner: Callable | None, hidden: list[str] = ()) -> dict[str, Any]:
    """Probe verdicts per bug id on the submission's scaffold files: {bug: {fixed, status, message}}.
    The runner copies the scaffold's regular files into a sandbox of its own (``hidden`` covered there)."""
    scaffold = folder / pack.manifest.candidate.scaffold
    if scaffold.is_symlink() or not scaffold.is_dir():
        return {bug.id: {"fixed": False, "status": "error", "message": "the scaffold folder is missing from the submission"} for bug in pack.manifest.bugs}
    runner = probe_runner or default_probe_runner(hidden)
    try:
        return runner(pack, scaffold)
    except Exception as error:  # noqa: BLE001
        return {bug.id: {"fixed": False, "status": "error", "message": f"the probes could not run: {error}"} for bug in pack.manifest.bugs}


def default_probe_runner(hidden: list[str] = ()) -> Callable:
    from .probe_adapter import probe_with_pack_tools

    return lambda pack, scaffold: probe_with_pack_tools(pack, scaffold, hidden)


def grade_submission(
    submission_dir: Path,
    pack: ScenarioPack,
    out_dir: Path,
    holdout_seed: int | str | None = None,
    *,
    progress: Progress | None = None,
    grader: Grader | None = None,
) -> dict[str, Any]:
    """Grade one submission folder against ``pack``; write report.json/report.html into ``out_dir``."""
    seed = resolve_holdout_seed(holdout_seed)
    return (grader or Grader()).grade(Path(submission_dir), pack, Path(out_dir), seed, progress=progress)
