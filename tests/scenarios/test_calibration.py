"""The calibration: the churn pack's evidence (current and passing), the pass criteria, and what its children can see."""

from __future__ import annotations

import json

import numpy as np
import pytest
from traitlets import TraitError

from mlinterview.scenarios.probe_runner import ProbeVerdict
from mlinterview.scenarios import materialize
from mlinterview.scenarios.calibration import (
    Calibration,
    calibration_inputs_fingerprint,
    Run,
    VariantResult,
    check_criteria,
    plan_variants,
    run_pipeline_once,
)
from mlinterview.scenarios.materialize import write_csv


def _assert_probes_are_specific(summary):
    """A single fix flips its own probe and no other: each probe sees its bug, not its neighbours'."""
    baseline = next(v for v in summary["variants"] if v["kind"] == "baseline")
    breaking = {bug for bug, verdict in baseline["probes"].items() if verdict["status"] == "fixed"}
    for variant in summary["variants"]:
        if variant["kind"] == "single":
            fixed = {bug for bug, verdict in variant["probes"].items() if verdict["status"] == "fixed"}
            assert fixed == breaking | {variant["target_bug"]}, (variant["variant"], sorted(fixed))


def test_committed_calibration_summary_matches_the_pack(churn_pack):
    """The churn pack's evidence, made by `mlinterview scenarios calibrate churn --update-pack` (what
    `make calibrate SCENARIO=churn` runs): from this very pack and calibration code, and passing."""
    summary = json.loads((churn_pack.private_dir / "calibration.json").read_text())
    manifest = churn_pack.manifest
    assert summary.get("inputs_sha256") == calibration_inputs_fingerprint(churn_pack), (
        "the churn pack or the calibration code changed since its evidence was made: run "
        "`make calibrate SCENARIO=churn` (mlinterview scenarios calibrate churn --update-pack) and commit private/calibration.json")
    assert summary["passed"] and summary["scenario"] == "churn" and summary["version"] == manifest.version
    assert len(summary["seeds"]) >= 3 and all(criterion["passed"] for criterion in summary["criteria"])
    assert summary["baseline"]["mean"] < summary["all_fixes"]["mean"] < summary["reference"]["mean"]
    reference = next(v for v in summary["variants"] if v["kind"] == "reference")
    assert reference["train_cpu_seconds_max"] <= manifest.constraints.train_time_budget_seconds
    assert all(p["status"] == "fixed" for p in reference["probes"].values())
    assert summary["metric_bands"] == manifest.rubric.metric_bands.model_dump()
    assert manifest.band_for_metric(summary["baseline"]["mean"]) == "very_weak"
    assert manifest.band_for_metric(summary["reference"]["mean"]) == "very_strong"
    assert [v["variant"] for v in summary["variants"]] == [v.name for v in plan_variants(churn_pack)]
    _assert_probes_are_specific(summary)


def test_calibration_needs_three_seeds():
    with pytest.raises(TraitError, match="at least 3 seeds"):
        Calibration(n_seeds=2)


def _results(pack, *, single_metric, single_probe, reference_metric, loo_metric=(0.25, 0.26, 0.27)):
    """Hand-made results: the baseline at 0.11 over three seeds, every probe in the state asked for."""
    bugs = [bug.id for bug in pack.manifest.bugs]
    breaking = {bug.id for bug in pack.manifest.breaking_bugs}

    def probes(fixed: set[str]):
        return {bug: ProbeVerdict(bug, "fixed" if bug in fixed else "not_fixed", "") for bug in bugs}

    results = []
    for variant in plan_variants(pack):
        result = VariantResult(variant)
        if variant.kind == "shipped":
            result.errors.append("seed 1: TypeError")
            result.probes = probes(set())
        elif variant.kind == "baseline":
            result.runs = [Run(s, m, 1.0, 1.5) for s, m in zip((1, 2, 3), (0.10, 0.11, 0.12))]
            result.probes = probes(breaking)
        elif variant.kind == "single":
            result.runs = [Run(s, m, 1.0, 1.5) for s, m in zip((1, 2, 3), single_metric)]
            result.probes = probes(breaking | ({variant.target_bug} if single_probe else set()))
        elif variant.kind == "leave_one_out":
            result.runs = [Run(s, m, 2.0, 3.0) for s, m in zip((1, 2, 3), loo_metric)]
            result.probes = probes(set(bugs) - {variant.target_bug})
        else:
            metric = reference_metric if variant.kind == "reference" else 0.33
            result.runs = [Run(s, metric, 2.0, 3.0) for s in (1, 2, 3)]
            result.probes = probes(set(bugs))
        results.append(result)
    return results


def test_criteria_pass_on_good_evidence(churn_pack):
    results = _results(churn_pack, single_metric=(0.11, 0.11, 0.11), single_probe=True, reference_metric=0.37)
    criteria = check_criteria(churn_pack, results)
    assert all(c.passed for c in criteria), [c for c in criteria if not c.passed]


def test_a_fix_with_neither_metric_gain_nor_probe_flip_fails(churn_pack):
    results = _results(churn_pack, single_metric=(0.11, 0.115, 0.12), single_probe=False, reference_metric=0.37)
    failed = [c.name for c in check_criteria(churn_pack, results) if not c.passed]
    assert failed and all(name.startswith("fix of ") for name in failed)
    # a gain beyond the seed spread is enough without the probe
    results = _results(churn_pack, single_metric=(0.15, 0.16, 0.17), single_probe=False, reference_metric=0.37)
    assert all(c.passed for c in check_criteria(churn_pack, results))


def test_a_bug_whose_absence_costs_nothing_must_be_declared_probe_only(churn_pack):
    """Leave one out: all fixes but one scores like all fixes, so that bug is invisible in the holdout."""
    results = _results(churn_pack, single_metric=(0.11, 0.11, 0.11), single_probe=True, reference_metric=0.37, loo_metric=(0.33, 0.33, 0.33))
    failed = {c.name: c.detail for c in check_criteria(churn_pack, results) if not c.passed}
    declared = {bug.id for bug in churn_pack.manifest.non_breaking_bugs if bug.probe_only}
    undeclared = {bug.id for bug in churn_pack.manifest.non_breaking_bugs} - declared
    assert set(failed) == {f"leaving out the fix of {bug} costs" for bug in undeclared}
    assert all("not declared probe_only" in detail for detail in failed.values())
    passed = {c.name: c.detail for c in check_criteria(churn_pack, results) if c.passed}
    for bug in declared:
        assert "declared probe-only" in passed[f"leaving out the fix of {bug} costs"]


def test_a_weak_reference_fails(churn_pack):
    results = _results(churn_pack, single_metric=(0.11, 0.11, 0.11), single_probe=True, reference_metric=0.31)
    failed = [c.name for c in check_criteria(churn_pack, results) if not c.passed]
    assert failed == ["reference lands in the top band"]


SPY_PIPELINE = '''
import json, os, sys
from pathlib import Path

import numpy as np


def fit_predictor(workspace, seed):
    """Look for anything the calibration must keep away from scaffold code."""
    workspace = Path(workspace)
    found = {"label_files": [], "private_modules": [], "seed_in_env": []}
    root = workspace.parents[1]
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".npy") and path != workspace / "data" / "train.csv":
            head = path.read_bytes()[:4000]
            if b"churned" in head:
                found["label_files"].append(str(path))
    found["private_modules"] = sorted(m for m in sys.modules if m.startswith("_mlinterview_private") or m.split(".")[0] in ("generator", "probes"))
    found["seed_in_env"] = [k for k, v in os.environ.items() if "HOLDOUT" in k.upper()]
    (workspace / "spy.json").write_text(json.dumps(found))
    return lambda features: np.zeros(len(features))
'''


def test_training_child_cannot_reach_holdout_labels(churn_pack, tmp_path):
    """A scaffold that goes looking for the labels, laid out as the calibration lays out its runs."""
    root = tmp_path / "calibration"
    workspace = materialize(churn_pack, root / "runs" / "spy-1" / "workspace", 1)
    (workspace / "churnlab" / "pipeline.py").write_text(SPY_PIPELINE)
    features, labels = churn_pack.generator.make_holdout(99)
    write_csv(features, root / "holdout" / "features-1.csv")
    run = run_pipeline_once(workspace, churn_pack.manifest.contract.pipeline, 1, root / "holdout" / "features-1.csv", timeout=120)
    assert "error" not in run, run
    assert run["predictions"].shape == labels.shape
    found = json.loads((workspace / "spy.json").read_text())
    assert found == {"label_files": [], "private_modules": [], "seed_in_env": []}


def test_a_crashing_or_hanging_pipeline_is_a_result(churn_pack, tmp_path):
    workspace = materialize(churn_pack, tmp_path / "runs" / "bad-1" / "workspace", 1)
    features, _ = churn_pack.generator.make_holdout(99)
    write_csv(features.head(10), tmp_path / "features.csv")
    pipeline = workspace / "churnlab" / "pipeline.py"
    pipeline.write_text("def fit_predictor(workspace, seed):\n    raise RuntimeError('no data for you')\n")
    run = run_pipeline_once(workspace, churn_pack.manifest.contract.pipeline, 1, tmp_path / "features.csv", timeout=60)
    assert run["error"].startswith("RuntimeError: no data for you")
    pipeline.write_text("import time\ndef fit_predictor(workspace, seed):\n    while True:\n        time.sleep(0.1)\n")
    run = run_pipeline_once(workspace, churn_pack.manifest.contract.pipeline, 1, tmp_path / "features.csv", timeout=3)
    assert "did not finish within 3 s" in run["error"]
    pipeline.write_text("import os\ndef fit_predictor(workspace, seed):\n    os._exit(7)\n")
    run = run_pipeline_once(workspace, churn_pack.manifest.contract.pipeline, 1, tmp_path / "features.csv", timeout=60)
    assert "exit status 7" in run["error"]


def test_the_evidence_fingerprint_follows_what_the_calibration_measures(pack_copy):
    from mlinterview.scenarios.pack import ScenarioPack

    folder = pack_copy()
    before = calibration_inputs_fingerprint(ScenarioPack.from_folder(folder))
    (folder / "candidate" / "BRIEF.md").write_text("prose only\n")  # not measured
    (folder / "private" / "calibration.json").write_text("{}\n")  # the evidence itself
    assert calibration_inputs_fingerprint(ScenarioPack.from_folder(folder)) == before
    train = folder / "candidate" / "churnlab" / "train.py"
    train.write_text(train.read_text() + "\n# a changed line of the scaffold\n")
    assert calibration_inputs_fingerprint(ScenarioPack.from_folder(folder)) != before
