"""Calibration: a scenario pack's self-test, and the evidence that its bugs and bands mean something.

Over several seeds, the calibration trains the pack's pipeline (``contract.pipeline``) in
variants of the scaffold, scores each on a holdout, and runs the probes on each variant:

- ``shipped as is``: the candidate's scaffold untouched (one seed; with breaking bugs it fails)
- ``baseline``: the shipped scaffold with only the breaking bugs fixed
- ``+ <bug>``: the baseline plus the fix of one non-breaking bug, for each of them
- ``all fixes``: every fix of ``private/fixes.toml``
- ``all but <bug>``: every fix except that of one non-breaking bug (leave one out), for each
- ``reference``: ``private/reference/``

It passes when the baseline lands in the lowest metric band, each single fix either moves the
metric beyond the seed spread or flips its own probe, each non-breaking bug left out costs beyond
the seed spread against ``all fixes`` (or the bug is declared ``probe_only`` in ``scenario.toml``,
with the reason, and its probe flips), the reference lands in the top band and trains within the
time budget, and every probe says "not fixed" on the shipped scaffold and "fixed" on the reference.
The leave-one-out column is what the holdout can tell on its own: the learning-killer bugs mask
most single fixes against the baseline, but not against all the others fixed.

Each training run happens in a child process that gets the workspace and a CSV of holdout
*features*; it writes its predictions as ``.npy`` and its timings as JSON, and the metric is
computed here, in the parent: holdout labels never enter a process that runs scaffold code. The
calibration's holdout seeds are its own (``CALIBRATION_HOLDOUT_SEED_OFFSET``), never an
installation's secret. Children are forked from a ``forkserver`` that has the scientific stack
imported already, so that each run is a fresh process without paying the import time again.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from traitlets import Bool, Float, Int, TraitError, default, validate
from traitlets.config import LoggingConfigurable

from .fixes import load_fixes, scaffold_with_fixes
from .materialize import IGNORED, materialize, write_csv
from .metrics import score
from .pack import ScenarioPack

# Calibration holdouts come from seeds of their own, far from any data seed.
CALIBRATION_HOLDOUT_SEED_OFFSET = 7919
# Imported once in the forkserver: every training and probe child starts with them loaded.
PRELOADED_MODULES = ("numpy", "pandas", "torch", "sklearn.metrics", __name__, "mlinterview.scenarios.probe_runner")
SUMMARY_FILE = "calibration.json"
# What a calibration's measurements rest on, besides the pack: the code that builds its data,
# applies its fixes, trains and scores, and runs its probes (this package's modules).
CALIBRATION_CODE = ("calibration.py", "fixes.py", "materialize.py", "metrics.py", "probe_runner.py")
GIT_SCAFFOLD_CODE = "git_scaffold.py"  # a calibration input of the packs whose scaffold is a git repository only
NOT_CALIBRATION_INPUTS = (SUMMARY_FILE,)  # the evidence itself; and prose (*.md), caches


def calibration_inputs_fingerprint(pack: ScenarioPack) -> str:
    """SHA-256 over everything a calibration of ``pack`` measures: the pack's files (its manifest,
    scaffold, notebook, data generator, fixes, reference and probes; not its prose, caches or the
    evidence itself) and the calibration code. The evidence (``private/calibration.json``) records
    the fingerprint it was made from; a pack or code changed since makes them differ, and the
    evidence must be made again (``mlinterview scenarios calibrate ID --update-pack``)."""
    import hashlib

    digest = hashlib.sha256()

    def add(label: str, path: Path) -> None:
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")

    for path in sorted(pack.folder.rglob("*")):
        relative = path.relative_to(pack.folder)
        if (not path.is_file() or path.name in NOT_CALIBRATION_INPUTS or path.suffix in (".md", ".pyc")
                or any(part in ("__pycache__", ".ipynb_checkpoints") for part in relative.parts)):
            continue
        add("pack/" + relative.as_posix(), path)
    for name in CALIBRATION_CODE + ((GIT_SCAFFOLD_CODE,) if pack.manifest.git is not None else ()):
        add("code/" + name, Path(__file__).with_name(name))
    return digest.hexdigest()
PROBE_MARKS = {"fixed": "F", "not_fixed": "-", "error": "E"}


@dataclass(frozen=True)
class Variant:
    """One version of the scaffold the calibration trains."""

    name: str
    kind: str  # "shipped", "baseline", "single", "all", "leave_one_out", "reference"
    fixes: tuple[str, ...] = ()
    target_bug: str | None = None

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.name).strip("-")


@dataclass(frozen=True)
class Run:
    """One training run: its holdout metric, the CPU and wall seconds of the pipeline call, and the
    validation figures the pipeline reported about itself (``predict.validation``), if any."""

    seed: int
    metric: float
    train_cpu_seconds: float
    train_wall_seconds: float
    validation: dict | None = None


@dataclass
class VariantResult:
    variant: Variant
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    probes: dict = field(default_factory=dict)  # bug id -> ProbeVerdict

    def _by_seed(self, attribute: str) -> list:
        return [getattr(run, attribute) for run in sorted(self.runs, key=lambda run: run.seed)]

    @property
    def metrics(self) -> list[float]:
        return self._by_seed("metric")

    @property
    def train_seconds(self) -> list[float]:
        """CPU seconds of each training run: what the budget (one core) is about, whatever the machine's load."""
        return self._by_seed("train_cpu_seconds")

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.metrics) if self.metrics else None

    @property
    def std(self) -> float | None:
        return statistics.pstdev(self.metrics) if self.metrics else None

    def summary(self, pack: ScenarioPack) -> dict:
        mean = self.mean
        return {
            "variant": self.variant.name,
            "kind": self.variant.kind,
            "fixes": list(self.variant.fixes),
            "target_bug": self.variant.target_bug,
            "metric_per_seed": self.metrics,
            "metric_mean": mean,
            "metric_std": self.std,
            "metric_min": min(self.metrics) if self.metrics else None,
            "metric_max": max(self.metrics) if self.metrics else None,
            "band": pack.manifest.band_for_metric(mean) if mean is not None else None,
            "train_cpu_seconds_mean": statistics.fmean(self.train_seconds) if self.train_seconds else None,
            "train_cpu_seconds_max": max(self.train_seconds) if self.train_seconds else None,
            "train_wall_seconds_max": max(self._by_seed("train_wall_seconds")) if self.runs else None,
            "errors": self.errors,
            "validation_per_seed": self._by_seed("validation"),
            "probes": {bug: verdict.to_json() for bug, verdict in self.probes.items()},
        }


@dataclass
class Criterion:
    name: str
    passed: bool
    detail: str


@dataclass
class CalibrationReport:
    pack: ScenarioPack
    seeds: list[int]
    results: list[VariantResult]
    criteria: list[Criterion]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(criterion.passed for criterion in self.criteria)

    def result(self, kind: str) -> VariantResult:
        return next(r for r in self.results if r.variant.kind == kind)

    def to_json(self) -> dict:
        manifest = self.pack.manifest

        def headline(kind: str) -> dict:
            summary = self.result(kind).summary(self.pack)
            return {
                "mean": summary["metric_mean"], "std": summary["metric_std"], "min": summary["metric_min"],
                "max": summary["metric_max"], "band": summary["band"],
                "train_cpu_seconds_max": summary["train_cpu_seconds_max"], "train_wall_seconds_max": summary["train_wall_seconds_max"],
            }

        return {
            "scenario": manifest.id,
            "version": manifest.version,
            "metric": manifest.metric.model_dump(),
            "metric_bands": manifest.rubric.metric_bands.model_dump(),
            "seeds": self.seeds,
            "holdout_seeds": [seed + CALIBRATION_HOLDOUT_SEED_OFFSET for seed in self.seeds],
            "baseline": headline("baseline"),
            "all_fixes": headline("all"),
            "reference": headline("reference"),
            "variants": [result.summary(self.pack) for result in self.results],
            "criteria": [vars(criterion) for criterion in self.criteria],
            "passed": self.passed,
            "seconds": round(self.seconds, 1),
            "inputs_sha256": calibration_inputs_fingerprint(self.pack),
        }


def plan_variants(pack: ScenarioPack) -> list[Variant]:
    """The variants the calibration trains, in the order of its table."""
    breaking = tuple(bug.id for bug in pack.manifest.breaking_bugs)
    variants = [Variant("shipped as is", "shipped"), Variant("baseline (breaking fixes only)", "baseline", breaking)]
    for bug in pack.manifest.non_breaking_bugs:
        variants.append(Variant(f"+ {bug.id}", "single", breaking + (bug.id,), bug.id))
    everything = breaking + tuple(b.id for b in pack.manifest.non_breaking_bugs)
    variants.append(Variant("all fixes", "all", everything))
    for bug in pack.manifest.non_breaking_bugs:
        variants.append(Variant(f"all but {bug.id}", "leave_one_out", tuple(b for b in everything if b != bug.id), bug.id))
    variants.append(Variant("reference", "reference"))
    return variants


# -- the child: runs scaffold code, never sees a label --------------------------------------------


def _train_and_predict(workspace: str, pipeline: str, seed: int, features_csv: str, out_dir: str) -> None:
    """Run ``pipeline`` in ``workspace``; write predictions for ``features_csv`` to ``out_dir``."""
    out = Path(out_dir)
    try:
        import importlib

        import pandas as pd

        os.chdir(workspace)
        sys.path.insert(0, workspace)
        sys.dont_write_bytecode = True
        module_name, _, function_name = pipeline.partition(":")
        fit = getattr(importlib.import_module(module_name), function_name)
        started, started_cpu = time.perf_counter(), time.process_time()
        predict = fit(Path(workspace), seed)
        train_seconds, train_cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
        features = pd.read_csv(features_csv)
        started = time.perf_counter()
        predictions = np.asarray(predict(features), dtype=float)
        predict_seconds = time.perf_counter() - started
        np.save(out / "predictions.npy", predictions, allow_pickle=False)
        validation = getattr(predict, "validation", None)
        try:
            validation = json.loads(json.dumps(validation))
        except (TypeError, ValueError):
            validation = None
        (out / "run.json").write_text(json.dumps({
            "train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds,
            "predict_seconds": predict_seconds, "validation": validation,
        }))
    except BaseException as error:  # noqa: BLE001 - any failure of scaffold code is a result
        last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
        where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
        (out / "error.json").write_text(json.dumps({"error": f"{type(error).__name__}: {error}{where}"}))
        raise SystemExit(1)


def run_pipeline_once(workspace: Path, pipeline: str, seed: int, features_csv: Path, timeout: float) -> dict:
    """Train in a child process; return {"predictions"} and timings, or {"error"}."""
    out = Path(tempfile.mkdtemp(prefix="run-", dir=workspace.parent))
    try:
        from .probe_runner import forkserver_context

        process = forkserver_context(PRELOADED_MODULES).Process(
            target=_train_and_predict, args=(str(workspace), pipeline, seed, str(features_csv), str(out)), daemon=True
        )
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            return {"error": f"training did not finish within {timeout:g} s"}
        if (out / "error.json").exists():
            return json.loads((out / "error.json").read_text())
        if not (out / "predictions.npy").exists():
            return {"error": f"the training process died (exit status {process.exitcode}) without predictions"}
        run = json.loads((out / "run.json").read_text())
        run["predictions"] = np.load(out / "predictions.npy", allow_pickle=False)
        return run
    finally:
        shutil.rmtree(out, ignore_errors=True)


# -- the calibration ------------------------------------------------------------------------------


def _spread_gain(pack: ScenarioPack, candidate: VariantResult, baseline: VariantResult) -> tuple[bool, float]:
    """Whether ``candidate`` beats ``baseline`` beyond the seed spread: its worst seed beats the baseline's best."""
    if not candidate.metrics or not baseline.metrics:
        return False, math.nan
    higher = pack.manifest.metric.direction == "higher"
    gain = (candidate.mean - baseline.mean) * (1 if higher else -1)
    if higher:
        return min(candidate.metrics) > max(baseline.metrics), gain
    return max(candidate.metrics) < min(baseline.metrics), gain


def _probe_flips(baseline: VariantResult, single: VariantResult | None, bug: str) -> bool:
    before, after = baseline.probes.get(bug), single.probes.get(bug) if single else None
    return bool(before and after and before.status == "not_fixed" and after.status == "fixed")


def check_criteria(pack: ScenarioPack, results: list[VariantResult]) -> list[Criterion]:
    """The pass criteria of a calibration (see the module docstring)."""
    manifest = pack.manifest
    by_kind = {r.variant.kind: r for r in results if r.variant.kind not in ("single", "leave_one_out")}
    baseline, reference, shipped = by_kind["baseline"], by_kind["reference"], by_kind["shipped"]
    lowest, top = "very_weak", "very_strong"
    criteria = []

    failed = [f"{r.variant.name}: {r.errors[0]}" for r in results if r.errors and r.variant.kind != "shipped"]
    criteria.append(Criterion("every run trains and predicts", not failed, "; ".join(failed) or "all runs produced predictions"))

    band = manifest.band_for_metric(baseline.mean) if baseline.metrics else None
    criteria.append(Criterion(
        "baseline lands in the lowest band", band == lowest,
        f"baseline {manifest.metric.name} {_fmt(baseline.mean)} is '{band}'",
    ))
    for result in results:
        if result.variant.kind != "single":
            continue
        bug = result.variant.target_bug
        moved, gain = _spread_gain(pack, result, baseline)
        before, after = baseline.probes.get(bug), result.probes.get(bug)
        flipped = bool(before and after and before.status == "not_fixed" and after.status == "fixed")
        evidence = [word for word, ok in (("metric", moved), ("probe", flipped)) if ok]
        criteria.append(Criterion(
            f"fix of {bug} shows", bool(evidence),
            f"gain {_fmt(gain, signed=True)} ({'beyond' if moved else 'within'} the seed spread); probe "
            f"{before.status if before else '?'} -> {after.status if after else '?'}",
        ))
    everything = by_kind["all"]
    for result in results:
        if result.variant.kind != "leave_one_out":
            continue
        bug = pack.bug(result.variant.target_bug)
        costs, cost = _spread_gain(pack, everything, result)
        flipped = _probe_flips(baseline, next((r for r in results if r.variant.kind == "single" and r.variant.target_bug == bug.id), None), bug.id)
        if costs:
            passed, how = True, "beyond the seed spread"
        elif bug.probe_only:
            passed, how = flipped, f"within the seed spread; declared probe-only ({bug.probe_only.strip()}), probe {'flips' if flipped else 'does NOT flip'}"
        else:
            passed, how = False, "within the seed spread, and not declared probe_only in scenario.toml"
        criteria.append(Criterion(f"leaving out the fix of {bug.id} costs", passed, f"cost {_fmt(cost, signed=True)} against all fixes, {how}"))
    band = manifest.band_for_metric(reference.mean) if reference.metrics else None
    slowest = max(reference.train_seconds) if reference.train_seconds else math.inf
    slowest_wall = max(run.train_wall_seconds for run in reference.runs) if reference.runs else math.inf
    budget = manifest.constraints.train_time_budget_seconds
    criteria.append(Criterion(
        "reference lands in the top band", band == top, f"reference {manifest.metric.name} {_fmt(reference.mean)} is '{band}'"
    ))
    criteria.append(Criterion(
        "reference trains within the time budget", slowest <= budget, f"slowest run {slowest:.1f} s of CPU ({slowest_wall:.1f} s wall), budget {budget:g} s on one core"
    ))
    wrong_shipped = [bug for bug, v in shipped.probes.items() if v.status != "not_fixed"]
    criteria.append(Criterion(
        "every probe says 'not fixed' on the shipped scaffold", not wrong_shipped and bool(shipped.probes),
        ", ".join(f"{bug}: {shipped.probes[bug].status} ({shipped.probes[bug].detail})" for bug in wrong_shipped) or "all not fixed",
    ))
    wrong_reference = [bug for bug, v in reference.probes.items() if v.status != "fixed"]
    criteria.append(Criterion(
        "every probe says 'fixed' on the reference", not wrong_reference and bool(reference.probes),
        ", ".join(f"{bug}: {reference.probes[bug].status} ({reference.probes[bug].detail})" for bug in wrong_reference) or "all fixed",
    ))
    return criteria


class Calibration(LoggingConfigurable):
    """Train and probe every variant of a pack over several seeds, then check the pass criteria."""

    n_seeds = Int(
        3,
        help="Seeds to train every variant with (the pack's seed and the next ones). At least 3: the "
        "criteria compare fixes against the spread over seeds.",
    ).tag(config=True)
    jobs = Int(help="Training runs and probe processes side by side (default: min(2, CPUs)).").tag(config=True)
    run_timeout = Float(
        help="Seconds one training run may take before it is stopped and counted as failed "
        "(default: five times the pack's training-time budget, at least 120 s: a busy machine is slow).",
    ).tag(config=True)
    progress = Bool(True, help="Show a progress bar on stderr.").tag(config=True)

    @default("jobs")
    def _default_jobs(self) -> int:
        return min(2, os.cpu_count() or 1)

    @validate("n_seeds")
    def _at_least_three(self, proposal) -> int:
        if proposal.value < 3:
            raise TraitError(f"n_seeds={proposal.value}: the calibration needs at least 3 seeds to measure the seed spread")
        return proposal.value

    def run(self, pack: ScenarioPack) -> CalibrationReport:
        """The calibration report of ``pack``."""
        from tqdm import tqdm

        from .probe_runner import ProbeRunner

        started = time.monotonic()
        manifest = pack.manifest
        run_timeout = self.run_timeout or max(120.0, 5 * manifest.constraints.train_time_budget_seconds)
        seeds = [manifest.constraints.seed + index for index in range(self.n_seeds)]
        load_fixes(pack)  # a broken fixes.toml fails here, before any training
        variants = plan_variants(pack)
        results = {variant.name: VariantResult(variant) for variant in variants}
        labels: dict[int, np.ndarray] = {}
        lock = threading.Lock()

        with tempfile.TemporaryDirectory(prefix=f"mlinterview-calibrate-{pack.id}-") as scratch:
            root = Path(scratch)
            templates, features = {}, {}
            for seed in seeds:
                templates[seed] = materialize(pack, root / "templates" / str(seed), seed)
                holdout_features, labels[seed] = pack.generator.make_holdout(seed + CALIBRATION_HOLDOUT_SEED_OFFSET)
                features[seed] = root / "holdout" / f"features-{seed}.csv"
                write_csv(holdout_features, features[seed])
            scaffolds = {}
            for variant in variants:
                target = root / "scaffolds" / variant.slug / pack.scaffold_name
                if variant.kind == "reference":
                    scaffolds[variant.name] = Path(shutil.copytree(pack.reference_dir, target, ignore=IGNORED))
                else:
                    scaffolds[variant.name] = scaffold_with_fixes(pack, list(variant.fixes), target)

            def train(variant: Variant, seed: int) -> None:
                workspace = root / "runs" / f"{variant.slug}-{seed}" / "workspace"
                shutil.copytree(templates[seed], workspace)
                shutil.rmtree(workspace / pack.scaffold_name)
                shutil.copytree(scaffolds[variant.name], workspace / pack.scaffold_name)
                run = run_pipeline_once(workspace, manifest.contract.pipeline, seed, features[seed], run_timeout)
                shutil.rmtree(workspace.parent, ignore_errors=True)
                predictions = run.get("predictions")
                error = run.get("error")
                if error is None:
                    expected = len(labels[seed])
                    if predictions.shape != (expected,) or not np.all(np.isfinite(predictions)):
                        error = f"predict returned shape {predictions.shape} (finite: {bool(np.all(np.isfinite(predictions)))}); expected {expected} finite values"
                with lock:
                    result = results[variant.name]
                    if error is not None:
                        result.errors.append(f"seed {seed}: {error}")
                        return
                    metric = score(manifest.metric.name, labels[seed], predictions)
                    result.runs.append(Run(seed, metric, run["train_cpu_seconds"], run["train_seconds"], run.get("validation")))

            def probe(variant: Variant) -> None:
                verdicts = ProbeRunner(preload_modules=list(PRELOADED_MODULES)).run(pack, scaffolds[variant.name])
                with lock:
                    results[variant.name].probes = verdicts

            tasks = [(probe, (variant,)) for variant in variants]
            for variant in variants:
                for seed in (seeds[:1] if variant.kind == "shipped" else seeds):
                    tasks.append((train, (variant, seed)))
            with tqdm(total=len(tasks), desc=f"calibrating {pack.id}", unit="run", disable=not self.progress, file=sys.stderr) as bar:
                def run_task(task):
                    function, args = task
                    try:
                        function(*args)
                    finally:
                        bar.update(1)

                with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                    for _ in pool.map(run_task, tasks):
                        pass
        ordered = [results[variant.name] for variant in variants]
        return CalibrationReport(pack, seeds, ordered, check_criteria(pack, ordered), time.monotonic() - started)


# -- output ---------------------------------------------------------------------------------------


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def format_table(report: CalibrationReport) -> str:
    """The calibration table: metric mean ± std [min-max], band, train seconds, probe verdicts."""
    pack, manifest = report.pack, report.pack.manifest
    baseline = report.result("baseline")
    n_bugs = len(manifest.bugs)
    metric = manifest.metric.name
    header = f"{'variant':<38} {metric + ' mean ± std [min–max]':<34} {'band':<12} {'cpu s':>7}  {'probes fixed':<12} evidence"
    lines = [
        f"calibration of '{manifest.id}' v{manifest.version}: {len(report.seeds)} seeds {report.seeds}, "
        f"{metric} ({manifest.metric.direction} is better) on a later-period holdout",
        header,
        "-" * len(header),
    ]
    for result in report.results:
        if result.metrics:
            spread = f"{_fmt(result.mean)} ± {_fmt(result.std)} [{_fmt(min(result.metrics))}–{_fmt(max(result.metrics))}]"
            band = manifest.band_for_metric(result.mean)
            seconds = f"{statistics.fmean(result.train_seconds):7.1f}"
        else:
            spread = "fails: " + (result.errors[0].split(": ")[1][:26] if result.errors else "no runs")
            band, seconds = "-", f"{'-':>7}"
        fixed = sum(v.fixed for v in result.probes.values())
        evidence = ""
        if result.variant.kind == "single":
            bug = result.variant.target_bug
            moved, gain = _spread_gain(pack, result, baseline)
            flipped = _probe_flips(baseline, result, bug)
            evidence = f"{_fmt(gain, signed=True)} {'beyond' if moved else 'within'} spread; probe {'flips' if flipped else 'does NOT flip'}"
        elif result.variant.kind == "leave_one_out":
            costs, cost = _spread_gain(pack, report.result("all"), result)
            evidence = f"costs {_fmt(cost, signed=True)} against all fixes, {'beyond' if costs else 'within'} spread"
        if result.errors and result.metrics:
            evidence += f" ({len(result.errors)} failed run(s))"
        lines.append(f"{result.variant.name:<38} {spread:<34} {band:<12} {seconds}  {fixed:>2}/{n_bugs:<9} {evidence}".rstrip())
    failures = [(result.variant.name, error) for result in report.results for error in result.errors]
    if failures:
        lines.append("")
        lines.append("failed runs:")
        lines.extend(f"  {name}, {error[:160]}" for name, error in failures)
    lines.append("")
    lines.extend(format_bug_table(report))
    lines.append("")
    lines.append(f"probe verdicts ({PROBE_MARKS['fixed']} fixed, {PROBE_MARKS['not_fixed']} not fixed, {PROBE_MARKS['error']} error):")
    singles = {r.variant.target_bug: r for r in report.results if r.variant.kind == "single"}
    left_out = {r.variant.target_bug: r for r in report.results if r.variant.kind == "leave_one_out"}
    columns = [("shipped", report.result("shipped")), ("baseline", baseline), ("own fix", singles), ("all fixes", report.result("all")),
               ("all but own", left_out), ("reference", report.result("reference"))]
    lines.append(f"  {'bug':<34} {'kind':<13}" + "".join(f"{name:>12}" for name, _ in columns))
    for bug in manifest.bugs:
        marks = []
        for name, result in columns:
            if isinstance(result, dict):
                result = result.get(bug.id)
            verdict = result.probes.get(bug.id) if result else None
            marks.append(PROBE_MARKS.get(verdict.status, "?") if verdict else "·")
        lines.append(f"  {bug.id:<34} {bug.kind:<13}" + "".join(f"{mark:>12}" for mark in marks))
    lines.append("")
    for criterion in report.criteria:
        lines.append(f"{'PASS' if criterion.passed else 'FAIL'}  {criterion.name}: {criterion.detail}")
    lines.append(f"calibration {'PASSED' if report.passed else 'FAILED'} in {report.seconds:.0f} s")
    return "\n".join(lines)


def format_bug_table(report: CalibrationReport) -> list[str]:
    """Per non-breaking bug: what its fix alone gains over the baseline, and what leaving it out of
    all the fixes costs (the leave-one-out column), each against the seed spread."""
    pack, manifest = report.pack, report.pack.manifest
    baseline, everything = report.result("baseline"), report.result("all")
    by_kind = {(r.variant.kind, r.variant.target_bug): r for r in report.results}
    header = f"  {'bug':<34} {'alone vs baseline':<26} {'left out vs all fixes':<26} {'probe':<12} shows in"
    lines = ["each non-breaking bug, in the holdout metric (gain signed so that positive is better):", header, "  " + "-" * (len(header) - 2)]
    for bug in manifest.non_breaking_bugs:
        single, loo = by_kind.get(("single", bug.id)), by_kind.get(("leave_one_out", bug.id))
        moved, gain = _spread_gain(pack, single, baseline) if single else (False, math.nan)
        costs, cost = _spread_gain(pack, everything, loo) if loo else (False, math.nan)
        flipped = _probe_flips(baseline, single, bug.id)
        shows = [word for word, ok in (("alone", moved), ("left out", costs), ("probe", flipped)) if ok]
        where = ", ".join(shows) or "nothing"
        if bug.probe_only and not costs:
            where += " (declared probe-only)"
        lines.append(
            f"  {bug.id:<34} {_fmt(gain, signed=True) + (' beyond spread' if moved else ' within spread'):<26} "
            f"{_fmt(-cost if not math.isnan(cost) else cost, signed=True) + (' beyond spread' if costs else ' within spread'):<26} "
            f"{'flips' if flipped else 'no flip':<12} {where}"
        )
    return lines


def output_paths(pack: ScenarioPack, out: Path | None) -> tuple[Path | None, Path | None]:
    """Where ``--out`` puts the table and the summary: a folder gets ``<id>-calibration.txt`` and
    ``.json``; a file name gets the table, and the summary beside it with ``.json``."""
    if out is None:
        return None, None
    out = Path(out)
    if out.is_dir() or str(out).endswith(("/", os.sep)) or not out.suffix:
        return out / f"{pack.id}-calibration.txt", out / f"{pack.id}-calibration.json"
    return out, out.with_suffix(".json") if out.suffix != ".json" else out.with_name(out.stem + "-summary.json")


def report_from_summary(pack: ScenarioPack, summary: dict) -> CalibrationReport:
    """The calibration report of a saved summary's measurements, its criteria checked against the
    pack as it is now (e.g. after declaring a bug ``probe_only``): no training, the same figures.

    Raises ValueError when the summary is of another scenario or planned other variants."""
    from .probe_runner import ProbeVerdict

    planned = plan_variants(pack)
    if summary.get("scenario") != pack.id or [v.get("variant") for v in summary.get("variants", [])] != [v.name for v in planned]:
        raise ValueError(f"the summary is not of the variants '{pack.id}' plans now; run the calibration again")
    results = []
    for variant, saved in zip(planned, summary["variants"]):
        result = VariantResult(variant, errors=list(saved.get("errors") or []))
        cpu, wall = saved.get("train_cpu_seconds_max") or 0.0, saved.get("train_wall_seconds_max") or 0.0
        seeds = [seed for seed in summary["seeds"] if not any(error.startswith(f"seed {seed}:") for error in result.errors)]
        result.runs = [Run(seed, metric, cpu, wall) for seed, metric in zip(seeds, saved.get("metric_per_seed") or [])]
        result.probes = {bug: ProbeVerdict(bug, v["status"], v["detail"], v.get("seconds", 0.0)) for bug, v in (saved.get("probes") or {}).items()}
        results.append(result)
    return CalibrationReport(pack, list(summary["seeds"]), results, check_criteria(pack, results), float(summary.get("seconds") or 0.0))


def run_calibration_command(pack: ScenarioPack, args) -> int:
    """``mlinterview scenarios calibrate ID``: print the table, write it where asked, exit 1 on failure.

    The pack's committed evidence (``private/calibration.json``) changes only with ``--update-pack``
    and only when the calibration passed: a failed run never replaces it.
    """
    from ..cli import CommandError

    if args.seeds < 3:
        raise CommandError(f"--seeds {args.seeds}: the calibration needs at least 3 seeds to measure the seed spread")
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(f"--jobs {args.jobs}: give at least 1 parallel run")
    table_path, summary_path = output_paths(pack, getattr(args, "out", None))
    if getattr(args, "from_summary", None):
        try:
            report = report_from_summary(pack, json.loads(Path(args.from_summary).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CommandError(f"--from-summary {args.from_summary}: {error}") from None
        print(f"criteria checked again on the measurements of {args.from_summary} (nothing trained)")
    else:
        settings = {"n_seeds": args.seeds} | ({"jobs": args.jobs} if args.jobs else {})
        report = Calibration(**settings).run(pack)
    table = format_table(report)
    print(table)
    summary = json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n"
    for path, text in ((table_path, table + "\n"), (summary_path, summary), (getattr(args, "json", None), summary)):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")
            print(f"written: {path}")
    committed = pack.private_dir / SUMMARY_FILE
    if getattr(args, "update_pack", False):
        if report.passed:
            committed.write_text(summary, encoding="utf-8")
            print(f"the pack's evidence updated: {committed}")
        else:
            print(f"the calibration failed: the pack's evidence {committed} is left as it was")
    return 0 if report.passed else 1
