"""Hidden state: whether the final notebook, run top to bottom, stands for what the session did.

Hidden state is any of:

* a recorded execution that **succeeded in the session but fails on replay** (in the recorded
  order, with the final files): the session's result depended on something that is gone;
* the two replays' **outcomes disagree**: only one hit a limit, or only one produced valid
  predictions;
* their **metrics differ by more than the run-to-run spread** the pack's calibration measured
  (the widest min-max range over seeds of its baseline, all-fixes and reference variants), or
  than the grader's ``hidden_state_tolerance`` where that is wider or the pack has no spread.

Not hidden state, and so only *observed* (listed, never flagged): a cell that failed in the
session and passes now (the normal fix-and-rerun: the files were fixed afterwards), and metric
differences within the spread (random numbers consumed by earlier attempts make the two replays
train slightly differently). The comparison is a pure function of the two replays, so grading the
same submission twice gives the same verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def calibration_spread(private_dir: Path) -> float | None:
    """The widest metric range over seeds among the calibrated variants (None: not calibrated)."""
    try:
        data = json.loads((Path(private_dir) / "calibration.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ranges = []
    for key in ("baseline", "all_fixes", "reference"):
        entry = data.get(key) if isinstance(data, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("min"), (int, float)) and isinstance(entry.get("max"), (int, float)):
            ranges.append(float(entry["max"]) - float(entry["min"]))
    return max(ranges) if ranges else None


def compare_replays(replays: dict[str, Any], scores: dict[str, Any], tolerance: float, spread: float | None = None) -> dict[str, Any]:
    """The report's ``reproducibility``: hidden_state (None when one replay is missing), differences
    (what makes it hidden state), observations (what does not), tolerance and spread."""
    allowed = max(tolerance, spread or 0.0)
    result: dict[str, Any] = {"hidden_state": None, "differences": [], "observations": [], "tolerance": allowed, "spread": spread}
    top, hist = replays.get("top_to_bottom"), replays.get("history_order")
    if top is None or hist is None:
        return result
    differences, observations = [], []
    if (top.stopped is None) != (hist.stopped is None):
        stopped = top if top.stopped else hist
        differences.append(f"only the {stopped.name.replace('_', ' ')} replay hit a limit ({stopped.stopped.limit}: {stopped.stopped.detail})")
    broke = [c for c in hist.cells if c.recorded_status == "ok" and c.status == "error"]
    fixed = [c for c in hist.cells if c.recorded_status == "error" and c.status == "ok"]
    differences += [f"{c.label} succeeded in the session but fails on replay ({c.ename}: {c.evalue})" for c in broke[:5]]
    if len(broke) > 5:
        differences.append(f"... and {len(broke) - 5} more executions that succeeded in the session fail on replay")
    if fixed:
        labels = ", ".join(c.label for c in fixed[:5]) + (f" and {len(fixed) - 5} more" if len(fixed) > 5 else "")
        observations.append(f"fixed and run again: {labels} failed in the session and pass now (the files were fixed afterwards)")
    for split in ("holdout", "validation"):
        a_entry = scores.get("top_to_bottom", {}).get(split) or {}
        b_entry = scores.get("history_order", {}).get(split) or {}
        a, b = a_entry.get("metric"), b_entry.get("metric")
        data = a_entry.get("data") or b_entry.get("data")
        what = f"{split} metric" + (f" (on the candidate's {data})" if data else "")
        if split == "holdout" and bool(a_entry.get("ok")) != bool(b_entry.get("ok")) and (a_entry or b_entry):
            differences.append(f"only the {'top-to-bottom' if a_entry.get('ok') else 'recorded order'} replay produced valid holdout predictions")
            continue
        if a is None or b is None:
            if (a is None) != (b is None):
                observations.append(f"{what} only in the {'recorded order' if a is None else 'top-to-bottom'} replay")
            continue
        gap = abs(a - b)
        line = f"{what} {a:.4f} top to bottom vs {b:.4f} in recorded order"
        if gap > allowed:
            differences.append(line + f" (differ by {gap:.4f}, more than {allowed:.4f})")
        elif gap > 0:
            observations.append(line + f" (within the run-to-run spread of {allowed:.4f})")
    result.update(differences=differences, observations=observations, hidden_state=bool(differences))
    return result
