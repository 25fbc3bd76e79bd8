"""The replay runs a notebook as nbclient does: nbclient's own test notebooks, cell tags, history in
memory, predictions read by their id column whatever the frame's index, CPU-time training budget."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import TINY_OK_CELLS, TINY_PACK
from mlinterview.graders.replay import ReplayLimits, run_replay
from mlinterview.graders.submission import top_to_bottom_plan
from mlinterview.scenarios.pack import ScenarioPack

pytestmark = pytest.mark.slow

NBCLIENT_NOTEBOOKS = Path(__file__).parent / "nbclient_notebooks"
# the options nbclient's test_run_all_notebooks runs each with (all others: defaults)
NBCLIENT_OPTIONS = {"Skip Exceptions.ipynb": {"allow_errors": True}}


@pytest.fixture(autouse=True)
def patient_grader(fast_grader):
    """More time per cell than the bad-input tests give: these notebooks must finish on a busy machine."""
    fast_grader.limits.cell_timeout = 30
    fast_grader.limits.total_timeout = 90


def fresh_copy(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def normalised(outputs) -> list:
    """What a reader of the notebook sees in a cell's outputs (streams merged as a notebook shows them)."""
    seen = []
    for output in outputs:
        kind = output["output_type"]
        if kind == "stream":
            if seen and seen[-1][0] == "stream" and seen[-1][1] == output["name"]:
                seen[-1] = ("stream", output["name"], seen[-1][2] + output["text"])
            else:
                seen.append(("stream", output["name"], output["text"]))
        elif kind in ("display_data", "execute_result"):
            seen.append((kind, sorted(output["data"]), output["data"].get("text/plain")))
        elif kind == "error":
            seen.append((kind, output["ename"], output["evalue"]))
    return seen


def run_with_nbclient(path: Path, workdir: Path) -> dict[int, tuple]:
    """{cell index: (status, outputs)} of plain nbclient, the way nbclient's own tests run the notebook."""
    nb = fresh_copy(path)
    statuses: dict[int, str] = {}

    def executed(cell, cell_index, execute_reply):
        statuses[cell_index] = execute_reply["content"]["status"]

    options = NBCLIENT_OPTIONS.get(path.name, {})
    client = NotebookClient(nb, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(workdir)}},
                            on_cell_executed=executed, **options)
    try:
        client.execute()
    except CellExecutionError:
        pass  # stops at the first error, as a replay of the final notebook does
    return {
        index: (statuses.get(index, "skipped" if "skip-execution" in cell.metadata.get("tags", []) else "not_run"),
                normalised(cell.outputs) if index in statuses else [])
        for index, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.source.strip()
    }


def run_with_replay(path: Path, workdir: Path, private: Path) -> dict[int, tuple]:
    nb = fresh_copy(path)
    plan = top_to_bottom_plan(nb)
    limits = ReplayLimits(cell_timeout=60, total_timeout=120)
    allow_errors = NBCLIENT_OPTIONS.get(path.name, {}).get("allow_errors", False)
    result = asyncio.run(run_replay("fidelity", "top to bottom", plan, workdir, private, limits, "python3", stop_on_error=not allow_errors))
    assert result.stopped is None, result.stopped
    cells = {}
    for position, (step, outcome) in enumerate(zip(plan, result.cells)):
        status = "error" if outcome.status == "error" else outcome.status
        ran = outcome.status in ("ok", "error")
        cells[step.notebook_index] = (status, normalised(result.notebook.cells[position].outputs) if ran else [])
    return cells


def test_nbclient_test_notebooks_replay_as_plain_nbclient_runs_them(tmp_path):
    notebooks = sorted(NBCLIENT_NOTEBOOKS.glob("*.ipynb"))
    assert len(notebooks) == 15
    total, mismatches = 0, []
    for number, path in enumerate(notebooks):
        plain_dir, replay_dir = tmp_path / f"plain-{number}", tmp_path / f"replay-{number}" / "work"
        plain_dir.mkdir()
        replay_dir.mkdir(parents=True)
        plain = run_with_nbclient(path, plain_dir)
        replayed = run_with_replay(path, replay_dir, tmp_path / f"replay-{number}" / "grader")
        assert set(plain) == set(replayed), path.name
        for index in plain:
            total += 1
            if plain[index] != replayed[index]:
                mismatches.append(f"{path.name} cell {index}: nbclient {plain[index]} vs replay {replayed[index]}")
        assert not list(replay_dir.rglob("history.sqlite")), f"{path.name}: the replay wrote the kernel's history to disk"
    assert total >= 40
    assert mismatches == [], f"{total - len(mismatches)} of {total} cells match:\n" + "\n".join(mismatches)


def tagged_notebook(folder: Path) -> None:
    nb = nbformat.read(folder / "interview.ipynb", 4)
    crash = nbformat.v4.new_code_cell("raise SystemExit('a long experiment the candidate parked')", metadata={"tags": ["skip-execution"]})
    expected = nbformat.v4.new_code_cell("model.fit(train.drop(columns=['label']))  # shows the KeyError on purpose",
                                         metadata={"tags": ["raises-exception"]})
    nb.cells = nb.cells[:2] + [crash, expected] + nb.cells[2:]
    nbformat.write(nb, folder / "interview.ipynb")


def test_skip_execution_and_raises_exception_tags_are_honoured(make_submission, grade):
    folder = make_submission()
    tagged_notebook(folder)
    report, out = grade(folder)
    cells = {cell["label"]: cell for cell in report["replays"]["top_to_bottom"]["cells"]}
    assert cells["cell 2"]["status"] == "skipped"
    assert cells["cell 3"]["status"] == "error" and cells["cell 3"]["expected_error"] is True
    assert cells["cell 4"]["status"] == "ok"
    assert report["replays"]["top_to_bottom"]["first_error"] is None
    assert not any("does not run top to bottom" in problem for problem in report["verdict"]["problems"]), report["verdict"]
    assert report["holdout"]["value"] is not None and report["verdict"]["status"] == "graded"
    assert "skipped" in (out / "report.html").read_text()


SHUFFLED_PREDICTS = {
    "a frame sorted by its predictions, with the id column": (
        "import pandas as pd\n"
        "def predict(frame):\n"
        "    out = pd.DataFrame({'row_id': frame['row_id'], 'p': fitted(frame)})\n"
        "    return out.sort_values('p', ascending=False)"
    ),
    "a frame sampled into another order and reindexed": (
        "import pandas as pd\n"
        "def predict(frame):\n"
        "    shuffled = frame.sample(frac=1.0, random_state=3)\n"
        "    return pd.DataFrame({'row_id': shuffled['row_id'].to_numpy(), 'p': fitted(shuffled)}, index=range(100, 100 + len(frame)))"
    ),
    "a series in the features' rows, another order": (
        "import pandas as pd\n"
        "def predict(frame):\n"
        "    shuffled = frame.sample(frac=1.0, random_state=3)\n"
        "    return pd.Series(fitted(shuffled), index=shuffled.index)"
    ),
    "a series indexed by id": (
        "import pandas as pd\n"
        "def predict(frame):\n"
        "    return pd.Series(fitted(frame), index=pd.Index(frame['row_id'], name='row_id')).sort_values()"
    ),
}


def test_predictions_are_read_by_their_id_column_whatever_the_index(make_submission, grade):
    plain, _ = grade(make_submission())
    expected = plain["holdout"]["value"]
    assert expected is not None
    fit = TINY_OK_CELLS[2].replace("predict =", "fitted =")
    for what, predict in SHUFFLED_PREDICTS.items():
        report, _ = grade(make_submission([*TINY_OK_CELLS[:2], fit, predict]))
        holdout = report["replays"]["top_to_bottom"]["scores"]["holdout"]
        assert holdout["ok"], (what, holdout)
        assert holdout["metric"] == pytest.approx(expected), what


def test_training_time_is_cpu_time_in_the_replay(make_submission, grade, tmp_path):
    folder = tmp_path / "packs" / "tinypack"
    shutil.copytree(TINY_PACK, folder)
    manifest = folder / "scenario.toml"
    manifest.write_text(manifest.read_text().replace("train_time_budget_seconds = 20", "train_time_budget_seconds = 3"))
    pack = ScenarioPack.from_folder(folder)
    # a cell that waits (a loaded machine, a slow disk) takes wall time and no CPU
    cells = [TINY_OK_CELLS[0], TINY_OK_CELLS[1] + "\nimport time\ntime.sleep(4)", TINY_OK_CELLS[2]]
    report, _ = grade(make_submission(cells, pack=pack), pack=pack)
    training = report["constraints"]["training_time"]
    assert training["verdict"] == "ok", training
    waited = next(c for c in report["replays"]["top_to_bottom"]["cells"] if c["label"] == "cell 1")
    assert waited["duration_s"] >= 4 and waited["cpu_s"] < 1, waited
    assert "of CPU" in training["sentence"]
    json.dumps(report)  # the report stays JSON
