"""The constraint audit: the scenario's limits applied to what the replayed notebook trained.

``constraint_verdicts(manifest, replays, scores, submission)`` gives the report's ``constraints``:

``parameters``     the limit in force (the pack's, or a released twist's: :func:`parameter_limit`,
                   the same limit the replay's kernel enforced), the models of the replayed kernel
                   with where their trainable tensors live (``kernels/capacity.py``: module
                   parameters, optimizer param groups, plain tensors in dicts, closures, scaffold
                   globals), the largest set of weights the replay's own guard saw trained, and
                   the verdict ok/over/unknown with its sentence.
``training_time``  the budget in CPU seconds, as the calibration and the live guard measure it;
                   over when the replay's guard stopped a training run, or, for a replay without
                   the guard, when a cell used more CPU than the budget.
``tampering``      what the live kernel (recorded ``tamper`` events) and the replay's guard saw
                   done to the guard (hooks cleared, the limit raised, the extension unloaded,
                   weights hidden behind ``requires_grad=False``); each a sentence.
``recorded``       the constraint events of the session's history.
"""

from __future__ import annotations

from typing import Any

from ..kernels.capacity import largest_trained


def parameter_limit(manifest, meta: dict[str, Any]) -> int:
    """The limit in force at the end: the pack's, or its tighter twist's when the hub recorded its release
    (``submission.json`` is written by the hub from its own records, not by the candidate)."""
    if released_twist(manifest, meta) is not None and manifest.twist.kind == "tighter_budget":
        return manifest.twist.max_parameters
    return manifest.constraints.max_parameters


def released_twist(manifest, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The hub's record of the pack's twist release, when the submission carries one for this pack's twist."""
    twist = manifest.twist
    released = meta.get("twist")
    if twist is not None and isinstance(released, dict) and released.get("title") == twist.title:
        return released
    return None


def _audit_of(scores: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    for name in ("top_to_bottom", "history_order"):
        audit = scores.get(name, {}).get("audit")
        if isinstance(audit, dict) and "models" in audit:
            return name, audit
    return None, None


def _parameters(limit: int, replay: str | None, audit: dict[str, Any] | None) -> dict[str, Any]:
    parameters: dict[str, Any] = {"limit": limit, "models": [], "loose": None, "replay": replay, "guard": None}
    if audit is None:
        parameters.update(verdict="unknown", largest=None, sentence="the parameter audit did not run (no replay reached the end)")
        return parameters
    parameters.update(models=audit.get("models") or [], loose=audit.get("loose"), guard=audit.get("guard"))
    count, where = largest_trained(audit)
    guard = audit.get("guard") or {}
    seen_training = int(guard.get("largest_trained") or 0)
    largest = max(count, seen_training)
    over = largest > limit
    if largest == 0 and not parameters["models"]:
        sentence = "no trainable tensor found in the notebook's namespace or the candidate's modules"
    else:
        sentence = f"largest model: {where}" if count else "no trainable tensor left at the end of the replay"
        if seen_training > count:
            sentence += f"; the replay's constraint guard saw {seen_training:,} weights trained together"
        sentence += f"; limit {limit:,}" + (" - OVER THE LIMIT" if over else "")
    if guard and guard.get("max_parameters") not in (None, limit):
        sentence += f" (the replay's guard enforced {guard['max_parameters']:,})"
    parameters.update(verdict="over" if over else "ok", largest=largest, sentence=sentence)
    return parameters


def _training_time(budget: float, replays: dict[str, Any], guarded: bool) -> dict[str, Any]:
    top = replays.get("top_to_bottom") or replays.get("history_order")
    cells = [c for c in (top.cells if top else []) if c.duration_s is not None and c.status in ("ok", "error")]
    training: dict[str, Any] = {"budget_s": budget, "measure": "CPU seconds of the kernel's processes"}
    if not cells:
        training.update(verdict="unknown", longest_cell_s=None, longest_cell_cpu_s=None, cell=None,
                        sentence="no cell ran to completion; training time unknown")
        return training
    stopped = next((c for c in cells if c.ename == "TrainingTimeExceeded"), None)
    timed = [c for c in cells if c.cpu_s is not None] or cells
    longest = max(timed, key=lambda c: c.cpu_s if c.cpu_s is not None else c.duration_s)
    cpu = longest.cpu_s
    training.update(longest_cell_s=longest.duration_s, longest_cell_cpu_s=cpu, cell=longest.label)
    if stopped is not None:
        training.update(verdict="over", cell=stopped.label, sentence=f"the replay's constraint guard stopped a training run in "
                        f"{stopped.label}: {stopped.evalue} - OVER THE BUDGET")
        return training
    over = budget > 0 and not guarded and cpu is not None and cpu > budget
    used = f"{cpu:.1f} s of CPU" if cpu is not None else "an unmeasured amount of CPU"
    training.update(
        verdict="over" if over else "ok",
        sentence=f"longest cell {longest.label} used {used} ({longest.duration_s:.1f} s of wall time) in the replay; "
        f"training budget {budget:g} s of CPU per training run"
        + (" - OVER THE BUDGET" if over else " (the replay's guard timed the training runs themselves)" if guarded else ""),
    )
    return training


def _tampering(audit: dict[str, Any] | None, recorded: list[dict[str, Any]]) -> list[str]:
    found = [f"in the session: {event.get('message')}" for event in recorded if event.get("event") == "tamper"]
    guard = (audit or {}).get("guard")
    if isinstance(guard, dict):
        found += [f"in the replay: {problem}" for problem in guard.get("tampering") or []]
        if not guard.get("installed"):
            found.append("in the replay: the constraint guard was not installed at the end of the notebook")
    for model in (audit or {}).get("models") or []:
        if model.get("hidden_from_requires_grad"):
            found.append(f"{model['path']}: {model['hidden_from_requires_grad']:,} trained weights are marked requires_grad=False")
    return list(dict.fromkeys(found))


def constraint_verdicts(manifest, replays, scores, submission) -> dict[str, Any]:
    """The report's ``constraints`` section (see the module docstring)."""
    limit = parameter_limit(manifest, submission.meta)
    replay, audit = _audit_of(scores)
    parameters = _parameters(limit, replay, audit)
    guarded = isinstance((audit or {}).get("guard"), dict)
    training = _training_time(manifest.constraints.train_time_budget_seconds, replays, guarded)
    recorded = [
        {"time": e.get("time"), **(e.get("detail") or {})}
        for e in (submission.history_events or [])
        if e.get("kind") == "constraint"
    ]
    return {"parameters": parameters, "training_time": training, "tampering": _tampering(audit, recorded), "recorded": recorded}
