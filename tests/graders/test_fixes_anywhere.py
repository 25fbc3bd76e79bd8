"""Fixes made outside the scaffold files are credited: in notebook cells, or by replacing scaffold
functions from the notebook. Graded as a user runs the grader (``mlinterview grade-batch``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import grade_churn_folders
from mlinterview.scenarios.pack import load_pack

pytestmark = pytest.mark.slow
SUBMISSIONS = Path(__file__).parent / "fixes_anywhere"


@pytest.fixture(scope="module")
def reports(tmp_path_factory, scenarios_dir):
    pack = load_pack("churn", scenarios_dir)
    sources = sorted(p for p in SUBMISSIONS.iterdir() if p.is_dir())
    reports, _summary, out = grade_churn_folders(sources, tmp_path_factory.mktemp("anywhere"), pack)
    return reports, out


def verdicts(report):
    return {bug["id"]: bug for bug in report["bugs"]}


def test_fixes_in_notebook_cells_are_credited(reports):
    """Leak zeroed, -999 read as missing, split by customer, own loop with a probability loss, all in the notebook."""
    report = reports[0]["fixes_in_notebook"]
    bugs = verdicts(report)
    assert report["verdict"]["status"] == "graded", report["verdict"]
    for bug in ("leaking_feature_kept", "sentinel_as_number", "random_split_ignores_customers", "sigmoid_before_logits_loss",
                "gradients_never_zeroed", "eval_mode_never_set", "unshuffled_sorted_batches"):
        assert bugs[bug]["status"] == "fixed", (bug, bugs[bug]["probe_message"])
        assert bugs[bug]["decided_by"] == "notebook run"
        assert any(e["source"] == "scaffold files" and e["status"] == "not_fixed" for e in bugs[bug]["evidence"]), bug
    # The scaffold's prepare_datasets and evaluate still have their bugs, but the notebook never ran them.
    for bug in ("preprocessing_fit_before_split", "accuracy_on_imbalanced_data"):
        assert bugs[bug]["status"] == "undetermined", (bug, bugs[bug])
        assert "never called" in bugs[bug]["probe_message"]
    assert not [b for b in report["bugs"] if b["status"] == "not_fixed"]
    signals = report["rubric"]["signals"]
    assert signals["data_handling"]["band"] != "very_weak"
    assert signals["data_handling"]["undetermined"] == ["preprocessing_fit_before_split"]
    assert "undetermined" in report["verdict"]["headline"]
    validation = report["replays"]["top_to_bottom"]["scores"]["validation"]
    assert validation["ok"] and "valid_df" in validation["data"] and "train.csv" in validation["data"]


def test_replaced_scaffold_functions_are_what_gets_judged(reports):
    """The notebook assigns its own split, metric, loss and batching over the scaffold's functions."""
    report = reports[0]["monkeypatches_scaffold"]
    bugs = verdicts(report)
    for bug in ("random_split_ignores_customers", "accuracy_on_imbalanced_data", "sigmoid_before_logits_loss", "unshuffled_sorted_batches"):
        assert bugs[bug]["status"] == "fixed", (bug, bugs[bug]["probe_message"])
        assert any(e["source"] == "scaffold files" and e["status"] == "not_fixed" for e in bugs[bug]["evidence"]), bug
    assert bugs["accuracy_on_imbalanced_data"]["decided_by"] == "scaffold as the notebook left it"
    # What the notebook left alone is still judged not fixed, on its own run.
    for bug in ("gradients_never_zeroed", "eval_mode_never_set", "leaking_feature_kept", "preprocessing_fit_before_split"):
        assert bugs[bug]["status"] == "not_fixed", (bug, bugs[bug]["probe_message"])
    validation = report["replays"]["top_to_bottom"]["scores"]["validation"]
    assert "datasets.valid" in validation["data"]


def test_rubric_separates_what_was_observed_from_what_the_band_means(reports):
    report, out = reports[0]["fixes_in_notebook"], reports[1]
    for name, signal in report["rubric"]["signals"].items():
        assert signal["evidence"] and {e["bug"] for e in signal["evidence"]} == set(signal["bugs"]), name
        assert signal["band_meaning"] and signal["band_meaning"] not in signal["observed"]
    page = (out / "fixes_in_notebook" / "report.html").read_text()
    assert "the band means" in page and "observed" in page
    assert 'class="small meaning"' in page and "undetermined" in page
