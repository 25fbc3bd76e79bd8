"""The digits scheduler probe judges the learning-rate trajectory, not how the schedule is written."""

from __future__ import annotations

import pytest

from mlinterview.scenarios.probe_runner import ProbeRunner
from mlinterview.scenarios import load_pack
from mlinterview.scenarios.fixes import scaffold_with_fixes

STEP_LR = "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_epochs, gamma=0.1)"
ALTERNATIVES = {
    "one cycle, stepped per batch": (
        "steps_per_epoch = (len(images) + config.batch_size - 1) // config.batch_size\n"
        "    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, epochs=config.epochs, "
        "steps_per_epoch=steps_per_epoch)"
    ),
    "cosine over every batch": (
        "steps = config.epochs * ((len(images) + config.batch_size - 1) // config.batch_size)\n"
        "    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)"
    ),
}


@pytest.fixture(scope="module")
def digits(scenarios_dir):
    return load_pack("digits", scenarios_dir)


@pytest.mark.parametrize("name", sorted(ALTERNATIVES))
def test_a_correct_per_batch_schedule_is_fixed(digits, tmp_path, name):
    scaffold = scaffold_with_fixes(digits, ["normalization_wrong_axis"], tmp_path / "digitlab")
    train = scaffold / "train.py"
    source = train.read_text()
    assert STEP_LR in source
    train.write_text(source.replace(STEP_LR, ALTERNATIVES[name]))
    verdict = ProbeRunner().run(digits, scaffold, ["scheduler_per_batch"])["scheduler_per_batch"]
    assert verdict.status == "fixed", verdict.detail


def test_the_shipped_per_batch_step_schedule_is_not(digits, tmp_path):
    scaffold = scaffold_with_fixes(digits, ["normalization_wrong_axis"], tmp_path / "digitlab")
    verdict = ProbeRunner().run(digits, scaffold, ["scheduler_per_batch"])["scheduler_per_batch"]
    assert verdict.status == "not_fixed" and "1/300 of its peak" in verdict.detail
