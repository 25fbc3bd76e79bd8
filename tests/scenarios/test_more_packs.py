"""The demand, digits, text and merge packs: complete, deterministic, holdout-tight, calibrated, and graded right.

Per pack (parametrized over ``MORE_PACKS``): the manifest validates and every bug has its probe,
its fix and its interviewer notes; the starter notebook runs on the candidate kernel and defines
``predict``; materializing is byte-for-byte deterministic and writes neither the private part nor
any holdout row; a kernel started in the workspace cannot import the private part; the pack's
calibration evidence was made from this pack and code and passes; and the grader ranks the
hand-written submissions (slow).

The hand-written submissions are ``tests/graders/submissions/<pack>-<name>/``, in the format of
``tests/graders/churn_submissions`` (its README): ``submission.json``, ``interview.ipynb`` and a
``scaffold.toml`` listing the planted bugs fixed, applied from the pack's ``private/fixes.toml``
onto the shipped scaffold, so they follow the scaffold when a pack changes:

| name | what the candidate did | expected |
| --- | --- | --- |
| ``fixes_nothing`` | ran the starter as shipped | not gradable (the breaking bug), last |
| ``fixes_breaking_only`` | made it run, nothing more | graded, lowest band, only the breaking bug fixed |
| ``fixes_everything`` | fixed every planted bug | best holdout, every bug fixed, first |
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from jupyter_client.manager import KernelManager

from mlinterview.scenarios import load_pack, materialize, read_workspace_settings
from mlinterview.scenarios.calibration import calibration_inputs_fingerprint, plan_variants
from mlinterview.scenarios.fixes import load_fixes, scaffold_with_fixes
from mlinterview.scenarios.metrics import METRICS

MORE_PACKS = ("demand", "digits", "text", "merge", "serve")
SECRET_HOLDOUT_SEED = 918_273_645
GRADING_HOLDOUT_SEED = 424242
PRIVATE_NAMES = ("generator.py", "probes.py", "fixes.toml", "reference", "INTERVIEWER.md", "calibration.json", "scenario.toml")
SUBMISSIONS = Path(__file__).resolve().parents[1] / "graders" / "submissions"
SUBMISSION_NAMES = ("fixes_nothing", "fixes_breaking_only", "fixes_everything")


@pytest.fixture(scope="module", params=MORE_PACKS)
def pack(request, scenarios_dir):
    return load_pack(request.param, scenarios_dir)


@pytest.fixture(scope="module")
def workspaces(pack, tmp_path_factory):
    """Three workspaces of the pack: its default seed twice, and another seed."""
    root = tmp_path_factory.mktemp(f"{pack.id}-workspaces")
    seed = pack.manifest.constraints.seed
    return {name: materialize(pack, root / name, data_seed) for name, data_seed in (("first", seed), ("again", seed), ("other", seed + 1))}


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- the pack itself ---------------------------------------------------------------------------------


def test_pack_is_complete(pack):
    manifest = pack.manifest
    assert len(manifest.breaking_bugs) >= 1 and len(manifest.non_breaking_bugs) >= 4
    assert manifest.metric.name in METRICS and manifest.twist is not None and len(manifest.hints) >= 3
    probes = pack.load_private_module("probes")
    fixes = load_fixes(pack)
    guide = (pack.private_dir / "INTERVIEWER.md").read_text()
    for bug in manifest.bugs:
        assert callable(getattr(probes, bug.probe, None)), f"no probe {bug.probe} for {bug.id}"
        assert fixes[bug.id], f"no fix for {bug.id}"
        assert bug.id in guide, f"the interviewer guide does not discuss {bug.id}"
        assert (pack.candidate_dir / bug.location.split(":")[0]).is_file(), f"{bug.id}: location {bug.location} is not a file"
    for section in ("What to watch for", "Hints, in order", "Follow-up questions", "The twist"):
        assert section in guide
    brief = (pack.candidate_dir / manifest.candidate.brief).read_text()
    assert f"{manifest.constraints.max_parameters:,}" in brief and "predict(features_df)" in brief
    # open questions: at least two, and none of their interviewer notes is in the candidate's part
    assert len(manifest.questions) >= 2
    candidate_text = "\n".join(p.read_text(errors="replace") for p in pack.candidate_dir.rglob("*") if p.is_file())
    for question in manifest.questions:
        assert question.notes.strip().splitlines()[0] not in candidate_text


def test_starter_notebook_uses_the_candidate_kernel_and_defines_predict(pack):
    notebook = nbformat.read(pack.candidate_dir / pack.manifest.candidate.notebook, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "mlinterview-cpu"
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert f"from {pack.scaffold_name} import" in code[0]
    assert code[-1].startswith(f"{pack.manifest.contract.predict} = ")


def test_digits_runs_on_whatever_device_the_kernel_has(scenarios_dir):
    pack = load_pack("digits", scenarios_dir)
    assert pack.manifest.kernel.gpu_capable
    assert 'torch.device("cuda" if torch.cuda.is_available() else "cpu")' in (pack.scaffold_dir / "train.py").read_text()
    assert "GPU" in (pack.candidate_dir / "BRIEF.md").read_text()
    assert pack.manifest.twist.kind == "tighter_budget" and pack.manifest.twist.max_parameters < pack.manifest.constraints.max_parameters


# -- workspaces and the holdout --------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_data(workspaces, pack):
    first, again, other = (_digests(workspaces[name]) for name in ("first", "again", "other"))
    assert first == again
    assert first["data/train.csv"] != other["data/train.csv"]
    assert {name for name in first if name.startswith(pack.scaffold_name)} == {name for name in other if name.startswith(pack.scaffold_name)}


def test_workspace_holds_the_candidate_part_and_public_settings_only(workspaces, pack):
    workspace = workspaces["first"]
    names = {path.name for path in workspace.rglob("*")}
    assert not names & set(PRIVATE_NAMES), f"private files in the workspace: {names & set(PRIVATE_NAMES)}"
    settings = json.dumps(read_workspace_settings(workspace)).lower()
    for word in ("holdout", "secret", "probe", "reference", "bugs", "interviewer", str(SECRET_HOLDOUT_SEED)):
        assert word not in settings


def test_holdout_never_lands_in_a_workspace(workspaces, pack):
    """No holdout id, no holdout row, no holdout seed in any file of any workspace."""
    contract = pack.manifest.contract
    features, labels = pack.generator.make_holdout(SECRET_HOLDOUT_SEED)
    again, labels_again = pack.generator.make_holdout(SECRET_HOLDOUT_SEED)
    pd.testing.assert_frame_equal(features, again)
    assert np.array_equal(labels, labels_again) and len(features) == len(labels)
    assert contract.label_column not in features and contract.id_column in features
    for workspace in workspaces.values():
        for path in workspace.rglob("*"):
            if path.is_file():
                assert str(SECRET_HOLDOUT_SEED).encode() not in path.read_bytes(), f"holdout seed in {path}"
        train = pd.read_csv(workspace / pack.manifest.candidate.data_dir / "train.csv")
        assert not set(features[contract.id_column]) & set(train[contract.id_column])
        shared = [column for column in features.columns if column != contract.id_column]
        overlap = train[shared].merge(features[shared].drop_duplicates(), how="inner")
        assert overlap.empty, f"{len(overlap)} holdout rows in {workspace}"


def test_demand_holdout_is_later_shifted_and_without_receipts(scenarios_dir):
    pack = load_pack("demand", scenarios_dir)
    generator = pack.generator
    train = generator.make_candidate_data(7)["train.csv"]
    holdout, units = generator.make_holdout(SECRET_HOLDOUT_SEED)
    twist = generator.make_twist_data(7)["december_2023.csv"]
    assert train["date"].max() < twist["date"].min() <= twist["date"].max() < holdout["date"].min()
    assert holdout[generator.AFTER_THE_FACT_COLUMN].isna().all() and train[generator.AFTER_THE_FACT_COLUMN].notna().all()
    assert holdout["unit_price"].median() > 1.05 * train["unit_price"].median(), "the December price rise"
    west = train["store_id"].isin(generator.WEST_STORES)
    assert train.loc[west, "temperature"].median() > 40 > 20 > train.loc[~west, "temperature"].median()
    assert holdout.loc[holdout["store_id"].isin(generator.WEST_STORES), "temperature"].median() < 20, "Celsius ahead"
    store_median = train.groupby("store_id")["units_sold"].transform("median")
    typos = (train["units_sold"] > 5 * store_median).mean()
    assert 0.002 < typos < 0.01, "typed extra zeros in about 0.5 % of the candidate's rows"
    holdout_median = pd.Series(units).groupby(holdout["store_id"].to_numpy()).transform("median")
    assert (units < 3 * holdout_median.to_numpy()).all(), "holdout labels are true units, without typos"


def test_digits_holdout_images_never_in_the_candidate_data(scenarios_dir):
    """The fixed partition of load_digits keeps every holdout original out of every candidate file."""
    from sklearn.datasets import load_digits

    pack = load_pack("digits", scenarios_dir)
    generator = pack.generator
    candidate_pool, holdout_pool = generator.partition()
    assert not set(candidate_pool) & set(holdout_pool) and len(candidate_pool) + len(holdout_pool) == 1797
    originals = load_digits().images.astype(np.int64)
    key = lambda image: image.astype(np.int64).tobytes()  # noqa: E731
    holdout_only = {key(originals[i]) for i in holdout_pool} - {key(originals[i]) for i in candidate_pool}
    candidate_keys = {key(originals[i]) for i in candidate_pool}
    for seed in (pack.manifest.constraints.seed, 12345):
        train = generator.make_candidate_data(seed)["train.csv"]
        canvases = train[list(generator.PIXEL_COLUMNS)].to_numpy().reshape(-1, generator.SIDE, generator.SIDE)
        for canvas in canvases:
            found = set()
            for upright in (canvas, generator.MAX_VALUE - canvas):
                for turns in range(4):
                    turned = np.rot90(upright, turns)
                    for row in range(3):
                        for column in range(3):
                            window = turned[row:row + 8, column:column + 8]
                            if window.sum() == turned.sum():
                                found.add(key(window))
            assert found & candidate_keys, "a candidate image that is not from the candidate pool"
            assert not found & holdout_only, "a holdout image in the candidate's data"
    labels = train["label"].value_counts()
    assert labels[3] < 0.5 * labels[0] and labels[8] < 0.5 * labels[0], "imbalance"


def test_private_part_is_not_importable_from_a_candidate_kernel(pack, candidate_kernel_name, tmp_path):
    """A kernel started in a workspace imports the scaffold, and none of the pack's private part."""
    workspace = materialize(pack, tmp_path / "workspace")
    names = [
        "probes", "generator", "reference", "private", pack.id, f"mlinterview.scenarios.{pack.id}",
        f"mlinterview.scenarios.{pack.id}.private.probes", f"_mlinterview_private.{pack.id}.generator",
        f"{pack.scaffold_name}.reference", "scenarios",
    ]
    spy = (
        "import importlib, json, os\n"
        f"{pack.scaffold_name} = importlib.import_module({pack.scaffold_name!r})\n"
        "found = []\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name); found.append(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "walk = [os.path.join(d, f) for d, _, fs in os.walk('.') for f in fs]\n"
        "print(json.dumps({'imported': found, 'files': walk}))\n"
    )
    manager = KernelManager(kernel_name=candidate_kernel_name)
    manager.start_kernel(cwd=str(workspace), env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        outputs = []
        reply = client.execute_interactive(spy, timeout=120, output_hook=lambda msg: outputs.append(msg))
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    report = json.loads(text.strip().splitlines()[-1])
    assert report["imported"] == []
    assert not {Path(f).name for f in report["files"]} & set(PRIVATE_NAMES)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("variant", ["all fixes", "reference"])
def test_digits_pipeline_runs_unchanged_on_the_gpu(scenarios_dir, tmp_path, variant):
    """On a machine with CUDA, the digits pipeline trains on the GPU and predicts digits, without an edit."""
    pack = load_pack("digits", scenarios_dir)
    workspace = materialize(pack, tmp_path / "workspace")
    shutil.rmtree(workspace / pack.scaffold_name)
    if variant == "reference":
        shutil.copytree(pack.reference_dir, workspace / pack.scaffold_name)
    else:
        scaffold_with_fixes(pack, [bug.id for bug in pack.manifest.bugs], workspace / pack.scaffold_name)
    features, _ = pack.generator.make_holdout(SECRET_HOLDOUT_SEED)
    features.to_csv(tmp_path / "features.csv", index=False)
    check = (
        "import json, sys, pandas as pd\n"
        "from digitlab.pipeline import fit_predictor\n"
        "predict = fit_predictor('.', 11)\n"
        f"predicted = predict(pd.read_csv({str(tmp_path / 'features.csv')!r}))\n"
        "print(json.dumps({'cuda': next(predict.model.parameters()).is_cuda, 'n': len(predicted),"
        " 'classes': sorted(set(int(x) for x in predicted))}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", check], cwd=workspace, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["cuda"] and result["n"] == len(features) and set(result["classes"]) <= set(range(10))


# -- calibration ---------------------------------------------------------------------------------------


def test_committed_calibration_summary_matches_the_pack(pack):
    """The pack's evidence, made by `mlinterview scenarios calibrate <id> --update-pack`: from this
    very pack and calibration code, every pass criterion met."""
    summary = json.loads((pack.private_dir / "calibration.json").read_text())
    manifest = pack.manifest
    assert summary.get("inputs_sha256") == calibration_inputs_fingerprint(pack), (
        f"the {pack.id} pack or the calibration code changed since its evidence was made: run "
        f"`make calibrate SCENARIO={pack.id}` and commit private/calibration.json")
    assert len(summary["seeds"]) >= 3 and all(criterion["passed"] for criterion in summary["criteria"])
    better = (lambda a, b: a > b) if manifest.metric.direction == "higher" else (lambda a, b: a < b)
    assert better(summary["all_fixes"]["mean"], summary["baseline"]["mean"])
    assert better(summary["reference"]["mean"], summary["all_fixes"]["mean"])
    assert summary["reference"]["train_cpu_seconds_max"] <= manifest.constraints.train_time_budget_seconds
    assert summary["passed"] and summary["scenario"] == pack.id and summary["version"] == manifest.version
    assert summary["metric_bands"] == manifest.rubric.metric_bands.model_dump()
    assert manifest.band_for_metric(summary["baseline"]["mean"]) == "very_weak"
    assert manifest.band_for_metric(summary["reference"]["mean"]) == "very_strong"
    assert [v["variant"] for v in summary["variants"]] == [v.name for v in plan_variants(pack)]


# -- grading the hand-written submissions ----------------------------------------------------------------


def _build_submission(source: Path, target: Path, pack) -> Path:
    """The grader tests' builder (``tests/graders/conftest.py``), loaded by path: one format for every pack."""
    path = SUBMISSIONS.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("_graders_submission_helpers", path)
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    return helpers.build_churn_submission(source, target, pack)


@pytest.mark.slow
def test_grader_ranks_the_hand_written_submissions(pack, tmp_path):
    root = tmp_path / "submissions"
    for name in SUBMISSION_NAMES:
        _build_submission(SUBMISSIONS / f"{pack.id}-{name}", root / f"{pack.id}-{name}", pack)
    out = tmp_path / "reports"
    env = dict(os.environ, MLINTERVIEW_HOLDOUT_SEED=str(GRADING_HOLDOUT_SEED))
    process = subprocess.run(
        [sys.executable, "-m", "mlinterview.cli", "grade-batch", str(root), "--workers", "2", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    with open(out / "summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert [row["submission"] for row in summary] == [f"{pack.id}-{name}" for name in reversed(SUBMISSION_NAMES)]
    reports = {p.parent.name.removeprefix(f"{pack.id}-"): json.loads(p.read_text()) for p in out.glob("*/report.json")}
    fixed = {name: {bug["id"] for bug in report["bugs"] if bug["fixed"]} for name, report in reports.items()}
    assert fixed["fixes_nothing"] == set()
    assert fixed["fixes_breaking_only"] == {bug.id for bug in pack.manifest.breaking_bugs}
    assert fixed["fixes_everything"] == {bug.id for bug in pack.manifest.bugs}
    assert reports["fixes_nothing"]["verdict"]["status"] == "not_gradable"
    assert reports["fixes_breaking_only"]["holdout"]["band"] == "very_weak"
    best, baseline = reports["fixes_everything"]["holdout"], reports["fixes_breaking_only"]["holdout"]
    assert best["band"] in ("weak", "strong", "very_strong")
    assert pack.manifest.band_for_metric(best["value"]) == best["band"]
    sign = 1 if pack.manifest.metric.direction == "higher" else -1
    assert sign * (best["value"] - baseline["value"]) > 0.3 * abs(baseline["value"])
    if pack.manifest.serving is not None:
        # The production signal, from the grader's request suite against the app each submission left:
        # one that merely runs breaks the contract and the latency budget; one with every fix keeps them.
        served = {name: report["serving"] for name, report in reports.items()}
        assert served["fixes_nothing"]["band"] == "very_weak"
        weak, best_served = served["fixes_breaking_only"], served["fixes_everything"]
        assert weak["answered"] and weak["band"] in ("very_weak", "weak"), weak["observed"]
        assert best_served["band"] in ("strong", "very_strong") and best_served["within_budget"], (best_served["observed"], best_served["failures"])
        assert weak["within_budget"] is False, weak["observed"]
        for kind in ("malformed", "anomalous"):
            assert weak["kinds"][kind]["right"] < best_served["kinds"][kind]["right"] == best_served["kinds"][kind]["total"], kind
        production = reports["fixes_everything"]["rubric"]["signals"]["production"]
        assert production["band"] == best_served["band"] and production["from"] == "request_suite"
        assert sign * (best_served["served_metric"] - baseline["value"]) > 0  # the fixed service serves better predictions
