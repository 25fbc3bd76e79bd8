"""Fixtures for the grader tests.

Fixtures:

- ``tiny_pack``: a copy of ``tests/graders/tinypack`` (a two-feature numpy scenario with one
  breaking and one non-breaking bug, its probes, calibration figures) loaded as a ScenarioPack.
  Bad-input submissions use it so they fail fast instead of training the churn model.
- ``make_submission``: builds a submission folder of the tiny pack from a list of code cells:
  ``make_submission(cells, fixes=(...), meta=..., history=..., raw_notebook=...)``.
- ``fast_grader``: a Grader with short limits (5 s per cell, 30 s per replay, 1 GiB) and the
  plain ``python3`` kernelspec, so a bad input is decided in seconds.
- ``grade``: ``grade(submission, pack=tiny_pack, grader=fast_grader)`` grades into a fresh folder
  and returns ``(report, out_dir)``.
- ``holdout_seed``: the seed the tests grade with (the secret of a test installation).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from mlinterview.graders.grade import Grader
from mlinterview.scenarios.fixes import load_fixes, apply_edits
from mlinterview.scenarios.pack import ScenarioPack

TINY_PACK = Path(__file__).parent / "tinypack"
HOLDOUT_SEED = 424242
TINY_OK_CELLS = [
    "import pandas as pd\nfrom tinylab import model",
    "train = pd.read_csv('data/train.csv')",
    "predict = model.fit(train)",
]


@pytest.fixture(scope="session")
def tiny_pack(tmp_path_factory) -> ScenarioPack:
    folder = tmp_path_factory.mktemp("packs") / "tinypack"
    shutil.copytree(TINY_PACK, folder)
    return ScenarioPack.from_folder(folder)


@pytest.fixture(scope="session")
def holdout_seed() -> int:
    return HOLDOUT_SEED


def write_notebook(path: Path, cells: list[str], kernel: str = "python3") -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


@pytest.fixture
def make_submission(tmp_path, tiny_pack):
    counter = {"n": 0}

    def make(cells=TINY_OK_CELLS, *, fixes=("wrong_label_name",), meta=None, history=None, raw_notebook=None, pack=None):
        pack = pack or tiny_pack
        counter["n"] += 1
        folder = tmp_path / f"submission-{counter['n']}"
        folder.mkdir()
        scaffold = folder / pack.scaffold_name
        shutil.copytree(pack.scaffold_dir, scaffold)
        edits = load_fixes(pack)
        for bug in fixes:
            apply_edits(scaffold, edits[bug])
        notebook = folder / pack.manifest.candidate.notebook
        if raw_notebook is not None:
            notebook.write_bytes(raw_notebook)
        elif cells is not None:
            write_notebook(notebook, list(cells))
        (folder / "submission.json").write_text(
            json.dumps({"schema": "mlinterview.submission/1", "scenario": pack.id, "candidate": f"candidate-{counter['n']}", **(meta or {})})
        )
        if history is not None:
            (folder / "history.jsonl").write_text(history)
        return folder

    return make


@pytest.fixture
def fast_grader() -> Grader:
    grader = Grader(kernel_name="python3")
    grader.limits.cell_timeout = 5
    grader.limits.total_timeout = 30
    grader.limits.memory_bytes = 1024**3
    grader.predict_timeout = 10
    return grader


@pytest.fixture
def grade(tmp_path, tiny_pack, fast_grader):
    counter = {"n": 0}

    def run(submission, *, pack=None, grader=None):
        counter["n"] += 1
        out = tmp_path / f"report-{counter['n']}"
        report = (grader or fast_grader).grade(Path(submission), pack or tiny_pack, out, HOLDOUT_SEED)
        return report, out

    return run
