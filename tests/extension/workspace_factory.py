"""A tiny interview workspace, as ``mlinterview scenarios materialize`` writes one, for tests of
the kernels and the history without depending on a real scenario pack."""

from __future__ import annotations

import json
from pathlib import Path

EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def make_workspace(root: Path, *, max_parameters: int = 1000, train_time_budget_seconds: float = 30.0,
                   seed: int = 7, near_limit_fraction: float = 0.9, scaffold_source: str = "VALUE = 42\n") -> Path:
    """Write .mlinterview/workspace.json, a one-module scaffold package ``tinykit`` and an empty notebook."""
    root = Path(root)
    (root / ".mlinterview").mkdir(parents=True, exist_ok=True)
    settings = {
        "scenario": "tiny", "version": "1", "title": "Tiny test scenario", "data_seed": seed,
        "time_budget_minutes": 60,
        "constraints": {"max_parameters": max_parameters, "train_time_budget_seconds": train_time_budget_seconds,
                        "seed": seed, "near_limit_fraction": near_limit_fraction},
        "metric": {"name": "roc_auc", "direction": "higher"}, "predict": "predict", "scaffold": "tinykit",
        "kernel": {"default": "cpu", "gpu_capable": False},
    }
    (root / ".mlinterview" / "workspace.json").write_text(json.dumps(settings, indent=2))
    (root / "tinykit").mkdir(exist_ok=True)
    (root / "tinykit" / "__init__.py").write_text(scaffold_source)
    (root / "interview.ipynb").write_text(json.dumps(EMPTY_NOTEBOOK))
    return root
