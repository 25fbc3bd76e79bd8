"""Hidden state as a hiring committee means it: what the session relied on and the final work lacks.

Fix-and-rerun without a restart and random numbers consumed by earlier attempts are shown, not
flagged; a recorded success that fails on replay is flagged; the verdict does not change between
two gradings of the same submission.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import TINY_OK_CELLS, TINY_PACK, history_lines
from mlinterview.scenarios.pack import ScenarioPack

pytestmark = pytest.mark.slow


def test_fix_and_rerun_without_a_restart_is_not_hidden_state(make_submission, grade):
    # the fit failed on the shipped scaffold's bug; the candidate fixed the file (autoreload) and ran it again
    executions = [{"code": TINY_OK_CELLS[0]}, {"code": TINY_OK_CELLS[1]},
                  {"code": TINY_OK_CELLS[2], "status": "error", "error": {"ename": "KeyError", "evalue": "'labell'"}},
                  {"code": TINY_OK_CELLS[2]}]
    report, out = grade(make_submission(history=history_lines(executions)))
    reproducibility = report["reproducibility"]
    assert reproducibility["hidden_state"] is False, reproducibility
    assert any("fixed and run again" in line and "failed in the session and pass now" in line for line in reproducibility["observations"])
    assert report["verdict"]["status"] == "graded", report["verdict"]
    assert "hidden state" not in report["verdict"]["headline"]
    assert "Seen, not hidden state" in (out / "report.html").read_text()


def test_a_recorded_success_that_fails_on_replay_is_hidden_state(make_submission, grade):
    # in the session a scratch file (not in the submission) fed the model's settings
    executions = [{"code": TINY_OK_CELLS[0]}, {"code": "steps = int(open('scratch-settings.txt').read())"},
                  {"code": TINY_OK_CELLS[1]}, {"code": TINY_OK_CELLS[2]}]
    report, _ = grade(make_submission(history=history_lines(executions)))
    reproducibility = report["reproducibility"]
    assert reproducibility["hidden_state"] is True
    assert any("succeeded in the session but fails on replay (FileNotFoundError" in line for line in reproducibility["differences"]), reproducibility


@pytest.fixture
def spread_pack(tmp_path_factory) -> ScenarioPack:
    """The tiny pack with a calibration that measured a run-to-run spread of 0.04 over seeds."""
    folder = tmp_path_factory.mktemp("spreadpacks") / "tinypack"
    shutil.copytree(TINY_PACK, folder)
    calibration = {"baseline": {"mean": 0.62, "min": 0.60, "max": 0.64}, "reference": {"mean": 0.9, "min": 0.89, "max": 0.91}}
    (folder / "private" / "calibration.json").write_text(json.dumps(calibration))
    return ScenarioPack.from_folder(folder)


def test_random_numbers_used_by_earlier_attempts_are_not_state_and_the_verdict_is_stable(make_submission, grade, fast_grader, spread_pack):
    fast_grader.kernel_name = "mlinterview-cpu"  # seeded as in the session
    fast_grader.limits.cell_timeout = 60
    fast_grader.limits.total_timeout = 150
    subsample = "train = pd.read_csv('data/train.csv').sample(frac=0.1)"  # draws from numpy's global generator
    cells = [TINY_OK_CELLS[0] + "\nimport numpy as np", subsample, TINY_OK_CELLS[2]]
    # an earlier attempt drew random numbers before the subsample: the recorded order trains on other rows
    executions = [{"code": cells[0]}, {"code": "np.random.rand(1000).mean()"}, {"code": cells[1]}, {"code": cells[2]}]
    folder = make_submission(cells, fixes=("wrong_label_name", "drops_signal"), history=history_lines(executions), pack=spread_pack)
    verdicts = []
    for _ in range(2):
        report, _ = grade(folder, pack=spread_pack, grader=fast_grader)
        reproducibility = report["reproducibility"]
        top = report["replays"]["top_to_bottom"]["scores"]["holdout"]["metric"]
        recorded = report["replays"]["history_order"]["scores"]["holdout"]["metric"]
        assert 0.005 < abs(top - recorded) <= 0.04, (top, recorded)  # above the old fixed tolerance, within the spread
        assert reproducibility["hidden_state"] is False, reproducibility
        assert reproducibility["tolerance"] == pytest.approx(0.04)
        assert any("within the run-to-run spread" in line for line in reproducibility["observations"])
        verdicts.append((report["verdict"]["status"], report["verdict"]["headline"], report["verdict"]["rank_key"], top, recorded))
    assert verdicts[0] == verdicts[1]
