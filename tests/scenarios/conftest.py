"""Fixtures for the scenario pack tests.

Fixtures:

- ``churn_pack``: the shipped ``churn`` pack, loaded and validated (session-wide).
- ``pack_copy``: a factory ``pack_copy(scenario_id="churn") -> Path`` that copies a shipped pack into a
  fresh scenarios folder under ``tmp_path`` and returns the pack's folder, to break or to calibrate
  without touching the checkout.
- ``mlinterview_command``: the ``mlinterview`` console script of this environment, as a list for
  ``subprocess.run`` (run it with a ``cwd`` outside the checkout).
- ``candidate_kernel_name``: ``mlinterview-cpu`` when that kernelspec is installed (the kernel candidates
  get), otherwise this environment's ``python3``.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mlinterview.scenarios import load_pack
from mlinterview.scenarios.materialize import IGNORED

CANDIDATE_KERNEL = "mlinterview-cpu"


@pytest.fixture(scope="session")
def churn_pack(scenarios_dir):
    return load_pack("churn", scenarios_dir)


@pytest.fixture
def pack_copy(tmp_path, scenarios_dir):
    def copy(scenario_id: str = "churn") -> Path:
        target = tmp_path / "scenarios" / scenario_id
        shutil.copytree(scenarios_dir / scenario_id, target, ignore=IGNORED)
        return target

    return copy


@pytest.fixture(scope="session")
def mlinterview_command() -> list[str]:
    script = Path(sys.executable).parent / "mlinterview"
    assert script.exists(), f"{script} missing: run `make setup`"
    return [str(script)]


@pytest.fixture(scope="session")
def candidate_kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    return CANDIDATE_KERNEL if CANDIDATE_KERNEL in specs else "python3"
