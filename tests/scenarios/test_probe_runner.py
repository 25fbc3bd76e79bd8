"""The probe runner (scenarios/probe_runner.py): verdicts from child processes; hangs and crashes become errors."""

from __future__ import annotations

import time

import pytest

from mlinterview.scenarios.probe_runner import ProbeRunner
from mlinterview.scenarios import load_pack

# Probes that misbehave in every way a scaffold can make them misbehave, under the churn bugs' probe names.
TOY_PROBES = '''
import importlib, os, time
from pathlib import Path

def probe_dataframe_into_module(scaffold):
    module = importlib.import_module(Path(scaffold).name)
    return (module.ANSWER == 42, f"answer is {module.ANSWER}")

def probe_integer_labels_for_bce(scaffold):
    while True:
        time.sleep(0.1)

def probe_preprocessing_fit_before_split(scaffold):
    os._exit(3)

def probe_leaking_feature_kept(scaffold):
    raise ValueError("the scaffold is odd")

def probe_sentinel_as_number(scaffold):
    return "yes"

def probe_gradients_never_zeroed(scaffold):
    return (False, "gradients pile up")

def probe_eval_mode_never_set(scaffold):
    raise SystemExit(0)
'''
ORDER = [
    "dataframe_into_module", "integer_labels_for_bce", "preprocessing_fit_before_split",
    "leaking_feature_kept", "sentinel_as_number", "sigmoid_before_logits_loss", "gradients_never_zeroed",
    "eval_mode_never_set",
]


@pytest.fixture
def toy_pack(pack_copy, tmp_path):
    folder = pack_copy()
    (folder / "private" / "probes.py").write_text(TOY_PROBES)
    scaffold = tmp_path / "submission" / "churnlab"
    scaffold.mkdir(parents=True)
    (scaffold / "__init__.py").write_text("ANSWER = 42\n")
    return load_pack("churn", folder.parent), scaffold


@pytest.mark.parametrize("preload", [[], ["json"]], ids=["fresh-interpreter", "forkserver"])
def test_every_kind_of_misbehaviour_gives_a_verdict(toy_pack, preload):
    pack, scaffold = toy_pack
    started = time.monotonic()
    verdicts = ProbeRunner(probe_timeout=3, preload_modules=preload).run(pack, scaffold, ORDER)
    assert time.monotonic() - started < 45
    assert list(verdicts) == ORDER
    status = {bug: verdict.status for bug, verdict in verdicts.items()}
    assert status == {
        "dataframe_into_module": "fixed",
        "integer_labels_for_bce": "error",
        "preprocessing_fit_before_split": "error",
        "leaking_feature_kept": "error",
        "sentinel_as_number": "error",
        "sigmoid_before_logits_loss": "error",
        "gradients_never_zeroed": "not_fixed",
        "eval_mode_never_set": "error",
    }
    assert verdicts["dataframe_into_module"].detail == "answer is 42"
    assert "did not finish within 3 s" in verdicts["integer_labels_for_bce"].detail
    assert "ended (exit status 3) without a verdict" in verdicts["preprocessing_fit_before_split"].detail
    assert "ValueError: the scaffold is odd" in verdicts["leaking_feature_kept"].detail
    assert "returned 'yes'" in verdicts["sentinel_as_number"].detail
    assert "has no function 'probe_sigmoid_before_logits_loss'" in verdicts["sigmoid_before_logits_loss"].detail
    assert verdicts["gradients_never_zeroed"].detail == "gradients pile up"
    assert verdicts["eval_mode_never_set"].detail.startswith("SystemExit")


def test_a_scaffold_that_hangs_on_import(toy_pack):
    pack, scaffold = toy_pack
    (scaffold / "__init__.py").write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    verdicts = ProbeRunner(probe_timeout=2).run(pack, scaffold, ["dataframe_into_module", "gradients_never_zeroed"])
    assert verdicts["dataframe_into_module"].status == "error"
    assert "did not finish" in verdicts["dataframe_into_module"].detail
    assert verdicts["gradients_never_zeroed"].status == "not_fixed"


def test_not_a_package(toy_pack, tmp_path):
    pack, _ = toy_pack
    verdicts = ProbeRunner().run(pack, tmp_path / "nothing-here", ["dataframe_into_module"])
    assert verdicts["dataframe_into_module"].status == "error" and "not a Python package" in verdicts["dataframe_into_module"].detail


def test_probes_run_one_process_each(toy_pack):
    pack, scaffold = toy_pack
    verdicts = ProbeRunner(one_process_per_probe=True, probe_timeout=3).run(
        pack, scaffold, ["preprocessing_fit_before_split", "dataframe_into_module"]
    )
    assert verdicts["preprocessing_fit_before_split"].status == "error"
    assert verdicts["dataframe_into_module"].fixed


@pytest.mark.slow
def test_churn_probes_on_shipped_and_reference(churn_pack, tmp_path):
    """The real probes: all 'not fixed' on the shipped scaffold, all 'fixed' on the reference."""
    from mlinterview.scenarios.calibration import PRELOADED_MODULES

    runner = ProbeRunner(preload_modules=list(PRELOADED_MODULES))
    shipped = runner.run(churn_pack, churn_pack.scaffold_dir)
    reference = runner.run(churn_pack, churn_pack.reference_dir)
    assert {bug: v.status for bug, v in shipped.items()} == {bug.id: "not_fixed" for bug in churn_pack.manifest.bugs}, shipped
    assert {bug: v.status for bug, v in reference.items()} == {bug.id: "fixed" for bug in churn_pack.manifest.bugs}, reference
