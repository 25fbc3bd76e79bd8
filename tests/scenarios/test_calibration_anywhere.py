"""`mlinterview scenarios calibrate` from any folder, the repository root included, writing its table
where asked and changing the pack's committed evidence only on --update-pack, and only when it passes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
TINY_PACK = REPOSITORY / "tests" / "graders" / "tinypack"


@pytest.fixture
def tiny_scenarios(tmp_path):
    target = tmp_path / "packs" / "tinypack"
    shutil.copytree(TINY_PACK, target)
    return target.parent


def calibrate(command, scenarios, *extra, cwd):
    return subprocess.run([*command, "scenarios", "calibrate", "tinypack", "--scenarios-dir", str(scenarios), *extra],
                          cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_from_the_repository_root_into_a_results_folder(mlinterview_command, tiny_scenarios, tmp_path):
    assert (REPOSITORY / "mlinterview").is_dir(), "the checkout's own folders are what could shadow the package"
    committed = tiny_scenarios / "tinypack" / "private" / "calibration.json"
    before = committed.read_bytes()
    results = tmp_path / "results"
    completed = calibrate(mlinterview_command, tiny_scenarios, "--out", f"{results}/", cwd=REPOSITORY)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    table = (results / "tinypack-calibration.txt").read_text()
    assert "calibration PASSED" in table and "all but drops_signal" in table and "left out vs all fixes" in table
    assert json.loads((results / "tinypack-calibration.json").read_text())["passed"] is True
    assert committed.read_bytes() == before, "without --update-pack the pack's evidence stays as committed"
    # The criteria checked again on the saved measurements, nothing trained, e.g. after editing scenario.toml.
    again = calibrate(mlinterview_command, tiny_scenarios, "--from-summary", str(results / "tinypack-calibration.json"), cwd=REPOSITORY)
    assert again.returncode == 0 and "nothing trained" in again.stdout and "calibration PASSED" in again.stdout, again.stdout[-2000:]


@pytest.mark.slow
def test_update_pack_only_when_it_passes(mlinterview_command, tiny_scenarios, tmp_path):
    pack = tiny_scenarios / "tinypack"
    committed = pack / "private" / "calibration.json"
    committed.write_text("{}")
    table = tmp_path / "table.txt"
    completed = calibrate(mlinterview_command, tiny_scenarios, "--update-pack", "--out", str(table), cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert json.loads(committed.read_text())["passed"] is True and "the pack's evidence updated" in completed.stdout
    assert json.loads(table.with_suffix(".json").read_text()) == json.loads(committed.read_text())
    # A reference that cannot reach the top band fails the calibration: the evidence is not replaced.
    manifest = pack / "scenario.toml"
    manifest.write_text(manifest.read_text().replace("very_strong = 0.85", "very_strong = 0.99"))
    committed.write_text('{"kept": true}')
    completed = calibrate(mlinterview_command, tiny_scenarios, "--update-pack", "--out", str(table), cwd=REPOSITORY)
    assert completed.returncode == 1
    assert "FAIL  reference lands in the top band" in completed.stdout and "left as it was" in completed.stdout
    assert json.loads(committed.read_text()) == {"kept": True}
    assert "calibration FAILED" in table.read_text()
