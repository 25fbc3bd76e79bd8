"""How the facts observed in a replayed kernel become verdicts (``graders/behaviour.py``), and how
the sources of evidence combine. The facts are what the kernel-side code records; the end-to-end
cases run in real kernels in ``test_fixes_anywhere.py``."""

from __future__ import annotations


import torch

from mlinterview.graders import behaviour
from mlinterview.scenarios.schema import BehaviourCheck, Bug


def lr_trajectory(make_scheduler, epochs=40, batches=5, per_batch=True):
    """The learning rate at every optimizer step of a real torch schedule."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(epochs):
        for _ in range(batches):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_batch:
                scheduler.step()
        if not per_batch:
            scheduler.step()
    return rates


def facts_with(**optimizer):
    record = {"class": "Adam", "steps": 200, "lr": [], "fresh": 0, "stale": 0, "losses": {}, "targets": []} | optimizer
    return {"training": {"optimizers": [record], "chosen": 0, "chosen_by": "its parameters run in predict", "loss_calls": 1}}


SCHEDULE = BehaviourCheck(check="learning_rate_not_collapsed")


def test_a_correct_per_batch_one_cycle_schedule_passes():
    rates = lr_trajectory(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.01, total_steps=200))
    status, detail = behaviour.judge(SCHEDULE, facts_with(lr=rates))
    assert status == "fixed", detail


def test_an_epoch_schedule_stepped_every_batch_fails_and_per_epoch_passes():
    step = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=15, gamma=0.1)  # noqa: E731
    assert behaviour.judge(SCHEDULE, facts_with(lr=lr_trajectory(step)))[0] == "not_fixed"
    assert behaviour.judge(SCHEDULE, facts_with(lr=lr_trajectory(step, per_batch=False)))[0] == "fixed"
    cosine = lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=200)  # noqa: E731
    assert behaviour.judge(SCHEDULE, facts_with(lr=lr_trajectory(cosine)))[0] == "fixed"


def test_label_order_by_runs():
    check = BehaviourCheck(check="batches_mixed_by_label")
    labels = [0.0] * 900 + [1.0] * 100
    assert behaviour.judge(check, facts_with(targets=labels * 3))[0] == "not_fixed"
    mixed = [float((i * 7919) % 10 == 0) for i in range(3000)]
    assert behaviour.judge(check, facts_with(targets=mixed))[0] == "fixed"
    assert behaviour.judge(check, facts_with(targets=[0.0] * 30))[0] is None


def test_no_evidence_is_never_not_fixed():
    for check in ("fresh_gradients", "batches_mixed_by_label", "learning_rate_not_collapsed", "logits_loss_gets_logits"):
        status, detail = behaviour.judge(BehaviourCheck(check=check), {"training": None, "splits": []})
        assert status is None and "no optimizer step" in detail
    status, detail = behaviour.judge(BehaviourCheck(check="split_keeps_groups_apart", column="customer_id"), {"splits": []})
    assert status is None and "no training and validation frames" in detail


def test_a_predict_that_depends_on_nothing_cannot_say_it_ignores_a_column():
    check = BehaviourCheck(check="predict_ignores_column", column="leak")
    predict = {"rows": 100, "scale": 0.0, "same_seed_difference": 0.0, "other_seed_difference": 0.0, "train_mode_modules": [],
               "perturbations": {"flip:leak": {"difference": 0.0, "columns": ["leak"]}}, "control_difference": 0.0}
    status, detail = behaviour.judge(check, {"predict": predict})
    assert status is None and "depends on no column" in detail
    predict["control_difference"] = 0.4
    assert behaviour.judge(check, {"predict": predict})[0] == "fixed"
    predict["perturbations"]["flip:leak"]["difference"] = 0.2
    assert behaviour.judge(check, {"predict": predict})[0] == "not_fixed"


def test_splits_that_disagree_are_undetermined():
    check = BehaviourCheck(check="split_keeps_groups_apart", column="customer_id")
    splits = [
        {"train": "train_df", "valid": "valid_df", "train_rows": 10, "valid_rows": 5, "shared": {"customer_id": 0}},
        {"train": "datasets.train", "valid": "datasets.valid", "train_rows": 10, "valid_rows": 5, "shared": {"customer_id": 3}},
    ]
    status, detail = behaviour.judge(check, {"splits": splits})
    assert status is None and "disagree" in detail


def bug(**fields):
    base = dict(id="b", title="t", kind="non-breaking", location="lab/pipeline.py:prepare", signal="evaluation", probe="probe_b",
                interviewer_notes="n")
    return Bug(**(base | fields))


def test_combining_the_sources():
    check = BehaviourCheck(check="fresh_gradients")
    files_not_fixed = {"status": "not_fixed", "detail": "files say no"}
    # The notebook's run decides, and the report keeps what the files said.
    verdict = behaviour.combine(bug(), [(check, ("fixed", "fresh"))], None, files_not_fixed, None)
    assert verdict["status"] == "fixed" and verdict["decided_by"] == "notebook run" and "fix is in the notebook" in verdict["message"]
    # No evidence from the run: the files alone never make it "not fixed".
    verdict = behaviour.combine(bug(), [(check, (None, "no optimizer step"))], None, files_not_fixed, "the replay stopped")
    assert verdict["status"] == "undetermined" and "the replay stopped" in verdict["message"]
    # A fix in the files is a fix.
    assert behaviour.combine(bug(), [], None, {"status": "fixed", "detail": "ok"}, None)["status"] == "fixed"
    # The scaffold code as the notebook left it decides, unless the notebook never called it.
    in_notebook = {"status": "not_fixed", "detail": "still there"}
    assert behaviour.combine(bug(), [], in_notebook, files_not_fixed, None)["status"] == "not_fixed"
    unused = "the notebook's run never called lab/pipeline.py:prepare"
    assert behaviour.combine(bug(), [], in_notebook, files_not_fixed, None, unused)["status"] == "undetermined"
    # Two decisive checks of the run that disagree.
    verdict = behaviour.combine(bug(), [(check, ("fixed", "a")), (check, ("not_fixed", "b"))], None, None, None)
    assert verdict["status"] == "undetermined" and verdict["decided_by"] == "conflict"


def test_usage_note_needs_a_function_that_was_never_called():
    b = bug(location="lab/pipeline.py:prepare, lab/train.py:fit")
    assert behaviour.bug_locations(b, "lab") == ["lab.pipeline:prepare", "lab.train:fit"]
    never = {"lab.pipeline:prepare": {"countable": True, "calls": 0, "replaced": False},
             "lab.train:fit": {"countable": True, "calls": 0, "replaced": False}}
    assert "never called" in behaviour.usage_note(b, "lab", {"usage": never})
    called = dict(never, **{"lab.train:fit": {"countable": True, "calls": 3, "replaced": False}})
    assert behaviour.usage_note(b, "lab", {"usage": called}) is None
    replaced = dict(never, **{"lab.train:fit": {"countable": True, "calls": 0, "replaced": True}})
    assert behaviour.usage_note(b, "lab", {"usage": replaced}) is None
    assert behaviour.usage_note(bug(location="lab/features.py:COLUMNS"), "lab", {"usage": {}}) is None
