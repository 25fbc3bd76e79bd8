"""The starter notebook, executed in a real kernel in a materialized workspace.

Shipped: it stops at the training cell on the breaking bug. With the reference scaffold in place of
the shipped one, it runs top to bottom and ends with a ``predict`` that honours the contract.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mlinterview.scenarios import materialize
from mlinterview.scenarios.materialize import IGNORED, write_csv


def _execute(workspace, kernel_name, extra_code: str | None = None):
    notebook = nbformat.read(workspace / "interview.ipynb", as_version=4)
    if extra_code:
        notebook.cells.append(nbformat.v4.new_code_cell(extra_code))
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=300, resources={"metadata": {"path": str(workspace)}})
    client.execute()
    return notebook


@pytest.mark.slow
def test_shipped_notebook_stops_on_the_breaking_bug(churn_pack, candidate_kernel_name, tmp_path):
    workspace = materialize(churn_pack, tmp_path / "workspace")
    with pytest.raises(CellExecutionError) as caught:
        _execute(workspace, candidate_kernel_name)
    message = str(caught.value)
    assert "train_model(model" in message, "the training cell is the one that fails"
    assert "TypeError" in message and "DataFrame" in message


@pytest.mark.slow
def test_notebook_with_the_reference_defines_predict(churn_pack, candidate_kernel_name, tmp_path):
    workspace = materialize(churn_pack, tmp_path / "workspace")
    shutil.rmtree(workspace / churn_pack.scaffold_name)
    shutil.copytree(churn_pack.reference_dir, workspace / churn_pack.scaffold_name, ignore=IGNORED)
    features, _ = churn_pack.generator.make_holdout(123)
    write_csv(features.head(500), tmp_path / "features.csv")
    check = (
        "import numpy as _np, pandas as _pd\n"
        f"_scores = _np.asarray(predict(_pd.read_csv({str(tmp_path / 'features.csv')!r})))\n"
        "print('CONTRACT', _scores.shape, bool(((_scores >= 0) & (_scores <= 1)).all()), n_parameters)"
    )
    notebook = _execute(workspace, candidate_kernel_name, check)
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    assert "CONTRACT (500,) True" in printed
    n_parameters = int(printed.split()[-1])
    assert n_parameters <= churn_pack.manifest.constraints.max_parameters
