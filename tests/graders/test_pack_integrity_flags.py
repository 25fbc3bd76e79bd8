"""Pack-specific suspicious code is flagged in the report wherever the candidate wrote it."""

from types import SimpleNamespace

import nbformat

from mlinterview.graders.report import _flags
from mlinterview.scenarios import load_pack


def submission_with(cell_code: str = "", history_code: str = ""):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell_code)])
    events = [{"kind": "execute_request", "code": history_code}] if history_code else []
    return SimpleNamespace(notebook=notebook, history_events=events)


def test_digits_flags_loading_the_public_source_of_its_holdout():
    manifest = load_pack("digits").manifest
    for where in ({"cell_code": "from sklearn.datasets import load_digits"}, {"history_code": "X = load_digits().data"}):
        flags = _flags(submission_with(**where), {}, (), manifest, None)
        assert any("public source of the holdout images" in flag for flag in flags), flags
    in_scaffold = {"files": [{"file": "data.py", "status": "modified", "diff": "+from sklearn.datasets import load_digits"}]}
    assert any("load_digits" in flag for flag in _flags(submission_with(), {}, (), manifest, in_scaffold))


def test_clean_code_and_other_packs_raise_no_such_flag():
    digits = load_pack("digits").manifest
    assert _flags(submission_with("model = build_model()"), {}, (), digits, None) == []
    churn = load_pack("churn").manifest
    assert _flags(submission_with("from sklearn.datasets import load_digits"), {}, (), churn, None) == []
