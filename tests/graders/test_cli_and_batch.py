"""`mlinterview grade` / `grade-batch` as a user runs them, and the holdout-seed lookup order."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from conftest import HOLDOUT_SEED, TINY_OK_CELLS
from mlinterview.graders.grade import HoldoutSeedError, resolve_holdout_seed


def cli_env(cwd, seed=True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLINTERVIEW_HOLDOUT_SEED")}
    env["MLINTERVIEW_HOLDOUT_SEED_FILE"] = str(cwd / "no-seed-file-here")
    if seed:
        env["MLINTERVIEW_HOLDOUT_SEED"] = str(HOLDOUT_SEED)
    return env


def cli(*args, cwd, seed=True, timeout=300, stdin=None):
    return subprocess.run([sys.executable, "-m", "mlinterview.cli", *args], capture_output=True, text=True, env=cli_env(cwd, seed),
                          cwd=cwd, timeout=timeout, input=stdin)


def test_holdout_seed_order(monkeypatch, tmp_path):
    seed_file = tmp_path / "seed"
    seed_file.write_text("31\n")
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED_FILE", str(seed_file))
    monkeypatch.delenv("MLINTERVIEW_HOLDOUT_SEED", raising=False)
    assert resolve_holdout_seed(None) == 31
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED", "32")
    assert resolve_holdout_seed(None) == 32
    assert resolve_holdout_seed("33") == 33
    assert resolve_holdout_seed("a passphrase") == resolve_holdout_seed("a passphrase") != resolve_holdout_seed("another")
    monkeypatch.delenv("MLINTERVIEW_HOLDOUT_SEED")
    seed_file.unlink()
    with pytest.raises(HoldoutSeedError, match="--holdout-seed"):
        resolve_holdout_seed(None)


def test_grade_without_a_seed_says_where_to_put_one(make_submission, tiny_pack, tmp_path, monkeypatch, capsys):
    from mlinterview.cli import main

    monkeypatch.delenv("MLINTERVIEW_HOLDOUT_SEED", raising=False)
    monkeypatch.setenv("MLINTERVIEW_HOLDOUT_SEED_FILE", str(tmp_path / "no-seed-file-here"))
    code = main(["grade", str(make_submission()), "--scenarios-dir", str(tiny_pack.folder.parent), "--out", str(tmp_path / "out")])
    assert code == 2
    error = capsys.readouterr().err
    assert "MLINTERVIEW_HOLDOUT_SEED" in error and "--holdout-seed" in error
    assert not (tmp_path / "out").exists()


def test_a_grader_started_ahead_grades_the_job_it_is_then_given(make_submission, tiny_pack, tmp_path):
    # what the interview service keeps ready: the imports first, the job later, on stdin
    ready = subprocess.Popen([sys.executable, "-m", "mlinterview.cli", "grade-on-request"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=cli_env(tmp_path), cwd=tmp_path)
    (tmp_path / "job").mkdir()
    job = {"args": [str(make_submission()), "--scenarios-dir", str(tiny_pack.folder.parent), "--kernel", "python3", "--out", "report"],
           "cwd": str(tmp_path / "job")}
    output, _ = ready.communicate(json.dumps(job) + "\n", timeout=300)
    assert ready.returncode == 0, output
    assert "replay 1/2: final notebook, top to bottom" in output and "graded:" in output
    report = json.loads((tmp_path / "job" / "report" / "report.json").read_text())  # --out relative to the job's folder
    assert report["verdict"]["status"] == "graded"
    assert "<svg" in (tmp_path / "job" / "report" / "report.html").read_text()


@pytest.mark.parametrize("job, said", [("", None), ("not json\n", "one JSON line"), ('{"args": "x"}\n', "not a list"), ("[1]\n", "one JSON line")])
def test_a_ready_grader_without_a_proper_job_ends_and_says_why(tmp_path, job, said):
    result = cli("grade-on-request", cwd=tmp_path, stdin=job, timeout=120)
    if not job:  # the service stopped before giving one: nothing to do
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        assert said is None or said in result.stderr


@pytest.mark.slow
def test_grade_prints_progress_and_writes_the_report(make_submission, tiny_pack, tmp_path):
    out = tmp_path / "report"
    result = cli("grade", str(make_submission()), "--scenarios-dir", str(tiny_pack.folder.parent), "--kernel", "python3",
                 "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "replay 1/2: final notebook, top to bottom" in result.stdout
    assert "graded:" in result.stdout
    assert json.loads((out / "report.json").read_text())["verdict"]["status"] == "graded"


@pytest.mark.slow
def test_one_bad_submission_never_stops_a_batch(make_submission, tiny_pack, tmp_path):
    good = make_submission()
    crashing = make_submission([*TINY_OK_CELLS, "import ctypes\nctypes.string_at(0)"])
    junk = tmp_path / "not-a-submission"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    batch = tmp_path / "batch"
    result = cli("grade-batch", str(good), str(crashing), str(junk), "--workers", "2", "--out", str(batch),
                 "--scenario", "tinypack", "--scenarios-dir", str(tiny_pack.folder.parent), "--kernel", "python3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(batch / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["submission"] for row in rows][0] == good.name
    assert {row["submission"] for row in rows} == {good.name, crashing.name, junk.name}
    by_name = {row["submission"]: row for row in rows}
    assert by_name[good.name]["status"] == "graded"
    for bad in (crashing, junk):
        assert by_name[bad.name]["status"] == "not_gradable"
        assert (batch / bad.name / "report.html").is_file()
    assert "SIGSEGV" in by_name[crashing.name]["headline"]
    junk_report = json.loads((batch / junk.name / "report.json").read_text())
    assert any("interview.ipynb is missing" in p for p in junk_report["verdict"]["problems"])
    assert "100%" in result.stderr  # the progress bar reached the end


@pytest.mark.slow
def test_a_mixed_batch_is_ranked_within_each_scenario(make_submission, tiny_pack, tmp_path):
    """Two scenarios with metrics that mean nothing next to each other: one ranked table per scenario."""
    import shutil

    from mlinterview.scenarios.pack import ScenarioPack

    other_folder = tiny_pack.folder.parent / "tinyloss"
    if not other_folder.exists():
        shutil.copytree(tiny_pack.folder, other_folder)
        manifest = other_folder / "scenario.toml"
        text = manifest.read_text().replace('id = "tinypack"', 'id = "tinyloss"').replace('name = "roc_auc"', 'name = "log_loss"')
        text = text.replace('direction = "higher"', 'direction = "lower"')
        text = text.replace("weak = 0.6\nstrong = 0.75\nvery_strong = 0.85", "weak = 0.69\nstrong = 0.6\nvery_strong = 0.5")
        manifest.write_text(text)
    other = ScenarioPack.from_folder(other_folder)
    submissions = {
        "auc_good": make_submission(), "auc_unfixed": make_submission(fixes=()),
        "loss_good": make_submission(pack=other), "loss_unfixed": make_submission(fixes=(), pack=other),
    }
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name, path in submissions.items():
        path.rename(folder / name)
    batch = tmp_path / "batch"
    result = cli("grade-batch", str(folder), "--workers", "2", "--out", str(batch), "--scenarios-dir", str(tiny_pack.folder.parent),
                 "--kernel", "python3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(batch / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["scenario"], row["rank"], row["submission"]) for row in rows] == [
        ("tinyloss", "1", "loss_good"), ("tinyloss", "2", "loss_unfixed"),
        ("tinypack", "1", "auc_good"), ("tinypack", "2", "auc_unfixed"),
    ]
    assert {row["metric"] for row in rows if row["scenario"] == "tinyloss"} == {"log_loss"}
    for scenario in ("tinyloss", "tinypack"):
        with open(batch / f"summary-{scenario}.csv", newline="") as handle:
            assert {row["scenario"] for row in csv.DictReader(handle)} == {scenario}
    page = (batch / "summary.html").read_text()
    assert page.count('<table class="scenario">') == 2 and 'id="scenario-tinyloss"' in page
    assert "tinyloss (log_loss):" in result.stdout and "tinypack (roc_auc):" in result.stdout
