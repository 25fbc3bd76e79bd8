"""Each script in benchmarks/ starts as the README runs it (``.venv/bin/python -P benchmarks/X.py``).

``-P`` keeps the script's own folder off ``sys.path``, so a script that imports its helpers
(``timing.py``, the test tools) must put them there itself; ``--help`` exercises every import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted(path for path in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py") if path.name != "timing.py")


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.stem)
def test_benchmark_starts_from_any_folder(script: Path, tmp_path: Path):
    result = subprocess.run([sys.executable, "-P", str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout
