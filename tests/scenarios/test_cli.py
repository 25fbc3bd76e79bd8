"""``mlinterview scenarios ...`` as a user runs it: a real subprocess of the console script."""

from __future__ import annotations

import json
import subprocess

import pytest


def _run(command, *args, cwd, check_status=0):
    completed = subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert completed.returncode == check_status, completed.stdout + completed.stderr
    return completed


@pytest.mark.parametrize(
    "args, expected",
    [
        ((), "scenarios"),
        (("scenarios",), "materialize"),
        (("scenarios", "list"), "--scenarios-dir"),
        (("scenarios", "show"), "--interviewer"),
        (("scenarios", "materialize"), "--seed"),
        (("scenarios", "calibrate"), "--jobs"),
    ],
)
def test_help(mlinterview_command, tmp_path, args, expected):
    completed = _run(mlinterview_command, *args, "--help", cwd=tmp_path)
    assert "usage: mlinterview" in completed.stdout and expected in completed.stdout


def test_list(mlinterview_command, tmp_path):
    completed = _run(mlinterview_command, "scenarios", "list", cwd=tmp_path)
    line = next(line for line in completed.stdout.splitlines() if line.startswith("churn "))
    assert "average_precision" in line and "60 min" in line


def test_show(mlinterview_command, tmp_path):
    public = _run(mlinterview_command, "scenarios", "show", "churn", cwd=tmp_path).stdout
    assert "max 3,000 parameters" in public and "average_precision (higher is better)" in public
    assert "dataframe_into_module" not in public and "planted bugs (2 breaking)" in public
    private = _run(mlinterview_command, "scenarios", "show", "churn", "--interviewer", cwd=tmp_path).stdout
    for bug in ("dataframe_into_module", "leaking_feature_kept", "random_split_ignores_customers"):
        assert bug in private
    assert "hints, in order" in private and "dataset quirks" in private


def test_materialize(mlinterview_command, tmp_path):
    target = tmp_path / "ws"
    completed = _run(mlinterview_command, "scenarios", "materialize", "churn", str(target), "--seed", "11", cwd=tmp_path)
    assert "materialized 'churn'" in completed.stdout
    assert (target / "data" / "train.csv").is_file() and (target / "churnlab" / "pipeline.py").is_file()
    settings = json.loads((target / ".mlinterview" / "workspace.json").read_text())
    assert settings["data_seed"] == 11
    notebook = json.loads((target / "interview.ipynb").read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "mlinterview-cpu"
    assert notebook["metadata"]["kernelspec"]["display_name"] == "mlinterview (CPU)"


def test_materialize_refuses_a_busy_folder(mlinterview_command, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x.txt").write_text("x")
    completed = _run(mlinterview_command, "scenarios", "materialize", "churn", str(tmp_path / "busy"), cwd=tmp_path, check_status=2)
    assert "is not empty" in completed.stderr and "--overwrite" in completed.stderr


@pytest.mark.parametrize("action", ["show", "materialize", "calibrate"])
def test_unknown_scenario(mlinterview_command, tmp_path, action):
    args = ["scenarios", action, "no-such-pack"] + ([str(tmp_path / "ws")] if action == "materialize" else [])
    completed = _run(mlinterview_command, *args, cwd=tmp_path, check_status=2)
    assert "no scenario pack 'no-such-pack'" in completed.stderr
    assert "Known packs:" in completed.stderr and "churn" in completed.stderr and "--scenarios-dir" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_calibrate_needs_three_seeds(mlinterview_command, tmp_path):
    completed = _run(mlinterview_command, "scenarios", "calibrate", "churn", "--seeds", "2", cwd=tmp_path, check_status=2)
    assert "at least 3 seeds" in completed.stderr


def test_broken_pack_is_reported_by_list(mlinterview_command, pack_copy, tmp_path):
    folder = pack_copy()
    manifest = folder / "scenario.toml"
    manifest.write_text(manifest.read_text().replace('direction = "higher"', 'direction = "up"'))
    completed = _run(mlinterview_command, "scenarios", "list", "--scenarios-dir", str(folder.parent), cwd=tmp_path)
    assert "churn" in completed.stdout and "INVALID" in completed.stdout
    completed = _run(mlinterview_command, "scenarios", "show", "churn", "--scenarios-dir", str(folder.parent), cwd=tmp_path, check_status=2)
    assert "field 'metric.direction'" in completed.stderr and "correct the value" in completed.stderr
